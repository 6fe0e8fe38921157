"""The core :class:`Settings` every process reads, and the entry points' loader.

Its own module because these are the variables every service shares (database, Redis,
S3, secrets, ports, addresses); the per-service blocks live in their own modules.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from service_kit.settings.reader import (
    SettingsError,
    _environment_with_dotenv,
    _positive_float,
    _positive_int,
    _Reader,
    _whole_number_between,
)
from service_kit.settings.transcode import TranscodeSettings, load_transcode_settings

SERVICE_NAMES = ("upload", "transcode", "playback", "lti", "attendance")
"""The five gRPC services, in the order of the call DAG's leaves last."""

DEFAULT_GRPC_PORTS = {"upload": 50051, "transcode": 50052, "playback": 50053, "lti": 50054, "attendance": 50055}
DEFAULT_METRICS_PORTS = {"upload": 9101, "transcode": 9102, "playback": 9103, "lti": 9104, "attendance": 9105}
WORKER_NAMES = ("transcode", "upload")
"""The RQ workers (``python -m <name>_svc.worker``), each with a metrics port of its own."""
DEFAULT_WORKER_METRICS_PORTS = {"transcode": 9106, "upload": 9107}

MIB = 1024 * 1024
MAX_ACCESS_LOG_SAMPLE = 1_000_000
MAX_EDGE_PROCESSES = 64
S3_MIN_PART_BYTES = 5 * MIB
"""S3's smallest part (all but the last part of a multipart upload)."""
S3_MAX_SINGLE_UPLOAD_BYTES = 5 * 1024 * MIB
"""S3's largest object written by one PUT or POST, and its largest part."""


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
    zoom_account_id: str
    """Zoom account for Server-to-Server OAuth when a registration names none ("" when unset)."""
    grpc_bind_host: str
    edge_host: str
    edge_port: int
    public_base_url: str
    backend_timeout_seconds: float
    sse_keepalive_seconds: float
    shutdown_grace_seconds: float
    session_token_ttl_seconds: int
    session_max_lifetime_seconds: int
    """How long after its launch a session may still be refreshed (RefreshSession); then launch again."""
    max_upload_bytes: int
    multipart_threshold_bytes: int
    multipart_part_bytes: int
    upload_ttl_seconds: int
    presign_expiry_seconds: int
    probe_timeout_seconds: float
    services: Mapping[str, ServiceEndpoint]
    worker_metrics_ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_WORKER_METRICS_PORTS))
    """<NAME>_WORKER_METRICS_PORT: where each RQ worker serves /metrics; 0 lets the OS pick a free port
    (the worker logs it), for several workers on one machine without a port each."""
    edge_idle_timeout_seconds: float = 30.0
    """EDGE_IDLE_TIMEOUT_SECONDS: how long the edge keeps a connection that has no complete request
    (headers still arriving, or idle between keep-alive requests) before closing it; slow clients
    (slowloris) are dropped after it."""
    edge_access_log_sample: int = 1
    """EDGE_ACCESS_LOG_SAMPLE: the edge writes one access-log line in this many successful (2xx) answers
    on the HLS playlist routes, which players poll; every other answer (errors above all) on every route is
    still logged, and the metrics still count every request. 1 (the default) logs every request."""
    edge_processes: int = 1
    """EDGE_PROCESSES: how many ``python -m edge`` processes share the edge's port (SO_REUSEPORT), one
    event loop per core; supervisord starts them (devstack/supervisord.py). Above 1, /metrics adds up
    every process's counts from ``PROMETHEUS_MULTIPROC_DIR``."""
    transcode: TranscodeSettings = field(default_factory=lambda: TranscodeSettings())
    """Transcoding: see :class:`TranscodeSettings` (its own module, :mod:`service_kit.settings.transcode`)."""
    notices: tuple[str, ...] = ()
    """Sentences about how a setting was read (a seed-style value translated), logged once at start."""

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    def endpoint(self, service: str) -> ServiceEndpoint:
        return self.services[service]


def read_edge_processes(env: Mapping[str, str]) -> int:
    """EDGE_PROCESSES alone, validated as :func:`load_settings` does.

    devstack sizes supervisord's edge program with it before any process starts, from an
    environment that need not hold every other setting.
    """
    return _edge_processes(_Reader(env))


