"""The attendance service's exceptions: one class per condition, each rooted in a category.

The category (service_kit.errors) decides the gRPC code and so the HTTP status; the
``reason`` is the stable identifier clients branch on. Webhook refusals carry a reason
per check (``ZOOM_SIGNATURE_INVALID``, ``ZOOM_TIMESTAMP_STALE``) so an operator reading
the edge's log can tell a forgery from a clock problem.
"""

from __future__ import annotations

from service_kit import errors


class AttendanceError(errors.ServiceError):
    """Base of every error this service reports on purpose."""


class InvalidSession(AttendanceError, errors.InvalidArgument):
    """A live session's fields cannot be accepted (missing, end before start, ...)."""

    reason = "INVALID_LIVE_SESSION"


class InvalidPageToken(AttendanceError, errors.InvalidArgument):
    """A page_token this service did not issue."""

    reason = "INVALID_PAGE_TOKEN"


class InvalidExportFormat(AttendanceError, errors.InvalidArgument):
    """An export format other than csv or json."""

    reason = "INVALID_EXPORT_FORMAT"


class SessionNotFound(AttendanceError, errors.NotFound):
    """No such session for this caller; another organization's looks the same."""

    reason = "LIVE_SESSION_NOT_FOUND"


class SessionCancelled(AttendanceError, errors.FailedPrecondition):
    """The session was cancelled: its Zoom meeting is gone."""

    reason = "LIVE_SESSION_CANCELLED"


class NotCourseStaff(AttendanceError, errors.PermissionDenied):
    """Scheduling sessions and reading attendance is for the course's staff."""

    reason = "NOT_COURSE_STAFF"


class NotCourseMember(AttendanceError, errors.PermissionDenied):
    """The caller's session is for another course than the live session's."""

    reason = "NOT_COURSE_MEMBER"


class MissingZoomSignature(AttendanceError, errors.Unauthenticated):
    """A webhook without x-zm-signature or x-zm-request-timestamp."""

    reason = "ZOOM_SIGNATURE_MISSING"


class InvalidZoomSignature(AttendanceError, errors.Unauthenticated):
    """A webhook whose signature does not match its body under ZOOM_WEBHOOK_SECRET."""

    reason = "ZOOM_SIGNATURE_INVALID"


class StaleZoomTimestamp(AttendanceError, errors.Unauthenticated):
    """A webhook signed too long ago (or in the future): a replay, or a badly set clock."""

    reason = "ZOOM_TIMESTAMP_STALE"


class MalformedZoomEvent(AttendanceError, errors.InvalidArgument):
    """A correctly signed body that is not a Zoom event notification."""

    reason = "ZOOM_EVENT_MALFORMED"


class ZoomRefused(AttendanceError, errors.FailedPrecondition):
    """Zoom answered a 4xx: its own words are in the message (bad host, no such meeting...)."""

    reason = "ZOOM_REFUSED"


class ZoomCredentialsRefused(AttendanceError, errors.FailedPrecondition):
    """Zoom's OAuth refused the registration's Server-to-Server credentials."""

    reason = "ZOOM_CREDENTIALS_REFUSED"


class ZoomRateLimited(AttendanceError, errors.ResourceExhausted):
    """Zoom answered 429 and asked us to wait longer than a user's request may."""

    reason = "ZOOM_RATE_LIMITED"


class ZoomUnavailable(AttendanceError, errors.Unavailable):
    """Zoom did not answer, or answered 5xx; the same call may work later."""

    reason = "ZOOM_UNAVAILABLE"


class LtiUnavailable(AttendanceError, errors.Unavailable):
    """lti_svc (Zoom credentials, roster) did not answer."""

    reason = "LTI_UNAVAILABLE"


class LtiRefused(AttendanceError, errors.FailedPrecondition):
    """lti_svc refused (no such registration for the organization): its message is passed on."""

    reason = "LTI_REFUSED"


class ZoomNotConfigured(AttendanceError, errors.FailedPrecondition):
    """The registration cannot reach Zoom yet (no credentials, no account id): lti_svc's words say what to set."""

    reason = "ZOOM_NOT_CONFIGURED"


class StoreUnavailable(AttendanceError, errors.Unavailable):
    """The database did not take the events; Zoom should deliver them again."""

    reason = "EVENT_STORE_UNAVAILABLE"
