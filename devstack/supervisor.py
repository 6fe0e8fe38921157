"""``make run``: the infrastructure, the migrations, then every Procfile process under supervisord.

Order of start: .env, PostgreSQL, Redis, SeaweedFS, migrations, supervisord (which
restarts any process that dies: :mod:`devstack.supervisord`); shutdown runs the other
way. Every child gets its own session, so a terminal's Ctrl-C reaches only this
supervisor, which then stops the children in order. The supervisor is also a child
subreaper: whatever a service forks and leaves behind is re-parented here and killed last,
so nothing outlives ``make run``.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from devstack import ZOOM_STANDIN_PORT
from devstack import supervisord as programs
from devstack._process import DevstackError, descendants, port_answers, port_is_free
from devstack.envfile import ensure_env_file
from devstack.postgres import ensure_postgres
from devstack.redis import ensure_redis
from devstack.seaweed import s3_client, start_seaweed
from service_kit.settings import SettingsError

REPO_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = REPO_ROOT / ".devstack"
HEALTH_NOTICE_SECONDS = 60.0
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
INFRA_KEYS = (
    "DATABASE_URL",
    "REDIS_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
    "S3_BUCKET",
    "S3_ENDPOINT_URL",
    "S3_PUBLIC_ENDPOINT_URL",
)


class Stopped(Exception):
    """SIGINT or SIGTERM arrived: unwind and stop what has been started."""


def say(message: str) -> None:
    # Notes go to stderr: stdout carries only what a caller may parse (the ready line, --print-env).
    print(f"devstack | {message}", file=sys.stderr, flush=True)


def _become_subreaper() -> None:
    PR_SET_CHILD_SUBREAPER = 36
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """While starting and running, SIGINT/SIGTERM raise :class:`Stopped`; while stopping they are ignored."""

    def handler(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Stopped(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _merged_environment(root: Path) -> dict[str, str]:
    """The .env values under the real environment (real variables win, as in service_kit.settings)."""
    env = dict(ensure_env_file(root / ".env"))
    env.update(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    # Procfile lines say `python -m ...`: it must be this interpreter's, even when the venv is not activated.
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    env.setdefault("VIRTUAL_ENV", str(Path(sys.executable).parent.parent))
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _start_s3(env: dict[str, str], state_dir: Path, cleanups: list[Callable[[], None]]) -> None:
    endpoint = env.get("S3_ENDPOINT_URL", "").strip()
    parts = urlsplit(endpoint)
    if not endpoint or parts.hostname not in LOCAL_HOSTS:
        say(f"S3_ENDPOINT_URL={endpoint or '(unset: AWS)'} is not local: not starting SeaweedFS")
        return
    access_key, secret_key = env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    bucket = env.get("S3_BUCKET") or "media"
    port = parts.port or 80
    if port_answers("127.0.0.1", port):
        client = s3_client(endpoint, access_key, secret_key, env.get("AWS_REGION", "us-east-1"))
        try:
            client.head_bucket(Bucket=bucket)
        except Exception as exc:
            raise DevstackError(
                f"port {port} of S3_ENDPOINT_URL is taken by something that does not serve bucket {bucket!r} "
                f"with the .env credentials ({exc}): stop it or change S3_ENDPOINT_URL"
            ) from exc
        say(f"S3 already answers at {endpoint} with bucket {bucket!r}: using it")
        return
    seaweed = start_seaweed(state_dir, access_key=access_key, secret_key=secret_key, bucket=bucket, s3_port=port)
    cleanups.append(seaweed.stop)
    say(f"SeaweedFS S3 at {seaweed.endpoint_url} (bucket {bucket!r}) in {seaweed.startup_seconds:.1f} s")


def start_infrastructure(env: dict[str, str], state_dir: Path, cleanups: list[Callable[[], None]]) -> dict[str, str]:
    """Start (or find) PostgreSQL, Redis and S3; point ``env`` at what is actually running."""
    started = time.monotonic()
    postgres = ensure_postgres(env.get("DATABASE_URL") or "postgresql+psycopg://root@127.0.0.1:5432/media", state_dir)
    cleanups.append(postgres.stop)
    if postgres.private:
        say(f"DATABASE_URL not reachable: private PostgreSQL at {postgres.url} (data {postgres.data_dir})")
        env["DATABASE_URL"] = postgres.url
    else:
        say(f"PostgreSQL at {postgres.url}")
    redis = ensure_redis(env.get("REDIS_URL") or "redis://127.0.0.1:6379/0", state_dir)
    cleanups.append(redis.stop)
    if redis.private:
        say(f"REDIS_URL not reachable: private Redis at {redis.url}")
        env["REDIS_URL"] = redis.url
    else:
        say(f"Redis at {redis.url}")
    _start_s3(env, state_dir, cleanups)
    say(f"infrastructure ready in {time.monotonic() - started:.1f} s")
    return env


def run_migrations(env: Mapping[str, str], root: Path) -> None:
    if importlib.util.find_spec("service_kit.migrate") is None:
        say("service_kit.migrate does not exist yet: skipping migrations")
        return
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "service_kit.migrate"], env=dict(env), cwd=root, check=False, stdout=sys.stderr
    )
    if result.returncode != 0:
        raise DevstackError(f"migrations failed (python -m service_kit.migrate exited with {result.returncode})")
    say(f"migrations applied in {time.monotonic() - started:.1f} s")


PORT_WAIT_SECONDS = 10.0


def stack_ports(env: Mapping[str, str]) -> dict[int, str]:
    """Every port the Procfile's processes will listen on, with the setting that chooses it."""
    from service_kit.settings import load_settings

    settings = load_settings(env, dotenv_path=Path("/nonexistent/.env"))
    ports = {settings.edge_port: "EDGE_PORT", ZOOM_STANDIN_PORT: "the Procfile's zoom line"}
    for name, endpoint in settings.services.items():
        prefix = f"{name.upper()}_SVC"
        ports[endpoint.port] = f"{prefix}_PORT"
        ports[endpoint.metrics_port] = f"{prefix}_METRICS_PORT"
    for name, port in settings.worker_metrics_ports.items():
        if port:  # 0: the worker takes any free port
            ports[port] = f"{name.upper()}_WORKER_METRICS_PORT"
    return ports


