"""What the benchmarks share: child processes bounded in time, ports, results on disk."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
TEST_PROTOS = ROOT / "tests" / "gen"
HOST = "127.0.0.1"


def use_test_protos() -> None:
    """Make the test-only generated code (edgetest.v1) importable in this process."""
    if str(TEST_PROTOS) not in sys.path:
        sys.path.insert(0, str(TEST_PROTOS))


def child_env() -> dict[str, str]:
    """The environment of every child: the repository and the test protos on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(TEST_PROTOS), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], deadline_seconds: float) -> None:
    """Until something accepts on ``port``; fails early if the child dies."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {HOST}:{port} after {deadline_seconds} s")


def wait_for_http(url: str, process: subprocess.Popen[bytes], deadline_seconds: float) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode} before serving")
        with contextlib.suppress(OSError, urllib.error.URLError), urllib.request.urlopen(url, timeout=1) as reply:
            if reply.status == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer 200 after {deadline_seconds} s")


@contextlib.contextmanager
def spawned(args: Sequence[str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A child process (its JSON log lines and stderr to ``log_path``), stopped in ``finally``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(args), cwd=ROOT, env=child_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes], grace_seconds: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after the grace period; only this child's own process group."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace_seconds)


def write_result(name: str, result: dict[str, Any]) -> Path:
    """bench/results/<name>.json (latest) and a timestamped copy."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2, sort_keys=True) + "\n"
    latest = RESULTS_DIR / f"{name}.json"
    latest.write_text(text)
    (RESULTS_DIR / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(text)
    return latest


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=False)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)) for row in (headers, *rows)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def load_ratio(measured: dict[str, Any], reference: dict[str, Any]) -> dict[str, float]:
    """Throughput and latency of one load run over another's (the figure a bench reports)."""
    return {
        "rps": measured["rps"] / reference["rps"],
        "p50": measured["p50_ms"] / reference["p50_ms"],
        "p99": measured["p99_ms"] / reference["p99_ms"],
    }


def load_row(label: str, measured: dict[str, Any], decimals: int = 2) -> list[str]:
    """One table row of a load run: requests/s, p50, p99 and errors."""
    return [
        label,
        f"{measured['rps']:.0f}",
        f"{measured['p50_ms']:.{decimals}f}",
        f"{measured['p99_ms']:.{decimals}f}",
        str(measured["errors"]),
    ]
