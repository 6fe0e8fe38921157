"""Who may read, watch and cancel a transcode job."""

from __future__ import annotations

import enum

from service_kit.auth import SessionClaims


class JobAccess(enum.Enum):
    """What a caller may do with a job, and how a refusal answers."""

    MANAGE = "manage"
    HIDDEN = "hidden"
    """Another organization's, or another course's, job: answered as if it did not exist."""
    NOT_STAFF = "not staff"
    """A member of the job's course without a staff role: 403, the job is the staff's tool."""


def job_access(caller: SessionClaims, organization_id: str, course_id: str) -> JobAccess:
    """Staff of the video's course and the organization's administrators manage its job.

    The rule mirrors the catalog's (upload_svc.domain): another organization's job, or
    another course's, is reported as missing, so ids never leak across courses. Jobs
    started before the course was recorded (``course_id`` empty) keep the older rule:
    any staff of the organization.
    """
    if organization_id != caller.organization_id:
        return JobAccess.HIDDEN
    if caller.is_administrator:
        return JobAccess.MANAGE
    if course_id and course_id != caller.course_id:
        return JobAccess.HIDDEN
    return JobAccess.MANAGE if caller.manages_course else JobAccess.NOT_STAFF
