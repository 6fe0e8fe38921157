"""The verified caller of the RPC being served, set by the auth interceptor.

A servicer asks :func:`require_caller` when an RPC needs one; RPCs that strangers may
call (a webhook, the LTI login) simply do not ask.
"""

from __future__ import annotations

import contextvars

from service_kit.auth import MissingSessionToken, SessionClaims

caller_var: contextvars.ContextVar[SessionClaims | None] = contextvars.ContextVar("caller", default=None)


def current_caller() -> SessionClaims | None:
    return caller_var.get()


def require_caller() -> SessionClaims:
    caller = caller_var.get()
    if caller is None:
        raise MissingSessionToken("this call needs a session token: send 'Authorization: Bearer <token>'")
    return caller
