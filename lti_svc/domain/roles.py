"""LTI role URIs to this tool's session roles.

Its own module because both a launch and a Names and Roles roster map roles, and the
mapping (what grants course staff, what grants Administrator) is a policy one reads alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from service_kit.auth import (
    ADMINISTRATOR,
    CONTENT_DEVELOPER,
    INSTRUCTOR,
    LEARNER,
    MENTOR,
    TEACHING_ASSISTANT,
)

_MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
_INSTITUTION = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
_SYSTEM = "http://purl.imsglobal.org/vocab/lis/v2/system/person#"
_SHORT_NAMES = {
    "Instructor": INSTRUCTOR,
    "Learner": LEARNER,
    "Administrator": ADMINISTRATOR,
    "TeachingAssistant": TEACHING_ASSISTANT,
    "ContentDeveloper": CONTENT_DEVELOPER,
    "Mentor": MENTOR,
}
_ADMIN_INSTITUTION_ROLES = frozenset({"Administrator", "SysAdmin", "AccountAdmin"})


def map_roles(uris: Iterable[str]) -> frozenset[str]:
    """LTI role URIs to the session's short names.

    Course roles come from membership roles (``membership#Instructor``), their sub-roles
    (``membership/Instructor#TeachingAssistant`` is a TeachingAssistant; other sub-roles
    count as their parent) and the deprecated bare names LTI 1.3 still allows. Institution
    and system roles grant Administrator only: being faculty somewhere does not make
    anyone staff of this course. Unknown roles are ignored.
    """
    short: set[str] = set()
    for uri in uris:
        if uri in _SHORT_NAMES:
            short.add(_SHORT_NAMES[uri])
        elif uri.startswith(_MEMBERSHIP + "#"):
            name = uri[len(_MEMBERSHIP) + 1 :]
            if name in _SHORT_NAMES:
                short.add(_SHORT_NAMES[name])
        elif uri.startswith(_MEMBERSHIP + "/"):
            parent, _, sub = uri[len(_MEMBERSHIP) + 1 :].partition("#")
            if sub in _SHORT_NAMES and sub == TEACHING_ASSISTANT:
                short.add(TEACHING_ASSISTANT)
            elif parent in _SHORT_NAMES:
                short.add(_SHORT_NAMES[parent])
        elif uri.startswith((_INSTITUTION, _SYSTEM)) and uri.rpartition("#")[2] in _ADMIN_INSTITUTION_ROLES:
            short.add(ADMINISTRATOR)
    return frozenset(short)
