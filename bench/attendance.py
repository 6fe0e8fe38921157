"""Zoom webhooks through the edge: a 1,000-participant join storm, then churn, sent by wrk.

The stack is real: PostgreSQL and Redis (found or started by devstack), migrations,
``python -m lti_svc``, ``python -m attendance_svc`` and ``python -m edge``, with the
Zoom stand-in (``devstack.zoom_standin``) for the meeting itself. A session is
scheduled through the API; then the notifications are planned (1,000 joins, then
leaves and rejoins), signed as Zoom signs them just before the run, and written one
per line to a temporary file. ``wrk -t2 -c64 --latency -s bench/wrk_webhooks.lua``
POSTs them to ``/api/v1/webhooks/zoom``: thread i sends events i, i+2, ... in order
(the join storm before the churn) and stops when all of its events are answered;
wrk is then interrupted so that its rate covers only the time taken. Every
acknowledgement (2xx) means the event was committed, so after the run the number of
stored events must equal the number acknowledged (wrk's requests minus its non-2xx
responses). Reported: events/s, p50/p99 acknowledgement latency (wrk's), events
planned/sent/acknowledged vs stored, and the time to compute the 1,000-participant
report (GET .../attendance). Targets on 2 cores: >= 1,000 events/s, p99 <= 100 ms,
report <= 200 ms.

Caveat printed with the numbers: wrk, the edge, attendance_svc and PostgreSQL share
the machine's cores, so the numbers are lower bounds.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import create_engine, text

from bench._support import HOST, RESULTS_DIR, ROOT, spawned, table, wait_for_http, write_result
from bench.gateway import parse_wrk
from bench.stack import environment, infrastructure, service_ports
from devstack.zoom_standin import ZoomStandIn, sign
from service_kit.auth import ADMINISTRATOR, INSTRUCTOR, issue_session_token

NAME = "attendance"
WRK_THREADS = 2
CONNECTIONS = 64
WRK_MAX_SECONDS = 120  # a cap: the threads stop when their share is answered; signatures last 5 minutes
WRK_TIMEOUT_SECONDS = 10
LUA_SCRIPT = ROOT / "bench" / "wrk_webhooks.lua"
PARTICIPANTS = 1000
CHURN_EVENTS = 9000
REPORT_SAMPLES = 15
STARTUP_SECONDS = 60.0
TARGET_EVENTS_PER_SECOND = 1000
TARGET_P99_MS = 100
TARGET_REPORT_MS = 200


def plan_events(start: datetime, seed: int = 7) -> list[tuple[str, int, datetime]]:
    """(event, participant, time): everyone joins within a minute, then leaves and rejoins."""
    rng = random.Random(seed)
    events = [("meeting.participant_joined", i, start + timedelta(seconds=i * 0.06)) for i in range(PARTICIPANTS)]
    present = set(range(PARTICIPANTS))
    clock = start + timedelta(minutes=2)
    for _ in range(CHURN_EVENTS):
        who = rng.randrange(PARTICIPANTS)
        clock += timedelta(milliseconds=300)
        if who in present:
            present.discard(who)
            events.append(("meeting.participant_left", who, clock))
        else:
            present.add(who)
            events.append(("meeting.participant_joined", who, clock))
    return events


def notification(meeting: dict[str, Any], event: str, who: int, at: datetime) -> bytes:
    field = "leave_time" if event.endswith("left") else "join_time"
    participant = {
        "user_id": str(16778240 + who),
        "user_name": f"Learner {who:04d}",
        "id": "",
        "email": f"learner{who:04d}@example.edu",
        field: at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    body = {
        "event": event,
        "event_ts": int(at.timestamp() * 1000),
        "payload": {
            "account_id": "bench",
            "object": {
                "id": meeting["zoom_meeting_id"],
                "uuid": meeting["zoom_meeting_uuid"],
                "participant": participant,
            },
        },
    }
    return json.dumps(body).encode()


def write_requests(path: Path, secret: str, bodies: list[bytes]) -> None:
    """One line per event, as wrk_webhooks.lua reads it: timestamp, signature, JSON body."""
    ts = str(int(time.time()))
    with path.open("wb") as out:
        for body in bodies:
            out.write(f"{ts}\t{sign(secret, ts, body)}\t".encode() + body + b"\n")


def send_with_wrk(url: str, secret: str, bodies: list[bytes]) -> dict[str, Any]:
    """wrk sends every event once; interrupted when all its threads report their share answered."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory(prefix="bench-attendance-wrk-") as scratch:
        requests = Path(scratch) / "requests.tsv"
        write_requests(requests, secret, bodies)
        command = [
            "wrk",
            f"-t{WRK_THREADS}",
            f"-c{CONNECTIONS}",
            f"-d{WRK_MAX_SECONDS}s",
            f"--timeout={WRK_TIMEOUT_SECONDS}s",
            "--latency",
            "-s",
            str(LUA_SCRIPT),
            url,
            "--",
            str(requests),
            str(WRK_THREADS),
        ]
        wrk = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert wrk.stdout is not None
        lines: list[str] = []
        threads_done = 0
        for line in wrk.stdout:
            lines.append(line)
            if line.startswith("webhooks: thread "):
                threads_done += 1
                if threads_done == WRK_THREADS:
                    wrk.send_signal(signal.SIGINT)  # wrk's main thread would otherwise sleep until -d
                    break
        rest, errors = wrk.communicate(timeout=30)
    output = "".join(lines) + rest
    if wrk.returncode != 0:
        raise RuntimeError(f"wrk exited with {wrk.returncode}:\n{output}{errors}")
    measured = parse_wrk(output)
    counts = re.search(r"^webhooks: sent (\d+) answered (\d+)$", output, re.MULTILINE)
    if counts is None:
        raise ValueError(f"no event counts in wrk output:\n{output}{errors}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    failures = int(non_2xx.group(1)) if non_2xx else 0
    return {
        "events": len(bodies),
        "sent": int(counts.group(1)),
        "answered": measured["requests"],
        "acknowledged": measured["requests"] - failures,
        "failures": failures,
        "socket_errors": sum(int(n) for n in socket_errors.groups()) if socket_errors else 0,
        "all_threads_done": threads_done == WRK_THREADS,
        "seconds": round(measured["requests"] / measured["rps"], 2) if measured["rps"] else None,
        "events_per_second": measured["rps"],
        "p50_ms": measured["p50_ms"],
        "p99_ms": measured["p99_ms"],
    }


async def run(env: dict[str, str]) -> dict[str, Any]:
    edge_url = f"http://{HOST}:{env['EDGE_PORT']}"
    zoom = await ZoomStandIn(
        webhook_url=f"{edge_url}/api/v1/webhooks/zoom", webhook_secret=env["ZOOM_WEBHOOK_SECRET"]
    ).start()
    extra = {"ZOOM_API_BASE_URL": f"{zoom.base}/v2", "ZOOM_OAUTH_BASE_URL": zoom.base}
    logs = RESULTS_DIR / "logs"
    try:
        with (
            environment(extra),
            spawned([sys.executable, "-m", "lti_svc"], logs / "attendance_lti.log"),
            spawned([sys.executable, "-m", "attendance_svc"], logs / "attendance_svc.log"),
            spawned([sys.executable, "-m", "edge"], logs / "attendance_edge.log") as edge,
        ):
            await asyncio.to_thread(wait_for_http, f"{edge_url}/openapi.json", edge, STARTUP_SECONDS)
            meeting, token = await schedule(edge_url, env)
            start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=55)
            bodies = [notification(meeting, e, who, at) for e, who, at in plan_events(start)]
            sent = await asyncio.to_thread(
                send_with_wrk, f"{edge_url}/api/v1/webhooks/zoom", env["ZOOM_WEBHOOK_SECRET"], bodies
            )
            stored = await asyncio.to_thread(count_stored, env["DATABASE_URL"], meeting["zoom_meeting_id"])
            report = await time_report(edge_url, meeting["session_id"], token)
    finally:
        await zoom.stop()
    return {**sent, "stored": stored, **report}


