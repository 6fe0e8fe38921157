"""LTI role URIs to this tool's session roles.

Its own module because both a launch and a Names and Roles roster map roles, and the
mapping (what grants course staff, what grants Administrator) is a policy one reads alone.

The policy in one sentence: a role grants power only over the scope it was given for.
LTI 1.3 core §A.2 sorts roles into three vocabularies by scope: system roles (§A.2.1,
``.../lis/v2/system/person#...``) and institution roles (§A.2.2,
``.../lis/v2/institution/person#...``) describe a person across the platform or the
institution; context roles (§A.2.3, ``.../lis/v2/membership#...`` and the sub-roles of
§A.2.3.1, ``.../lis/v2/membership/<Role>#<SubRole>``) describe the person in the course
being launched from. So:

==================================================  ==========================================
Role in the launch                                  Session roles
==================================================  ==========================================
context Instructor, Learner, ContentDeveloper,      the same short name (course staff for all
Mentor                                              but Learner and Mentor)
context Instructor#TeachingAssistant (any           TeachingAssistant only: the principal
TeachingAssistant... sub-role, any case of the        Instructor sent beside it (§A.2.3.1 best
parent, as Canvas once spelled it)                  practice) is not a second role
other context sub-roles (Learner#NonCreditLearner,  their principal role
Instructor#PrimaryInstructor, ...)
context Administrator                               Instructor: staff of this course, never
                                                    of the organization
institution or system Administrator, SysAdmin,      Administrator (the organization's)
AccountAdmin
institution Instructor, Faculty, Staff, Student,    nothing
...; system User, None; LTI TestUser
simple names (``Instructor``), LTI 1.1 URNs         as the URI they abbreviate
(``urn:lti:role:ims/lis/TeachingAssistant``)
anything else (``Service`` included)                nothing
==================================================  ==========================================

Why institution Instructor and Faculty grant nothing here: LIS defines them as what a
person is at the institution (employed to teach somewhere), not as membership of this
course; Canvas sends ``institution/person#Instructor`` to anyone who teaches any course,
so a teacher visiting a colleague's course as a learner would otherwise manage it.
Why a context Administrator is not the organization's Administrator: the context
vocabulary scopes the role to the course (§A.2.3), while this tool's Administrator
manages every course and the platform registrations of the organization, which only a
system or institution role can vouch for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from service_kit.auth import (
    ADMINISTRATOR,
    CONTENT_DEVELOPER,
    INSTRUCTOR,
    LEARNER,
    MENTOR,
    TEACHING_ASSISTANT,
)

Scope = Literal["context", "institution", "system"]

_LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
_PREFIXES: tuple[tuple[str, Scope, str], ...] = (
    # (prefix, scope, separator between principal and sub-role; "" when the vocabulary has none)
    (_LIS + "membership#", "context", ""),
    (_LIS + "membership/", "context", "#"),
    (_LIS + "institution/person#", "institution", ""),
    (_LIS + "system/person#", "system", ""),
    # LTI 1.1 spellings, still met in 1.3 launches from platforms that convert old settings.
    ("urn:lti:role:ims/lis/", "context", "/"),
    ("urn:lti:instrole:ims/lis/", "institution", ""),
    ("urn:lti:sysrole:ims/lis/", "system", ""),
)

_CONTEXT_ROLES = {
    "instructor": INSTRUCTOR,
    "learner": LEARNER,
    "contentdeveloper": CONTENT_DEVELOPER,
    "mentor": MENTOR,
    "teachingassistant": TEACHING_ASSISTANT,  # LIS 1 had it as a principal role; LTI 1.1 URNs still do
    "administrator": INSTRUCTOR,  # of the course only: see the module docstring
}
_ORGANIZATION_ADMINISTRATORS = frozenset({"administrator", "sysadmin", "accountadmin"})
_TEACHING_ASSISTANT_PARENTS = frozenset({"instructor", "teachingassistant"})


@dataclass(frozen=True)
class RoleRef:
    """One role of a launch, read: its vocabulary's scope, principal role and sub-role (case-folded)."""

    scope: Scope
    principal: str
    sub_role: str = ""


def read_role(uri: str) -> RoleRef | None:
    """The scope, principal and sub-role a role URI names; None for vocabularies this tool does not read.

    A bare name without ``:`` or ``/`` is the deprecated simple name of a context role
    (LTI 1.3 core §A.2.3): ``Instructor`` reads as ``membership#Instructor``. Names are
    compared case-folded: Canvas sent ``membership/instructor#TeachingAssistant`` for years.
    """
    for prefix, scope, separator in _PREFIXES:
        if uri.startswith(prefix):
            rest = uri[len(prefix) :]
            principal, _, sub_role = rest.partition(separator) if separator else (rest, "", "")
            if not principal or (separator == "#" and not sub_role):
                return None
            return RoleRef(scope, principal.casefold(), sub_role.casefold())
    if uri and not any(c in uri for c in ":/#"):
        return RoleRef("context", uri.casefold())
    return None


def _context_role(role: RoleRef) -> str | None:
    if role.sub_role.startswith("teachingassistant") and role.principal in _TEACHING_ASSISTANT_PARENTS:
        return TEACHING_ASSISTANT
    return _CONTEXT_ROLES.get(role.principal)


def map_roles(uris: Iterable[str]) -> frozenset[str]:
    """LTI role URIs (a launch's roles claim, or an NRPS member's roles) to session short names.

    Follows the table in this module's docstring. A principal context role that arrives
    together with one of its own sub-roles counts only through the sub-role: LTI 1.3
    core §A.2.3.1 asks platforms to send the principal beside every sub-role, so Canvas
    launches a teaching assistant with both ``membership#Instructor`` and
    ``membership/Instructor#TeachingAssistant``, and that person is a TeachingAssistant.
    Unknown roles, including ``Service``, map to nothing.
    """
    roles = [role for role in map(read_role, uris) if role is not None]
    refined = {role.principal for role in roles if role.scope == "context" and role.sub_role}
    short: set[str] = set()
    for role in roles:
        if role.scope == "context":
            if role.sub_role or role.principal not in refined:
                mapped = _context_role(role)
                if mapped is not None:
                    short.add(mapped)
        elif role.principal in _ORGANIZATION_ADMINISTRATORS:
            short.add(ADMINISTRATOR)
    return frozenset(short)
