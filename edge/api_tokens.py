"""Personal API tokens at the edge: a ``Bearer mdt_...`` request goes on as a session JWT's would.

Clients that are not a browser (``mediactl``, scripts) send a personal API token where
the pages send their session JWT. The edge resolves it once (lti_svc's ResolveApiToken:
the secret in, a session JWT of a few minutes for the token's owner and scope out) and
hands the rest of the app a copy of the request whose ``Authorization`` carries that
session JWT. So every route, the generic handler and the hand-written ones alike, the rate
limiter and every service downstream see exactly what they see for a page: nothing else
in the edge or the services knows API tokens exist.

Resolutions are cached in this process, keyed by the secret's SHA-256 (the secret itself
is never kept as a key), for :data:`CACHE_SECONDS` and never beyond the session JWT's own
expiry less a margin. A revoked token therefore stops working within ``CACHE_SECONDS``
on every edge process, and at once on the process that served the revocation (it drops
the entries of the token it revoked). An unknown, revoked or expired token is lti_svc's
401, rendered like every other (JSON error, ``WWW-Authenticate: Bearer
error="invalid_token"``).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from multidict import CIMultiDict

from edge.errors import EdgeError, from_rpc_error
from edge.keys import BACKENDS, MATCH, REQUEST_ID, SETTINGS
from media.lti.v1 import lti_pb2
from service_kit.auth import is_api_token
from service_kit.context import REQUEST_ID_HEADER

RESOLVE_PATH = "/media.lti.v1.LtiService/ResolveApiToken"
CACHE_SECONDS = 10.0
"""How long a resolution is reused: the longest a revoked token still works on another edge process."""
EXPIRY_MARGIN_SECONDS = 30.0
"""A cached session JWT is dropped this long before it expires, so no backend sees an expired one."""
MAX_ENTRIES = 10_000
REVOKE_ROUTE = re.compile(r"^/api/v1/api-tokens/([^/]+)$")

Fetch = Callable[[], Awaitable[tuple[str, str, float]]]
"""Asks lti_svc: (session JWT, token id, seconds the JWT stays valid)."""


@dataclass(frozen=True)
class Resolution:
    """What a token stands for: the session JWT sent on, its token's id, and until when it is reused."""

    session_token: str
    token_id: str
    reuse_until: float


class ResolutionCache:
    """Recent resolutions by the secret's SHA-256; bounded in size and age."""

    def __init__(self, *, seconds: float = CACHE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds = seconds
        self._clock = clock
        self._entries: dict[str, Resolution] = {}
        self._pending: dict[str, asyncio.Future[str]] = {}

    def get(self, key: str) -> Resolution | None:
        found = self._entries.get(key)
        if found is None:
            return None
        if found.reuse_until <= self._clock():
            del self._entries[key]
            return None
        return found

    def put(self, key: str, session_token: str, token_id: str, valid_for: float) -> None:
        """Remember a resolution for at most ``seconds``, and never past ``valid_for`` less the margin."""
        ttl = min(self._seconds, valid_for - EXPIRY_MARGIN_SECONDS)
        if ttl <= 0:
            return
        if len(self._entries) >= MAX_ENTRIES:
            now = self._clock()
            self._entries = {k: v for k, v in self._entries.items() if v.reuse_until > now}
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
        self._entries[key] = Resolution(session_token, token_id, self._clock() + ttl)

    async def session_for(self, key: str, fetch: Fetch) -> str:
        """The cached session JWT for ``key``, else ``fetch()``'s, asked once however many requests wait.

        A client that starts several requests at once with a fresh token (mediactl
        presigning parts in parallel) costs lti_svc one resolution, not one per request;
        a failed fetch fails every waiting request the same way and is not remembered; if
        the request that asked is cancelled (its client left), a waiting one asks again.
        """
        cached = self.get(key)
        if cached is not None:
            return cached.session_token
        pending = self._pending.get(key)
        if pending is not None:
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not pending.cancelled() or (task is not None and task.cancelling()):
                    raise  # this request itself was cancelled
                return await self.session_for(key, fetch)  # the asking request went away: ask again
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            session_token, token_id, valid_for = await fetch()
        except Exception as error:
            future.set_exception(error)
            future.exception()  # retrieved: nobody else may be waiting
            raise
        except BaseException:
            future.cancel()
            raise
        else:
            self.put(key, session_token, token_id, valid_for)
            future.set_result(session_token)
            return session_token
        finally:
            del self._pending[key]

    def forget_token(self, token_id: str) -> None:
        """Drop every resolution of one token (it was just revoked through this process)."""
        self._entries = {k: v for k, v in self._entries.items() if v.token_id != token_id}


API_TOKEN_CACHE = web.AppKey("api_token_cache", ResolutionCache)


def cache_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def resolve(request: web.Request, secret: str) -> str:
    """The session JWT the token stands for: from the cache, else from lti_svc (401 if refused)."""
    app = request.app

    async def ask_lti() -> tuple[str, str, float]:
        timeout = app[SETTINGS].backend_timeout_seconds
        try:
            call = app[BACKENDS].unary(RESOLVE_PATH)
        except KeyError:
            raise EdgeError(
                grpc.StatusCode.UNAUTHENTICATED,
                "this server does not accept API tokens: use a session token",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from None
        try:
            answer = await call(
                lti_pb2.ResolveApiTokenRequest(secret=secret),
                timeout=timeout,
                metadata=((REQUEST_ID_HEADER, request[REQUEST_ID]),),
            )
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc, service="lti", timeout=timeout, token_sent=True) from None
        assert isinstance(answer, lti_pb2.ResolveApiTokenResponse)
        return answer.session_token, answer.token_id, answer.expires_at.seconds - time.time()

    return await app[API_TOKEN_CACHE].session_for(cache_key(secret), ask_lti)


def api_token_middleware() -> Middleware:
    """Requests that carry an API token go on as the same request with its session JWT instead.

    Only ``Authorization: Bearer mdt_...`` is touched; anything else passes as it came. A
    revocation answered 200 drops that token's resolutions, whichever credential asked. The
    route match the inner handlers record is copied back, so the access log and metrics
    of the outer middleware name the route as for any request.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
        secret = value.strip()
        if scheme.lower() != "bearer" or not is_api_token(secret):
            response = await handler(request)
        else:
            session_token = await resolve(request, secret)
            headers = CIMultiDict(request.headers)
            headers["Authorization"] = f"Bearer {session_token}"
            inner = request.clone(headers=headers)
            try:
                response = await handler(inner)
            finally:
                if MATCH in inner:
                    request[MATCH] = inner[MATCH]
        _forget_if_revoked(request, response)
        return response

    return middleware


def _forget_if_revoked(request: web.Request, response: web.StreamResponse) -> None:
    """After a token is revoked through this process, its resolutions go at once (not after the cache's bound)."""
    if request.method != "DELETE" or response.status != 200:
        return
    found = REVOKE_ROUTE.match(request.path)
    if found is not None:
        request.app[API_TOKEN_CACHE].forget_token(found.group(1))


def install(app: web.Application, *, cache_seconds: float = CACHE_SECONDS) -> None:
    """Give ``app`` its resolution cache (the middleware itself is listed with the others)."""
    app[API_TOKEN_CACHE] = ResolutionCache(seconds=cache_seconds)
