"""Redis for development and tests: the configured server when it answers, else a private one.

The private server keeps nothing on disk (no RDB snapshots, no AOF), listens on 127.0.0.1
only, on a free port, with its working directory in ``state_dir/redis``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis as redis_client

from devstack._process import DevstackError, ManagedProcess, free_port, port_answers


@dataclass
class Redis:
    """A Redis server the caller may use at ``url``."""

    url: str
    private: bool = False
    _process: ManagedProcess | None = field(default=None, repr=False)

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop the private server and start it again on the same port with the same data.

        Raises:
            DevstackError: an external server, which is not ours to restart.
        """
        if self._process is None:
            raise DevstackError("only a private server can be restarted")
        self._process.restart(down_seconds)

    def stop(self) -> None:
        """Stop the private server; nothing to do for an external one."""
        if self._process is not None:
            self._process.stop()
            self._process = None


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return Path(parts.path).exists()
    return port_answers(parts.hostname or "127.0.0.1", parts.port or 6379)


def _server_binary() -> str:
    found = shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/local/bin/redis-server") if Path(p).exists()), None
    )
    if found is None:
        raise DevstackError("redis-server not found: run `make system-deps`")
    return found


def ensure_redis(url: str, state_dir: Path) -> Redis:
    """A Redis server: the URL's when it answers, else a private one on a free port.

    The private URL keeps the configured database number (``/0``) and drops credentials,
    which the private server does not ask for.
    """
    if _reachable(url):
        return Redis(url=url)
    parts = urlsplit(url)
    work_dir = Path(state_dir).resolve() / "redis"
    work_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [
        _server_binary(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(work_dir),
        "--daemonize", "no",
        "--logfile", "",
    ]  # fmt: skip
    process = ManagedProcess("redis-server", argv, work_dir / "server.log", cwd=work_dir)
    private_url = urlunsplit(("redis", f"127.0.0.1:{port}", parts.path or "/0", parts.query, ""))

    def answers_ping() -> bool:
        try:
            client = redis_client.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except redis_client.RedisError:
            return False

    process.wait_until(answers_ping, timeout=30, what="answering PING")
    return Redis(url=private_url, private=True, _process=process)
