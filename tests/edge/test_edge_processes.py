"""EDGE_PROCESSES: several ``python -m edge`` share one port, and /metrics in any of them counts them all."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from devstack import supervisord as programs
from devstack.probe import listening_sockets
from service_kit.settings import SettingsError
from tests.edge.conftest import free_port
from tests.support.metrics import Scrape
from tests.support.settings import MINIMAL_ENV

REPO_ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = float(os.environ.get("TEST_START_TIMEOUT_SECONDS", "60"))
REQUESTS = 40
"""Each on a new connection: the kernel spreads connections, not requests, over the processes."""


def edge_env(port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != programs.MULTIPROCESS_DIR_VARIABLE}
    return {
        **env,
        **MINIMAL_ENV,
        "MEDIA_ENV": "test",
        "MEDIA_DOTENV": "/nonexistent/.env",
        "EDGE_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@pytest.fixture
def two_edges(tmp_path: Path) -> Iterator[tuple[int, list[subprocess.Popen[bytes]], Path]]:
    port, shared = free_port(), tmp_path / "metrics"
    shared.mkdir()
    env = edge_env(port, EDGE_PROCESSES="2", PROMETHEUS_MULTIPROC_DIR=str(shared))
    edges = [
        subprocess.Popen(
            [sys.executable, "-m", "edge"],
            cwd=REPO_ROOT,
            env=env,
            stdout=(tmp_path / f"edge-{n}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for n in range(2)
    ]
    try:
        deadline = time.monotonic() + START_SECONDS
        # Both must listen before the requests: a process that binds late gets no connection.
        while (
            not all(_has_metrics_file(shared, edge.pid) for edge in edges)
            or listening_sockets(port) < len(edges)
            or not _answers(port)
        ):
            for n, edge in enumerate(edges):
                assert edge.poll() is None, (tmp_path / f"edge-{n}.log").read_text()
            assert time.monotonic() < deadline, "the two edges did not start"
            time.sleep(0.2)
        yield port, edges, shared
    finally:
        for edge in edges:
            edge.terminate()
        for edge in edges:
            edge.wait(timeout=30)


def _has_metrics_file(shared: Path, pid: int) -> bool:
    return (shared / f"counter_{pid}.db").exists()


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=2) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def _openapi_requests_of(shared: Path, pid: int) -> float:
    """What one process counted, read from its own file in the shared directory."""
    for metric in MultiProcessCollector.merge([str(shared / f"counter_{pid}.db")]):  # type: ignore[no-untyped-call]
        for sample in metric.samples:
            if sample.name == "http_requests_total" and sample.labels.get("route") == "/openapi.json":
                return float(sample.value)
    return 0.0


def test_two_edge_processes_both_serve_one_port_and_metrics_count_both(
    two_edges: tuple[int, list[subprocess.Popen[bytes]], Path],
) -> None:
    port, edges, shared = two_edges
    counted_before = sum(_openapi_requests_of(shared, edge.pid) for edge in edges)
    for _ in range(REQUESTS):
        assert _answers(port)
    per_process = [_openapi_requests_of(shared, edge.pid) for edge in edges]
    assert all(count > 0 for count in per_process), f"one process served nothing: {per_process}"
    assert sum(per_process) == counted_before + REQUESTS
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        scraped = Scrape(reply.read().decode())
    assert scraped.value("http_requests_total", method="GET", route="/openapi.json", code="200") == sum(per_process)


def test_several_edge_processes_without_a_shared_metrics_directory_stop_with_one_line() -> None:
    env = edge_env(free_port(), EDGE_PROCESSES="2")
    done = subprocess.run(
        [sys.executable, "-m", "edge"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "EDGE_PROCESSES=2 needs PROMETHEUS_MULTIPROC_DIR" in done.stderr
    assert "Traceback" not in done.stderr


def test_supervisord_runs_edge_processes_copies_of_the_edge_with_a_fresh_shared_directory(tmp_path: Path) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text("edge: exec python -m edge\nplayback: exec python -m playback_svc\n")
    state = tmp_path / "state"
    stale = programs.metrics_dir(state, "edge") / "counter_1.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left by the last run")
    config = programs.write_config(procfile, state_dir=state, root=tmp_path, env={"EDGE_PROCESSES": "3"}).read_text()
    edge, playback = config.split("[program:edge]")[1].split("[program:playback]")
    assert "numprocs=3" in edge and "process_name=%(program_name)s_%(process_num)d" in edge
    assert f'environment=PROMETHEUS_MULTIPROC_DIR="{programs.metrics_dir(state, "edge")}"' in edge
    assert "numprocs" not in playback and "PROMETHEUS_MULTIPROC_DIR" not in playback
    assert list(programs.metrics_dir(state, "edge").iterdir()) == []

    single = programs.write_config(procfile, state_dir=state, root=tmp_path, env={}).read_text()
    assert "numprocs" not in single and "PROMETHEUS_MULTIPROC_DIR" not in single
    with pytest.raises(SettingsError, match="EDGE_PROCESSES"):
        programs.write_config(procfile, state_dir=state, root=tmp_path, env={"EDGE_PROCESSES": "0"})
