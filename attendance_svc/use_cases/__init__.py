"""attendance_svc's use cases: what each RPC decides, between the servicer and the store.

The servicer turns protos into calls of these and their results back into protos; the
use cases check who may, apply the domain's rules, and drive the ports in order (the
store through a unit of work, Zoom, lti_svc, the presence feed), cleaning up when a
later step fails. They import no grpc and no database driver, so the tests run them
against fakes of the ports (``tests/attendance/fakes.py``).

- :mod:`.ports`: the interfaces the use cases need (unit of work, Zoom, lti_svc, feed)
- :mod:`.live_sessions`: schedule, read, list, change, cancel; personal join links
- :mod:`.attendance`: the report, exports, the live view, reconciliation
- :mod:`.webhooks`: Zoom's notifications, checked and stored once
"""

from attendance_svc.use_cases.attendance import (
    Attendance,
    AttendanceExport,
    AttendanceUpdate,
    Reconciled,
    SessionReport,
)
from attendance_svc.use_cases.live_sessions import LiveSessions, NewLiveSession, SessionPage, SessionView
from attendance_svc.use_cases.ports import StoreFailed, UnitOfWork, UnitOfWorkFactory
from attendance_svc.use_cases.webhooks import WebhookAnswer, ZoomWebhooks

__all__ = [
    "Attendance",
    "AttendanceExport",
    "AttendanceUpdate",
    "LiveSessions",
    "NewLiveSession",
    "Reconciled",
    "SessionPage",
    "SessionReport",
    "SessionView",
    "StoreFailed",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "WebhookAnswer",
    "ZoomWebhooks",
]
