"""The stack a resilience run attacks: private infrastructure and every Procfile program under supervisord.

Private PostgreSQL and Redis (never the machine's shared servers: a scenario may restart
them) and a private SeaweedFS, all on free ports in a temporary state directory. The
programs are the Procfile's, so a process added there is attacked here too; only the
Zoom stand-in's line is rewritten, because the Procfile fixes its port and edge URL.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from devstack import free_port
from devstack import supervisord as programs
from devstack.postgres import Postgres, ensure_postgres
from devstack.redis import Redis, ensure_redis
from devstack.seaweed import Seaweed, start_seaweed

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "media-resilience"
SERVICES = ("upload", "transcode", "playback", "lti", "attendance")
BACKEND_TIMEOUT_SECONDS = 3.0
"""Short, so a hung service costs the edge a few seconds per request rather than the default ten."""
START_SECONDS = 90.0

TRANSCODE_ENV = {
    "TRANSCODE_PRESET": "ultrafast",
    "HLS_SEGMENT_SECONDS": "1",
    "TRANSCODE_MAX_ATTEMPTS": "5",
    # Backoff as in production, shorter (the default is 10, 60, 300 s): with no wait at all a
    # job burns every attempt inside a 3 s PostgreSQL restart, which no deployment would do.
    "TRANSCODE_RETRY_INTERVALS": "2,5",
    "TRANSCODE_HEARTBEAT_SECONDS": "1",
    "TRANSCODE_MAINTENANCE_SECONDS": "2",
    "TRANSCODE_PROGRESS_FLUSH_SECONDS": "1",
    # Jobs a Redis restart forgot are queued again within one sweep after their quiet period.
    "TRANSCODE_RECONCILE_SECONDS": "5",
}
"""Short clips and fast presets keep the run to minutes; the heartbeat and maintenance
intervals are what let a job whose worker was killed be found and run again quickly."""


@dataclass
class Stack:
    """What is running, where, and how to reach each program's pid."""

    env: dict[str, str]
    state: Path
    config: Path
    supervisord: subprocess.Popen[bytes]
    postgres: Postgres
    redis: Redis
    seaweed: Seaweed

    @property
    def edge_url(self) -> str:
        return f"http://127.0.0.1:{self.env['EDGE_PORT']}"

    @property
    def zoom_port(self) -> int:
        return int(self.env["ZOOM_STANDIN_PORT"])

    def grpc_address(self, service: str) -> str:
        return self.env[f"{service.upper()}_SVC_ADDR"]

    @property
    def database_dsn(self) -> str:
        """The psycopg form of DATABASE_URL (no SQLAlchemy driver suffix)."""
        return self.env["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://", 1)

    def supervisorctl(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(self.config), *args],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip()

    def stop_object_store(self) -> None:
        self.seaweed.stop()

    def start_object_store(self) -> None:
        """SeaweedFS again on the same S3 port over the same data (the services' endpoint is unchanged)."""
        port = int(self.env["S3_ENDPOINT_URL"].rsplit(":", 1)[1])
        self.seaweed = start_seaweed(
            self.state / "s3",
            access_key=self.env["AWS_ACCESS_KEY_ID"],
            secret_key=self.env["AWS_SECRET_ACCESS_KEY"],
            bucket=BUCKET,
            s3_port=port,
        )

    def pid(self, program: str) -> int:
        """The program's pid as supervisord knows it; 0 while it is not running."""
        text = self.supervisorctl("pid", f"{programs.GROUP}:{program}")
        return int(text) if text.isdigit() else 0


