"""The verified caller of the RPC being served, set by the auth interceptor.

A servicer asks :func:`require_caller` when an RPC needs one; RPCs that strangers may
call (a webhook, the LTI login) simply do not ask.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any

from service_kit import context
from service_kit.auth import AUTHORIZATION_METADATA_KEY, MissingSessionToken, SessionClaims

if TYPE_CHECKING:
    from grpc import aio

OutgoingMetadata = tuple[tuple[str, str], ...]
"""gRPC metadata a service sends when it calls another service."""

caller_var: contextvars.ContextVar[SessionClaims | None] = contextvars.ContextVar("caller", default=None)


def current_caller() -> SessionClaims | None:
    return caller_var.get()


def require_caller() -> SessionClaims:
    caller = caller_var.get()
    if caller is None:
        raise MissingSessionToken("this call needs a session token: send 'Authorization: Bearer <token>'")
    return caller


def forwarded_metadata(ctx: aio.ServicerContext[Any, Any]) -> OutgoingMetadata:
    """The caller's token and the request id, for a call made on the caller's behalf.

    The called service verifies the token itself (no service trusts the network), and the
    request id keeps one trace across every process the request crosses.
    """
    wanted = {AUTHORIZATION_METADATA_KEY, context.REQUEST_ID_HEADER}
    pairs = [(k, v) for k, v in (ctx.invocation_metadata() or ()) if k in wanted and isinstance(v, str)]
    request_id = context.request_id_var.get()
    if request_id and not any(k == context.REQUEST_ID_HEADER for k, _ in pairs):
        pairs.append((context.REQUEST_ID_HEADER, request_id))
    return tuple(pairs)
