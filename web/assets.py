"""The built scripts and stylesheets (``make web`` → ``web/dist/``), served with content hashes.

esbuild names every output ``<entry>-<hash>.<ext>`` and ``web/build.mjs`` writes
``manifest.json`` (entry → file). Templates ask ``asset("tool.js")`` for the current URL,
so a deploy that changes a byte changes the URL: browsers and proxies may then keep each
file for a year (``immutable``) and an upgrade never serves yesterday's script.

Everything is read into memory at start, with a gzip copy made once: serving a file is a
dictionary lookup, nothing blocks the event loop, and only files the manifest names exist
(no path from a request ever reaches the file system).
"""

from __future__ import annotations

import gzip
import json
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DIST_DIR = Path(__file__).with_name("dist")
STATIC_PREFIX = "/static/"
IMMUTABLE = "public, max-age=31536000, immutable"
_TEXT_TYPES = {".js": "text/javascript", ".css": "text/css", ".map": "application/json"}
_COMPRESS_ABOVE = 512


class AssetsNotBuilt(RuntimeError):
    """The pages need web/dist, which ``make web`` builds (npm ci, then esbuild)."""


@dataclass(frozen=True)
class StaticFile:
    """One built file, ready to send as it is or gzipped."""

    content_type: str
    body: bytes
    gzipped: bytes | None


@dataclass(frozen=True)
class Assets:
    """What ``make web`` built: entry names to hashed file names, and the files themselves."""

    entries: Mapping[str, str]
    files: Mapping[str, StaticFile]

    @classmethod
    def load(cls, directory: Path = DIST_DIR) -> Assets:
        manifest = directory / "manifest.json"
        if not manifest.is_file():
            raise AssetsNotBuilt(f"{manifest} is missing: build the pages' scripts and styles with `make web`")
        entries: dict[str, str] = json.loads(manifest.read_text(encoding="utf-8"))
        files = {path.name: _static_file(path) for path in directory.iterdir() if path.name != "manifest.json"}
        missing = sorted(name for name in entries.values() if name not in files)
        if missing:
            raise AssetsNotBuilt(f"{directory} lacks {', '.join(missing)}: build again with `make web`")
        return cls(entries, files)

    @classmethod
    def empty(cls) -> Assets:
        """No pages (an edge for a test contract): any page asking for an asset says how to build them."""
        return cls({}, {})

    def url(self, entry: str) -> str:
        try:
            return STATIC_PREFIX + self.entries[entry]
        except KeyError:
            raise AssetsNotBuilt(f"no built asset {entry!r}: build the pages with `make web`") from None

    def total_bytes(self, *entries: str) -> int:
        """Bytes a page that loads ``entries`` downloads, uncompressed (for the benchmark and its budget)."""
        return sum(len(self.files[self.entries[e]].body) for e in entries)


def _static_file(path: Path) -> StaticFile:
    body = path.read_bytes()
    content_type = _TEXT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    compressible = content_type.startswith("text/") or content_type == "application/json"
    gzipped = gzip.compress(body, 9, mtime=0) if compressible and len(body) > _COMPRESS_ABOVE else None
    return StaticFile(content_type, body, gzipped)


def accepts_gzip(accept_encoding: str | None) -> bool:
    return any(
        part.split(";")[0].strip() == "gzip" and "q=0" not in part.replace(" ", "").split(";")[1:]
        for part in (accept_encoding or "").split(",")
    )
