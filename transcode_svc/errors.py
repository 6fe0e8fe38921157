"""The transcode service's exceptions: one class per condition, each rooted in a category.

The category (service_kit.errors) decides the gRPC code and so the HTTP status; the
``reason`` is the stable identifier clients branch on; the message says what to fix.
"""

from __future__ import annotations

from service_kit import errors


class TranscodeError(errors.ServiceError):
    """Base of every error this service reports on purpose."""


class InvalidTranscodeRequest(TranscodeError, errors.InvalidArgument):
    """A request field is missing or malformed (ids, source key, probe facts)."""

    reason = "INVALID_TRANSCODE_REQUEST"


class UnsupportedSource(TranscodeError, errors.InvalidArgument):
    """The probe facts describe a source no ladder can be planned from."""

    reason = "UNSUPPORTED_SOURCE"


class JobNotFound(TranscodeError, errors.NotFound):
    """No job with this id, or one in another organization (indistinguishable on purpose)."""

    reason = "TRANSCODE_JOB_NOT_FOUND"


class NotAllowed(TranscodeError, errors.PermissionDenied):
    """The caller may not manage this organization's transcode jobs."""

    reason = "TRANSCODE_NOT_ALLOWED"


class QueueUnavailable(TranscodeError, errors.Unavailable):
    """Redis (the job queue) did not answer; the same call may succeed later."""

    reason = "TRANSCODE_QUEUE_UNAVAILABLE"


class StoreUnavailable(TranscodeError, errors.Unavailable):
    """The database did not answer or did not take the write; nothing was changed, the same call may succeed later."""

    reason = "TRANSCODE_STORE_UNAVAILABLE"
