"""LTI Advantage services: the client-credentials grant, Names and Roles rosters, and AGS grades.

Its own module because these are the documents the tool exchanges with a platform after
a launch (token requests, membership pages, line items and scores), not launch checks.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from lti_svc import errors
from lti_svc.domain.login import new_secret_token
from lti_svc.domain.registrations import Registration
from lti_svc.domain.roles import map_roles
from lti_svc.domain.spec import (
    CLIENT_ASSERTION_TYPE,
    _text,
)


def client_assertion_claims(registration: Registration, *, now: int, ttl: int) -> dict[str, Any]:
    """The tool's signed assertion for the platform's token endpoint (RFC 7523, as LTI uses it)."""
    return {
        "iss": registration.client_id,
        "sub": registration.client_id,
        "aud": registration.auth_token_url,
        "iat": now,
        "exp": now + ttl,
        "jti": new_secret_token(),
    }


def token_request_form(assertion: str, scopes: Sequence[str]) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion,
        "scope": " ".join(scopes),
    }


@dataclass(frozen=True)
class CourseLink:
    """Where a course lives on its platform: the registration and the services its latest launch offered."""

    organization_id: str
    course_id: str
    registration_id: uuid.UUID
    nrps_url: str
    ags_lineitems_url: str
    ags_scopes: tuple[str, ...]


@dataclass(frozen=True)
class LineItemRecord:
    """The platform gradebook column of one live session, as stored."""

    id: uuid.UUID
    organization_id: str
    course_id: str
    live_session_id: str
    registration_id: uuid.UUID
    platform_url: str
    label: str
    score_maximum: float
    created_at: datetime


# ---- Names and Roles ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One roster entry; roles in short names, status Active / Inactive / Deleted."""

    user_id: str
    name: str
    given_name: str
    family_name: str
    email: str
    roles: tuple[str, ...]
    status: str


def parse_members(container: Any) -> list[Member]:
    """Members of one membership container page; entries without a user id are skipped."""
    members = container.get("members") if isinstance(container, dict) else None
    out: list[Member] = []
    for entry in members if isinstance(members, list) else ():
        if not isinstance(entry, dict) or not isinstance(entry.get("user_id"), str):
            continue
        roles = entry.get("roles")
        status = _text(entry.get("status")) or "Active"
        out.append(
            Member(
                user_id=entry["user_id"],
                name=_text(entry.get("name")),
                given_name=_text(entry.get("given_name")),
                family_name=_text(entry.get("family_name")),
                email=_text(entry.get("email")),
                roles=tuple(sorted(map_roles(r for r in roles if isinstance(r, str))))
                if isinstance(roles, list)
                else (),
                status=status if status in ("Active", "Inactive", "Deleted") else "Active",
            )
        )
    return out


_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")


def next_link(header: str | None) -> str | None:
    """The ``rel="next"`` target of an HTTP Link header (RFC 8288), as NRPS pages its roster."""
    if not header:
        return None
    for match in _LINK.finditer(header):
        params = match.group(2)
        rels = re.findall(r';\s*rel\s*=\s*"?([^";]+)"?', params)
        if any("next" in rel.split() for rel in rels):
            return match.group(1)
    return None


def encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_offset(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        kind, _, number = text.partition(":")
        value = int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise errors.InvalidPageToken("page_token is not one this service issued: start from the first page") from None
    if kind != "o" or value < 0:
        raise errors.InvalidPageToken("page_token is not one this service issued: start from the first page")
    return value


def page_size(requested: int, *, default: int, maximum: int) -> int:
    if requested < 0:
        raise errors.InvalidPageToken("page_size must not be negative")
    return min(requested or default, maximum)


# ---- Assignment and Grade Services ------------------------------------------------------------------


ACTIVITY_PROGRESS = ("Initialized", "Started", "InProgress", "Submitted", "Completed")
GRADING_PROGRESS = ("FullyGraded", "Pending", "PendingManual", "Failed", "NotReady")


def line_item_document(*, label: str, score_maximum: float, resource_id: str, tag: str) -> dict[str, Any]:
    """A new line item (AGS lineitem media type); resourceId lets us find it again after a retry."""
    if not label.strip():
        raise errors.InvalidScore("label is required: the gradebook column needs a title")
    if score_maximum <= 0:
        raise errors.InvalidScore("score_maximum must be positive")
    return {"label": label.strip(), "scoreMaximum": score_maximum, "resourceId": resource_id, "tag": tag}


def scores_url(line_item_url: str) -> str:
    """The scores endpoint of a line item: ``/scores`` appended to its path, its query kept."""
    parts = urlsplit(line_item_url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/scores", parts.query, ""))


def iso_timestamp(moment: datetime) -> str:
    """ISO 8601 with milliseconds and an offset, as AGS asks for score timestamps."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def score_document(
    *,
    user_id: str,
    score_given: float | None,
    score_maximum: float,
    comment: str,
    activity_progress: str,
    grading_progress: str,
    timestamp: datetime,
) -> dict[str, Any]:
    """One score (AGS score media type). A score needs both numbers, or neither (progress only)."""
    if not user_id:
        raise errors.InvalidScore("user_id is required for every score")
    if activity_progress not in ACTIVITY_PROGRESS or grading_progress not in GRADING_PROGRESS:
        raise errors.InvalidScore("activity_progress and grading_progress must be set")
    document: dict[str, Any] = {
        "userId": user_id,
        "activityProgress": activity_progress,
        "gradingProgress": grading_progress,
        "timestamp": iso_timestamp(timestamp),
    }
    if score_given is not None:
        if score_maximum <= 0 or score_given < 0:
            raise errors.InvalidScore(f"the score of {user_id} needs score_given >= 0 and score_maximum > 0")
        document["scoreGiven"] = score_given
        document["scoreMaximum"] = score_maximum
    if comment:
        document["comment"] = comment
    return document
