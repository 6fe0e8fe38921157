"""JSON logs on stdout, one object per line, with the request context attached.

Fields, not formatted strings: ``log.info("upload completed", extra={"video_id": v})``
becomes ``{"msg": "upload completed", "video_id": "...", "request_id": "..."}``.

Writing to stdout can block (a full pipe to a supervisor or a log shipper), and the
servers are single event loops: so a log call only captures the record and its
request context and queues it; one background thread formats and writes.
"""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import os
import queue
import sys
import time
from typing import Any

from service_kit import context

_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime", "taskName"}
)
_CONTEXT_VARS = (
    ("request_id", context.request_id_var),
    ("rpc", context.rpc_var),
    ("user_id", context.user_id_var),
    ("job_id", context.job_id_var),
)
_CONTEXT_ATTR = "_media_context"


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
        entry.update(getattr(record, _CONTEXT_ATTR, None) or _current_context())
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:  # rendered by the queue handler, in the thread that logged
            entry["exc"] = record.exc_text
        return json.dumps(entry, default=str)


def _current_context() -> dict[str, str]:
    return {key: value for key, var in _CONTEXT_VARS if (value := var.get()) is not None}


class _ContextQueueHandler(logging.handlers.QueueHandler):
    """Queues records with the request context of the logging task, read now, not later.

    Formatting happens in the listener thread, where the contextvars of the request are
    gone; and the message and traceback are rendered here, while the arguments and the
    exception are still those of the call.
    """

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        setattr(record, _CONTEXT_ATTR, _current_context())
        record.msg = record.getMessage()
        record.args = None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        return record


_listener: logging.handlers.QueueListener | None = None
_stream: logging.StreamHandler[Any] | None = None


def configure_logging(process_name: str, level: str = "INFO") -> None:
    """Route every logger to stdout as JSON through a queue; call once at process start."""
    global _listener, _stream
    if _listener is None:
        atexit.register(_stop_listener)  # flush what is queued when the process ends
        os.register_at_fork(after_in_child=_log_directly_after_fork)
    else:
        _listener.stop()
    _stream = stream = logging.StreamHandler(sys.stdout)
    stream.setFormatter(JsonFormatter(process_name))
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _listener = logging.handlers.QueueListener(records, stream, respect_handler_level=False)
    _listener.start()
    root = logging.getLogger()
    root.handlers[:] = [_ContextQueueHandler(records)]
    root.setLevel(level.upper())
    # Access logs of aiohttp duplicate the edge's own request log line.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def _stop_listener() -> None:
    if _listener is not None:
        _listener.stop()


def _log_directly_after_fork() -> None:
    """In a forked child (RQ's work horse) the listener thread does not exist: write directly.

    Queued records would wait for a thread that was not copied, and the horse leaves
    with ``os._exit``, so nothing would flush them. A horse runs no event loop, so a
    blocking write costs it nothing.
    """
    global _listener
    _listener = None
    if _stream is not None:
        logging.getLogger().handlers[:] = [_stream]
