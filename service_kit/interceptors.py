"""The one server interceptor every service runs: context, caller, errors and metrics.

Per RPC it (1) takes the request id from metadata into the logging context, (2) verifies
the caller's session JWT when one is sent (services re-verify: no service trusts the
network), (3) turns ServiceError into a rich google.rpc.Status and any other exception
into a logged INTERNAL without internals, and (4) counts and times the call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import grpc
from grpc import aio

from service_kit import context, metrics
from service_kit.auth import AUTHORIZATION_METADATA_KEY, bearer_token, verify_session_token
from service_kit.caller import caller_var
from service_kit.errors import ServiceError
from service_kit.grpc_errors import to_rpc_status

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # the stubs make these generic; at run time they are plain classes
    Context = aio.ServicerContext[Any, Any]
    Handler = grpc.RpcMethodHandler[Any, Any]
    UnaryBehavior = Callable[[Any, Context], Awaitable[Any]]
    StreamBehavior = Callable[[Any, Context], AsyncIterator[Any]]
    _InterceptorBase = aio.ServerInterceptor[Any, Any]
else:
    _InterceptorBase = aio.ServerInterceptor

STATUS_DETAILS_KEY = "grpc-status-details-bin"
_INFRASTRUCTURE_PREFIX = "/grpc."


class _Outcome:
    """The status code a wrapper chose itself, for metrics (None: ask the context)."""

    code: grpc.StatusCode | None = None


class ServiceInterceptor(_InterceptorBase):
    """Wraps each application RPC; health and reflection calls pass through untouched."""

    def __init__(self, jwt_secret: str, error_domain: str) -> None:
        self._jwt_secret = jwt_secret
        self._error_domain = error_domain

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or method.startswith(_INFRASTRUCTURE_PREFIX):
            return handler
        service, _, rpc = method.lstrip("/").rpartition("/")
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(cast("UnaryBehavior", handler.unary_unary), service, rpc, "unary"),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(cast("StreamBehavior", handler.unary_stream), service, rpc, "server_stream"),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _wrap_unary(
        self, behavior: Callable[[Any, Context], Awaitable[Any]], service: str, rpc: str, kind: str
    ) -> Callable[[Any, Context], Awaitable[Any]]:
        async def wrapped(request: Any, ctx: Context) -> Any:
            started = time.perf_counter()
            outcome = _Outcome()
            try:
                self._enter(ctx, service, rpc, kind)
                return await behavior(request, ctx)
            except ServiceError as error:
                await self._abort_with(ctx, error, outcome)
            except Exception as exc:
                await self._abort_unexpected(ctx, exc, outcome)
            finally:
                self._record(service, rpc, kind, outcome.code or _code_of(ctx), started)

        return wrapped

    def _wrap_stream(
        self, behavior: Callable[[Any, Context], AsyncIterator[Any]], service: str, rpc: str, kind: str
    ) -> Callable[[Any, Context], AsyncIterator[Any]]:
        async def wrapped(request: Any, ctx: Context) -> AsyncIterator[Any]:
            started = time.perf_counter()
            outcome = _Outcome()
            try:
                self._enter(ctx, service, rpc, kind)
                async for item in behavior(request, ctx):
                    yield item
            except ServiceError as error:
                await self._abort_with(ctx, error, outcome)
            except Exception as exc:
                await self._abort_unexpected(ctx, exc, outcome)
            finally:
                self._record(service, rpc, kind, outcome.code or _code_of(ctx), started)

        return wrapped

    def _enter(self, ctx: Context, service: str, rpc: str, kind: str) -> None:
        """Set the request context and the verified caller; raise ServiceError on a bad token."""
        metadata = {key: value for key, value in (ctx.invocation_metadata() or ()) if isinstance(value, str)}
        context.request_id_var.set(context.accept_request_id(metadata.get(context.REQUEST_ID_HEADER)))
        context.rpc_var.set(f"{service}/{rpc}")
        caller_var.set(None)
        context.user_id_var.set(None)
        metrics.STARTED.labels(service, rpc, kind).inc()
        token = bearer_token(metadata.get(AUTHORIZATION_METADATA_KEY))
        if token is not None:
            caller = verify_session_token(token, self._jwt_secret)
            caller_var.set(caller)
            context.user_id_var.set(caller.user_id)

    async def _abort_with(self, ctx: Context, error: ServiceError, outcome: _Outcome) -> None:
        code, status = to_rpc_status(error, self._error_domain)
        outcome.code = code
        log.info("rpc refused", extra={"code": code.name, "reason": error.reason, "error": error.message})
        await ctx.abort(code, status.message, trailing_metadata=((STATUS_DETAILS_KEY, status.SerializeToString()),))

    async def _abort_unexpected(self, ctx: Context, exc: Exception, outcome: _Outcome) -> None:
        if isinstance(exc, aio.AbortError):
            raise exc  # the servicer aborted on purpose; grpc finishes the call
        chosen = _code_of(ctx)
        if chosen not in (None, grpc.StatusCode.OK):
            # A code set before raising is deliberate: generated base servicers set
            # UNIMPLEMENTED and raise NotImplementedError for RPCs not yet built.
            outcome.code = chosen
            await ctx.abort(chosen, ctx.details() or chosen.name.lower().replace("_", " "))
        outcome.code = grpc.StatusCode.INTERNAL
        log.exception("rpc failed unexpectedly")
        await ctx.abort(grpc.StatusCode.INTERNAL, "internal error; the request id is in the service logs")

    @staticmethod
    def _record(service: str, rpc: str, kind: str, code: grpc.StatusCode | None, started: float) -> None:
        """Count the call by its final code; a call that ended without one is OK."""
        name = (code or grpc.StatusCode.OK).name
        elapsed = time.perf_counter() - started
        metrics.HANDLED.labels(service, rpc, kind, name).inc()
        metrics.HANDLING_SECONDS.labels(service, rpc, kind).observe(elapsed)
        log.info("rpc finished", extra={"code": name, "duration_ms": round(elapsed * 1000, 2)})


def _code_of(ctx: Context) -> grpc.StatusCode | None:
    code = ctx.code()
    if code is None or isinstance(code, grpc.StatusCode):
        return code
    return grpc.StatusCode.UNKNOWN