def _environment(
    postgres: Postgres, redis: Redis, seaweed: Seaweed, access_key: str, secret_key: str
) -> dict[str, str]:
    key = base64.urlsafe_b64encode(hashlib.sha256(secrets.token_bytes(16)).digest()).decode().rstrip("=")
    zoom_port = free_port()
    env = {
        **os.environ,
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONUNBUFFERED": "1",
        "MEDIA_ENV": "test",
        "MEDIA_DOTENV": "/nonexistent/.env",
        "LOG_LEVEL": os.environ.get("RESILIENCE_LOG_LEVEL", "WARNING"),
        "DATABASE_URL": postgres.url,
        "REDIS_URL": redis.url,
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "AWS_REGION": "us-east-1",
        "S3_BUCKET": BUCKET,
        "S3_ENDPOINT_URL": seaweed.endpoint_url,
        "S3_PUBLIC_ENDPOINT_URL": seaweed.endpoint_url,
        "JWT_SECRET_KEY": secrets.token_urlsafe(40),
        "HLS_PROXY_SECRET": secrets.token_urlsafe(40),
        "ZOOM_WEBHOOK_SECRET": secrets.token_urlsafe(24),
        "LTI_ENCRYPTION_KEYS": f"resilience:{key}",
        "SHUTDOWN_GRACE_SECONDS": "1",
        "BACKEND_TIMEOUT_SECONDS": str(BACKEND_TIMEOUT_SECONDS),
        "EDGE_PORT": str(free_port()),
        "ZOOM_STANDIN_PORT": str(zoom_port),
        "ZOOM_API_BASE_URL": f"http://127.0.0.1:{zoom_port}/v2",
        "ZOOM_OAUTH_BASE_URL": f"http://127.0.0.1:{zoom_port}",
        "TRANSCODE_WORKER_METRICS_PORT": "0",
        "UPLOAD_WORKER_METRICS_PORT": "0",
        **TRANSCODE_ENV,
        # The traffic comes from one address by design: rate limits would only measure themselves.
        **{
            f"RATE_LIMIT_{name}_PER_{scope}": "off"
            for name, scope in (
                ("LOGIN", "ADDRESS"),
                ("LAUNCH", "ADDRESS"),
                ("ACCESS_TOKEN", "CALLER"),
                ("ACCESS_TOKEN", "ADDRESS"),
                ("WEBHOOK", "ADDRESS"),
            )
        },
    }
    for service in SERVICES:
        port = free_port()
        env[f"{service.upper()}_SVC_PORT"] = str(port)
        env[f"{service.upper()}_SVC_ADDR"] = f"127.0.0.1:{port}"
        env[f"{service.upper()}_SVC_METRICS_PORT"] = str(free_port())
    return env


def program_list(env: dict[str, str]) -> list[programs.Program]:
    """The Procfile's programs, the Zoom stand-in pointed at this stack's ports."""
    listed = programs.read_procfile((ROOT / "Procfile").read_text())
    webhook_url = f"http://127.0.0.1:{env['EDGE_PORT']}/api/v1/webhooks/zoom"
    zoom = f"python -m devstack.zoom_standin --port {env['ZOOM_STANDIN_PORT']} --webhook-url {webhook_url}"
    return [programs.Program(p.name, zoom) if p.name == "zoom" else p for p in listed]


def _migrate(env: dict[str, str], log: Path) -> None:
    with log.open("ab") as out:
        subprocess.run(
            [sys.executable, "-m", "service_kit.migrate"], env=env, cwd=ROOT, check=True, stdout=out, stderr=out
        )


def _edge_ready(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


@contextlib.contextmanager
def running_stack(state: Path) -> Iterator[Stack]:
    """Start everything, wait for the edge's health to be ok, and stop it all on the way out."""
    state.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as exits:
        # A URL on a free port answers nothing, so devstack starts a private server there.
        postgres = ensure_postgres(f"postgresql+psycopg://root@127.0.0.1:{free_port()}/media_resilience", state)
        exits.callback(postgres.stop)
        redis = ensure_redis(f"redis://127.0.0.1:{free_port()}/0", state)
        exits.callback(redis.stop)
        access_key, secret_key = "resilience-" + secrets.token_hex(6), secrets.token_urlsafe(30)
        seaweed = start_seaweed(state / "s3", access_key=access_key, secret_key=secret_key, bucket=BUCKET)
        exits.callback(seaweed.stop)
        env = _environment(postgres, redis, seaweed, access_key, secret_key)
        _migrate(env, state / "migrate.log")
        supervisor_state = state / "supervisor"
        supervisor_state.mkdir(exist_ok=True)
        config = programs.config_path(supervisor_state)
        config.write_text(
            programs.render_config(program_list(env), state_dir=supervisor_state, root=ROOT, path=env["PATH"])
        )
        with (state / "programs.log").open("ab") as log:
            supervisord = subprocess.Popen(
                [sys.executable, "-m", "supervisor.supervisord", "-c", str(config)],
                env=env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        exits.callback(programs.stop, supervisord)
        stack = Stack(env, state, config, supervisord, postgres, redis, seaweed)
        exits.callback(lambda: stack.seaweed.stop())  # the one running now, if a scenario restarted it
        deadline = time.monotonic() + START_SECONDS
        while not _edge_ready(stack.edge_url):
            if supervisord.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the stack did not become healthy; see {state / 'programs.log'}")
            time.sleep(0.5)
        yield stack
