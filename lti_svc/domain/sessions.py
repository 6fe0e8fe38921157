"""Refreshing a session: the same claims for longer, never past the session's total lifetime.

Pages hold their session token in memory (no cookie, no storage: an LMS iframe may have
neither), so a page that must stay usable through a long lecture trades its token for a
fresh one before it expires. The token keeps ``auth_time``, the moment of the launch, so
a stolen token cannot be refreshed forever: ``max_lifetime`` after the launch, the user
launches again from the LMS, which is also when their roles are read afresh.
"""

from __future__ import annotations

from dataclasses import dataclass

from lti_svc import errors
from lti_svc.domain.access import SERVICE_ROLE
from service_kit.auth import SessionClaims


@dataclass(frozen=True)
class Renewal:
    """When the fresh token expires and when the session ends for good (seconds since the epoch)."""

    expires_at: int
    ends_at: int


def renew_session(caller: SessionClaims, *, now: int, ttl: int, max_lifetime: int) -> Renewal:
    """The fresh token's expiry: ``ttl`` from now, cut to the session's end; refused once that has passed."""
    if SERVICE_ROLE in caller.roles:
        raise errors.NotASession(
            "a service token is not a session: services mint their own short-lived tokens, they do not refresh them"
        )
    if caller.api_token_id is not None:
        raise errors.ApiTokenNeedsLaunch(
            "a session resolved from an API token is not refreshed: send the API token itself with every request"
        )
    launched = caller.authenticated_at or caller.issued_at
    ends = launched + max_lifetime
    if now >= ends:
        raise errors.SessionLifetimeOver(
            "this session has reached its longest lifetime and cannot be refreshed: launch the tool again from"
            " your course"
        )
    return Renewal(expires_at=min(now + ttl, ends), ends_at=ends)
