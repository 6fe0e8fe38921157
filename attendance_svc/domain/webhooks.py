"""Zoom's webhook checks: the signature over the raw body, the timestamp window, the URL check.

Zoom signs ``v0:{x-zm-request-timestamp}:{raw body}`` with the webhook secret
(HMAC-SHA256, hex, prefixed ``v0=``). The comparison is constant time, and a timestamp
more than a few minutes off is refused, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from attendance_svc import errors

SIGNATURE_VERSION = "v0"


def webhook_signature(secret: str, timestamp: str, raw_body: bytes) -> str:
    """``v0=`` and the hex HMAC-SHA256 of ``v0:{timestamp}:{body}`` under the webhook secret."""
    message = f"{SIGNATURE_VERSION}:{timestamp}:".encode() + raw_body
    return f"{SIGNATURE_VERSION}=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_webhook(
    secret: str, *, signature: str, timestamp: str, raw_body: bytes, now: float, max_skew_seconds: int
) -> None:
    """Raise unless the signature matches (constant time) and the timestamp is recent.

    The signature is checked first, so an attacker learns nothing about our clock from
    the answer; the timestamp then bounds replays of a genuine request.
    """
    if not signature or not timestamp:
        raise errors.MissingZoomSignature("x-zm-signature and x-zm-request-timestamp are required")
    expected = webhook_signature(secret, timestamp, raw_body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise errors.InvalidZoomSignature("x-zm-signature does not match the body: check ZOOM_WEBHOOK_SECRET")
    try:
        sent = int(timestamp)
    except ValueError:
        raise errors.StaleZoomTimestamp("x-zm-request-timestamp must be epoch seconds") from None
    if abs(now - sent) > max_skew_seconds:
        raise errors.StaleZoomTimestamp(
            f"x-zm-request-timestamp is {int(now - sent)} s off (at most {max_skew_seconds} s): refused as a replay"
        )


def url_validation_token(secret: str, plain_token: str) -> str:
    """Zoom's endpoint check: the hex HMAC-SHA256 of the plainToken under the webhook secret."""
    return hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Notification:
    """A parsed webhook: its event, when Zoom sent it, and its payload."""

    event: str
    event_ts: datetime
    payload: Mapping[str, Any]


def parse_notification(raw_body: bytes) -> Notification:
    """The event name, event_ts (epoch ms) and payload; MalformedZoomEvent when they are not there."""
    try:
        document = json.loads(raw_body)
    except (UnicodeDecodeError, ValueError):
        raise errors.MalformedZoomEvent("the body is not JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("event"), str) or not document["event"]:
        raise errors.MalformedZoomEvent("the body has no event name")
    payload = document.get("payload", {})
    if not isinstance(payload, dict):
        raise errors.MalformedZoomEvent("payload must be an object")
    ts = document.get("event_ts")
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        event_ts = datetime.now(UTC)
    else:
        event_ts = datetime.fromtimestamp(ts / 1000, UTC)
    return Notification(event=document["event"], event_ts=event_ts, payload=payload)
