"""The upload service's exceptions: one class per condition, each rooted in a category.

The category (service_kit.errors) decides the gRPC code and so the HTTP status; the
``reason`` is the stable identifier clients branch on; the message says what to fix.
"""

from __future__ import annotations

from service_kit import errors


class UploadError(errors.ServiceError):
    """Base of every error this service reports on purpose."""


class InvalidUpload(UploadError, errors.InvalidArgument):
    """The declared file cannot be accepted (type, extension, size, name)."""

    reason = "INVALID_UPLOAD"


class InvalidPageToken(UploadError, errors.InvalidArgument):
    """A page_token this service did not issue, or for another listing."""

    reason = "INVALID_PAGE_TOKEN"


class InvalidPartNumbers(UploadError, errors.InvalidArgument):
    """Part numbers outside 1..part_count, repeated, or too many in one request."""

    reason = "INVALID_PART_NUMBERS"


class InvalidUpdate(UploadError, errors.InvalidArgument):
    """An update of fields that may not change, or of nothing at all."""

    reason = "INVALID_UPDATE"


class UploadNotFound(UploadError, errors.NotFound):
    """No such upload for this caller; another organization's upload looks the same."""

    reason = "UPLOAD_NOT_FOUND"


class VideoNotFound(UploadError, errors.NotFound):
    """No such video for this caller; another organization's video looks the same."""

    reason = "VIDEO_NOT_FOUND"


class NotCourseStaff(UploadError, errors.PermissionDenied):
    """The caller does not manage the course (a learner, or staff of another course)."""

    reason = "NOT_COURSE_STAFF"


class NoCourse(UploadError, errors.InvalidArgument):
    """Neither the request nor the session names a course."""

    reason = "NO_COURSE"


class WrongUploadMethod(UploadError, errors.FailedPrecondition):
    """A multipart-only call on a single-request upload."""

    reason = "NOT_MULTIPART"


class UploadNotPending(UploadError, errors.FailedPrecondition):
    """The upload is already complete, failed or cancelled, so it takes no more bytes."""

    reason = "UPLOAD_NOT_PENDING"


class SourceNotUploaded(UploadError, errors.FailedPrecondition):
    """Completing before object storage holds the whole file; the upload stays open."""

    reason = "SOURCE_NOT_UPLOADED"


class PartsMismatch(UploadError, errors.FailedPrecondition):
    """The stored parts do not add up to the declared file; re-send the named parts."""

    reason = "PARTS_MISMATCH"


class UploadRejected(UploadError, errors.FailedPrecondition):
    """The stored file is not an acceptable video; the upload has failed for good.

    Raised on the completing call and again, with the recorded reason, on every later
    one: completing is idempotent, and a failed upload stays failed.
    """

    reason = "UPLOAD_REJECTED"


class UploadCancelled(UploadError, errors.FailedPrecondition):
    """The upload was aborted or expired; start a new one."""

    reason = "UPLOAD_CANCELLED"


class StorageUnavailable(UploadError, errors.Unavailable):
    """Object storage did not answer or refused a server-side call; retry later."""

    reason = "STORAGE_UNAVAILABLE"


class ProbeUnavailable(UploadError, errors.Unavailable):
    """ffprobe could not be run (missing, or timed out); the upload stays open to retry."""

    reason = "PROBE_UNAVAILABLE"


class CatalogUnavailable(UploadError, errors.Unavailable):
    """The catalog's database did not answer or did not take a write; nothing was half written, retry."""

    reason = "CATALOG_UNAVAILABLE"
