"""``python -m bench.echo_backend --port N``: the test-only EchoService, alone in its process.

The gateway benchmark calls it through the edge and directly, so both paths end at
the same backend doing the same (tiny) work. Only Echo is needed; grpc.health.v1 is
served too. Listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import Any

import grpc

from bench._support import HOST, use_test_protos


async def serve(port: int) -> None:
    use_test_protos()
    from edgetest.v1 import echo_pb2
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    async def echo(request: echo_pb2.EchoRequest, context: grpc.aio.ServicerContext[Any, Any]) -> echo_pb2.EchoResponse:
        received = {k: str(v) for k, v in context.invocation_metadata() or () if k == "x-request-id"}
        return echo_pb2.EchoResponse(request=request, metadata=received, rpc="Echo")

    handler = grpc.unary_unary_rpc_method_handler(
        echo,
        request_deserializer=echo_pb2.EchoRequest.FromString,
        response_serializer=echo_pb2.EchoResponse.SerializeToString,
    )
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("edgetest.v1.EchoService", {"Echo": handler}),)
    )
    checker = health.aio.HealthServicer()  # type: ignore[attr-defined,unused-ignore]
    await checker.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    server.add_insecure_port(f"{HOST}:{port}")
    await server.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    await server.stop(grace=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
