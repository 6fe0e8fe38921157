"""Presigned uploads: ``POST /api/v1/media/presigned-upload`` through the edge, versus boto3 alone.

The stack is real: PostgreSQL, Redis and SeaweedFS (found or started by devstack, as
the tests do), migrations, ``python -m upload_svc`` and ``python -m edge``. (a) ``wrk
-t2 -c64 -d10s`` POSTs a 50 MiB declaration with an instructor's session token, so
every request verifies the JWT twice (edge and service), validates, presigns a POST
policy and inserts a video and an upload row. (b) The alternative a user would pick: a
Python loop calling boto3's ``generate_presigned_post`` with the same conditions, no
HTTP, no database, no auth. Reported: requests/s, p50, p99 of each and the ratios, so
the price of the service's checks and bookkeeping is one number.

Caveat printed with the numbers: on a small machine (2 cores here) wrk, the edge,
upload_svc and PostgreSQL share the CPUs, so absolute numbers are lower bounds and
the ratio is the figure to compare between runs.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench._support import HOST, RESULTS_DIR, ROOT, load_ratio, load_row, spawned, table, wait_for_http, write_result
from bench.gateway import parse_wrk
from bench.stack import environment, infrastructure, service_ports
from service_kit.auth import INSTRUCTOR, issue_session_token
from service_kit.object_store import s3_client
from service_kit.settings import load_settings

NAME = "upload"
CONNECTIONS = 64
DURATION_SECONDS = 10
STARTUP_SECONDS = 60.0
FILE_SIZE = 50 * 1024 * 1024
"""Below the 100 MiB threshold: the single presigned POST, the common case."""
BODY = json.dumps({"filename": "Lecture_01.mp4", "content_type": "video/mp4", "file_size": FILE_SIZE})


def session_token(env: dict[str, str]) -> str:
    return issue_session_token(
        env["JWT_SECRET_KEY"],
        user_id="bench-instructor",
        organization_id="bench-org",
        course_id="bench-course",
        roles=[INSTRUCTOR],
        ttl_seconds=3600,
    )


def check_route(url: str, token: str) -> None:
    """One request first: the numbers mean nothing if the route answers an error."""
    request = urllib.request.Request(
        url, data=BODY.encode(), headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        body = json.loads(reply.read())
    if body.get("method") != "UPLOAD_METHOD_POST" or "policy" not in body.get("fields", {}):
        raise RuntimeError(f"unexpected reply: {body}")


def run_wrk(url: str, token: str, scratch: Path) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    script = scratch / "presign.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(BODY)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    )
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION_SECONDS}s", "--latency", "-s", str(script), url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=DURATION_SECONDS + 30, check=True)
    return parse_wrk(done.stdout)


def run_direct(env: dict[str, str]) -> dict[str, Any]:
    """boto3's generate_presigned_post in a closed loop for DURATION_SECONDS, one call at a time."""
    settings = load_settings(env, dotenv_path=Path("/nonexistent/.env"))
    client = s3_client(settings, endpoint_url=settings.s3_public_endpoint_url)
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + DURATION_SECONDS
    while time.perf_counter() < deadline:
        before = time.perf_counter()
        client.generate_presigned_post(
            env["S3_BUCKET"],
            f"uploads/bench-org/{secrets.token_hex(16)}/source",
            Fields={"Content-Type": "video/mp4"},
            Conditions=[["content-length-range", FILE_SIZE, FILE_SIZE], {"Content-Type": "video/mp4"}],
            ExpiresIn=3600,
        )
        latencies.append((time.perf_counter() - before) * 1000)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "errors": 0,
    }


def main() -> dict[str, Any]:
    logs = RESULTS_DIR / "logs"
    with tempfile.TemporaryDirectory(prefix="bench-upload-") as scratch_name:
        scratch = Path(scratch_name)
        with infrastructure(scratch, schemas=["upload"], redis_db=14, object_store=True) as env:
            service_ports(env, "upload_svc")
            edge_url = f"http://{HOST}:{env['EDGE_PORT']}"
            with (
                environment(env),
                spawned([sys.executable, "-m", "upload_svc"], logs / "upload_svc.log") as upload,
                spawned([sys.executable, "-m", "edge"], logs / "upload_edge.log") as edge,
            ):
                wait_for_http(f"{edge_url}/openapi.json", edge, STARTUP_SECONDS)
                if upload.poll() is not None:
                    raise RuntimeError("upload_svc exited; see bench/results/logs/upload_svc.log")
                token = session_token(env)
                url = f"{edge_url}/api/v1/media/presigned-upload"
                _wait_for_route(url, token)
                through_edge = run_wrk(url, token, scratch)
            direct = run_direct(env)
    result = {
        "benchmark": NAME,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpus": os.cpu_count(),
        "connections": CONNECTIONS,
        "duration_seconds": DURATION_SECONDS,
        "edge": through_edge,
        "direct": direct,
        "ratio_edge_over_direct": load_ratio(through_edge, direct),
        "note": (
            f"{os.cpu_count()} CPUs shared by wrk, the edge, upload_svc and PostgreSQL: absolute numbers are "
            "lower bounds; compare the ratio between runs. Edge: HTTP + JWT (twice) + validation + presign + "
            "two inserts per request, 64 in flight; direct: boto3 generate_presigned_post only, one at a time."
        ),
    }
    path = write_result(NAME, result)
    print(report(result))
    print(f"written to {path.relative_to(ROOT)}")
    return result


def _wait_for_route(url: str, token: str) -> None:
    """upload_svc may answer a moment after the edge: retry the first request briefly."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            check_route(url, token)
            return
        except (OSError, RuntimeError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def report(result: dict[str, Any]) -> str:
    edge, direct, ratio = result["edge"], result["direct"], result["ratio_edge_over_direct"]
    rows = [
        load_row("presigned-upload via edge (wrk)", edge),
        load_row("boto3 generate_presigned_post", direct, decimals=3),
        ["edge / direct", f"{ratio['rps']:.3f}x", f"{ratio['p50']:.1f}x", f"{ratio['p99']:.1f}x", ""],
    ]
    heading = (
        f"upload: POST /api/v1/media/presigned-upload, {result['connections']} in flight, "
        f"{result['duration_seconds']} s each (real PostgreSQL, SeaweedFS, upload_svc, edge)"
    )
    lines = [heading, table(["path", "req/s", "p50 ms", "p99 ms", "errors"], rows), f"note: {result['note']}"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
    sys.exit(0)
