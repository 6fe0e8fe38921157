"""JSON logs on stdout, one object per line, with the request context attached.

Fields, not formatted strings: ``log.info("upload completed", extra={"video_id": v})``
becomes ``{"msg": "upload completed", "video_id": "...", "request_id": "..."}``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from service_kit import context

_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime", "taskName"}
)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object with the contextvars of the current request."""

    def __init__(self, process_name: str) -> None:
        super().__init__()
        self._process_name = process_name

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "process": self._process_name,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, var in (
            ("request_id", context.request_id_var),
            ("rpc", context.rpc_var),
            ("user_id", context.user_id_var),
            ("job_id", context.job_id_var),
        ):
            value = var.get()
            if value is not None:
                entry[key] = value
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(process_name: str, level: str = "INFO") -> None:
    """Route every logger to stdout as JSON; call once at process start."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(process_name))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Access logs of aiohttp duplicate the edge's own request log line.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
