"""The edge's cost: one RPC through the HTTP/JSON gateway versus the same RPC over gRPC.

Three processes: the echo backend (test-only edgetest.v1.EchoService), the edge wired
to it by ``create_app`` (bench/edge_runner.py), and a load generator. (a) ``wrk -t2
-c64 -d10s`` POSTs a small JSON body to ``/v1/echo`` through the edge; (b) a grpc.aio
closed loop keeps 64 calls of the same RPC in flight against the backend directly.
Reported: requests/s, p50, p99 of each and the edge/direct ratios.

Caveat printed with the numbers: on a small machine (2 cores here) the load generator,
the edge and the backend share the CPUs, so absolute numbers are lower bounds and the
ratio is the figure to compare between runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from typing import Any

from bench._support import (
    HOST,
    RESULTS_DIR,
    ROOT,
    free_port,
    load_ratio,
    load_row,
    spawned,
    table,
    wait_for_http,
    wait_for_port,
    write_result,
)

NAME = "gateway"
CONNECTIONS = 64
DURATION_SECONDS = 10
STARTUP_SECONDS = 20.0
LUA_SCRIPT = ROOT / "bench" / "wrk_echo.lua"
ECHO_BODY = b'{"message":"hello","count":3,"tags":["a","b"]}'

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests/s, p50 and p99 (ms) and error counts from ``wrk --latency`` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if rps is None:
        raise ValueError(f"no Requests/sec in wrk output:\n{output}")
    percentiles: dict[str, float] = {}
    for label, value, unit in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE):
        percentiles[label] = float(value) * _UNITS[unit]
    total = re.search(r"(\d+) requests in", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {
        "requests": int(total.group(1)) if total else 0,
        "rps": float(rps.group(1)),
        "p50_ms": percentiles["50"],
        "p99_ms": percentiles["99"],
        "errors": (int(non_2xx.group(1)) if non_2xx else 0)
        + (sum(int(n) for n in socket_errors.groups()) if socket_errors else 0),
    }


def check_route(url: str) -> None:
    """One request first: the numbers mean nothing if the route answers an error."""
    request = urllib.request.Request(url, data=ECHO_BODY, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as reply:
        body = json.loads(reply.read())
    if body.get("rpc") != "Echo" or body["request"]["tags"] != ["a", "b"]:
        raise RuntimeError(f"unexpected echo: {body}")


def run_wrk(url: str) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION_SECONDS}s", "--latency", "-s", str(LUA_SCRIPT), url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=DURATION_SECONDS + 30, check=True)
    return parse_wrk(done.stdout)


def run_direct(target: str) -> dict[str, Any]:
    from bench._support import child_env

    command = [
        sys.executable,
        "-m",
        "bench.grpc_load",
        "--target",
        target,
        "--concurrency",
        str(CONNECTIONS),
        "--duration",
        str(DURATION_SECONDS),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=DURATION_SECONDS + 30, check=True, cwd=ROOT, env=child_env()
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> dict[str, Any]:
    backend_port, edge_port = free_port(), free_port()
    logs = RESULTS_DIR / "logs"
    backend_args = [sys.executable, "-m", "bench.echo_backend", "--port", str(backend_port)]
    edge_args = [
        sys.executable,
        "-m",
        "bench.edge_runner",
        "--port",
        str(edge_port),
        "--backend",
        f"{HOST}:{backend_port}",
    ]
    with spawned(backend_args, logs / "echo_backend.log") as backend:
        wait_for_port(backend_port, backend, STARTUP_SECONDS)
        with spawned(edge_args, logs / "edge.log") as edge:
            wait_for_http(f"http://{HOST}:{edge_port}/openapi.json", edge, STARTUP_SECONDS)
            url = f"http://{HOST}:{edge_port}/v1/echo"
            check_route(url)
            through_edge = run_wrk(url)
        time.sleep(1)  # let the edge's exit settle before the direct run
        direct = run_direct(f"{HOST}:{backend_port}")
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
            f"{os.cpu_count()} CPUs shared by the load generator, the edge and the backend: absolute "
            "numbers are lower bounds; compare the ratio between runs. Edge load: wrk (C); direct load: "
            "a Python grpc.aio closed loop, itself CPU-bound."
        ),
    }
    path = write_result(NAME, result)
    print(report(result))
    print(f"written to {path.relative_to(ROOT)}")
    return result


def report(result: dict[str, Any]) -> str:
    edge, direct, ratio = result["edge"], result["direct"], result["ratio_edge_over_direct"]
    rows = [
        load_row("HTTP/JSON via edge (wrk)", edge),
        load_row("gRPC direct (grpc.aio)", direct),
        ["edge / direct", f"{ratio['rps']:.2f}x", f"{ratio['p50']:.2f}x", f"{ratio['p99']:.2f}x", ""],
    ]
    heading = (
        f"gateway: POST /v1/echo, {result['connections']} in flight, {result['duration_seconds']} s each "
        f"(Echo RPC on one backend)"
    )
    lines = [heading, table(["path", "req/s", "p50 ms", "p99 ms", "errors"], rows), f"note: {result['note']}"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
    sys.exit(0)
