"""PostgreSQL for development and tests: the configured server when it answers, else a private one.

The private cluster lives in ``state_dir/pg`` (trust authentication, 127.0.0.1 only, its
unix socket inside the state directory, durability switched off for speed). The server
refuses to run as root, so when we are root it runs as the ``postgres`` system user that
Debian's packages create (or a ``devstack`` system user made for the purpose).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from devstack._process import DevstackError, ManagedProcess, free_port, port_answers

SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "log_min_messages": "warning",
}
"""A throwaway cluster trades durability for speed; the connection limit covers a test session's pools."""


@dataclass
class Postgres:
    """A PostgreSQL server the caller may use: ``url`` is a ``postgresql+psycopg://`` URL."""

    url: str
    private: bool = False
    data_dir: Path | None = None
    _process: ManagedProcess | None = field(default=None, repr=False)
    _remove_data: bool = field(default=False, repr=False)

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop the private server and start it again on the same port with the same data.

        Raises:
            DevstackError: an external server, which is not ours to restart.
        """
        if self._process is None:
            raise DevstackError("only a private server can be restarted")
        self._process.restart(down_seconds)

    def stop(self) -> None:
        """Stop the private server (fast shutdown); nothing to do for an external one."""
        if self._process is not None:
            self._process.stop()
            self._process = None
        if self._remove_data and self.data_dir is not None:
            shutil.rmtree(self.data_dir.parent, ignore_errors=True)


@dataclass(frozen=True)
class _Target:
    user: str
    password: str | None
    host: str
    port: int
    database: str
    query: str


def _parse(url: str) -> _Target:
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgresql"):
        raise DevstackError(f"not a PostgreSQL URL: {url!r}")
    return _Target(
        user=unquote(parts.username or os.environ.get("USER") or pwd.getpwuid(os.getuid()).pw_name),
        password=unquote(parts.password) if parts.password else None,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        database=unquote(parts.path.lstrip("/")) or "postgres",
        query=parts.query,
    )


def _url(target: _Target, host: str, port: int) -> str:
    userinfo = quote(target.user, safe="")
    if target.password:
        userinfo += ":" + quote(target.password, safe="")
    return urlunsplit(
        ("postgresql+psycopg", f"{userinfo}@{host}:{port}", "/" + quote(target.database), target.query, "")
    )


def _conninfo(target: _Target, host: str, port: int, dbname: str) -> str:
    return make_conninfo(
        host=host, port=port, user=target.user, dbname=dbname, password=target.password, connect_timeout=5
    )


def _create_database(target: _Target, host: str, port: int) -> None:
    """Create the URL's database when it is missing (two callers racing is fine)."""
    try:
        with psycopg.connect(_conninfo(target, host, port, "postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target.database,)).fetchone()
            if exists is None:
                with contextlib.suppress(psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.database)))
    except psycopg.OperationalError as exc:
        raise DevstackError(
            f"PostgreSQL at {host}:{port} refused user {target.user!r}: {str(exc).strip()}\n"
            f"  fix: create the role, e.g. `runuser -u postgres -- createuser --superuser {target.user}` "
            "(make system-deps does this), or point DATABASE_URL at a role that exists"
        ) from exc


def _bindir() -> Path:
    """Where initdb and postgres live: Debian's versioned directory first, then PATH."""
    candidates: list[tuple[int, Path]] = []
    for path in Path("/usr/lib/postgresql").glob("*/bin"):
        if (path / "initdb").exists() and re.fullmatch(r"\d+", path.parent.name):
            candidates.append((int(path.parent.name), path))
    if candidates:
        return max(candidates)[1]
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise DevstackError("PostgreSQL server binaries (initdb, postgres) not found: run `make system-deps`")


def _server_account() -> tuple[int, int] | None:
    """The uid/gid to run the server as: None when we are not root, else an unprivileged system user."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "devstack"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "devstack"],
        check=True,
        capture_output=True,
    )
    entry = pwd.getpwnam("devstack")
    return entry.pw_uid, entry.pw_gid


@dataclass(frozen=True)
class _RunAs:
    """``subprocess`` arguments that drop root for the server's account (all None when not root)."""

    user: int | None
    group: int | None
    extra_groups: list[int] | None


