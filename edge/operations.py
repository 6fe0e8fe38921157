"""What a route leads to: an RPC compiled for HTTP (:class:`Operation`), or a plain handler.

Everything here is built once at startup; a request only reads it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from edge.backends import BackendService
from edge.bindings import HttpBinding, bindings_of
from edge.transcode import RequestDecoder, ResponseEncoder, request_decoder, response_encoder

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
"""An aiohttp handler: the generic gateway one, an operational one, or an override."""


@dataclass(frozen=True)
class Documented:
    """A hand-written handler with what it really accepts and answers, for /openapi.json.

    ``openapi`` holds OpenAPI operation fields (``parameters`` besides the path's,
    ``requestBody``, ``responses``) that replace the ones derived from the RPC's
    request message: a form post or a raw signed body is not the message's JSON.
    """

    handler: Handler
    openapi: Mapping[str, Any]

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        return await self.handler(request)


@dataclass(frozen=True)
class Operation:
    """One HTTP binding of one RPC, with its request decoder and response encoder."""

    binding: HttpBinding
    backend: BackendService
    decoder: RequestDecoder
    encoder: ResponseEncoder

    @property
    def route(self) -> str:
        """The path template as written in the proto: the metrics and log label."""
        return self.binding.template.source


@dataclass(frozen=True)
class RouteTarget:
    """What the router hands a matched request to."""

    handler: Handler
    operation: Operation | None


@dataclass(frozen=True)
class RouteMatch:
    """The route serving the current request (``request[MATCH]``)."""

    route: str
    params: Mapping[str, str]
    operation: Operation | None


def compile_operations(services: Sequence[BackendService]) -> list[Operation]:
    """Every binding of every service, compiled; raises BindingError on a bad rule."""
    return [
        Operation(binding, service, request_decoder(binding), response_encoder(binding))
        for service in services
        for binding in bindings_of(service.descriptor)
    ]
