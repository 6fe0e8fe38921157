"""The faults and how each one's recovery is recognised.

A scenario is: a name, what is injected, and a probe that says when the stack serves
again. SIGKILL scenarios kill the program's whole process tree (as the kernel's OOM
killer or a container runtime would: a worker's forked work horse and its FFmpeg go
too), then wait until supervisord has started a new process and it answers. Hung
scenarios stop a service with SIGSTOP: the edge must keep answering within its
deadline (504) while the service is stopped, and serve again after SIGCONT.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devstack._process import descendants, port_answers
from resilience.stack import BACKEND_TIMEOUT_SECONDS, Stack
from resilience.traffic import Traffic

RECOVERY_BOUND_SECONDS = 30.0
"""A fault not recovered from within this long fails the run."""
MID_TRANSCODE_WAIT_SECONDS = 30.0
HUNG_SECONDS = 6.0
EDGE_MARGIN_SECONDS = 2.0
"""What the edge may take beyond BACKEND_TIMEOUT_SECONDS to answer 504 for a stopped service."""


@dataclass
class Outcome:
    """What one scenario did and saw (losses are filled in at the end of the run)."""

    name: str
    injected: str
    recovered_seconds: float | None = None
    notes: list[str] = field(default_factory=list)
    ok: bool = True


async def _grpc_serving(address: str) -> bool:
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=1
            )
        except grpc.aio.AioRpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


async def _http_ok(session: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as reply:
            return reply.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def _wait(probe: Callable[[], Awaitable[bool]], bound: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < bound:
        if await probe():
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    return None


def _kill_tree(pid: int) -> None:
    for victim in [pid, *descendants(pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


def _serves(stack: Stack, traffic: Traffic, program: str) -> Callable[[], Awaitable[bool]]:
    """The probe that says ``program`` serves again."""
    if program in {"upload", "transcode", "playback", "lti", "attendance"}:
        address = stack.grpc_address(program)
        return lambda: _grpc_serving(address)
    if program == "edge":
        return lambda: _http_ok(traffic.session, f"{stack.edge_url}/health")
    if program == "zoom":
        return lambda: asyncio.to_thread(port_answers, "127.0.0.1", stack.zoom_port)

    async def running_again() -> bool:
        return stack.pid(program) != 0

    return running_again


async def kill(stack: Stack, traffic: Traffic, program: str) -> Outcome:
    """SIGKILL ``program`` (its tree); recovered when a new process serves and /health is ok."""
    outcome = Outcome(f"kill {program}", f"SIGKILL {program} (pid tree)")
    victim = await asyncio.to_thread(stack.pid, program)
    if not victim:
        outcome.ok = False
        outcome.notes.append(f"{program} was not running")
        return outcome
    serves = _serves(stack, traffic, program)
    started = time.monotonic()
    _kill_tree(victim)

    async def back() -> bool:
        pid = await asyncio.to_thread(stack.pid, program)
        return pid not in (0, victim) and await serves() and await _http_ok(traffic.session, f"{stack.edge_url}/health")

    waited = await _wait(back, RECOVERY_BOUND_SECONDS)
    outcome.recovered_seconds = None if waited is None else time.monotonic() - started
    outcome.ok = waited is not None
    return outcome


async def kill_worker_mid_transcode(stack: Stack, traffic: Traffic) -> Outcome:
    """SIGKILL the transcode worker while FFmpeg runs under it; the job must still end ready."""
    outcome = Outcome("kill worker mid-transcode", "SIGKILL transcode worker + work horse + FFmpeg")
    deadline = time.monotonic() + MID_TRANSCODE_WAIT_SECONDS
    while time.monotonic() < deadline:
        worker = await asyncio.to_thread(stack.pid, "worker")
        tree = descendants(worker) if worker else []
        if any(_command(pid).startswith("ffmpeg") for pid in tree):
            break
        await asyncio.sleep(0.05)
    else:
        outcome.ok = False
        outcome.notes.append("no FFmpeg seen under the worker")
        return outcome
    outcome.notes.append("killed while FFmpeg ran")
    started = time.monotonic()
    _kill_tree(worker)

    async def back() -> bool:
        return await asyncio.to_thread(stack.pid, "worker") not in (0, worker)

    waited = await _wait(back, RECOVERY_BOUND_SECONDS)
    outcome.recovered_seconds = None if waited is None else time.monotonic() - started
    outcome.ok = waited is not None
    return outcome


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return os.path.basename(handle.read().split(b"\0")[0].decode(errors="replace"))
    except OSError:
        return ""


async def _timed_status(request: Callable[[], Awaitable[int]]) -> tuple[int, float]:
    started = time.monotonic()
    try:
        status = await request()
    except (aiohttp.ClientError, TimeoutError):
        status = 0
    return status, time.monotonic() - started


async def hang(stack: Stack, traffic: Traffic, program: str) -> Outcome:
    """SIGSTOP ``program``: the edge answers its routes 504 within the deadline; SIGCONT: they serve again."""
    outcome = Outcome(f"hang {program}", f"SIGSTOP {program} {HUNG_SECONDS:.0f} s, then SIGCONT")
    probe = _route_probe(stack, traffic, program)
    pid = await asyncio.to_thread(stack.pid, program)
    os.kill(pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(0.5)
        status, seconds = await _timed_status(probe)
        outcome.notes.append(f"edge answered {status} in {seconds:.1f} s while stopped")
        if status != 504 or seconds > BACKEND_TIMEOUT_SECONDS + EDGE_MARGIN_SECONDS:
            outcome.ok = False
        await asyncio.sleep(max(0.0, HUNG_SECONDS - 0.5 - seconds))
    finally:
        os.kill(pid, signal.SIGCONT)
    started = time.monotonic()

    async def served() -> bool:
        status, _ = await _timed_status(probe)
        return status < 500

    waited = await _wait(served, RECOVERY_BOUND_SECONDS)
    outcome.recovered_seconds = None if waited is None else time.monotonic() - started
    outcome.ok = outcome.ok and waited is not None
    return outcome


def _route_probe(stack: Stack, traffic: Traffic, program: str) -> Callable[[], Awaitable[int]]:
    """One edge request that ``program`` must answer: its HTTP status."""
    headers = {"Authorization": f"Bearer {traffic.token}"}
    if program == "playback":
        url = f"{stack.edge_url}/api/v1/media/hls/{uuid.uuid4()}/access-token"

        async def access_token() -> int:
            async with traffic.session.get(url, headers=headers) as reply:
                return reply.status

        return access_token
    if program == "upload":
        url = f"{stack.edge_url}/api/v1/media/uploads/{uuid.uuid4()}"

        async def upload_status() -> int:
            async with traffic.session.get(url, headers=headers) as reply:
                return reply.status

        return upload_status
    raise ValueError(f"no route probe for {program}")


INFRA_DOWN_SECONDS = 3.0
"""How long a restarted PostgreSQL or Redis stays down: long enough for requests to meet the gap."""


async def _health(traffic: Traffic, stack: Stack) -> tuple[int, dict[str, str]]:
    """The edge's /health status and each component's status."""
    try:
        async with traffic.session.get(f"{stack.edge_url}/health", timeout=aiohttp.ClientTimeout(total=5)) as reply:
            body = await reply.json(content_type=None)
            components = body.get("components", {}) if isinstance(body, dict) else {}
            return reply.status, {name: str(part.get("status")) for name, part in components.items()}
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return 0, {}


async def restart_server(stack: Stack, traffic: Traffic, which: str) -> Outcome:
    """Restart the private PostgreSQL or Redis; recovered when the edge's /health is ok again."""
    server = stack.postgres if which == "postgres" else stack.redis
    outcome = Outcome(f"restart {which}", f"{which} stopped {INFRA_DOWN_SECONDS:.0f} s, started again")
    started = time.monotonic()
    await asyncio.to_thread(server.restart, INFRA_DOWN_SECONDS)

    async def healthy() -> bool:
        status, _ = await _health(traffic, stack)
        return status == 200

    waited = await _wait(healthy, RECOVERY_BOUND_SECONDS)
    outcome.recovered_seconds = None if waited is None else time.monotonic() - started
    outcome.ok = waited is not None
    return outcome


