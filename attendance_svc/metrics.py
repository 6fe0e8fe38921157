"""What attendance_svc measures of itself: Zoom webhooks by fate, and how long a report takes.

Served on ATTENDANCE_SVC_METRICS_PORT. Refusals the edge makes before calling this
service (size, signature, timestamp) are the edge's own counters
(``media_edge_zoom_webhooks_*``): every webhook this service sees has passed them.
Labels stay bounded: ``event`` is one of the Zoom events attendance knows, else
``other``; ``reason`` is one of this service's ErrorInfo reasons, else ``OTHER``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Histogram

from attendance_svc import domain, errors

EVENTS = frozenset(
    {
        domain.MEETING_STARTED,
        domain.MEETING_ENDED,
        domain.PARTICIPANT_JOINED,
        domain.PARTICIPANT_LEFT,
        domain.BREAKOUT_JOINED,
        domain.BREAKOUT_LEFT,
        domain.WAITING_ROOM_ENTERED,
        domain.WAITING_ROOM_JBH,
        domain.WAITING_ROOM_ADMITTED,
    }
)
OTHER_EVENT = "other"
WEBHOOK_REFUSALS = (
    errors.MissingZoomSignature.reason,
    errors.InvalidZoomSignature.reason,
    errors.StaleZoomTimestamp.reason,
    errors.MalformedZoomEvent.reason,
    errors.StoreUnavailable.reason,
)
"""Why RecordZoomEvent says no: four refusals Zoom should not repeat, and EVENT_STORE_UNAVAILABLE
(the database did not take it: Zoom delivers it again)."""

WEBHOOKS_RECEIVED = Counter(
    "media_zoom_webhooks_received_total",
    "Zoom webhook notifications that reached attendance_svc (RecordZoomEvent calls).",
)
WEBHOOKS_STORED = Counter(
    "media_zoom_webhooks_stored_total",
    "Zoom events stored for the first time (committed before Zoom was answered), by event.",
    ["event"],
)
WEBHOOKS_DUPLICATE = Counter(
    "media_zoom_webhooks_duplicate_total",
    "Zoom events already stored (Zoom's retries and duplicate deliveries), acknowledged and not stored again.",
    ["event"],
)
WEBHOOKS_REFUSED = Counter(
    "media_zoom_webhooks_refused_total",
    "Zoom webhook notifications attendance_svc refused or could not store, by ErrorInfo reason.",
    ["reason"],
)
REPORT_SECONDS = Histogram(
    "media_attendance_report_seconds",
    "Time to build one attendance report (stored events and the LMS roster read, attendance computed), seconds.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
for _reason in WEBHOOK_REFUSALS:
    WEBHOOKS_REFUSED.labels(_reason)
for _event in (domain.PARTICIPANT_JOINED, domain.PARTICIPANT_LEFT):
    WEBHOOKS_STORED.labels(_event)
    WEBHOOKS_DUPLICATE.labels(_event)


def event_label(event: str) -> str:
    return event if event in EVENTS else OTHER_EVENT


def event_recorded(event: str, *, duplicate: bool) -> None:
    (WEBHOOKS_DUPLICATE if duplicate else WEBHOOKS_STORED).labels(event_label(event)).inc()


@contextmanager
def webhook_received() -> Iterator[None]:
    """Count one notification, and its refusal if an attendance error leaves the block."""
    WEBHOOKS_RECEIVED.inc()
    try:
        yield
    except errors.AttendanceError as refused:
        WEBHOOKS_REFUSED.labels(refused.reason if refused.reason in WEBHOOK_REFUSALS else "OTHER").inc()
        raise
