"""How a route's answer is encoded: the marshaler registry, after grpc-gateway's runtime.

grpc-gateway picks a marshaler per request from the ``Accept`` header among those
registered by MIME type, falling back to its wildcard (JSON) marshaler, and copies the
service's header metadata to HTTP headers through an outgoing header matcher. The edge
does the same, per route:

- What a route can produce follows from its RPC: a unary RPC answers JSON
  (``application/json``); a server stream answers newline-delimited JSON
  (``application/x-ndjson``) or server-sent events (``text/event-stream``); an RPC whose
  response is (or selects) a ``google.api.HttpBody`` is written raw with the body's own
  content type (playlists, CSV chunks), whatever the caller asked.
- :data:`ROUTE_ENCODINGS` adds what the annotations cannot say: a stream whose default is
  server-sent events, and a second RPC that produces another encoding of the same
  resource (the attendance report's CSV is ExportAttendance's chunks), with the
  ``?format=`` values a route already accepted. A new annotated RPC needs no entry.
- Choice: ``?format=`` where the route takes one (an unknown value is 400, naming what
  is offered), else the first media type in ``Accept`` (by ``q``) that the route offers,
  else the route's default. Like grpc-gateway, never 406: an Accept nothing satisfies
  gets the default.
- :data:`FORWARDED_HEADERS` is the outgoing header matcher: the names of a service's
  initial metadata that become HTTP headers (a service names its export's file with
  ``content-disposition``). Everything else a service sends stays internal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from multidict import MultiDict, MultiDictProxy, MultiMapping

from edge.bindings import HttpBinding
from edge.errors import InvalidRequest
from edge.operations import Operation

JSON = "application/json"
NDJSON = "application/x-ndjson"
EVENT_STREAM = "text/event-stream"
CSV = "text/csv"
RAW = "*/*"
"""An HttpBody route: the service's content type, not negotiable."""

FORWARDED_HEADERS = frozenset({"content-disposition"})
"""Initial-metadata keys copied to the HTTP response (lower case, as gRPC sends them)."""

FORMAT_QUERY = "format"

RouteKey = tuple[str, str]


@dataclass(frozen=True)
class RouteEncoding:
    """What one route adds to the encodings its RPC already offers."""

    default: str | None = None
    """The media type served when neither ``format`` nor ``Accept`` picks one."""
    alternates: Mapping[str, str] = field(default_factory=dict)
    """Media type → the RPC path (``/pkg.Service/Method``) that produces it for this route."""
    formats: Mapping[str, str] = field(default_factory=dict)
    """``?format=`` values → media type; empty when the route takes no ``format`` query."""


ATTENDANCE_REPORT: RouteKey = ("GET", "/api/v1/live-sessions/{session_id}/attendance")
ATTENDANCE_EVENTS: RouteKey = ("GET", "/api/v1/live-sessions/{session_id}/attendance/events")
UPLOAD_EVENTS: RouteKey = ("GET", "/api/v1/media/uploads/{upload_id}/events")

ROUTE_ENCODINGS: Mapping[RouteKey, RouteEncoding] = {
    ATTENDANCE_REPORT: RouteEncoding(
        alternates={CSV: "/media.attendance.v1.AttendanceService/ExportAttendance"},
        formats={"csv": CSV, "json": JSON},
    ),
    ATTENDANCE_EVENTS: RouteEncoding(default=EVENT_STREAM),
    UPLOAD_EVENTS: RouteEncoding(default=EVENT_STREAM),
}


@dataclass(frozen=True)
class Choice:
    """The encoding picked for one request, the RPC that produces it, and the query left for its request."""

    media_type: str
    operation: Operation
    query: MultiMapping[str]


@dataclass(frozen=True)
class Offer:
    """One route's encodings, compiled at startup."""

    operation: Operation
    default: str
    produces: Mapping[str, Operation]
    formats: Mapping[str, str]

    def choose(self, query: MultiMapping[str], accept: str) -> Choice:
        """The encoding for a request (see the module doc); raises InvalidRequest for an unknown format."""
        if self.formats and FORMAT_QUERY in query:
            value = query.get(FORMAT_QUERY, "").lower()
            media_type = self.formats.get(value)
            if media_type is None:
                offered = " or ".join(self.formats)
                raise InvalidRequest(FORMAT_QUERY, f"{value!r} is not offered: use {offered}")
            rest = MultiDictProxy(MultiDict((k, v) for k, v in query.items() if k != FORMAT_QUERY))
            return Choice(media_type, self.produces[media_type], rest)
        media_type = next((m for m in accepted(accept) if m in self.produces), self.default)
        return Choice(media_type, self.produces[media_type], query)


def offered_by(binding: HttpBinding) -> tuple[str, ...]:
    """The media types a binding's RPC produces by itself, its default first."""
    if binding.returns_http_body:
        return (RAW,)
    if binding.server_streaming:
        return (NDJSON, EVENT_STREAM)
    return (JSON,)


def compile_offers(
    operations: Sequence[Operation], encodings: Mapping[RouteKey, RouteEncoding] = ROUTE_ENCODINGS
) -> dict[RouteKey, Offer]:
    """Every route's offer; raises ValueError for an entry naming a route or RPC that is not served."""
    by_rpc = {op.binding.rpc_path: op for op in operations}
    offers: dict[RouteKey, Offer] = {}
    for operation in operations:
        key = (operation.binding.http_method, operation.binding.template.source)
        own = offered_by(operation.binding)
        produces = dict.fromkeys(own, operation)
        extra = encodings.get(key, RouteEncoding())
        for media_type, rpc in extra.alternates.items():
            alternate = by_rpc.get(rpc)
            if alternate is None:
                raise ValueError(f"{key}: the encoding {media_type} names {rpc}, which no served binding has")
            produces[media_type] = alternate
        default = extra.default or own[0]
        unknown = sorted({default, *extra.formats.values()} - set(produces))
        if unknown:
            raise ValueError(f"{key}: encodings {unknown} are neither its RPC's nor an alternate")
        offers[key] = Offer(operation, default, produces, dict(extra.formats))
    stale = sorted(set(encodings) - set(offers))
    if stale:
        raise ValueError(f"encodings for routes no http rule declares: {stale}")
    return offers


def accepted(header: str) -> list[str]:
    """The media types of an Accept header (RFC 9110 12.5.1), best first; ``q=0`` excluded.

    Parameters other than ``q`` are ignored (``text/csv; charset=utf-8`` is ``text/csv``);
    equal weights keep the order they were written in.
    """
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        media_type, *params = (piece.strip() for piece in part.split(";"))
        if not media_type:
            continue
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if weight > 0:
            ranked.append((-weight, index, media_type.lower()))
    return [media_type for _, _, media_type in sorted(ranked)]


def forwarded_headers(metadata: Iterable[Any] | None) -> dict[str, str]:
    """The service's initial metadata that :data:`FORWARDED_HEADERS` lets out, as HTTP headers.

    grpc.aio hands metadata over as (key, value) pairs, binary (``-bin``) values as bytes.
    """
    headers: dict[str, str] = {}
    for key, value in metadata or ():
        if key.lower() in FORWARDED_HEADERS and isinstance(value, str):
            headers[key.title()] = value
    return headers