async def schedule(edge_url: str, env: dict[str, str]) -> tuple[dict[str, Any], str]:
    org = f"bench-{secrets.token_hex(4)}"

    def token(role: str) -> str:
        return issue_session_token(
            env["JWT_SECRET_KEY"], user_id="bench", organization_id=org, course_id="c1", roles=[role], ttl_seconds=3600
        )

    async with aiohttp.ClientSession() as http:
        config = {
            "issuer": f"https://{org}.example.edu",
            "client_id": "bench",
            "key_set_url": f"https://{org}.example.edu/jwks",
            "auth_login_url": f"https://{org}.example.edu/auth",
            "zoom_account_id": "acct",
            "zoom_api_key": "client",
            "zoom_api_secret": "secret",
        }
        headers = {"Authorization": f"Bearer {token(ADMINISTRATOR)}"}
        async with http.post(f"{edge_url}/api/v1/lti/config", json=config, headers=headers) as reply:
            config_id = (await reply.json())["config"]["config_id"]
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=55)
        body = {
            "session_name": "Bench lecture",
            "scheduled_start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "scheduled_end": (start + timedelta(minutes=60)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "zoom_host_id": "host@example.edu",
            "lti_config_id": config_id,
        }
        headers = {"Authorization": f"Bearer {token(INSTRUCTOR)}"}
        async with http.post(f"{edge_url}/api/v1/live-sessions", json=body, headers=headers) as reply:
            document = await reply.json()
            if reply.status != 200:
                raise RuntimeError(f"could not schedule the bench session: {document}")
    return document["session"], token(INSTRUCTOR)