def _as(account: tuple[int, int] | None) -> _RunAs:
    if account is None:
        return _RunAs(None, None, None)
    return _RunAs(account[0], account[1], [])


def _usable_by(path: Path, account: tuple[int, int] | None) -> bool:
    """Whether the server's account can write in ``path`` (every parent must be traversable)."""
    if account is None:
        return True
    run_as = _as(account)
    result = subprocess.run(
        ["test", "-w", str(path), "-a", "-x", str(path)],
        check=False,
        user=run_as.user,
        group=run_as.group,
        extra_groups=run_as.extra_groups,
    )
    return result.returncode == 0


def _chown_tree(path: Path, account: tuple[int, int] | None) -> None:
    if account is None:
        return
    os.chown(path, *account)
    for child in path.rglob("*"):
        os.chown(child, *account, follow_symlinks=False)


def _stop_leftover_server(data_dir: Path) -> None:
    """A previous supervisor that died without cleaning up may have left its postmaster running."""
    pid_file = data_dir / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return
    if b"postgres" not in cmdline:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)
    for _ in range(150):
        if not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.1)


def _start_private(target: _Target, state_dir: Path) -> Postgres:
    bindir = _bindir()
    account = _server_account()
    home = state_dir / "pg"
    home.mkdir(parents=True, exist_ok=True)
    remove_after = False
    if account is not None:
        os.chown(home, *account)
        if not _usable_by(home, account):
            # e.g. pytest's /tmp/pytest-of-root is mode 0700: the server's user cannot reach it.
            home = Path(tempfile.mkdtemp(prefix="devstack-pg-"))
            os.chown(home, *account)
            remove_after = True
    data_dir = home / "data"
    socket_dir = home / "run"
    log_path = home / "server.log"
    socket_dir.mkdir(exist_ok=True)
    log_path.touch()
    _chown_tree(home, account)

    run_as = _as(account)
    if not (data_dir / "PG_VERSION").exists():
        shutil.rmtree(data_dir, ignore_errors=True)
        result = subprocess.run(
            [
                str(bindir / "initdb"),
                "--pgdata",
                str(data_dir),
                "--username",
                target.user,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C.UTF-8",
                "--no-sync",
            ],
            check=False,
            capture_output=True,
            text=True,
            cwd=home,
            user=run_as.user,
            group=run_as.group,
            extra_groups=run_as.extra_groups,
        )
        if result.returncode != 0:
            raise DevstackError(f"initdb failed in {data_dir}:\n{result.stdout}{result.stderr}")
    else:
        _stop_leftover_server(data_dir)

    port = free_port()
    argv = [str(bindir / "postgres"), "-D", str(data_dir), "-p", str(port), "-k", str(socket_dir)]
    for name, value in SERVER_SETTINGS.items():
        argv += ["-c", f"{name}={value}"]
    # SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, close clients, exit.
    process = ManagedProcess(
        "postgres",
        argv,
        log_path,
        stop_signal=signal.SIGINT,
        cwd=home,
        user=run_as.user,
        group=run_as.group,
        extra_groups=run_as.extra_groups,
    )

    def accepts_connections() -> bool:
        try:
            with psycopg.connect(_conninfo(target, "127.0.0.1", port, "postgres")):
                return True
        except psycopg.OperationalError:
            return False

    process.wait_until(accepts_connections, timeout=60, what="accepting connections")
    try:
        _create_database(target, "127.0.0.1", port)
    except Exception:
        process.stop()
        raise
    return Postgres(
        url=_url(target, "127.0.0.1", port),
        private=True,
        data_dir=data_dir,
        _process=process,
        _remove_data=remove_after,
    )


def ensure_postgres(url: str, state_dir: Path) -> Postgres:
    """A PostgreSQL server with the URL's database in it.

    When a server answers at the URL's host and port it is used as is (``stop`` does
    nothing); otherwise a private cluster is initialised in ``state_dir/pg`` (kept between
    calls with the same state_dir) and started on a free port. Either way the database named
    by the URL exists afterwards, and ``url`` says where to reach it.
    """
    target = _parse(url)
    if port_answers(target.host, target.port):
        _create_database(target, target.host, target.port)
        return Postgres(url=_url(target, target.host, target.port))
    return _start_private(target, Path(state_dir).resolve())
