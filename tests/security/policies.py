"""Who may call what: one policy per route, and the answer each policy gives each caller.

A caller is a role (learner, instructor, administrator) in a place relative to the
resource's "owner" course: the same course, another course of the same organization,
or another organization. :func:`expected` is the whole rule book; ``ROUTE_POLICIES`` in
test_authorization_matrix.py only says which rule each route follows.

How a refusal answers (the services' rule, kept by this table):

- **404 across organizations**, always: an organization never learns whether an id
  exists in another one, so a foreign id is answered exactly like an unknown one.
- **404 inside the organization for reading what the caller may not see** (another
  course's videos and live sessions, an unpublished video for a learner): the catalog
  shows a member only what they may watch.
- **403 for a caller who may see the resource, or names a course, but lacks the role**
  (a learner changing a video, an instructor acting on another course of the same
  organization, a non-administrator managing registrations): the message says which role
  is missing, which is what the user needs to hear.
- Routes keyed by a course named in the request (``/lti/courses/{course_id}/...``, a
  ``course_id`` field) read that course in the caller's own organization, so an
  administrator of another organization reaches a course of the same name in their own
  organization and nothing of the owner's; that is "allowed" below, and proves no leak
  because the organization always comes from the session, never from the request.

A 400 can come before authorization, and the table allows it only where it tells a
caller nothing about anyone else's data: the edge refuses a body or query that does
not fit the request message (an unknown field) for every caller alike, before any
service sees it; a registration id of another organization named in a body
(``lti_config_id``) is "no such LTI registration", the same 400 as an unknown id; a
course of the caller's own organization that was never launched is "not launched yet".
"""

from __future__ import annotations

import enum


class Role(enum.Enum):
    LEARNER = "Learner"
    INSTRUCTOR = "Instructor"
    ADMINISTRATOR = "Administrator"


class Place(enum.Enum):
    SAME_COURSE = "same course"
    OTHER_COURSE = "other course, same organization"
    OTHER_ORGANIZATION = "other organization"


class Outcome(enum.Enum):
    """The class of answer a cell expects."""

    ALLOWED = "allowed (not 401/403/404)"
    FORBIDDEN = "403"
    HIDDEN = "404"
    UNAUTHENTICATED = "401"
    SAME_AS_ANONYMOUS = "the same status as without a session"
    """Public routes: a session neither opens nor closes them."""


class Policy(enum.Enum):
    COURSE_MEMBER_READS = "course member reads"
    """Members of the owner course (and the organization's administrators) read it."""
    COURSE_STAFF = "course staff"
    """Instructors of the owner course and the organization's administrators; learners get 403."""
    NAMED_COURSE_MEMBER = "member of the course named in the request"
    """Lists: the session's course, or any course for an administrator (in their own organization)."""
    NAMED_COURSE_STAFF = "staff of the course named in the request"
    """Creates in the named course of the caller's organization: its instructors, or an administrator."""
    ORGANIZATION_ADMINISTRATOR = "organization administrator"
    """A registration of the owner organization: its administrators only."""
    OWN_ORGANIZATION_ADMINISTRATOR = "administrator, own organization"
    """Registrations of the caller's organization (create, list, invite): administrators only."""
    SIGNED_IN = "any session"
    """Acts on the caller's own session or course only."""
    LAUNCH_OWNER = "the user of the launch"
    """A deep-linking launch answers only to the user, organization and course it was made for."""
    TOKEN_OWNER = "the owner of the API token"
    """A personal API token is its owner's alone: anyone else, administrators included, is told it does not exist."""
    STAFF_OWN_SESSION = "course staff or administrator, for themselves"
    """Creates something of the caller's own (a personal API token): learners get 403, wherever they are."""
    HLS_TOKEN = "public with HLS token"
    """The signed token in the URL is the credential: whoever holds it plays, a session adds nothing."""
    PUBLIC_LTI = "public LTI/OIDC"
    """The LMS's form posts and redirects and the tool's keys: checked by LTI's own rules."""
    WEBHOOK_SIGNATURE = "webhook signature"
    """Zoom's HMAC signature is the only credential; a session token is not one."""
    OPERATIONAL = "operational"
    """Health, metrics, the API document, built assets: public and free of course data."""


def expected(policy: Policy, role: Role, place: Place, *, other_course: Outcome | None = None) -> Outcome:
    """The answer ``role`` in ``place`` gets from a route that follows ``policy``.

    ``other_course`` is how the route refuses a non-administrator of another course in
    the same organization, when it differs from the policy's default (404 for reads,
    403 for staff actions): the catalog hides another course's videos and jobs even from
    its staff (404), while a live session says "your session is for another course" (403)
    so a user who followed a link from the wrong course knows to launch from the right one.
    """
    admin = role is Role.ADMINISTRATOR
    named_course = place is not Place.OTHER_COURSE
    """The other organization's callers sit in a course with the owner course's id (see the matrix)."""
    if policy is Policy.OPERATIONAL or policy is Policy.SIGNED_IN or policy is Policy.HLS_TOKEN:
        return Outcome.ALLOWED
    if policy is Policy.PUBLIC_LTI:
        return Outcome.SAME_AS_ANONYMOUS
    if policy is Policy.WEBHOOK_SIGNATURE:
        return Outcome.UNAUTHENTICATED
    if policy is Policy.LAUNCH_OWNER or policy is Policy.TOKEN_OWNER:
        return Outcome.HIDDEN
    if policy is Policy.STAFF_OWN_SESSION:
        return Outcome.FORBIDDEN if role is Role.LEARNER else Outcome.ALLOWED
    if policy is Policy.OWN_ORGANIZATION_ADMINISTRATOR:
        return Outcome.ALLOWED if admin else Outcome.FORBIDDEN
    if policy is Policy.NAMED_COURSE_MEMBER:
        return Outcome.ALLOWED if admin or named_course else Outcome.FORBIDDEN
    if policy is Policy.NAMED_COURSE_STAFF:
        if admin or (role is Role.INSTRUCTOR and named_course):
            return Outcome.ALLOWED
        return Outcome.FORBIDDEN
    if place is Place.OTHER_ORGANIZATION:
        if policy is Policy.ORGANIZATION_ADMINISTRATOR and not admin:
            return Outcome.FORBIDDEN
        return Outcome.HIDDEN
    if policy is Policy.ORGANIZATION_ADMINISTRATOR:
        return Outcome.ALLOWED if admin else Outcome.FORBIDDEN
    if admin:
        return Outcome.ALLOWED
    if policy is Policy.COURSE_MEMBER_READS:
        return Outcome.ALLOWED if place is Place.SAME_COURSE else other_course or Outcome.HIDDEN
    if policy is Policy.COURSE_STAFF:
        if place is Place.OTHER_COURSE:
            return other_course or Outcome.FORBIDDEN
        return Outcome.ALLOWED if role is Role.INSTRUCTOR else Outcome.FORBIDDEN
    raise AssertionError(f"no rule for {policy}")


def classify(status: int) -> Outcome:
    """The outcome class of an answer; SAME_AS_ANONYMOUS is judged by comparing two answers."""
    if status == 401:
        return Outcome.UNAUTHENTICATED
    if status == 403:
        return Outcome.FORBIDDEN
    if status == 404:
        return Outcome.HIDDEN
    return Outcome.ALLOWED
