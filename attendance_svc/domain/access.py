"""Who may do what with a course's live sessions, from the caller's session JWT.

Scheduling, changing and cancelling sessions, and reading attendance, is for the
course's staff (its instructors and assistants, as the session JWT says) and the
organization's administrators; the course's members may read its sessions and get
their own join link. Another organization's session is answered as missing before any
of these checks (the use cases look it up by organization first).
"""

from __future__ import annotations

from attendance_svc import errors
from service_kit.auth import SessionClaims


def is_staff(caller: SessionClaims, course_id: str) -> bool:
    return caller.is_administrator or (caller.manages_course and caller.course_id == course_id)


def require_staff(caller: SessionClaims, course_id: str) -> None:
    if not is_staff(caller, course_id):
        raise errors.NotCourseStaff(
            "only the course's instructors and assistants may schedule live sessions or read attendance"
        )


def require_member(caller: SessionClaims, course_id: str) -> None:
    if not (caller.is_administrator or caller.course_id == course_id):
        raise errors.NotCourseMember("your session is for another course: launch the tool from this course")


def require_may_register(caller: SessionClaims, course_id: str, user_id: str) -> None:
    """Anyone in the course registers themself; only staff register someone else."""
    if user_id != caller.user_id and not is_staff(caller, course_id):
        raise errors.NotCourseStaff("only the course's staff may register someone else")
