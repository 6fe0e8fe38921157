"""The edge's app factory.

``create_app(settings, services)`` compiles every ``google.api.http`` binding of the
given services into one router, once; adding an annotated RPC to a proto needs no
change here. Channels, the Redis client and the S3 client are opened in
``cleanup_ctx`` and closed on shutdown.

Overrides: HTTP sometimes needs what a JSON body cannot carry (LTI form posts and
redirects, the Zoom webhook's raw-body signature, the cached HLS playlists). Encodings
are not a reason: CSV, downloads and server-sent events are marshalers
(:mod:`edge.marshalers`), chosen per route from ``Accept``.
Pass ``overrides={("POST", "/api/v1/webhooks/zoom"): handler}``: the key is the HTTP
method and the path template exactly as written in the proto's http rule, and the
handler replaces the generic one for that route only. The route keeps its place in
the router's precedence and in /openapi.json, and the handler finds its path
variables and RPC in ``request[edge.keys.MATCH]``; ``edge.gateway`` has the helpers to
call the backend the standard way. An override for a route no proto declares is
refused at startup, so a typo cannot silently leave the generic handler in place.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import AsyncIterator, Callable, Mapping, Sequence

from aiohttp import web
from google.protobuf import descriptor_pool

from edge.api_tokens import api_token_middleware
from edge.api_tokens import install as install_api_tokens
from edge.backends import Backends, BackendService
from edge.errors import error_middleware
from edge.gateway import handle_operation, make_dispatcher
from edge.health import HealthChecker
from edge.hls import PLAYLIST_ROUTES, hls_preflight_middleware
from edge.keys import (
    ATTENDANCE_SETTINGS,
    BACKENDS,
    ENCODINGS,
    HEALTH,
    METRICS,
    OPENAPI_DOCUMENT,
    PLAYBACK_SETTINGS,
    SETTINGS,
)
from edge.marshalers import ROUTE_ENCODINGS, compile_offers
from edge.metrics import EdgeMetrics
from edge.middleware import echo_request_id, request_context_middleware, security_headers
from edge.openapi import build_openapi
from edge.operational import OPERATIONAL_ROUTES
from edge.operations import Documented, Handler, Operation, RouteTarget, compile_operations
from edge.pages import PAGE_ROUTES
from edge.rate_limits import Rule, limited, rate_limit_context, rules_by_route
from edge.routes import Router, parse_template
from edge.transcode import dumps
from service_kit.settings import (
    AttendanceSettings,
    PlaybackSettings,
    Settings,
    load_attendance_settings,
    load_playback_settings,
)
from service_kit.settings.rate_limits import RateLimitSettings
from web.assets import Assets
from web.i18n import Catalogues
from web.render import Pages, install

RouteKey = tuple[str, str]
"""(HTTP method, path template as written in the http rule)."""

DEFAULT_SERVICES = (
    ("upload", "media.upload.v1.UploadService"),
    ("transcode", "media.transcode.v1.TranscodeService"),
    ("playback", "media.playback.v1.PlaybackService"),
    ("lti", "media.lti.v1.LtiService"),
    ("attendance", "media.attendance.v1.AttendanceService"),
)
API_TITLE = "Lecture media API"


def default_backend_services(settings: Settings) -> list[BackendService]:
    """The five media services, from their generated modules and the configured addresses."""
    pool = descriptor_pool.Default()
    services = []
    for domain, full_name in DEFAULT_SERVICES:
        importlib.import_module(f"media.{domain}.v1.{domain}_pb2")
        services.append(
            BackendService(pool.FindServiceByName(full_name), settings.endpoint(domain).address, short_name=domain)
        )
    return services


def default_overrides() -> dict[RouteKey, Handler]:
    """The hand-written handlers of the five media services' routes (``python -m edge``)."""
    from edge.hls import hls_overrides
    from edge.lti_pages import lti_overrides
    from edge.zoom_webhook import attendance_overrides

    return {**lti_overrides(), **hls_overrides(), **attendance_overrides()}


