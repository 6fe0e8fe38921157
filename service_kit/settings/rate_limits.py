"""RATE_LIMIT_*: how often one address or one caller may hit the routes worth abusing.

Its own block because only the edge reads it. Values are the ``limits`` library's
notation ("30/minute", "5 per second", "100/hour;1000/day"); an empty value switches
that limit off. The defaults leave any real user far below them (a class launching
together from one campus NAT address stays under 300 a minute) while a script
hammering one route is stopped within its first minute.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from limits import parse_many

from service_kit.settings.reader import SettingsError, _environment_with_dotenv, _Reader

VARIABLES = (
    "RATE_LIMIT_LOGIN_PER_ADDRESS",
    "RATE_LIMIT_LAUNCH_PER_ADDRESS",
    "RATE_LIMIT_ACCESS_TOKEN_PER_CALLER",
    "RATE_LIMIT_ACCESS_TOKEN_PER_ADDRESS",
    "RATE_LIMIT_WEBHOOK_PER_ADDRESS",
)
"""Every variable of this block (tests and benches switch them all off: their load comes from one address)."""


@dataclass(frozen=True)
class RateLimitSettings:
    """Each limit as text in ``limits`` notation; "" means no limit."""

    login_per_address: str = "300/minute"
    """OIDC login initiations (GET/POST /lti/login) from one address."""
    launch_per_address: str = "300/minute"
    """LTI launches (form post and JSON) from one address."""
    access_token_per_caller: str = "120/minute"
    """HLS access tokens minted for one signed-in user."""
    access_token_per_address: str = "1200/minute"
    """HLS access tokens minted from one address, whoever asks."""
    webhook_per_address: str = "6000/minute"
    """Zoom webhook deliveries from one address (Zoom sends bursts from a few addresses)."""


def _limit(read: _Reader, name: str, default: str) -> str:
    value = read.text(name, default).strip()
    if value.lower() in ("off", "none", "0"):
        return ""
    try:
        parse_many(value)
    except ValueError:
        raise SettingsError(f"{name}={value!r} is malformed: expected a rate such as 30/minute, or off") from None
    return value


def load_rate_limit_settings(
    env: Mapping[str, str] | None = None, dotenv_path: Path | None = None
) -> RateLimitSettings:
    """Read the RATE_LIMIT_* variables, raising :class:`SettingsError` on a malformed one."""
    read = _Reader(_environment_with_dotenv(os.environ if env is None else env, dotenv_path))
    defaults = RateLimitSettings()
    return RateLimitSettings(
        login_per_address=_limit(read, "RATE_LIMIT_LOGIN_PER_ADDRESS", defaults.login_per_address),
        launch_per_address=_limit(read, "RATE_LIMIT_LAUNCH_PER_ADDRESS", defaults.launch_per_address),
        access_token_per_caller=_limit(read, "RATE_LIMIT_ACCESS_TOKEN_PER_CALLER", defaults.access_token_per_caller),
        access_token_per_address=_limit(read, "RATE_LIMIT_ACCESS_TOKEN_PER_ADDRESS", defaults.access_token_per_address),
        webhook_per_address=_limit(read, "RATE_LIMIT_WEBHOOK_PER_ADDRESS", defaults.webhook_per_address),
    )
