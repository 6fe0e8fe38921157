"""Personal API tokens: who may make one, what it looks like, how it is stored, when it stops.

A token lets a client that is not a browser (``mediactl``, a script in cron) act as the
person who made it, in the scope of the session they made it from: the same
organization, course and roles. It is ``mdt_`` and 43 characters of base64url (256 random
bits); the prefix lets the edge tell it from a session JWT and lets secret scanners find
a leaked one. Only its SHA-256 is stored (:func:`secret_hash`), so the database alone
never gives a usable token. It expires (90 days by default, at most a year) and is
refused once revoked.

Plain functions over plain values: the use cases (:mod:`lti_svc.use_cases.api_tokens`)
bring the clock, the random bytes and the store.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from lti_svc import errors
from lti_svc.domain.access import SERVICE_ROLE
from service_kit.auth import API_TOKEN_PREFIX, SessionClaims
from service_kit.errors import FieldViolation

SECRET_BYTES = 32
"""256 random bits: guessing one is hopeless, so a fast hash of it is as good as a slow one."""
DEFAULT_LIFETIME_DAYS = 90
MAX_LIFETIME_DAYS = 365
MAX_NAME_LENGTH = 100
RESOLVED_SESSION_SECONDS = 300
"""Life of the session JWT a token resolves to: the edge re-resolves well before (it caches ≤ 30 s)."""
LAST_USED_RESOLUTION_SECONDS = 60
"""``last_used_at`` is written at most this often per token: a busy script costs no write per request."""

_SECRET_PATTERN = re.compile(re.escape(API_TOKEN_PREFIX) + r"[A-Za-z0-9_-]{43}")
CREATE_ELSEWHERE = "create a new token on the tool's page (API tokens) after a launch, then run `mediactl login`"


@dataclass(frozen=True)
class ApiTokenRecord:
    """One stored token: everything but the secret, which only its hash stands for."""

    id: uuid.UUID
    secret_hash: str
    name: str
    organization_id: str
    user_id: str
    course_id: str | None
    roles: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


def new_secret(entropy: bytes) -> str:
    """The secret a client sends: the prefix, then ``entropy`` (32 random bytes) in base64url."""
    if len(entropy) != SECRET_BYTES:
        raise ValueError(f"an API token needs {SECRET_BYTES} random bytes, got {len(entropy)}")
    return API_TOKEN_PREFIX + base64.urlsafe_b64encode(entropy).decode().rstrip("=")


def secret_hash(secret: str) -> str:
    """SHA-256 of the secret, hex: what is stored and looked up.

    A fast hash is right here and would be wrong for passwords. A slow, salted hash
    (bcrypt, scrypt, Argon2) exists to make each guess expensive, because passwords come
    from a small space people choose from, so a stolen table can be searched by trying
    likely ones. These secrets are 256 bits from ``secrets``: there is nothing likely to
    try, and even 10^18 guesses a second would not find one before the sun burns out, so
    slowing each guess buys nothing. A fast hash, unsalted, also lets a token be found by an
    index lookup on its hash (a salted hash would need the row first), and keeps the
    check off the hot path's budget. What it still gives: a copy of the table is not a set
    of usable tokens.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def is_well_formed(secret: str) -> bool:
    """Whether a bearer value can be a token at all (checked before any lookup)."""
    return _SECRET_PATTERN.fullmatch(secret) is not None


def require_token_creator(caller: SessionClaims) -> None:
    """Course staff and administrators, from a session a launch began; never a learner, service or token."""
    if SERVICE_ROLE in caller.roles:
        raise errors.ApiTokenNotAllowed("services do not get personal API tokens: they mint their own sessions")
    if caller.api_token_id is not None:
        raise errors.ApiTokenNeedsLaunch(
            "an API token cannot create another: create tokens on the tool's page after a launch from your course"
        )
    if not (caller.manages_course or caller.is_administrator):
        raise errors.ApiTokenNotAllowed(
            "only a course's instructors and the organization's administrators create API tokens;"
            " learners use the tool from their course"
        )


def token_name(name: str) -> str:
    """The name, trimmed: 1 to 100 characters, no control characters."""
    cleaned = name.strip()
    problem = ""
    if not cleaned:
        problem = "give the token a name that says where it is used, such as 'lecture-capture PC'"
    elif len(cleaned) > MAX_NAME_LENGTH:
        problem = f"at most {MAX_NAME_LENGTH} characters"
    elif any(ord(c) < 32 or ord(c) == 127 for c in cleaned):
        problem = "no control characters"
    if problem:
        raise errors.InvalidApiTokenRequest(f"name: {problem}", violations=(FieldViolation("name", problem),))
    return cleaned


def token_expiry(now: datetime, expires_in_days: int) -> datetime:
    """When a new token stops: ``expires_in_days`` from now (0: the default 90), at most a year."""
    days = expires_in_days or DEFAULT_LIFETIME_DAYS
    if not 1 <= days <= MAX_LIFETIME_DAYS:
        problem = f"between 1 and {MAX_LIFETIME_DAYS} days (0 for {DEFAULT_LIFETIME_DAYS})"
        raise errors.InvalidApiTokenRequest(
            f"expires_in_days: {problem}", violations=(FieldViolation("expires_in_days", problem),)
        )
    return now + timedelta(days=days)


def new_token(
    caller: SessionClaims, *, token_id: uuid.UUID, secret: str, name: str, now: datetime, expires_in_days: int
) -> ApiTokenRecord:
    """The record of a token made by ``caller``: their organization, user, course and roles.

    The scope is the creating session's, no wider: an instructor's token acts in the
    course they launched from, an administrator's keeps its course as the default while
    the Administrator role makes it organization-wide, exactly as their session is.
    """
    require_token_creator(caller)
    return ApiTokenRecord(
        id=token_id,
        secret_hash=secret_hash(secret),
        name=token_name(name),
        organization_id=caller.organization_id,
        user_id=caller.user_id,
        course_id=caller.course_id,
        roles=tuple(sorted(caller.roles)),
        created_at=now,
        expires_at=token_expiry(now, expires_in_days),
    )


def is_owner(record: ApiTokenRecord, caller: SessionClaims) -> bool:
    """Tokens are personal: only the user who made one (in that organization) sees or revokes it."""
    return record.organization_id == caller.organization_id and record.user_id == caller.user_id


def check_usable(record: ApiTokenRecord | None, now: datetime) -> ApiTokenRecord:
    """The token if it may be used now; a 401 that says what to do if it is unknown, revoked or expired."""
    if record is None:
        raise errors.UnknownApiToken(f"this API token is not known: {CREATE_ELSEWHERE}")
    if record.revoked_at is not None:
        raise errors.RevokedApiToken(f"this API token was revoked: {CREATE_ELSEWHERE}")
    if record.expires_at <= now:
        raise errors.ExpiredApiToken(
            f"this API token expired on {record.expires_at:%Y-%m-%d %H:%M} UTC: {CREATE_ELSEWHERE}"
        )
    return record


def resolved_session_expiry(record: ApiTokenRecord, now: int) -> int:
    """When the resolved session JWT expires (seconds since the epoch): soon, never after the token."""
    return min(now + RESOLVED_SESSION_SECONDS, int(record.expires_at.timestamp()))


def should_record_use(record: ApiTokenRecord, now: datetime) -> bool:
    """Whether this use is worth a write to ``last_used_at`` (at most one a minute per token)."""
    last = record.last_used_at
    return last is None or (now - last).total_seconds() >= LAST_USED_RESOLUTION_SECONDS
