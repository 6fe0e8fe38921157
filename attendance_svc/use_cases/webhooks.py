"""Zoom's webhooks: checked again here, then stored once before Zoom is answered.

The edge checks the signature already; this service checks again because no service
trusts the network. The signature is the credential: there is no caller. Zoom's
endpoint validation is answered with the token it sent, signed with the secret.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from attendance_svc import domain, errors, metrics
from attendance_svc.use_cases.ports import EventRecorder


@dataclass(frozen=True)
class WebhookAnswer:
    """What Zoom is answered: whether the event was a duplicate, or the URL-validation tokens."""

    duplicate: bool = False
    plain_token: str = ""
    encrypted_token: str = ""


class ZoomWebhooks:
    def __init__(
        self,
        *,
        recorder: EventRecorder,
        secret: str,
        max_skew_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._recorder = recorder
        self._secret = secret
        self._max_skew = max_skew_seconds
        self._clock = clock

    async def record(self, raw_body: bytes, *, signature: str, timestamp: str) -> WebhookAnswer:
        """Verify, parse and store one notification; refusals are counted by reason."""
        with metrics.webhook_received():
            domain.verify_webhook(
                self._secret,
                signature=signature,
                timestamp=timestamp,
                raw_body=raw_body,
                now=self._clock(),
                max_skew_seconds=self._max_skew,
            )
            notification = domain.parse_notification(raw_body)
            if notification.event == domain.URL_VALIDATION:
                plain = notification.payload.get("plainToken")
                if not isinstance(plain, str) or not plain:
                    raise errors.MalformedZoomEvent("endpoint.url_validation without payload.plainToken")
                return WebhookAnswer(
                    plain_token=plain, encrypted_token=domain.url_validation_token(self._secret, plain)
                )
            item = domain.event_to_store(notification, raw_body)
            duplicate = await self._recorder.record(item)
        metrics.event_recorded(item.event, duplicate=duplicate)
        return WebhookAnswer(duplicate=duplicate)
