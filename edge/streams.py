"""The stream marshalers: how a server stream's messages are written to HTTP.

Three encodings, one per media type the registry (:mod:`edge.marshalers`) can choose:

- :class:`NdjsonStream`: ``{"result": ...}`` per line, as grpc-gateway streams; a failure
  midway writes a last ``{"error": ...}`` line.
- :class:`RawStream`: the bytes of each ``google.api.HttpBody`` (CSV, JSON files), with
  the first chunk's content type. A file has no room for an error, so a failure midway
  cuts the connection: the client sees a truncated transfer, never a short file that
  looks complete.
- :class:`EventStream`: ``text/event-stream``. Each message becomes events named by
  :func:`sse_frames`; a quiet stream gets a ``: keep-alive`` comment every
  ``SSE_KEEPALIVE_SECONDS`` (idle-timeout proxies leave it open, EventSource ignores it);
  a clean end writes ``event: end`` (data: the route's path variables) unless the
  service's last event was already ``end``; a failure writes ``event: error`` with the
  usual error body.

SSE event names. A message with a oneof is one event named by the member set, its data
that member's JSON (WatchUpload: ``upload``, ``progress``, ``end``). WatchAttendance's
messages predate this rule and keep their events, from :data:`FRAMERS`: one
``joined``/``left`` per presence change, then the report without the changes, named
``snapshot`` first and ``attendance`` after. Any other message is one unnamed event
(EventSource's ``message``) carrying its JSON.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Protocol, TypeVar

from aiohttp import web
from google.protobuf.message import Message

from edge.errors import EdgeError
from edge.operations import Operation
from edge.transcode import dumps, http_body_chunk, message_to_json

KEEP_ALIVE = b": keep-alive\n\n"
"""A comment line: EventSource ignores it, an idle-timeout proxy sees traffic."""

Item = TypeVar("Item")
Event = tuple[str | None, object]
"""(event name or None for an unnamed event, JSON-able data or pre-encoded JSON bytes)."""


class StreamEncoder(Protocol):
    """One stream's writer, made per request (it may remember what it wrote)."""

    keep_alive_seconds: float | None
    """How long a quiet stream waits before :data:`KEEP_ALIVE`; None: never."""

    def headers(self, first: Message | None) -> dict[str, str]:
        """Content-Type and the like, known once the first message (or the end) is in."""
        ...

    def item(self, message: Message) -> bytes:
        """The bytes of one message."""
        ...

    def failed(self, error: EdgeError) -> bytes | None:
        """The bytes that say the stream broke off, or None to cut the connection."""
        ...

    def ended(self) -> bytes:
        """The bytes after the last message of a clean end."""
        ...


class NdjsonStream:
    """Newline-delimited ``{"result": ...}`` lines."""

    keep_alive_seconds: float | None = None

    def __init__(self, operation: Operation) -> None:
        self._operation = operation

    def headers(self, first: Message | None) -> dict[str, str]:
        return {"Content-Type": "application/x-ndjson; charset=utf-8"}

    def item(self, message: Message) -> bytes:
        return self._operation.encoder.encode_stream_item(message)

    def failed(self, error: EdgeError) -> bytes | None:
        return dumps(error.body()) + b"\n"

    def ended(self) -> bytes:
        return b""


class RawStream:
    """The data of each HttpBody, under the first one's content type."""

    keep_alive_seconds: float | None = None

    def __init__(self, operation: Operation) -> None:
        self._operation = operation

    def headers(self, first: Message | None) -> dict[str, str]:
        content_type = http_body_chunk(self._operation.encoder.http_body(first))[1] if first is not None else ""
        return {"Content-Type": content_type or "application/octet-stream"}

    def item(self, message: Message) -> bytes:
        return http_body_chunk(self._operation.encoder.http_body(message))[0]

    def failed(self, error: EdgeError) -> bytes | None:
        return None

    def ended(self) -> bytes:
        return b""


Framer = Callable[[Message, int], list[Event]]
"""A message and its index in the stream → its events."""


class EventStream:
    """``text/event-stream``; see the module doc for the event names."""

    def __init__(self, params: Mapping[str, str], keep_alive_seconds: float) -> None:
        self._params = dict(params)
        self._index = 0
        self._last: str | None = None
        self.keep_alive_seconds: float | None = keep_alive_seconds

    def headers(self, first: Message | None) -> dict[str, str]:
        return {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

    def item(self, message: Message) -> bytes:
        frames = sse_frames(message, self._index)
        self._index += 1
        if frames:
            self._last = frames[-1][0]
        return b"".join(sse_event(name, data) for name, data in frames)

    def failed(self, error: EdgeError) -> bytes | None:
        return sse_event("error", error.body())

    def ended(self) -> bytes:
        return b"" if self._last == "end" else sse_event("end", self._params)


def sse_event(event: str | None, data: object) -> bytes:
    """One event in the text/event-stream format (data is JSON on one line)."""
    payload = data if isinstance(data, bytes) else dumps(data)
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + payload.strip() + b"\n\n"


def sse_frames(message: Message, index: int) -> list[Event]:
    """The events of one message (see the module doc)."""
    framer = FRAMERS.get(message.DESCRIPTOR.full_name)
    if framer is not None:
        return framer(message, index)
    for oneof in message.DESCRIPTOR.oneofs:
        member = message.WhichOneof(oneof.name)
        if member is not None:
            value = getattr(message, member)
            return [(member, message_to_json(value) if isinstance(value, Message) else value)]
    return [(None, message_to_json(message))]


def _attendance_frames(message: Message, index: int) -> list[Event]:
    """WatchAttendanceResponse: joined/left per change, then snapshot (first) or attendance."""
    document = message_to_json(message)
    changes = document.pop("changes", [])
    events: list[Event] = [
        ("joined" if change.get("kind") == "PRESENCE_CHANGE_KIND_JOINED" else "left", change) for change in changes
    ]
    events.append(("snapshot" if index == 0 else "attendance", document))
    return events


FRAMERS: Mapping[str, Framer] = {"media.attendance.v1.WatchAttendanceResponse": _attendance_frames}
"""Messages whose events are not the generic rule's, by full name."""


async def next_or_keep_alive(
    items: AsyncIterator[Item], response: web.StreamResponse, interval_seconds: float | None
) -> Item | None:
    """The stream's next item (None at its end), writing :data:`KEEP_ALIVE` while it is quiet.

    The pending read is kept across keep-alives rather than cancelled and restarted:
    cancelling a gRPC stream's read would end the stream.
    """
    if interval_seconds is None:
        return await anext(items, None)
    pending = asyncio.ensure_future(anext(items, None))
    try:
        while True:
            done, _ = await asyncio.wait({pending}, timeout=interval_seconds)
            if done:
                return pending.result()
            await response.write(KEEP_ALIVE)
    except BaseException:
        pending.cancel()
        raise
