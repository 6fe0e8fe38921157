"""Start and stop the real service processes for tests, the way `make run` does."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from service_kit.settings import SERVICE_NAMES, Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = float(os.environ.get("TEST_START_TIMEOUT_SECONDS", "60"))
"""How long the processes may take to start; raise it (TEST_START_TIMEOUT_SECONDS) on a loaded machine."""


def start_deadline() -> float:
    """The monotonic time by which processes started now must answer (:data:`START_TIMEOUT_SECONDS`)."""
    return time.monotonic() + START_TIMEOUT_SECONDS


@dataclass(frozen=True)
class Infra:
    """Settings and environment over the real PostgreSQL, Redis and SeaweedFS of this run."""

    env: dict[str, str]
    settings: Settings
    state_dir: Path


@dataclass
class Process:
    """One running process and the file its output goes to."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, then wait; SIGKILL only past the timeout (and then say so in the return code)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


@dataclass
class Stack:
    """The five services and the edge, running as separate processes."""

    infra: Infra
    processes: dict[str, Process] = field(default_factory=dict)

    @property
    def edge_url(self) -> str:
        return f"http://127.0.0.1:{self.infra.settings.edge_port}"

    def address(self, service: str) -> str:
        return self.infra.settings.endpoint(service).address


def spawn(name: str, module: str, infra: Infra, extra_env: dict[str, str] | None = None) -> Process:
    log_path = infra.state_dir / f"{name}.log"
    env = {**os.environ, **infra.env, **(extra_env or {}), "PYTHONUNBUFFERED": "1"}
    with log_path.open("wb") as log_file:
        popen = subprocess.Popen(
            [sys.executable, "-m", module], cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    return Process(name, popen, log_path)


def wait_for_grpc_health(process: Process, address: str, deadline: float) -> None:
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            if process.popen.poll() is not None:
                raise RuntimeError(f"{process.name} exited early:\n{process.log_text()}")
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{process.name} did not become healthy:\n{process.log_text()}")
            time.sleep(0.1)


def wait_for_http(process: Process, url: str, deadline: float) -> None:
    while True:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited early:\n{process.log_text()}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as reply:
            if reply.status == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{process.name} did not answer {url}:\n{process.log_text()}")
        time.sleep(0.1)


@contextlib.contextmanager
def start_stack(infra: Infra) -> Iterator[Stack]:
    stack = Stack(infra)
    try:
        for service in SERVICE_NAMES:
            stack.processes[service] = spawn(service, f"{service}_svc", infra)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        for service in SERVICE_NAMES:
            wait_for_grpc_health(stack.processes[service], stack.address(service), deadline)
        stack.processes["edge"] = spawn("edge", "edge", infra)
        wait_for_http(stack.processes["edge"], f"{stack.edge_url}/health", deadline)
        yield stack
    finally:
        for process in reversed(list(stack.processes.values())):
            process.stop()
