"""Child-process plumbing shared by the private servers: start, wait until ready, stop."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

STOP_DEADLINE_SECONDS = 15.0
"""How long a server gets to exit after its stop signal before its process group is killed."""


class DevstackError(RuntimeError):
    """A piece of the development stack could not be started; the message says what to do."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could bind host:port now (with SO_REUSEADDR, as the servers bind)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (read from /proc), children before grandchildren."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: the fields follow the last ')'.
        fields = stat[stat.rfind(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    queue = [pid]
    while queue:
        for child in children.get(queue.pop(0), []):
            found.append(child)
            queue.append(child)
    return found


class ManagedProcess:
    """One server process in its own session, so a terminal's Ctrl-C reaches only the supervisor.

    The supervisor decides the order of shutdown; :meth:`stop` signals the whole process
    group, waits, and kills what is left after the deadline.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        stop_signal: signal.Signals = signal.SIGTERM,
        **popen_kwargs: Any,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self._stop_signal = stop_signal
        self._argv = list(argv)
        self._popen_kwargs = popen_kwargs
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log: IO[bytes] = log_path.open("ab")
        self.process = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self._argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **self._popen_kwargs,
        )

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop, stay down ``down_seconds``, start the same command again (same port, same data).

        For fault injection (``make resilience``): clients must ride out a server restart.
        """
        self.stop()
        time.sleep(down_seconds)
        self._log = self.log_path.open("ab")
        self.process = self._spawn()

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> float:
        """Poll ``ready`` until it holds; fail with the log's tail if the process dies or time runs out.

        Returns the seconds it took.
        """
        started = time.monotonic()
        delay = 0.02
        while True:
            if not self.running():
                self.stop()
                raise DevstackError(
                    f"{self.name} exited with status {self.process.returncode} before {what}; "
                    f"log {self.log_path}:\n{log_tail(self.log_path)}"
                )
            if ready():
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                self.stop()
                raise DevstackError(
                    f"{self.name} not {what} after {timeout:.0f} s; log {self.log_path}:\n{log_tail(self.log_path)}"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)

    def stop(self, deadline: float = STOP_DEADLINE_SECONDS) -> None:
        """Signal the process group, wait up to ``deadline`` seconds, then SIGKILL the group."""
        if self.running():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, self._stop_signal)
            try:
                self.process.wait(timeout=deadline)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        # Anything the server forked into its group but left behind goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()
