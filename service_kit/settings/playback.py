"""HLS playback settings: playback_svc and the edge's playlist routes.

Its own module because only playback_svc and the edge read it, and only a CDN
deployment needs the CloudFront key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from service_kit.settings.reader import (
    SettingsError,
    _environment_with_dotenv,
    _Reader,
    _whole_number_between,
)

HLS_SEGMENT_DELIVERIES = ("s3", "cdn", "proxy")


@dataclass(frozen=True)
class PlaybackSettings:
    """How HLS access tokens live and how players reach segment bytes.

    Separate from :class:`Settings` (like :class:`LtiSettings`) so only playback_svc
    and the edge read it, and only a CDN deployment needs the CloudFront key.
    """

    token_ttl_seconds: int = 3600
    """HLS_TOKEN_TTL: lifetime of an access token; segment URLs never outlive their token."""
    segment_delivery: str = "s3"
    """HLS_SEGMENT_DELIVERY: s3 (presigned GETs), cdn (CloudFront signed URLs) or proxy (bytes through the edge)."""
    cloudfront_key_pair_id: str | None = None
    """CLOUDFRONT_KEY_PAIR_ID: the public key id CloudFront checks signatures with (cdn only)."""
    cloudfront_private_key_pem: str | None = None
    """CLOUDFRONT_PRIVATE_KEY: the RSA private key, as PEM text or a path to a PEM file (cdn only)."""
    cdn_url: str | None = None
    """S3_CDN_URL: the CloudFront distribution in front of the bucket (cdn only)."""
    cors_origins: tuple[str, ...] = ("*",)
    """HLS_CORS_ORIGINS: comma-separated origins of players allowed to read playlists; ``*`` for any."""


def _delivery(raw: str) -> str:
    if raw not in HLS_SEGMENT_DELIVERIES:
        raise ValueError(raw)
    return raw


def _cors_origins(raw: str) -> tuple[str, ...]:
    origins = tuple(part.strip().rstrip("/") for part in raw.split(",") if part.strip())
    if not origins or any(o != "*" and not urlsplit(o).netloc for o in origins):
        raise ValueError(raw)
    return origins


def _pem_text(name: str, raw: str) -> str:
    """PEM text as given (``\\n`` escapes allowed, as .env files write them) or read from a path."""
    if "-----BEGIN" in raw:
        return raw.replace("\\n", "\n")
    path = Path(raw).expanduser()
    try:
        text = path.read_text()
    except OSError as exc:
        raise SettingsError(f"{name}={raw!r} is neither PEM text nor a readable file: {exc.strerror}") from None
    if "-----BEGIN" not in text:
        raise SettingsError(f"{name}: the file {raw!r} holds no PEM block")
    return text


def load_playback_settings(env: Mapping[str, str] | None = None, dotenv_path: Path | None = None) -> PlaybackSettings:
    """Read the HLS_* and CLOUDFRONT_* variables, raising :class:`SettingsError` on a bad one.

    With HLS_SEGMENT_DELIVERY=cdn, CLOUDFRONT_KEY_PAIR_ID, CLOUDFRONT_PRIVATE_KEY and
    S3_CDN_URL are required: a CDN without a key would hand players unusable URLs.
    """
    read = _Reader(_environment_with_dotenv(os.environ if env is None else env, dotenv_path))
    defaults = PlaybackSettings()
    delivery = read.parsed("HLS_SEGMENT_DELIVERY", defaults.segment_delivery, _delivery, "s3, cdn or proxy")
    key_pair_id = read.optional("CLOUDFRONT_KEY_PAIR_ID")
    key_raw = read.optional("CLOUDFRONT_PRIVATE_KEY")
    cdn_url = read.optional_url("S3_CDN_URL", ("http", "https"))
    if delivery == "cdn":
        for name, value in (
            ("CLOUDFRONT_KEY_PAIR_ID", key_pair_id),
            ("CLOUDFRONT_PRIVATE_KEY", key_raw),
            ("S3_CDN_URL", cdn_url),
        ):
            if value is None:
                raise SettingsError(f"{name} is not set: HLS_SEGMENT_DELIVERY=cdn needs it (see .env.example)")
    return PlaybackSettings(
        token_ttl_seconds=read.parsed(
            "HLS_TOKEN_TTL",
            str(defaults.token_ttl_seconds),
            _whole_number_between(1, 7 * 24 * 3600),
            "a whole number of seconds from 1 to 604800 (SigV4's longest presigned URL)",
        ),
        segment_delivery=delivery,
        cloudfront_key_pair_id=key_pair_id,
        cloudfront_private_key_pem=_pem_text("CLOUDFRONT_PRIVATE_KEY", key_raw) if key_raw is not None else None,
        cdn_url=cdn_url.rstrip("/") if cdn_url is not None else None,
        cors_origins=read.parsed(
            "HLS_CORS_ORIGINS",
            ",".join(defaults.cors_origins),
            _cors_origins,
            "* or comma-separated origins such as https://lms.example.edu",
        ),
    )
