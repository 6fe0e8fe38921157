"""``python -m bench.grpc_load``: a closed-loop grpc.aio load generator, results as JSON on stdout.

``--concurrency`` coroutines each keep one Echo call in flight for ``--duration``
seconds over one channel; the latency of every call is kept to report p50 and p99.
This is the "direct" side of the gateway benchmark: the same RPC without the edge.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import grpc

from bench._support import use_test_protos

REQUEST_ID = "bench-direct"


async def run(target: str, concurrency: int, duration: float) -> dict[str, Any]:
    use_test_protos()
    from edgetest.v1 import echo_pb2

    request = echo_pb2.EchoRequest(message="hello", count=3, tags=["a", "b"])
    latencies: list[float] = []
    errors = 0
    async with grpc.aio.insecure_channel(target) as channel:
        echo = channel.unary_unary(
            "/edgetest.v1.EchoService/Echo",
            request_serializer=echo_pb2.EchoRequest.SerializeToString,
            response_deserializer=echo_pb2.EchoResponse.FromString,
        )
        await echo(request, timeout=5)  # connect before the clock starts
        stop_at = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                try:
                    await echo(request, timeout=5, metadata=(("x-request-id", REQUEST_ID),))
                except grpc.aio.AioRpcError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else [0.0] * 99
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": cuts[49] * 1000,
        "p99_ms": cuts[98] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", required=True)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.target, args.concurrency, args.duration))))


if __name__ == "__main__":
    main()
