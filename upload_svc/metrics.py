"""What the upload pipeline measures of itself: uploads created, completed, refused; the sweep's work.

Two homes, one module: the servicer's counters live in upload_svc's process (served
on UPLOAD_SVC_METRICS_PORT); the sweep runs in ``python -m upload_svc.worker``'s work
horses, so its counters go through Redis (:mod:`service_kit.job_metrics`) and are served
on UPLOAD_WORKER_METRICS_PORT. The refusal reason is the ErrorInfo reason the caller
got (``INVALID_UPLOAD``, ``UPLOAD_REJECTED``...), bounded by construction: only the
reasons of upload_svc's own error classes are used, anything else reads ``OTHER``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter

from service_kit.job_metrics import JobCounter, JobMetric
from upload_svc import errors
from upload_svc.domain import UploadMethod

CREATE, COMPLETE = "create", "complete"


def _reasons(root: type[errors.UploadError]) -> frozenset[str]:
    found = {root.reason}
    for sub in root.__subclasses__():
        found |= _reasons(sub)
    return frozenset(found)


REASONS = _reasons(errors.UploadError)
"""Every reason upload_svc reports: the only values the ``reason`` label takes, besides OTHER."""

UPLOADS_CREATED = Counter(
    "media_uploads_created_total",
    "Uploads created (presigned POST or multipart), by method.",
    ["method"],
)
UPLOADS_COMPLETED = Counter(
    "media_uploads_completed_total",
    "Uploads whose file was verified and probed as a video, and handed to transcoding, by method.",
    ["method"],
)
UPLOADS_REFUSED = Counter(
    "media_uploads_refused_total",
    "Uploads refused: at create (the declared file or the caller), or at complete (the stored file is no "
    "acceptable video; the upload has failed for good), by stage and ErrorInfo reason.",
    ["stage", "reason"],
)
for _method in UploadMethod:
    UPLOADS_CREATED.labels(_method.value)
    UPLOADS_COMPLETED.labels(_method.value)
UPLOADS_REFUSED.labels(CREATE, errors.InvalidUpload.reason)
UPLOADS_REFUSED.labels(COMPLETE, errors.UploadRejected.reason)


def created(method: UploadMethod) -> None:
    UPLOADS_CREATED.labels(method.value).inc()


def completed(method: UploadMethod) -> None:
    UPLOADS_COMPLETED.labels(method.value).inc()


def refused(stage: str, error: errors.UploadError) -> None:
    UPLOADS_REFUSED.labels(stage, error.reason if error.reason in REASONS else "OTHER").inc()


@contextmanager
def refusals(stage: str) -> Iterator[None]:
    """Count an upload error raised inside as a refusal at ``stage``, and let it go on."""
    try:
        yield
    except errors.UploadError as error:
        refused(stage, error)
        raise


SWEEPS = JobCounter("media_upload_sweeps", "Runs of the periodic upload clean-up that finished.")
ABANDONED = JobCounter(
    "media_uploads_abandoned",
    "Pending uploads older than UPLOAD_TTL_SECONDS that the sweep aborted, their videos removed.",
)
ORPHANS_ABORTED = JobCounter(
    "media_upload_orphan_multiparts_aborted",
    "Open multipart uploads with no row (their insert failed) that the sweep aborted.",
)
HANDOFFS_RECOVERED = JobCounter(
    "media_upload_handoffs_recovered",
    "Verified videos handed to transcode_svc later because it could not take them at completion.",
)

WORKER_METRICS: tuple[JobMetric, ...] = (SWEEPS, ABANDONED, ORPHANS_ABORTED, HANDOFFS_RECOVERED)
"""Everything ``python -m upload_svc.worker`` serves besides its process figures."""


def handed_off(count: int) -> None:
    """Videos the frequent hand-off job gave to transcode_svc (the same counter as the sweep's)."""
    HANDOFFS_RECOVERED.inc(count)


def swept(removed_videos: int, aborted_orphans: int, handed_off: int) -> None:
    SWEEPS.inc()
    ABANDONED.inc(removed_videos)
    ORPHANS_ABORTED.inc(aborted_orphans)
    HANDOFFS_RECOVERED.inc(handed_off)
