"""Who may read, watch and cancel a transcode job: the video's course staff and the organization's administrators."""

from __future__ import annotations

import pytest

from service_kit.auth import ADMINISTRATOR, INSTRUCTOR, LEARNER, SessionClaims
from transcode_svc.domain import JobAccess, job_access


def caller(role: str, *, organization: str = "org-1", course: str = "course-1") -> SessionClaims:
    return SessionClaims("u-1", organization, course, frozenset({role}), issued_at=0, expires_at=60)


@pytest.mark.parametrize(
    ("who", "access"),
    [
        (caller(INSTRUCTOR), JobAccess.MANAGE),
        (caller(LEARNER), JobAccess.NOT_STAFF),
        (caller(ADMINISTRATOR, course="course-2"), JobAccess.MANAGE),
        (caller(INSTRUCTOR, course="course-2"), JobAccess.HIDDEN),
        (caller(LEARNER, course="course-2"), JobAccess.HIDDEN),
        (caller(ADMINISTRATOR, organization="org-2"), JobAccess.HIDDEN),
        (caller(INSTRUCTOR, organization="org-2"), JobAccess.HIDDEN),
    ],
    ids=[
        "the course's instructor",
        "the course's learner",
        "an administrator from another course",
        "another course's instructor",
        "another course's learner",
        "another organization's administrator",
        "another organization's instructor with the same course id",
    ],
)
def test_only_the_videos_course_staff_and_its_organizations_administrators_manage_its_job(
    who: SessionClaims, access: JobAccess
) -> None:
    assert job_access(who, "org-1", "course-1") is access


def test_a_job_from_before_courses_were_recorded_stays_open_to_the_organizations_staff() -> None:
    assert job_access(caller(INSTRUCTOR, course="course-2"), "org-1", "") is JobAccess.MANAGE
    assert job_access(caller(LEARNER), "org-1", "") is JobAccess.NOT_STAFF
