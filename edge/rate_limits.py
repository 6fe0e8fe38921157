"""Rate limits on the routes worth abusing, counted in Redis so every edge process shares them.

Which routes, and per what:

- the OIDC login initiation and the LTI launch (form post and JSON), per address: each
  writes a state and nonce to Redis, or verifies an RSA signature and fetches a key set;
- minting HLS access tokens, per signed-in caller and per address: a token is a
  credential for a video, and a script minting thousands a second is scraping;
- the Zoom webhook, per address: each delivery is a database write.

Counting is the ``limits`` library's sliding window counter over Redis (two keys per
window, no Lua), through redis-py's asyncio client. A refusal is 429 RESOURCE_EXHAUSTED
with ``Retry-After`` in whole seconds until the window lets the next one through. When
Redis does not answer, requests pass (logged): a broken counter must not lock every
learner out of their course.

The address is the TCP peer (``request.remote``). Behind a reverse proxy every request
shares the proxy's address; set the per-address limits for that (or off) there.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

import grpc
from aiohttp import web
from limits import RateLimitItem, parse_many
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.exceptions import RedisError

from edge.errors import EdgeError
from service_kit.auth import bearer_token, verify_session_token
from service_kit.errors import ServiceError
from service_kit.settings.rate_limits import RateLimitSettings

log = logging.getLogger("edge.rate_limits")

RouteKey = tuple[str, str]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

LOGIN_ROUTES = (("GET", "/lti/login"), ("POST", "/lti/login"))
LAUNCH_ROUTES = (("POST", "/lti/launch"), ("POST", "/api/v1/lti/launch"))
ACCESS_TOKEN_ROUTE = ("GET", "/api/v1/media/hls/{video_id}/access-token")
WEBHOOK_ROUTE = ("POST", "/api/v1/webhooks/zoom")


@dataclass(frozen=True)
class Rule:
    """One limit on one route: counted per ``scope`` ("address" or "caller"), named for the 429's message."""

    name: str
    scope: str
    limits: tuple[RateLimitItem, ...]


def rules_by_route(settings: RateLimitSettings) -> dict[RouteKey, tuple[Rule, ...]]:
    """The rules each limited route gets; limits switched off ("") are left out."""

    def rule(name: str, scope: str, text: str) -> tuple[Rule, ...]:
        return (Rule(name, scope, tuple(parse_many(text))),) if text else ()

    login = rule("login", "address", settings.login_per_address)
    launch = rule("launch", "address", settings.launch_per_address)
    access = rule("access token", "caller", settings.access_token_per_caller) + rule(
        "access token", "address", settings.access_token_per_address
    )
    webhook = rule("webhook", "address", settings.webhook_per_address)
    table: dict[RouteKey, tuple[Rule, ...]] = {
        **dict.fromkeys(LOGIN_ROUTES, login),
        **dict.fromkeys(LAUNCH_ROUTES, launch),
        ACCESS_TOKEN_ROUTE: access,
        WEBHOOK_ROUTE: webhook,
    }
    return {route: rules for route, rules in table.items() if rules}


def storage_uri(redis_url: str) -> str:
    """The ``limits`` storage URI for a REDIS_URL (``redis://`` → ``async+redis://``, same for rediss, unix)."""
    scheme, _, rest = redis_url.partition("://")
    return f"async+{'redis+unix' if scheme == 'unix' else scheme}://{rest}"


def retry_after_seconds(reset_time: float, now: float) -> int:
    """Whole seconds until the window admits another request; at least 1 (RFC 9110 §10.2.3 delay-seconds)."""
    return max(1, math.ceil(reset_time - now))


class RateLimiter:
    """Counts requests per rule and identity in Redis; raises a 429 EdgeError past a limit."""

    def __init__(self, redis_url: str, jwt_secret: str) -> None:
        self._storage = RedisStorage(storage_uri(redis_url), implementation="redispy", key_prefix="media:rate")
        self._limiter = SlidingWindowCounterRateLimiter(self._storage)
        self._jwt_secret = jwt_secret

    def _identity(self, request: web.Request, scope: str) -> str | None:
        if scope == "address":
            return request.remote or "unknown"
        token = bearer_token(request.headers.get("Authorization", "")) or ""
        try:
            claims = verify_session_token(token, self._jwt_secret)
        except ServiceError:
            return None  # the route answers 401 itself; the address limit still counts it
        return f"{claims.organization_id}/{claims.user_id}"

    async def check(self, request: web.Request, route: RouteKey, rules: Sequence[Rule]) -> None:
        """Count this request against every rule; raise 429 with Retry-After for the first one exceeded."""
        for rule in rules:
            identity = self._identity(request, rule.scope)
            if identity is None:
                continue
            for item in rule.limits:
                try:
                    allowed = await self._limiter.hit(item, route[0], route[1], rule.scope, identity)
                    if allowed:
                        continue
                    stats = await self._limiter.get_window_stats(item, route[0], route[1], rule.scope, identity)
                except (RedisError, OSError) as exc:
                    log.warning("rate limit not counted: Redis failed", extra={"error": type(exc).__name__})
                    return
                wait = retry_after_seconds(stats.reset_time, time.time())
                raise EdgeError(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"too many {rule.name} requests from this {rule.scope} (limit {item}): try again in {wait} s",
                    headers={"Retry-After": str(wait)},
                )


RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)


def limited(handler: Handler, route: RouteKey, rules: Sequence[Rule]) -> Handler:
    """``handler`` behind ``rules``: the count happens before any work."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        await request.app[RATE_LIMITER].check(request, route, rules)
        return await handler(request)

    return guarded


def rate_limit_context(redis_url: str, jwt_secret: str) -> Callable[[web.Application], AsyncIterator[None]]:
    """The app's limiter for its lifetime (a cleanup_ctx)."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        app[RATE_LIMITER] = RateLimiter(redis_url, jwt_secret)
        yield

    return context