def create_app(
    settings: Settings,
    services: Sequence[BackendService],
    *,
    overrides: Mapping[RouteKey, Handler] | None = None,
    with_process_metrics: bool = False,
    pages: Pages | None = None,
    rate_limits: RateLimitSettings | None = None,
    playback: PlaybackSettings | None = None,
    attendance: AttendanceSettings | None = None,
) -> web.Application:
    """Build the edge for ``services``; raises ValueError on a bad http rule or override.

    ``pages`` are the templates' catalogues and built assets (``python -m edge`` loads
    them and refuses to start without them); without, pages render but name no asset.
    ``rate_limits`` puts the login, launch, access-token and webhook routes behind
    Redis-counted limits (:mod:`edge.rate_limits`). ``playback`` and ``attendance`` are the
    tuning settings hand-written handlers read from the app; by default this process's.
    """
    operations = compile_operations(services)
    offers = compile_offers(operations, {k: v for k, v in ROUTE_ENCODINGS.items() if k in _keys(operations)})
    rules = rules_by_route(rate_limits) if rate_limits is not None else {}
    router = build_router(operations, overrides or {}, rules)
    access_log = request_context_middleware(
        sampled_routes=PLAYLIST_ROUTES, access_log_sample=settings.edge_access_log_sample
    )
    app = web.Application(
        middlewares=[access_log, error_middleware, api_token_middleware(), hls_preflight_middleware()]
    )
    install_api_tokens(app)
    install(app, pages or Pages(Catalogues.load(), Assets.empty()))
    app[SETTINGS] = settings
    app[ENCODINGS] = offers
    app[PLAYBACK_SETTINGS] = playback or load_playback_settings()
    app[ATTENDANCE_SETTINGS] = attendance or load_attendance_settings()
    app[METRICS] = EdgeMetrics(with_process_metrics=with_process_metrics)
    app[HEALTH] = HealthChecker(settings, services)
    hand_written = {
        key: handler.openapi for key, handler in (overrides or {}).items() if isinstance(handler, Documented)
    }
    app[OPENAPI_DOCUMENT] = dumps(
        build_openapi(
            [op.binding for op in operations],
            title=API_TITLE,
            version=_version(),
            offers=offers,
            hand_written=hand_written,
        )
    )
    app.cleanup_ctx.append(_backends_context(services, settings.shutdown_grace_seconds))
    app.cleanup_ctx.append(_health_context)
    if rules:
        app.cleanup_ctx.append(rate_limit_context(settings.redis_url, settings.jwt_secret_key))
    app.on_response_prepare.append(echo_request_id)
    app.on_response_prepare.append(security_headers)
    app.router.add_route("*", "/{path:.*}", make_dispatcher(router))
    return app


def build_router(
    operations: Sequence[Operation],
    overrides: Mapping[RouteKey, Handler],
    rules: Mapping[RouteKey, Sequence[Rule]] | None = None,
) -> Router[RouteTarget]:
    """One router for the RPC routes and the operational ones, overrides applied, limited routes guarded."""
    router: Router[RouteTarget] = Router()
    for method, path, operational in (*OPERATIONAL_ROUTES, *PAGE_ROUTES):
        router.add(method, parse_template(path), RouteTarget(operational, None))
    declared: set[RouteKey] = set()
    for operation in operations:
        key = (operation.binding.http_method, operation.binding.template.source)
        declared.add(key)
        handler: Handler = overrides.get(key, handle_operation)
        if rules and key in rules:
            handler = limited(handler, key, rules[key])
        router.add(key[0], operation.binding.template, RouteTarget(handler, operation))
    unknown = sorted(set(overrides) - declared)
    if unknown:
        raise ValueError(f"overrides for routes no http rule declares: {unknown}")
    return router


def _keys(operations: Sequence[Operation]) -> set[RouteKey]:
    return {(op.binding.http_method, op.binding.template.source) for op in operations}


def _backends_context(
    services: Sequence[BackendService], grace: float
) -> Callable[[web.Application], AsyncIterator[None]]:
    """One channel per backend address for the app's lifetime, closed with a grace period."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        backends = Backends(services)
        app[BACKENDS] = backends
        try:
            yield
        finally:
            await backends.close(grace)

    return context


async def _health_context(app: web.Application) -> AsyncIterator[None]:
    checker = app[HEALTH]
    await checker.start()
    try:
        yield
    finally:
        await checker.close()


def _version() -> str:
    try:
        return importlib.metadata.version("lecture-media")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"
