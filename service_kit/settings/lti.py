"""LTI 1.3 settings: lti_svc (and the edge's LTI pages).

Its own module because only the process holding the encrypted secrets reads
LTI_ENCRYPTION_KEYS and the LTI keys, lifetimes and caches.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from service_kit.settings.reader import (
    SettingsError,
    _environment_with_dotenv,
    _positive_float,
    _positive_int,
    _Reader,
    _whole_number_between,
)


@dataclass(frozen=True)
class LtiSettings:
    """Keys, lifetimes and caches of the LTI tool; read by lti_svc alone.

    Separate from :class:`Settings` so that only the process holding the encrypted
    secrets needs LTI_ENCRYPTION_KEYS: a production lti_svc refuses to start without it,
    while a development one starts and refuses, with a clear message, just the calls
    that encrypt or decrypt (registrations with Zoom secrets, signing with tool keys).
    """

    encryption_keys: tuple[tuple[str, bytes], ...] = ()
    """LTI_ENCRYPTION_KEYS: ``kid:base64url-32-bytes`` pairs, comma-separated; the first encrypts, all decrypt."""
    key_rotation_days: float = 90.0
    """LTI_KEY_ROTATION_DAYS: how long one tool key signs before the next takes over."""
    key_publish_lead_seconds: int = 86400
    """LTI_KEY_PUBLISH_LEAD_SECONDS: a new key is published this long before it signs (platform JWKS caches)."""
    tool_jwt_ttl_seconds: int = 300
    """LTI_TOOL_JWT_TTL_SECONDS: lifetime of JWTs the tool signs (deep-linking responses, token grants)."""
    state_ttl_seconds: int = 600
    """LTI_STATE_TTL_SECONDS: how long a login's state and nonce wait for the platform's launch."""
    jwks_cache_seconds: int = 300
    """LTI_JWKS_CACHE_SECONDS: how long a platform's key set is cached (an unknown kid re-fetches once)."""
    clock_skew_seconds: int = 60
    """LTI_CLOCK_SKEW_SECONDS: allowance for the platform's clock when checking exp and iat."""
    roster_cache_seconds: int = 300
    """LTI_ROSTER_CACHE_SECONDS: how long a course roster read over NRPS is reused."""
    launch_ttl_seconds: int = 3600
    """LTI_LAUNCH_TTL_SECONDS: how long a deep-linking launch can still be answered."""
    invitation_ttl_seconds: int = 7 * 86400
    """LTI_INVITATION_TTL_SECONDS: lifetime of a dynamic-registration URL an administrator hands to the LMS."""
    http_timeout_seconds: float = 10.0
    """LTI_HTTP_TIMEOUT_SECONDS: limit of each call to a platform (JWKS, token, NRPS, AGS, registration)."""


def _encryption_keys(raw: str) -> tuple[tuple[str, bytes], ...]:
    import base64
    import binascii

    keys: list[tuple[str, bytes]] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        kid, sep, encoded = item.partition(":")
        if not sep or not kid.strip():
            raise ValueError(raw)
        try:
            key = base64.urlsafe_b64decode(encoded.strip() + "=" * (-len(encoded.strip()) % 4))
        except (binascii.Error, ValueError):
            raise ValueError(raw) from None
        if len(key) != 32 or any(kid.strip() == known for known, _ in keys):
            raise ValueError(raw)
        keys.append((kid.strip(), key))
    if not keys:
        raise ValueError(raw)
    return tuple(keys)


def load_lti_settings(env: Mapping[str, str] | None = None, dotenv_path: Path | None = None) -> LtiSettings:
    """Read the LTI_* variables, raising :class:`SettingsError` on a bad one.

    LTI_ENCRYPTION_KEYS is required when MEDIA_ENV is production.
    """
    read = _Reader(_environment_with_dotenv(os.environ if env is None else env, dotenv_path))
    defaults = LtiSettings()
    production = read.text("MEDIA_ENV", "development") == "production"
    keys_raw = read.optional("LTI_ENCRYPTION_KEYS")
    if keys_raw is None and production:
        raise SettingsError(
            "LTI_ENCRYPTION_KEYS is not set: set it to kid:key pairs, e.g. "
            "k1:<32 random bytes, base64url> (python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    encryption_keys = (
        read.parsed(
            "LTI_ENCRYPTION_KEYS",
            "",
            _encryption_keys,
            "comma-separated kid:key pairs with distinct kids, each key 32 bytes in base64url",
        )
        if keys_raw is not None
        else ()
    )

    def seconds(name: str, default: int) -> int:
        return read.parsed(name, str(default), _positive_int, "a positive whole number of seconds")

    return LtiSettings(
        encryption_keys=encryption_keys,
        key_rotation_days=read.parsed(
            "LTI_KEY_ROTATION_DAYS", str(defaults.key_rotation_days), _positive_float, "a positive number of days"
        ),
        key_publish_lead_seconds=seconds("LTI_KEY_PUBLISH_LEAD_SECONDS", defaults.key_publish_lead_seconds),
        tool_jwt_ttl_seconds=seconds("LTI_TOOL_JWT_TTL_SECONDS", defaults.tool_jwt_ttl_seconds),
        state_ttl_seconds=seconds("LTI_STATE_TTL_SECONDS", defaults.state_ttl_seconds),
        jwks_cache_seconds=seconds("LTI_JWKS_CACHE_SECONDS", defaults.jwks_cache_seconds),
        clock_skew_seconds=read.parsed(
            "LTI_CLOCK_SKEW_SECONDS",
            str(defaults.clock_skew_seconds),
            _whole_number_between(0, 600),
            "a whole number of seconds from 0 to 600",
        ),
        roster_cache_seconds=seconds("LTI_ROSTER_CACHE_SECONDS", defaults.roster_cache_seconds),
        launch_ttl_seconds=seconds("LTI_LAUNCH_TTL_SECONDS", defaults.launch_ttl_seconds),
        invitation_ttl_seconds=seconds("LTI_INVITATION_TTL_SECONDS", defaults.invitation_ttl_seconds),
        http_timeout_seconds=read.parsed(
            "LTI_HTTP_TIMEOUT_SECONDS", str(defaults.http_timeout_seconds), _positive_float, "a positive number"
        ),
    )
