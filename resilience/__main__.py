"""``python -m resilience``: start the stack, drive traffic, inject each fault, print the table.

Exits 1 when anything acknowledged was lost or a fault was not recovered from within
its bound; the state directory (every program's log) is kept then and its path printed.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from resilience import faults
from resilience.faults import Outcome
from resilience.report import Row, render
from resilience.stack import Stack, running_stack
from resilience.traffic import READY, Traffic, make_clip

STEADY_SECONDS = 4.0
"""Traffic before the first fault and after each recovery, so every phase has some."""
SETTLE_UPLOADS_SECONDS = 180.0

Scenario = Callable[[Stack, Traffic], Awaitable[Outcome]]


def scenarios() -> list[tuple[str, Scenario]]:
    """Every fault, in order; each starts from a stack that has recovered from the one before."""

    def killing(program: str) -> Scenario:
        return lambda stack, traffic: faults.kill(stack, traffic, program)

    def hanging(program: str) -> Scenario:
        return lambda stack, traffic: faults.hang(stack, traffic, program)

    return [
        *((f"kill {name}", killing(name)) for name in ("upload", "transcode", "playback", "lti", "attendance", "edge")),
        ("kill worker mid-transcode", faults.kill_worker_mid_transcode),
        ("kill upload_worker", killing("upload_worker")),
        ("kill zoom", killing("zoom")),
        ("hang playback", hanging("playback")),
        ("hang upload", hanging("upload")),
        ("restart postgres", lambda stack, traffic: faults.restart_server(stack, traffic, "postgres")),
        ("restart redis", lambda stack, traffic: faults.restart_server(stack, traffic, "redis")),
        ("stop object store", faults.stop_object_store),
    ]


async def run(stack: Stack, clip: bytes) -> list[Row]:
    traffic = Traffic(stack, clip)
    await traffic.start()
    outcomes: list[Outcome] = []
    try:
        traffic.ledger.phase = "steady"
        await asyncio.sleep(STEADY_SECONDS)
        outcomes.append(Outcome("steady", "nothing", recovered_seconds=0.0))
        for name, scenario in scenarios():
            traffic.ledger.phase = name
            outcome = await scenario(stack, traffic)
            outcome.name = name
            outcomes.append(outcome)
            print(f"resilience | {outcome.name}: recovered in {_seconds(outcome.recovered_seconds)}", flush=True)
            traffic.ledger.phase = f"after {outcome.name}"
            await asyncio.sleep(STEADY_SECONDS)
    finally:
        await traffic.stop()
    try:
        statuses = await traffic.settle_uploads(SETTLE_UPLOADS_SECONDS)
        await asyncio.sleep(1.0)
        stored = await asyncio.to_thread(traffic.stored_connections)
    finally:
        await traffic.close()
    return _rows(outcomes, traffic, statuses, stored)


def _seconds(value: float | None) -> str:
    return "not recovered" if value is None else f"{value:.1f} s"


def _rows(outcomes: list[Outcome], traffic: Traffic, statuses: dict[str, str], stored: set[str]) -> list[Row]:
    ledger = traffic.ledger
    rows = []
    for outcome in outcomes:
        # A scenario's traffic is what was answered during it and in the steady time after it.
        phases = [f"after {outcome.name}"] if outcome.name != "steady" else ["steady"]
        if outcome.name != "steady":
            phases.insert(0, outcome.name)
        uploads = [u for p in phases for u in ledger.uploads_acked.get(p, [])]
        webhooks = [w for p in phases for w in ledger.webhooks_acked.get(p, [])]
        lost_uploads = [u for u in uploads if statuses.get(u) != READY]
        lost_webhooks = [w for w in webhooks if w not in stored]
        notes = list(outcome.notes)
        if lost_uploads:
            notes.append("uploads not ready: " + ", ".join(f"{u} ({statuses.get(u)})" for u in lost_uploads[:5]))
        if lost_webhooks:
            notes.append(f"webhooks acknowledged but not stored: {', '.join(lost_webhooks[:5])}")
        rows.append(
            Row(
                scenario=outcome.name,
                injected=outcome.injected,
                uploads=f"{len(uploads)}/{sum(ledger.refused_in(p, 'upload') for p in phases)}",
                webhooks=f"{len(webhooks)}/{sum(ledger.refused_in(p, 'webhook') for p in phases)}",
                lost=f"{len(lost_uploads)} uploads, {len(lost_webhooks)} webhooks",
                recovered=_seconds(outcome.recovered_seconds),
                ok=outcome.ok and not lost_uploads and not lost_webhooks,
                notes="; ".join(notes),
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", action="store_true", help="keep the state directory (logs) even when all passed")
    args = parser.parse_args(argv)
    state = Path(tempfile.mkdtemp(prefix="resilience-"))
    started = time.monotonic()
    clip = make_clip(state / "clip.mp4")
    print(f"resilience | starting the stack in {state}", flush=True)
    with running_stack(state) as stack:
        print(f"resilience | stack up in {time.monotonic() - started:.1f} s; traffic and faults", flush=True)
        rows = asyncio.run(run(stack, clip))
    print(render(rows))
    passed = all(row.ok for row in rows)
    print(f"\nresilience | {'passed' if passed else 'FAILED'} in {time.monotonic() - started:.0f} s", flush=True)
    if passed and not args.keep:
        shutil.rmtree(state, ignore_errors=True)
    else:
        print(f"resilience | logs kept in {state}", flush=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
