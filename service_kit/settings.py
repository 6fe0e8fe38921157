"""Settings from the environment (and a ``.env`` file when present).

Every process reads the same :class:`Settings`; a missing or malformed value stops the
process with one line that names the variable (see :func:`load_settings_or_exit`).
The names are the seed's (DATABASE_URL, S3_BUCKET, JWT_SECRET_KEY, ...) plus the ones
the seed lacked (S3_ENDPOINT_URL, ports, backend addresses, Zoom base URLs).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from dotenv import dotenv_values

T = TypeVar("T")

MIN_SECRET_LENGTH = 32
"""HS256 and HMAC keys shorter than 256 bits are refused (RFC 7518, section 3.2)."""

SERVICE_NAMES = ("upload", "transcode", "playback", "lti", "attendance")
"""The five gRPC services, in the order of the call DAG's leaves last."""

DEFAULT_GRPC_PORTS = {"upload": 50051, "transcode": 50052, "playback": 50053, "lti": 50054, "attendance": 50055}
DEFAULT_METRICS_PORTS = {"upload": 9101, "transcode": 9102, "playback": 9103, "lti": 9104, "attendance": 9105}

MIB = 1024 * 1024
S3_MIN_PART_BYTES = 5 * MIB
"""S3's smallest part (all but the last part of a multipart upload)."""
S3_MAX_SINGLE_UPLOAD_BYTES = 5 * 1024 * MIB
"""S3's largest object written by one PUT or POST, and its largest part."""


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable and the fix."""


@dataclass(frozen=True)
class ServiceEndpoint:
    """Where one gRPC service listens (``port``) and where its clients reach it (``address``)."""

    port: int
    address: str
    metrics_port: int


@dataclass(frozen=True)
class Settings:
    """Every setting of every process; each process reads only what it needs."""

    environment: str
    log_level: str
    database_url: str
    redis_url: str
    aws_access_key_id: str
    aws_secret_access_key: str
    aws_region: str
    s3_bucket: str
    s3_endpoint_url: str | None
    s3_public_endpoint_url: str | None
    s3_cdn_url: str | None
    jwt_secret_key: str
    hls_proxy_secret: str
    zoom_webhook_secret: str
    zoom_api_base_url: str
    zoom_oauth_base_url: str
    grpc_bind_host: str
    edge_host: str
    edge_port: int
    public_base_url: str
    backend_timeout_seconds: float
    shutdown_grace_seconds: float
    session_token_ttl_seconds: int
    max_upload_bytes: int
    multipart_threshold_bytes: int
    multipart_part_bytes: int
    upload_ttl_seconds: int
    presign_expiry_seconds: int
    probe_timeout_seconds: float
    services: Mapping[str, ServiceEndpoint]
    transcode: TranscodeSettings = field(default_factory=lambda: TranscodeSettings())
    """Transcoding: see :class:`TranscodeSettings` (its own block below)."""

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    def endpoint(self, service: str) -> ServiceEndpoint:
        return self.services[service]


class _Reader:
    """Reads typed values from one mapping and names the variable in every failure."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def text(self, name: str, default: str | None = None) -> str:
        value = self._env.get(name, "").strip()
        if value:
            return value
        if default is None:
            raise SettingsError(f"{name} is not set: set it in the environment or in .env (see .env.example)")
        return default

    def optional(self, name: str) -> str | None:
        value = self._env.get(name, "").strip()
        return value or None

    def parsed(self, name: str, default: str, parse: Callable[[str], T], expected: str) -> T:
        raw = self.text(name, default)
        try:
            return parse(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is malformed: expected {expected}") from None

    def port(self, name: str, default: int) -> int:
        value = self.parsed(name, str(default), int, "a port number")
        if not 0 < value < 65536:
            raise SettingsError(f"{name}={value} is malformed: expected a port number from 1 to 65535")
        return value

    def url(self, name: str, default: str | None, schemes: tuple[str, ...]) -> str:
        value = self.text(name, default)
        _check_url(name, value, schemes)
        return value

    def optional_url(self, name: str, schemes: tuple[str, ...]) -> str | None:
        value = self.optional(name)
        if value is not None:
            _check_url(name, value, schemes)
        return value

    def secret(self, name: str) -> str:
        value = self.text(name)
        if len(value) < MIN_SECRET_LENGTH:
            raise SettingsError(
                f"{name} is too short ({len(value)} characters): use at least {MIN_SECRET_LENGTH} random characters"
            )
        return value


def _check_url(name: str, value: str, schemes: tuple[str, ...]) -> None:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise SettingsError(f"{name}={value!r} is malformed: expected a URL starting with {' or '.join(schemes)}://")


def _positive_float(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError(raw)
    return value


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(raw)
    return value


def _whole_number_between(low: int, high: int) -> Callable[[str], int]:
    """A parser of a whole number from ``low`` to ``high`` (S3 and SigV4 bound sizes and lifetimes)."""

    def parse(raw: str) -> int:
        value = int(raw)
        if not low <= value <= high:
            raise ValueError(raw)
        return value

    return parse


def _environment_with_dotenv(env: Mapping[str, str], dotenv_path: Path | None) -> dict[str, str]:
    """The process environment over the .env file: real variables always win."""
    merged: dict[str, str] = {}
    path = dotenv_path if dotenv_path is not None else Path(env.get("MEDIA_DOTENV", ".env"))
    if path.is_file():
        merged.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    merged.update(env)
    return merged


def load_settings(env: Mapping[str, str] | None = None, dotenv_path: Path | None = None) -> Settings:
    """Build :class:`Settings`, raising :class:`SettingsError` on the first bad variable."""
    read = _Reader(_environment_with_dotenv(os.environ if env is None else env, dotenv_path))
    environment = read.text("MEDIA_ENV", "development")
    if environment not in ("development", "production", "test"):
        raise SettingsError(f"MEDIA_ENV={environment!r} is malformed: expected development, production or test")
    edge_port = read.port("EDGE_PORT", 8000)
    edge_host = read.text("EDGE_HOST", "127.0.0.1")
    services = {
        name: ServiceEndpoint(
            port=read.port(f"{name.upper()}_SVC_PORT", DEFAULT_GRPC_PORTS[name]),
            address=read.text(
                f"{name.upper()}_SVC_ADDR",
                f"127.0.0.1:{read.port(f'{name.upper()}_SVC_PORT', DEFAULT_GRPC_PORTS[name])}",
            ),
            metrics_port=read.port(f"{name.upper()}_SVC_METRICS_PORT", DEFAULT_METRICS_PORTS[name]),
        )
        for name in SERVICE_NAMES
    }
    return Settings(
        environment=environment,
        log_level=read.text("LOG_LEVEL", "INFO"),
        database_url=read.url(
            "DATABASE_URL", "postgresql+psycopg://root@127.0.0.1:5432/media", ("postgresql+psycopg", "postgresql")
        ).replace("postgresql://", "postgresql+psycopg://", 1),
        redis_url=read.url("REDIS_URL", "redis://127.0.0.1:6379/0", ("redis", "rediss", "unix")),
        aws_access_key_id=read.text("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=read.text("AWS_SECRET_ACCESS_KEY"),
        aws_region=read.text("AWS_REGION", "us-east-1"),
        s3_bucket=read.text("S3_BUCKET", "media"),
        s3_endpoint_url=read.optional_url("S3_ENDPOINT_URL", ("http", "https")),
        s3_public_endpoint_url=read.optional_url("S3_PUBLIC_ENDPOINT_URL", ("http", "https")),
        s3_cdn_url=read.optional_url("S3_CDN_URL", ("http", "https")),
        jwt_secret_key=read.secret("JWT_SECRET_KEY"),
        hls_proxy_secret=read.secret("HLS_PROXY_SECRET"),
        zoom_webhook_secret=read.text("ZOOM_WEBHOOK_SECRET"),
        zoom_api_base_url=read.url("ZOOM_API_BASE_URL", "https://api.zoom.us/v2", ("http", "https")),
        zoom_oauth_base_url=read.url("ZOOM_OAUTH_BASE_URL", "https://zoom.us", ("http", "https")),
        grpc_bind_host=read.text("GRPC_BIND_HOST", "127.0.0.1"),
        edge_host=edge_host,
        edge_port=edge_port,
        public_base_url=read.url("PUBLIC_BASE_URL", f"http://127.0.0.1:{edge_port}", ("http", "https")).rstrip("/"),
        backend_timeout_seconds=read.parsed("BACKEND_TIMEOUT_SECONDS", "10", _positive_float, "a positive number"),
        shutdown_grace_seconds=read.parsed("SHUTDOWN_GRACE_SECONDS", "10", _positive_float, "a positive number"),
        session_token_ttl_seconds=read.parsed(
            "SESSION_TOKEN_TTL_SECONDS", "28800", _positive_int, "a positive whole number of seconds"
        ),
        max_upload_bytes=read.parsed(
            "MAX_UPLOAD_BYTES", str(20 * 1024 * MIB), _positive_int, "a positive whole number of bytes"
        ),
        multipart_threshold_bytes=read.parsed(
            "MULTIPART_THRESHOLD",
            str(100 * MIB),
            _whole_number_between(1, S3_MAX_SINGLE_UPLOAD_BYTES),
            f"a whole number of bytes from 1 to {S3_MAX_SINGLE_UPLOAD_BYTES} (S3's largest single upload)",
        ),
        multipart_part_bytes=read.parsed(
            "MULTIPART_PART_SIZE",
            str(16 * MIB),
            _whole_number_between(S3_MIN_PART_BYTES, S3_MAX_SINGLE_UPLOAD_BYTES),
            f"a whole number of bytes from {S3_MIN_PART_BYTES} to {S3_MAX_SINGLE_UPLOAD_BYTES} (S3's part limits)",
        ),
        upload_ttl_seconds=read.parsed(
            "UPLOAD_TTL_SECONDS", "86400", _positive_int, "a positive whole number of seconds"
        ),
        presign_expiry_seconds=read.parsed(
            "PRESIGN_EXPIRY_SECONDS",
            "3600",
            _whole_number_between(1, 7 * 24 * 3600),
            "a whole number of seconds from 1 to 604800 (SigV4's longest presigned URL)",
        ),
        probe_timeout_seconds=read.parsed("PROBE_TIMEOUT_SECONDS", "60", _positive_float, "a positive number"),
        services=services,
        transcode=load_transcode_settings(env, dotenv_path),
    )


def load_settings_or_exit() -> Settings:
    """Load settings for a process entry point: one clear line and exit 2 on failure, no traceback."""
    try:
        return load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


# ---- transcoding: transcode_svc, its RQ workers and `python -m transcode_svc.ladder` ----------

X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


@dataclass(frozen=True)
class TranscodeSettings:
    """How the ladder is encoded and how transcode jobs run, retry and report.

    Separate from :class:`Settings` so the operator's ladder CLI reads these alone,
    without the secrets a service needs.
    """

    preset: str = "veryfast"
    """TRANSCODE_PRESET: the x264 preset of every rung (tests use ultrafast)."""
    segment_seconds: float = 6.0
    """HLS_SEGMENT_SECONDS: target segment length; keyframes are forced on this grid."""
    max_attempts: int = 3
    """TRANSCODE_MAX_ATTEMPTS: runs of one job at most, the first included."""
    retry_intervals: tuple[int, ...] = (10, 60, 300)
    """TRANSCODE_RETRY_INTERVALS: seconds before each retry, comma-separated; the last repeats."""
    timeout_factor: float = 10.0
    """TRANSCODE_TIMEOUT_FACTOR: FFmpeg may take this many seconds per source second (plus 2 min)."""
    progress_flush_seconds: float = 3.0
    """TRANSCODE_PROGRESS_FLUSH_SECONDS: how often running progress reaches PostgreSQL (Redis: always)."""
    heartbeat_seconds: int = 10
    """TRANSCODE_HEARTBEAT_SECONDS: worker heartbeat; a job unheard of for 3 beats is abandoned and retried."""
    maintenance_seconds: int = 30
    """TRANSCODE_MAINTENANCE_SECONDS: how often idle workers look for abandoned jobs."""


def _retry_intervals(raw: str) -> tuple[int, ...]:
    values = tuple(int(part) for part in raw.split(",") if part.strip())
    if not values or any(value < 0 for value in values):
        raise ValueError(raw)
    return values


def _preset(raw: str) -> str:
    if raw not in X264_PRESETS:
        raise ValueError(raw)
    return raw


def load_transcode_settings(env: Mapping[str, str] | None = None, dotenv_path: Path | None = None) -> TranscodeSettings:
    """Read the TRANSCODE_* and HLS_* variables, raising :class:`SettingsError` on a bad one."""
    read = _Reader(_environment_with_dotenv(os.environ if env is None else env, dotenv_path))
    defaults = TranscodeSettings()
    return TranscodeSettings(
        preset=read.parsed("TRANSCODE_PRESET", defaults.preset, _preset, f"one of {', '.join(X264_PRESETS)}"),
        segment_seconds=read.parsed(
            "HLS_SEGMENT_SECONDS", str(defaults.segment_seconds), _positive_float, "a positive number of seconds"
        ),
        max_attempts=read.parsed(
            "TRANSCODE_MAX_ATTEMPTS", str(defaults.max_attempts), _whole_number_between(1, 20), "a whole number 1-20"
        ),
        retry_intervals=read.parsed(
            "TRANSCODE_RETRY_INTERVALS",
            ",".join(str(s) for s in defaults.retry_intervals),
            _retry_intervals,
            "comma-separated whole numbers of seconds, e.g. 10,60,300",
        ),
        timeout_factor=read.parsed(
            "TRANSCODE_TIMEOUT_FACTOR", str(defaults.timeout_factor), _positive_float, "a positive number"
        ),
        progress_flush_seconds=read.parsed(
            "TRANSCODE_PROGRESS_FLUSH_SECONDS",
            str(defaults.progress_flush_seconds),
            _positive_float,
            "a positive number of seconds",
        ),
        heartbeat_seconds=read.parsed(
            "TRANSCODE_HEARTBEAT_SECONDS", str(defaults.heartbeat_seconds), _positive_int, "a positive whole number"
        ),
        maintenance_seconds=read.parsed(
            "TRANSCODE_MAINTENANCE_SECONDS",
            str(defaults.maintenance_seconds),
            _positive_int,
            "a positive whole number",
        ),
    )


# ---- LTI 1.3: lti_svc (and the edge's LTI pages) ----------------------------------------------


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


# ---- HLS playback: playback_svc and the edge's playlist routes ------------------------------

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


# ---- live sessions and attendance: attendance_svc ---------------------------------------------


@dataclass(frozen=True)
class AttendanceSettings:
    """How attendance_svc talks to Zoom, batches webhook events and reconciles reports.

    Separate from :class:`Settings` (like :class:`LtiSettings`) so only attendance_svc
    (and the edge's webhook, for the clock skew) read it.
    """

    zoom_http_timeout_seconds: float = 10.0
    """ZOOM_HTTP_TIMEOUT_SECONDS: limit of each call to Zoom's OAuth and REST APIs."""
    zoom_max_retry_wait_seconds: float = 5.0
    """ZOOM_MAX_RETRY_WAIT_SECONDS: a user's request waits out a 429's Retry-After up to this long, else answers 429."""
    webhook_max_skew_seconds: int = 300
    """ZOOM_WEBHOOK_MAX_SKEW_SECONDS: webhooks whose x-zm-request-timestamp is further off are refused (replays)."""
    batch_max_events: int = 256
    """ATTENDANCE_BATCH_MAX_EVENTS: webhook events stored by one multi-row INSERT at most."""
    batch_max_wait_ms: float = 4.0
    """ATTENDANCE_BATCH_MAX_WAIT_MS: how long the first event of a batch waits for company before the INSERT."""
    reconcile_delay_seconds: int = 600
    """ATTENDANCE_RECONCILE_DELAY_SECONDS: after meeting.ended, wait this long for Zoom's report to be ready."""
    reconcile_poll_seconds: float = 15.0
    """ATTENDANCE_RECONCILE_POLL_SECONDS: how often due reconciliations are looked for."""
    watch_interval_seconds: float = 0.5
    """ATTENDANCE_WATCH_INTERVAL_SECONDS: live attendance streams send at most one update per interval."""


def load_attendance_settings(
    env: Mapping[str, str] | None = None, dotenv_path: Path | None = None
) -> AttendanceSettings:
    """Read the ZOOM_* and ATTENDANCE_* tuning variables, raising :class:`SettingsError` on a bad one."""
    read = _Reader(_environment_with_dotenv(os.environ if env is None else env, dotenv_path))
    defaults = AttendanceSettings()

    def positive(name: str, default: float) -> float:
        return read.parsed(name, str(default), _positive_float, "a positive number")

    return AttendanceSettings(
        zoom_http_timeout_seconds=positive("ZOOM_HTTP_TIMEOUT_SECONDS", defaults.zoom_http_timeout_seconds),
        zoom_max_retry_wait_seconds=positive("ZOOM_MAX_RETRY_WAIT_SECONDS", defaults.zoom_max_retry_wait_seconds),
        webhook_max_skew_seconds=read.parsed(
            "ZOOM_WEBHOOK_MAX_SKEW_SECONDS",
            str(defaults.webhook_max_skew_seconds),
            _whole_number_between(1, 3600),
            "a whole number of seconds from 1 to 3600",
        ),
        batch_max_events=read.parsed(
            "ATTENDANCE_BATCH_MAX_EVENTS",
            str(defaults.batch_max_events),
            _whole_number_between(1, 5000),
            "a whole number from 1 to 5000",
        ),
        batch_max_wait_ms=positive("ATTENDANCE_BATCH_MAX_WAIT_MS", defaults.batch_max_wait_ms),
        reconcile_delay_seconds=read.parsed(
            "ATTENDANCE_RECONCILE_DELAY_SECONDS",
            str(defaults.reconcile_delay_seconds),
            _whole_number_between(0, 7 * 86400),
            "a whole number of seconds from 0 to 604800",
        ),
        reconcile_poll_seconds=positive("ATTENDANCE_RECONCILE_POLL_SECONDS", defaults.reconcile_poll_seconds),
        watch_interval_seconds=positive("ATTENDANCE_WATCH_INTERVAL_SECONDS", defaults.watch_interval_seconds),
    )