async def stop_object_store(stack: Stack, traffic: Traffic) -> Outcome:
    """Stop SeaweedFS: /health must say so and completing an upload must answer 503; then start it again.

    The upload completed during the outage had its bytes stored before the stop, so the
    503 is the service's own answer, not a failed browser POST; completed again after the
    restart, it joins the acknowledged uploads that must reach ready.
    """
    outcome = Outcome("stop object store", "SeaweedFS stopped ~5 s, started again (same data)")
    prepared = await traffic.prepare_upload()
    started = time.monotonic()
    await asyncio.to_thread(stack.stop_object_store)

    async def says_down() -> bool:
        _, components = await _health(traffic, stack)
        return components.get("object_store") not in (None, "up")

    noticed = await _wait(says_down, 10.0)
    outcome.notes.append(
        "health did not report the object store" if noticed is None else f"health said down in {noticed:.1f} s"
    )
    status = await traffic.complete(prepared) if prepared else 0
    outcome.notes.append(f"complete answered {status} while it was down")
    outcome.ok = noticed is not None and status == 503
    await asyncio.sleep(max(0.0, 5.0 - (time.monotonic() - started)))
    await asyncio.to_thread(stack.start_object_store)

    async def healthy() -> bool:
        code, _ = await _health(traffic, stack)
        return code == 200

    waited = await _wait(healthy, RECOVERY_BOUND_SECONDS)
    outcome.recovered_seconds = None if waited is None else time.monotonic() - started
    outcome.ok = outcome.ok and waited is not None
    if prepared and waited is not None:
        again = await traffic.complete(prepared)
        outcome.notes.append(f"completed again after: {again}")
        if again == 200:
            traffic.ledger.ack_upload(str(prepared["upload_id"]))
    return outcome