def count_stored(database_url: str, meeting_id: str) -> int:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        count = connection.execute(
            text("SELECT count(*) FROM attendance.zoom_events WHERE meeting_id = :m"), {"m": meeting_id}
        ).scalar_one()
    engine.dispose()
    return int(count)


async def time_report(edge_url: str, session_id: str, token: str) -> dict[str, Any]:
    timings: list[float] = []
    rows = 0
    async with aiohttp.ClientSession() as http:
        for _ in range(REPORT_SAMPLES):
            before = time.perf_counter()
            async with http.get(
                f"{edge_url}/api/v1/live-sessions/{session_id}/attendance", headers={"Authorization": f"Bearer {token}"}
            ) as reply:
                document = await reply.json()
            timings.append((time.perf_counter() - before) * 1000)
            rows = len(document["rows"])
    timings.sort()
    return {
        "report_rows": rows,
        "report_p50_ms": round(timings[len(timings) // 2], 1),
        "report_max_ms": round(timings[-1], 1),
    }


def main() -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="bench-attendance-") as scratch,
        infrastructure(Path(scratch), schemas=["lti", "attendance"], redis_db=13) as env,
    ):
        service_ports(env, "lti_svc", "attendance_svc")
        with environment(env):
            measured = asyncio.run(run(env))
    result = {
        "benchmark": NAME,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpus": os.cpu_count(),
        "load": f"wrk -t{WRK_THREADS} -c{CONNECTIONS}",
        "participants": PARTICIPANTS,
        **measured,
        "stored_equals_acknowledged": measured["stored"] == measured["acknowledged"],
        "targets": {
            "events_per_second": TARGET_EVENTS_PER_SECOND,
            "p99_ms": TARGET_P99_MS,
            "report_ms": TARGET_REPORT_MS,
        },
    }
    print(
        table(
            [
                "events",
                "sent",
                "events/s",
                "p50 ms",
                "p99 ms",
                "acknowledged",
                "stored",
                "report rows",
                "report p50 ms",
            ],
            [
                [
                    str(measured["events"]),
                    str(measured["sent"]),
                    str(measured["events_per_second"]),
                    str(measured["p50_ms"]),
                    str(measured["p99_ms"]),
                    str(measured["acknowledged"]),
                    str(measured["stored"]),
                    str(measured["report_rows"]),
                    str(measured["report_p50_ms"]),
                ]
            ],
        )
    )
    print(
        f"targets: >= {TARGET_EVENTS_PER_SECOND} events/s, p99 <= {TARGET_P99_MS} ms, report <= {TARGET_REPORT_MS} ms;"
        f" {os.cpu_count()} cores shared by wrk, the edge, attendance_svc and PostgreSQL"
    )
    if measured["sent"] != measured["events"] or measured["answered"] != measured["sent"]:
        print(
            f"warning: {measured['events']} events planned, {measured['sent']} sent, {measured['answered']} answered"
            f" within {WRK_MAX_SECONDS} s"
        )
    write_result(NAME, result)
    return result


if __name__ == "__main__":
    main()
