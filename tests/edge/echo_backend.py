"""The test-only edgetest.v1.EchoService: it answers with what it received.

Each RPC echoes the decoded request and the metadata the edge forwarded, so a test
reads the mapping straight from the HTTP response. Fail, Sleep and the streams make
the error, deadline and streaming paths reachable on demand.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
from edgetest.v1 import echo_pb2, echo_pb2_grpc
from google.api import httpbody_pb2
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

FORWARDED_KEYS = ("x-request-id", "authorization")
Context = grpc.aio.ServicerContext[Any, Any]
PLAYLIST = b"#EXTM3U\n#EXT-X-VERSION:3\n"


def _received(context: Context) -> dict[str, str]:
    return {key: str(value) for key, value in context.invocation_metadata() or () if key in FORWARDED_KEYS}


def _pack(message: error_details_pb2.ErrorInfo | error_details_pb2.BadRequest) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


class EchoServicer(echo_pb2_grpc.EchoServiceServicer):
    """Echoes; every RPC is async, as the services' are."""

    def _echo(self, rpc: str, request: echo_pb2.EchoRequest, context: Context) -> echo_pb2.EchoResponse:
        return echo_pb2.EchoResponse(request=request, metadata=_received(context), rpc=rpc)

    async def Echo(self, request: echo_pb2.EchoRequest, context: Context) -> echo_pb2.EchoResponse:
        return self._echo("Echo", request, context)

    async def EchoLatest(self, request: echo_pb2.EchoRequest, context: Context) -> echo_pb2.EchoResponse:
        return self._echo("EchoLatest", request, context)

    async def EchoInner(self, request: echo_pb2.EchoRequest, context: Context) -> echo_pb2.EchoResponse:
        return self._echo("EchoInner", request, context)

    async def EchoPath(self, request: echo_pb2.EchoRequest, context: Context) -> echo_pb2.EchoResponse:
        return self._echo("EchoPath", request, context)

    async def Shout(self, request: echo_pb2.EchoRequest, context: Context) -> echo_pb2.EchoResponse:
        return self._echo("Shout", request, context)

    async def Hidden(self, request: echo_pb2.EchoRequest, context: Context) -> echo_pb2.EchoResponse:
        return self._echo("Hidden", request, context)

    async def GetPlaylist(self, request: echo_pb2.EchoRequest, context: Context) -> httpbody_pb2.HttpBody:
        return httpbody_pb2.HttpBody(content_type="application/vnd.apple.mpegurl", data=PLAYLIST + request.id.encode())

    async def GetWrappedPlaylist(self, request: echo_pb2.EchoRequest, context: Context) -> echo_pb2.WrappedBody:
        body = httpbody_pb2.HttpBody(content_type="application/vnd.apple.mpegurl", data=PLAYLIST + request.id.encode())
        return echo_pb2.WrappedBody(body=body, seq=7)

    async def DownloadWrapped(
        self, request: echo_pb2.EchoRequest, context: Context
    ) -> AsyncIterator[echo_pb2.WrappedBody]:
        yield echo_pb2.WrappedBody(body=httpbody_pb2.HttpBody(content_type="text/csv", data=b"id,count\n"))
        for row in range(request.count):
            yield echo_pb2.WrappedBody(body=httpbody_pb2.HttpBody(data=f"{request.id},{row}\n".encode()), seq=row)

    async def Fail(self, request: echo_pb2.FailRequest, context: Context) -> echo_pb2.EchoResponse:
        code = grpc.StatusCode[request.code]
        if code is grpc.StatusCode.OK:
            return echo_pb2.EchoResponse(rpc="Fail")
        trailers: tuple[tuple[str, bytes], ...] = ()
        if request.with_details:
            status = status_pb2.Status(
                code=code.value[0],
                message=request.message,
                details=[
                    _pack(
                        error_details_pb2.ErrorInfo(reason="VIDEO_NOT_READY", domain="edgetest", metadata={"id": "7"})
                    ),
                    _pack(
                        error_details_pb2.BadRequest(
                            field_violations=[
                                error_details_pb2.BadRequest.FieldViolation(field="title", description="is empty")
                            ]
                        )
                    ),
                ],
            )
            trailers = (("grpc-status-details-bin", status.SerializeToString()),)
        await context.abort(code, request.message, trailing_metadata=trailers)

    async def Sleep(self, request: echo_pb2.SleepRequest, context: Context) -> echo_pb2.EchoResponse:
        await asyncio.sleep(request.seconds)
        return echo_pb2.EchoResponse(rpc="Sleep")

    async def StreamEcho(self, request: echo_pb2.EchoRequest, context: Context) -> AsyncIterator[echo_pb2.EchoResponse]:
        for seq in range(request.count):
            yield echo_pb2.EchoResponse(request=request, rpc="StreamEcho", seq=seq)
        if request.flag:
            await context.abort(grpc.StatusCode.ABORTED, "the stream was interrupted")

    async def Download(self, request: echo_pb2.EchoRequest, context: Context) -> AsyncIterator[httpbody_pb2.HttpBody]:
        if request.message:
            # A file name for the edge to forward, and a key it must keep to itself.
            await context.send_initial_metadata(
                (("content-disposition", f'attachment; filename="{request.message}"'), ("x-internal", "secret"))
            )
        yield httpbody_pb2.HttpBody(content_type="text/csv", data=b"id,count\n")
        for row in range(request.count):
            yield httpbody_pb2.HttpBody(data=f"{request.id},{row}\n".encode())
        if request.flag:
            await context.abort(grpc.StatusCode.DATA_LOSS, "the export broke off")


async def start_echo_server(host: str = "127.0.0.1") -> tuple[grpc.aio.Server, str]:
    """Serve EchoService and grpc.health.v1 on a free port; returns (server, "host:port")."""
    server = grpc.aio.server()
    echo_pb2_grpc.add_EchoServiceServicer_to_server(EchoServicer(), server)
    health_servicer = health.aio.HealthServicer()  # type: ignore[attr-defined,unused-ignore]  # no stub for aio
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port(f"{host}:0")
    await server.start()
    return server, f"{host}:{port}"