def _edge_processes(read: _Reader) -> int:
    return read.parsed(
        "EDGE_PROCESSES",
        "1",
        _whole_number_between(1, MAX_EDGE_PROCESSES),
        f"a whole number of edge processes from 1 to {MAX_EDGE_PROCESSES} (about one per CPU core)",
    )


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
    database_url, notices = _database_url(read)
    notices.extend(_celery_notices(read))
    return Settings(
        environment=environment,
        log_level=read.text("LOG_LEVEL", "INFO"),
        database_url=database_url,
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
        zoom_account_id=read.text("ZOOM_ACCOUNT_ID", ""),
        grpc_bind_host=read.text("GRPC_BIND_HOST", "127.0.0.1"),
        edge_host=edge_host,
        edge_port=edge_port,
        public_base_url=read.url("PUBLIC_BASE_URL", f"http://127.0.0.1:{edge_port}", ("http", "https")).rstrip("/"),
        backend_timeout_seconds=read.parsed("BACKEND_TIMEOUT_SECONDS", "10", _positive_float, "a positive number"),
        sse_keepalive_seconds=read.parsed("SSE_KEEPALIVE_SECONDS", "15", _positive_float, "a positive number"),
        shutdown_grace_seconds=read.parsed("SHUTDOWN_GRACE_SECONDS", "10", _positive_float, "a positive number"),
        edge_idle_timeout_seconds=read.parsed("EDGE_IDLE_TIMEOUT_SECONDS", "30", _positive_float, "a positive number"),
        edge_access_log_sample=read.parsed(
            "EDGE_ACCESS_LOG_SAMPLE",
            "1",
            _whole_number_between(1, MAX_ACCESS_LOG_SAMPLE),
            f"a whole number from 1 (log every request) to {MAX_ACCESS_LOG_SAMPLE}: "
            "one access-log line per that many successful playlist requests",
        ),
        edge_processes=_edge_processes(read),
        session_token_ttl_seconds=read.parsed(
            "SESSION_TOKEN_TTL_SECONDS", "3600", _positive_int, "a positive whole number of seconds"
        ),
        session_max_lifetime_seconds=read.parsed(
            "SESSION_MAX_LIFETIME_SECONDS", "43200", _positive_int, "a positive whole number of seconds"
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
        worker_metrics_ports={
            name: read.parsed(
                f"{name.upper()}_WORKER_METRICS_PORT",
                str(DEFAULT_WORKER_METRICS_PORTS[name]),
                _whole_number_between(0, 65535),
                "a port number from 1 to 65535, or 0 for any free port",
            )
            for name in WORKER_NAMES
        },
        transcode=load_transcode_settings(env, dotenv_path),
        notices=tuple(notices),
    )


DRIVER_SCHEMES = ("postgresql+psycopg", "postgresql", "postgresql+asyncpg", "postgresql+psycopg2", "postgres")
"""DATABASE_URL schemes accepted: psycopg 3 is the driver; the others name the same database."""


def _database_url(read: _Reader) -> tuple[str, list[str]]:
    """DATABASE_URL as SQLAlchemy's psycopg 3 URL, and a notice when another driver was named.

    The seed's examples say ``postgresql+asyncpg://``; every process here talks to
    PostgreSQL through psycopg 3 (async and sync alike), so the driver part is replaced
    and the rest of the URL (user, password, host, database, query) is kept as given.
    """
    raw = read.url("DATABASE_URL", "postgresql+psycopg://root@127.0.0.1:5432/media", DRIVER_SCHEMES)
    scheme, _, rest = raw.partition("://")
    url = f"postgresql+psycopg://{rest}"
    notices = []
    if scheme not in ("postgresql+psycopg", "postgresql"):
        notices.append(
            f"DATABASE_URL names the {scheme} driver: the same database is used through psycopg 3"
            " (postgresql+psycopg://), the driver every process here uses"
        )
    return url, notices


def load_database_url(env: Mapping[str, str] | None = None, dotenv_path: Path | None = None) -> tuple[str, list[str]]:
    """Only DATABASE_URL (and its notices): what migrations need, so they run before the secrets are set."""
    return _database_url(_Reader(_environment_with_dotenv(os.environ if env is None else env, dotenv_path)))


def _celery_notices(read: _Reader) -> list[str]:
    """One sentence when the seed's Celery variables are set: they are accepted, and not needed."""
    named = [name for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND") if read.optional(name)]
    if not named:
        return []
    return [
        f"{' and '.join(named)} {'is' if len(named) == 1 else 'are'} accepted but not used: background jobs are"
        " RQ queues on REDIS_URL (transcode, upload), and their state is kept in PostgreSQL and Redis"
    ]


def load_settings_or_exit() -> Settings:
    """Load settings for a process entry point: one clear line and exit 2 on failure, no traceback."""
    try:
        return load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
