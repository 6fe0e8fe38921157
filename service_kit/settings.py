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
from dataclasses import dataclass
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
    services: Mapping[str, ServiceEndpoint]

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
        services=services,
    )


def load_settings_or_exit() -> Settings:
    """Load settings for a process entry point: one clear line and exit 2 on failure, no traceback."""
    try:
        return load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
