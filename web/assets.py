"""The built scripts and stylesheets (``make web`` → ``web/dist/``), served with content hashes.

esbuild names every output ``<name>-<hash>.<ext>`` and ``web/build.mjs`` writes
``manifest.json``: ``{"entries": {source → file}, "files": [every output]}``. The outputs
include the chunks of code splitting (``player-<hash>.js`` with hls.js, ``upload-<hash>.js``
with Uppy, shared ``chunk-<hash>.js``), which a page's script fetches itself with
``import()`` only when it needs them. Templates ask ``asset("tool.js")`` for the current URL,
so a deploy that changes a byte changes the URL: browsers and proxies may then keep each
file for a year (``immutable``) and an upgrade never serves yesterday's script.

Everything is read into memory at start, with a gzip copy made once: serving a file is a
dictionary lookup, nothing blocks the event loop, and only files the manifest lists as
esbuild's outputs exist (no path from a request ever reaches the file system).
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
        built = json.loads(manifest.read_text(encoding="utf-8"))
        if not isinstance(built, dict) or not {"entries", "files"} <= built.keys():
            raise AssetsNotBuilt(f"{manifest} is from an older build: build again with `make web`")
        entries: dict[str, str] = built["entries"]
        outputs: list[str] = built["files"]
        missing = sorted(name for name in {*outputs, *entries.values()} if not (directory / name).is_file())
        if missing:
            raise AssetsNotBuilt(f"{directory} lacks {', '.join(missing)}: build again with `make web`")
        return cls(entries, {name: _static_file(directory / name) for name in outputs})

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
        """Bytes of the files built for ``entries`` alone, uncompressed (a page's chunks are not counted)."""
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
