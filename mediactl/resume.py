"""Resume records: which multipart upload a local file was going into, kept between runs.

One small JSON file, ``<state dir>/uploads.json``: ``{resume_key: {"upload_id", "video_id",
"path", "size", "mtime_ns"}}`` (see :func:`mediactl.plan.resume_key`). A record is written when
a multipart upload is created and removed when it completes, so an interrupted run leaves
exactly what the next run of the same command needs to continue.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class ResumeRecords:
    """The records file; every change is written at once (atomically, via a rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, records: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        scratch = self.path.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(json.dumps(records, indent=1))
        scratch.replace(self.path)

    def get(self, key: str) -> dict[str, Any] | None:
        return self._read().get(key)

    def put(self, key: str, record: dict[str, Any]) -> None:
        records = self._read()
        records[key] = record
        self._write(records)

    def drop(self, key: str) -> None:
        records = self._read()
        if records.pop(key, None) is not None:
            self._write(records)
