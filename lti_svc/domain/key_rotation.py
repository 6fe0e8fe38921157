"""Rotation of the tool's own RSA keys: which key signs now, and what to create or unpublish.

Its own module because rotation is a timing policy (publish ahead, retire after the
last token expires) independent of any LTI message.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ToolKey:
    """When one of the tool's RSA keys was made and when it starts (started) signing."""

    kid: str
    activates_at: int


@dataclass(frozen=True)
class RotationPolicy:
    period_seconds: int
    """How long a key signs before its successor takes over (LTI_KEY_ROTATION_DAYS)."""
    publish_lead_seconds: int
    """How long a key is published before it signs, so platforms' JWKS caches know it."""
    token_ttl_seconds: int
    """Lifetime of the tool's JWTs: a retired key stays published this long after its successor starts."""


@dataclass(frozen=True)
class RotationPlan:
    create_activating_at: int | None
    """Make a new key that starts signing then (None: nothing to make)."""
    delete: tuple[str, ...]
    """Keys whose every token has expired: unpublish them."""


def signing_key(keys: Sequence[ToolKey], now: int) -> ToolKey | None:
    """The newest key already active: published keys that are not active yet never sign."""
    active = [k for k in keys if k.activates_at <= now]
    return max(active, key=lambda k: k.activates_at) if active else None


def plan_rotation(keys: Sequence[ToolKey], now: int, policy: RotationPolicy) -> RotationPlan:
    """What rotation owes now.

    The very first key signs at once (no platform can have cached an older set). Later
    ones are created ``publish_lead_seconds`` before they take over, so they are in the
    JWKS before any token names them; a predecessor stays published until its last
    token has expired.
    """
    ordered = sorted(keys, key=lambda k: k.activates_at)
    current = signing_key(ordered, now)
    create: int | None = None
    if current is None and not ordered:
        create = now
    elif current is not None and not any(k.activates_at > current.activates_at for k in ordered):
        due = current.activates_at + policy.period_seconds
        if now >= due - policy.publish_lead_seconds:
            create = max(due, now + policy.publish_lead_seconds)
    delete = tuple(
        older.kid
        for older, newer in itertools.pairwise(ordered)
        if newer.activates_at <= now and now >= newer.activates_at + policy.token_ttl_seconds
    )
    return RotationPlan(create, delete)
