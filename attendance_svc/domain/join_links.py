"""Personal join links: a learner registered with the session's meeting, once.

The registrant id Zoom gives each registration comes back on the learner's webhooks, so
matching them to the roster is exact. Zoom wants a name and an email per registrant;
the roster gives both when it can.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from attendance_svc.domain.identity import RosterMember


@dataclass(frozen=True)
class JoinLink:
    """A learner's registration with a session's meeting."""

    session_id: uuid.UUID
    user_id: str
    registrant_id: str
    join_url: str
    created_at: datetime


@dataclass(frozen=True)
class Registrant:
    """Who Zoom is asked to register."""

    email: str
    first_name: str
    last_name: str


def placeholder_email(organization_id: str, user_id: str) -> str:
    """Zoom requires an email per registrant; without one from the roster, a reserved address.

    ``.invalid`` (RFC 2606) never delivers mail, and the registrant id, not the address,
    is what matches the learner afterwards.
    """
    digest = hashlib.sha256(f"{organization_id}\x00{user_id}".encode()).hexdigest()[:20]
    return f"learner-{digest}@registrants.invalid"


def registrant_for(user_id: str, roster: Sequence[RosterMember], organization_id: str) -> Registrant:
    """The learner as the roster names them; their user id and a reserved address when it does not."""
    member = next((m for m in roster if m.user_id == user_id), None)
    name = member.name if member is not None and member.name else user_id
    first, _, last = name.partition(" ")
    address = member.email if member is not None and member.email else placeholder_email(organization_id, user_id)
    return Registrant(email=address, first_name=first, last_name=last)