def wait_for_free_ports(ports: Mapping[int, str], deadline_seconds: float = PORT_WAIT_SECONDS) -> None:
    """Wait until every port can be bound, or say which one another program holds.

    The default gRPC ports (50051-50055) lie inside Linux's ephemeral range, so an
    outgoing connection may hold one for a moment: that passes within the wait. A
    server left running (another ``make run``) does not, and is named instead of
    letting one service die at start with a bind error in the middle of the log.
    """
    deadline = time.monotonic() + deadline_seconds
    while True:
        busy = sorted(port for port in ports if not port_is_free("127.0.0.1", port))
        if not busy:
            return
        if time.monotonic() > deadline:
            names = ", ".join(f"{port} ({ports[port]})" for port in busy)
            raise DevstackError(
                f"port {names} is in use by another program: stop it (another make run?) or choose another port in .env"
            )
        time.sleep(0.5)


def _edge_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _reap_leftovers() -> None:
    """Kill and reap whatever was re-parented to us (we are a subreaper) and is still alive."""
    leftovers = descendants(os.getpid())
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not leftovers:
            break
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        time.sleep(1.0)
        leftovers = descendants(os.getpid())
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def _teardown(cleanups: list[Callable[[], None]]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for cleanup in reversed(cleanups):
        try:
            cleanup()
        except Exception as exc:  # one failing stop must not leave the others running
            say(f"while stopping: {exc}")
    _reap_leftovers()


def run(root: Path = REPO_ROOT, procfile: str = "Procfile") -> int:
    """The ``make run`` supervisor; returns the process exit status."""
    _become_subreaper()
    cleanups: list[Callable[[], None]] = []
    status = 0
    try:
        with _signals_raise():
            env = start_infrastructure(_merged_environment(root), root / ".devstack", cleanups)
            run_migrations(env, root)
            wait_for_free_ports(stack_ports(env))
            config = programs.write_config(root / procfile, state_dir=root / ".devstack", root=root, env=env)
            supervisord = programs.start(config, env=env, root=root)
            cleanups.append(lambda: programs.stop(supervisord))
            edge_port = env.get("EDGE_PORT") or "8000"
            health_url = f"http://127.0.0.1:{edge_port}/health"
            ready = False
            waiting_since = time.monotonic()
            while supervisord.poll() is None:
                if not ready and _edge_healthy(health_url):
                    ready = True
                    print(f"media service ready on http://127.0.0.1:{edge_port}", flush=True)
                    say(f"processes restart when they die; see them with: .venv/bin/supervisorctl -c {config} status")
                elif not ready and time.monotonic() - waiting_since > HEALTH_NOTICE_SECONDS:
                    say(f"{health_url} has not answered 200 after {HEALTH_NOTICE_SECONDS:.0f} s; still waiting")
                    waiting_since = time.monotonic()
                time.sleep(0.25)
            say(f"supervisord exited with status {supervisord.returncode}: stopping")
            status = 1
    except Stopped as stop:
        say(f"{stop}: stopping")
    except (DevstackError, SettingsError) as exc:  # a bad EDGE_PROCESSES, read to size supervisord's edge
        say(f"error: {exc}")
        status = 1
    finally:
        _teardown(cleanups)
        say("stopped")
    return status


def up(root: Path = REPO_ROOT, *, print_env: bool = False) -> int:
    """Infrastructure and migrations only, until SIGINT/SIGTERM (for tests and benchmarks run by hand)."""
    _become_subreaper()
    cleanups: list[Callable[[], None]] = []
    status = 0
    try:
        with _signals_raise():
            env = start_infrastructure(_merged_environment(root), root / ".devstack", cleanups)
            run_migrations(env, root)
            if print_env:
                for key in INFRA_KEYS:
                    if key in env:
                        print(f"{key}={env[key]}", flush=True)
            say("infrastructure up; Ctrl-C stops it")
            while True:
                signal.pause()  # the handlers raise Stopped
    except Stopped as stop:
        say(f"{stop}: stopping")
    except (DevstackError, SettingsError) as exc:  # a bad EDGE_PROCESSES, read to size supervisord's edge
        say(f"error: {exc}")
        status = 1
    finally:
        _teardown(cleanups)
        say("stopped")
    return status
