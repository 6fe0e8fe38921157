"""The services behind the edge: one grpc.aio channel per address, callables made once.

Calls are generic (``channel.unary_unary`` with the message classes' own
``SerializeToString`` / ``FromString``), so the edge needs no generated stubs: the
service descriptor is the whole contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from grpc_health.v1 import health_pb2

HEALTH_CHECK_PATH = "/grpc.health.v1.Health/Check"

Unary = grpc.aio.UnaryUnaryMultiCallable[Message, Message]
Streaming = grpc.aio.UnaryStreamMultiCallable[Message, Message]


@dataclass(frozen=True)
class BackendService:
    """A gRPC service the edge exposes, and where it listens (``host:port``)."""

    descriptor: ServiceDescriptor
    address: str
    short_name: str | None = None
    """How errors, metrics and /health name it ("upload"); defaults to the proto's full name."""

    @property
    def name(self) -> str:
        return self.short_name or str(self.descriptor.full_name)


def rpc_path(service: ServiceDescriptor, method: MethodDescriptor) -> str:
    return f"/{service.full_name}/{method.name}"


class Backends:
    """Open channels and their callables; built in the app's cleanup context."""

    def __init__(self, services: Sequence[BackendService]) -> None:
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._unary: dict[str, Unary] = {}
        self._streaming: dict[str, Streaming] = {}
        self._health: dict[str, grpc.aio.UnaryUnaryMultiCallable[Message, Message]] = {}
        for service in services:
            channel = self._channels.get(service.address)
            if channel is None:
                channel = grpc.aio.insecure_channel(service.address)
                self._channels[service.address] = channel
                self._health[service.address] = channel.unary_unary(
                    HEALTH_CHECK_PATH,
                    request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                    response_deserializer=health_pb2.HealthCheckResponse.FromString,
                )
            for method in service.descriptor.methods:
                if method.client_streaming:
                    continue
                request_class = GetMessageClass(method.input_type)
                response_class = GetMessageClass(method.output_type)
                path = rpc_path(service.descriptor, method)
                if method.server_streaming:
                    self._streaming[path] = channel.unary_stream(
                        path,
                        request_serializer=request_class.SerializeToString,
                        response_deserializer=response_class.FromString,
                    )
                else:
                    self._unary[path] = channel.unary_unary(
                        path,
                        request_serializer=request_class.SerializeToString,
                        response_deserializer=response_class.FromString,
                    )

    def unary(self, path: str) -> Unary:
        """The callable of a unary RPC by its path (``/pkg.Service/Method``)."""
        return self._unary[path]

    def streaming(self, path: str) -> Streaming:
        """The callable of a server-streaming RPC by its path."""
        return self._streaming[path]

    async def check_health(self, address: str, deadline_seconds: float) -> str:
        """The grpc.health.v1 overall status (service "") of the backend at ``address``."""
        response = await self._health[address](health_pb2.HealthCheckRequest(service=""), timeout=deadline_seconds)
        assert isinstance(response, health_pb2.HealthCheckResponse)
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))

    async def close(self, grace: float | None = None) -> None:
        for channel in self._channels.values():
            await channel.close(grace)
