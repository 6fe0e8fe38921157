"""The LTI routes a JSON body cannot carry: browser redirects, form posts and small pages.

- ``GET|POST /lti/login``: the platform's third-party login initiation. lti_svc keeps
  state and nonce in Redis (single use); the answer is a 302 to the platform, or, when
  the platform offers LTI client-side postMessage storage (``lti_storage_target``), a
  page that stores the state in the platform's frame (``lti.put_data``) and then goes on.
- ``POST /lti/launch``: the platform's form post (id_token, state). lti_svc checks
  everything; the answer is the tool's page for that user and course, with the session
  token embedded for the page's scripts (never in a URL, never a cookie, so it works in
  an iframe where third-party cookies are blocked). Deep-linking launches get the picker.
- ``POST /api/v1/lti/deep-linking/responses`` as a form (from the picker without script):
  the signed LtiDeepLinkingResponse, auto-posted as the field ``JWT`` to the platform's
  return URL. As JSON it stays the generic API call, which the picker's script uses so
  that a refusal is shown beside the picker rather than as a page of its own.
- ``GET /lti/register``: LTI Dynamic Registration; the page reports the outcome and
  posts ``{subject: "org.imsglobal.lti.close"}`` to the LMS window that opened it.

Proving the browser that finishes a launch is the one that started it (login CSRF):
the state cookie when the browser keeps it; otherwise the platform's postMessage
storage, checked by the launch page before it uses the session; otherwise the page
offers to start again in a new window, where first-party cookies work. The server
side never depends on the cookie: state and nonce are checked in Redis either way.

Every page is a template of ``web/templates`` (autoescaped), in the language of the launch's
locale (the browser's for pages before a launch), with a Content-Security-Policy whose
per-response nonce is the only way a script runs; every refusal is a readable page with a
4xx status. This module only translates HTTP: form fields in, RPCs, redirects and cookies,
and which template with which values out.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import grpc
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from edge.errors import EdgeError, from_service_error
from edge.gateway import call_unary, handle_operation, operation_of, outgoing_metadata
from edge.keys import BACKENDS, PLAYBACK_SETTINGS, REQUEST_ID, SETTINGS
from edge.operations import Documented, Handler
from edge.page_specs import ERROR_PAGE, HTML_PAGE, form_body, page, query_strings, string_fields
from edge.player_origins import PLAYER_MEDIA_SRC, player_connect_origins
from media.attendance.v1 import attendance_pb2
from media.lti.v1 import lti_pb2
from media.upload.v1 import upload_pb2
from service_kit import errors as kit_errors
from service_kit.auth import AUTHORIZATION_METADATA_KEY, COURSE_STAFF_ROLES, verify_session_token
from service_kit.context import REQUEST_ID_HEADER
from web.i18n import Catalogue
from web.render import Policy, pages_of, render

log = logging.getLogger("edge.lti")

LOGIN_ROUTE = "/lti/login"
LAUNCH_ROUTE = "/lti/launch"
DEEP_LINKING_ROUTE = "/api/v1/lti/deep-linking/responses"
REGISTER_ROUTE = "/lti/register"
STATE_COOKIE_PREFIX = "lti_state_"
STORAGE_TIMEOUT_MS = 2000
LIST_VIDEOS = "/media.upload.v1.UploadService/ListVideos"
LIST_LIVE_SESSIONS = "/media.attendance.v1.AttendanceService/ListLiveSessions"
PICKABLE_SESSIONS = frozenset({attendance_pb2.LIVE_SESSION_STATUS_SCHEDULED, attendance_pb2.LIVE_SESSION_STATUS_LIVE})
LOGIN_FIELDS = ("iss", "login_hint", "target_link_uri", "lti_message_hint", "client_id", "lti_deployment_id")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


# ---- page rendering -------------------------------------------------------------------------------


def _browser_catalogue(request: web.Request) -> Catalogue:
    """Before a launch says its locale, the browser's Accept-Language chooses."""
    return pages_of(request).catalogues.for_accept_language(request.headers.get("Accept-Language"))


def _reason(error: EdgeError) -> str:
    for detail in error.details:
        if isinstance(detail, dict) and detail.get("reason"):
            return str(detail["reason"])
    return error.code.name


def error_page(error: EdgeError, request: web.Request) -> web.Response:
    """A refusal as a page an administrator can act on: what failed, why, and the request id."""
    catalogue = _browser_catalogue(request)
    title = catalogue.t("error.title_launch" if error.http_status < 500 else "error.title_service")
    context = {
        "title": title,
        "message": error.message,
        "reason": _reason(error),
        "http_status": error.http_status,
        "request_id": request.get(REQUEST_ID, ""),
    }
    return render(request, "error.html", context, catalogue=catalogue, status=error.http_status)


def _refusal(message: str, reason: str) -> EdgeError:
    return from_service_error(kit_errors.InvalidArgument(message, reason=reason), token_sent=False)


async def _fields(request: web.Request) -> Mapping[str, str]:
    """Query (GET) or form (POST) parameters as plain strings; files are ignored."""
    if request.method == "GET":
        return {k: v for k, v in request.query.items()}
    if request.content_type not in FORM_TYPES:
        raise _refusal(
            f"the request body must be a form post (application/x-www-form-urlencoded), not {request.content_type!r}",
            "NOT_A_FORM_POST",
        )
    try:
        form = await request.post()
    except ValueError as exc:  # aiohttp's multipart reader on a truncated or unparseable body
        raise _refusal(f"the form post could not be read: {exc}", "MALFORMED_FORM_POST") from None
    except HttpProcessingError:  # a multipart part whose headers do not parse (found by schemathesis: was a 500)
        raise _refusal(
            "the form post could not be read: a part's headers are malformed", "MALFORMED_FORM_POST"
        ) from None
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _cookie_secure(request: web.Request) -> bool:
    return urlsplit(request.app[SETTINGS].public_base_url).scheme == "https"


# ---- login ----------------------------------------------------------------------------------------


async def lti_login(request: web.Request) -> web.StreamResponse:
    """OIDC third-party login initiation → the platform's authorization endpoint."""
    try:
        params = await _fields(request)
        message = lti_pb2.StartOidcLoginRequest(
            **{name: params.get(name, "") for name in LOGIN_FIELDS},
            lti_storage_target=params.get("lti_storage_target", ""),
        )
        reply = await call_unary(request, operation_of(request), message, outgoing_metadata(request))
    except EdgeError as error:
        return error_page(error, request)
    except kit_errors.ServiceError as error:
        return error_page(from_service_error(error, token_sent=False), request)
    assert isinstance(reply, lti_pb2.StartOidcLoginResponse)
    storage_target = params.get("lti_storage_target", "")
    if storage_target:
        response: web.StreamResponse = _storage_login_page(request, reply, storage_target)
    else:
        response = web.HTTPFound(reply.redirect_url, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        STATE_COOKIE_PREFIX + reply.state,
        "1",
        max_age=600,
        path=LAUNCH_ROUTE,
        httponly=True,
        secure=_cookie_secure(request),
        samesite="None" if _cookie_secure(request) else "Lax",
    )
    return response


def _storage_login_page(
    request: web.Request, reply: lti_pb2.StartOidcLoginResponse, storage_target: str
) -> web.Response:
    """Store the state in the platform's frame (lti.put_data), then go to the platform's authorization URL.

    The page's script (``web/src/login.js``) sends the message to the platform's origin only
    (the authorization URL's), never "*". Should the platform not answer within
    ``timeout_ms``, the browser goes on anyway: the launch page falls back.
    """
    parts = urlsplit(reply.redirect_url)
    storage = {
        "target": storage_target,
        "origin": f"{parts.scheme}://{parts.netloc}",
        "key": f"state_{reply.state}",
        "value": reply.state,
        "next": reply.redirect_url,
        "timeout_ms": STORAGE_TIMEOUT_MS,
    }
    return render(
        request,
        "lti/login_storage.html",
        {"storage": storage, "next_url": reply.redirect_url},
        catalogue=_browser_catalogue(request),
    )


# ---- launch ---------------------------------------------------------------------------------------


async def lti_launch(request: web.Request) -> web.StreamResponse:
    """The platform's form post after login → the tool's page for this user and course."""
    try:
        fields = await _fields(request)
        if fields.get("error"):
            raise _refusal(
                f"the platform refused the login: {fields.get('error')} {fields.get('error_description', '')}".strip(),
                "PLATFORM_LOGIN_ERROR",
            )
        message = lti_pb2.CompleteBrowserLaunchRequest(
            id_token=fields.get("id_token", ""), state=fields.get("state", "")
        )
        reply = await call_unary(request, operation_of(request), message, outgoing_metadata(request))
    except EdgeError as error:
        return error_page(error, request)
    except kit_errors.ServiceError as error:
        return error_page(from_service_error(error, token_sent=False), request)
    assert isinstance(reply, lti_pb2.CompleteBrowserLaunchResponse)
    state = fields["state"]
    cookie_bound = request.cookies.get(STATE_COOKIE_PREFIX + state) == "1"
    launch = reply.launch
    context = _tool_context(launch)
    if launch.message_type == lti_pb2.LTI_MESSAGE_TYPE_DEEP_LINKING:
        settings = launch.deep_linking_settings
        context.update(
            view="picker",
            action=DEEP_LINKING_ROUTE,
            launch_id=launch.launch_id,
            session_token=reply.session_token,
            videos=await _ready_videos(request, reply.session_token, launch.course.course_id),
            live_sessions=await _open_live_sessions(request, reply.session_token, launch.course.course_id),
            default_title=settings.title,
            accept_multiple=settings.accept_multiple,
            return_url=settings.deep_link_return_url,
        )
        # The picker's script posts the signed response to the platform itself.
        form_action = " ".join(("'self'", *_origins(settings.deep_link_return_url)))
    else:
        context["view"] = _resource_view(launch.custom)
        form_action = "'none'"
    context["verified"] = "yes" if cookie_bound or not reply.lti_storage_target else "pending"
    context["session"] = {
        "session_token": reply.session_token,
        "expires_at": reply.expires_at.ToJsonString(),
        "user_id": launch.user.user_id,
        "organization_id": launch.organization_id,
        "config_id": launch.config_id,
        "course_id": launch.course.course_id,
        "roles": list(launch.roles),
        "custom": dict(launch.custom),
        "locale": launch.locale,
    }
    context["check"] = {
        "bound": cookie_bound,
        "target": reply.lti_storage_target,
        "origin": reply.platform_origin,
        "key": f"state_{state}",
        "state": state,
        "relaunch": reply.relaunch_url,
        "timeout_ms": STORAGE_TIMEOUT_MS,
    }
    catalogue = pages_of(request).catalogues.for_locale(launch.locale)
    if not launch.roles:
        context["roles_text"] = catalogue.t("launch.no_role")
    player_origins = player_connect_origins(request.app[SETTINGS], request.app[PLAYBACK_SETTINGS])
    uploads = context["view"] == "library" and context["staff"]
    connect_origins = tuple(dict.fromkeys((*_upload_origins(request), *player_origins))) if uploads else player_origins
    response = render(
        request,
        "lti/tool.html",
        context,
        catalogue=catalogue,
        policy=Policy(
            form_action=form_action,
            frame_ancestors=reply.platform_origin or "*",
            connect_origins=connect_origins,
            media_src=PLAYER_MEDIA_SRC,
            img_origins=_upload_origins(request),
        ),
    )
    response.del_cookie(STATE_COOKIE_PREFIX + state, path=LAUNCH_ROUTE)
    return response


def _resource_view(custom: Mapping[str, str]) -> str:
    """What a resource link opens: the video or live session its placement names, else the library."""
    if custom.get("video_id"):
        return "video"
    if custom.get("live_session_id"):
        return "live"
    return "library"


def _upload_origins(request: web.Request) -> tuple[str, ...]:
    """The object store's public origin: course staff's library page uploads to it directly, posters load from it."""
    settings = request.app[SETTINGS]
    return _origins(settings.s3_public_endpoint_url or settings.s3_endpoint_url or "")


def _origins(url: str) -> tuple[str, ...]:
    """``(scheme://host[:port],)`` of ``url``, or nothing for an empty or relative one."""
    parts = urlsplit(url)
    return (f"{parts.scheme}://{parts.netloc}",) if parts.scheme and parts.netloc else ()


def _tool_context(launch: lti_pb2.LtiLaunch) -> dict[str, Any]:
    """Who is signed in, in which course, and whether the course's management controls are theirs to see.

    ``staff`` only decides what the page shows: every service refuses a learner's
    management calls on its own, whatever a page offers.
    """
    user = launch.user
    course = launch.course
    return {
        "course_name": course.title or course.course_id,
        "course_label": course.label,
        "user_name": user.name or " ".join(p for p in (user.given_name, user.family_name) if p) or user.user_id,
        "email": user.email,
        "roles_text": ", ".join(launch.roles),
        "custom": dict(launch.custom),
        "staff": bool(COURSE_STAFF_ROLES & set(launch.roles)),
    }


async def _picker_call(request: web.Request, token: str, path: str, message: Any) -> Any | None:
    """One listing for the picker, as the instructor; None when that service cannot answer now."""
    metadata = ((REQUEST_ID_HEADER, request[REQUEST_ID]), (AUTHORIZATION_METADATA_KEY, f"Bearer {token}"))
    try:
        call = request.app[BACKENDS].unary(path)
        return await call(message, timeout=request.app[SETTINGS].backend_timeout_seconds, metadata=metadata)
    except (grpc.aio.AioRpcError, KeyError):
        log.warning("listing unavailable for the picker", extra={"rpc": path})
        return None


async def _ready_videos(request: web.Request, token: str, course_id: str) -> list[dict[str, Any]] | None:
    """The course's ready videos for the picker, newest first; None when the catalog cannot answer.

    Each is ``{video_id, title, poster_url, duration_seconds, created_at}`` (an RFC 3339 time);
    the page's script writes the duration and date in the viewer's locale and time zone.
    """
    reply = await _picker_call(
        request, token, LIST_VIDEOS, upload_pb2.ListVideosRequest(course_id=course_id, page_size=100)
    )
    if reply is None:
        return None
    assert isinstance(reply, upload_pb2.ListVideosResponse)
    return [
        {
            "video_id": v.video_id,
            "title": v.title,
            "poster_url": v.poster_url,
            "duration_seconds": round(v.probe.duration_seconds),
            "created_at": v.created_at.ToJsonString() if v.HasField("created_at") else "",
        }
        for v in reply.videos
        if v.status == upload_pb2.VIDEO_STATUS_READY
    ]


async def _open_live_sessions(request: web.Request, token: str, course_id: str) -> list[dict[str, Any]] | None:
    """The course's scheduled and running live sessions, by start; None when attendance cannot answer.

    Each is ``{session_id, session_name, scheduled_start, live}``; a session already over
    or cancelled is no use to place in a course.
    """
    reply = await _picker_call(
        request,
        token,
        LIST_LIVE_SESSIONS,
        attendance_pb2.ListLiveSessionsRequest(course_id=course_id, page_size=100),
    )
    if reply is None:
        return None
    assert isinstance(reply, attendance_pb2.ListLiveSessionsResponse)
    return [
        {
            "session_id": s.session_id,
            "session_name": s.session_name,
            "scheduled_start": s.scheduled_start.ToJsonString() if s.HasField("scheduled_start") else "",
            "live": s.status == attendance_pb2.LIVE_SESSION_STATUS_LIVE,
        }
        for s in reply.sessions
        if s.status in PICKABLE_SESSIONS
    ]


# ---- deep linking ---------------------------------------------------------------------------------


async def deep_linking_response(request: web.Request) -> web.StreamResponse:
    """Form post from the picker → the signed response, auto-posted to the platform; JSON stays the API."""
    if request.content_type not in FORM_TYPES:
        return await handle_operation(request)
    try:
        fields = await _fields(request)
        token = fields.get("session_token", "")
        if not token:
            raise _refusal("the picker form has no session: open the picker again from the course", "NO_SESSION")
        verify_session_token(token, request.app[SETTINGS].jwt_secret_key)
        items = picked_items(fields, (await request.post()).getall("pick", []))
        metadata = ((REQUEST_ID_HEADER, request[REQUEST_ID]), (AUTHORIZATION_METADATA_KEY, f"Bearer {token}"))
        reply = await call_unary(
            request,
            operation_of(request),
            lti_pb2.CreateDeepLinkingResponseRequest(launch_id=fields.get("launch_id", ""), items=items),
            metadata,
        )
    except EdgeError as error:
        return error_page(error, request)
    except kit_errors.ServiceError as error:
        return error_page(from_service_error(error, token_sent=True), request)
    assert isinstance(reply, lti_pb2.CreateDeepLinkingResponseResponse)
    return auto_post_page(request, reply.return_url, reply.jwt)


def picked_items(fields: Mapping[str, str], picks: list[Any]) -> list[lti_pb2.DeepLinkingItem]:
    """The picker form's choices as deep-linking items, in the order the form lists them.

    ``pick`` is repeated when the platform accepts several items: ``video:<id>`` or
    ``live:<id>`` (or ``live`` with the field ``live_session_id``, a session named by
    hand). Each item's title is its own field ``title.<pick>``, else the form's ``title``.
    lti_svc decides whether the platform accepts that many items of that type.
    """
    items = []
    for pick in dict.fromkeys(str(p) for p in picks if isinstance(p, str) and p):
        title = fields.get(f"title.{pick}", "").strip() or fields.get("title", "").strip()
        item = lti_pb2.DeepLinkingItem(type=lti_pb2.DEEP_LINKING_ITEM_TYPE_LTI_RESOURCE_LINK, title=title)
        kind, _, ident = pick.partition(":")
        if kind == "live" and not ident:
            ident = fields.get("live_session_id", "").strip()
        if kind == "video" and ident:
            item.video_id = ident
        elif kind == "live" and ident:
            item.live_session_id = ident
        else:
            continue
        items.append(item)
    if not items:
        raise _refusal("pick a ready video or a live session to add to the course", "NOTHING_PICKED")
    return items


def auto_post_page(request: web.Request, return_url: str, signed: str) -> web.Response:
    """An HTML form with the single field JWT, submitted at once to the platform's deep_link_return_url."""
    parts = urlsplit(return_url)
    return render(
        request,
        "lti/auto_post.html",
        {"return_url": return_url, "signed": signed},
        catalogue=_browser_catalogue(request),
        policy=Policy(form_action=f"{parts.scheme}://{parts.netloc}"),
    )


# ---- dynamic registration -------------------------------------------------------------------------


async def dynamic_registration(request: web.Request) -> web.StreamResponse:
    """LTI Dynamic Registration → a page that reports it and closes the LMS's registration window."""
    query = request.query
    try:
        if not query.get("openid_configuration"):
            raise _refusal(
                "openid_configuration is missing: paste this URL into the LMS's tool registration, which adds it",
                "NO_OPENID_CONFIGURATION",
            )
        message = lti_pb2.RegisterPlatformRequest(
            openid_configuration=query.get("openid_configuration", ""),
            registration_token=query.get("registration_token", ""),
            invitation=query.get("invitation", ""),
            organization_id=query.get("organization_id", ""),
        )
        reply = await call_unary(request, operation_of(request), message, outgoing_metadata(request))
    except EdgeError as error:
        return error_page(error, request)
    except kit_errors.ServiceError as error:
        return error_page(from_service_error(error, token_sent="Authorization" in request.headers), request)
    assert isinstance(reply, lti_pb2.RegisterPlatformResponse)
    context = {
        "platform_name": reply.platform_name,
        "client_id": reply.config.client_id,
        "deployment_id": reply.deployment_id,
    }
    return render(request, "lti/registered.html", context, catalogue=_browser_catalogue(request))


_LOGIN_INPUT = (*LOGIN_FIELDS, "lti_storage_target")
_LOGIN_ANSWERS = {
    "302": {
        "description": "To the platform's authorization endpoint (OIDC), with the state cookie set.",
        "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
    },
    "200": page("With lti_storage_target: a page that keeps the state in the platform's storage, then goes on."),
    "default": ERROR_PAGE,
}
LOGIN_GET_OPENAPI = {
    "security": [],
    "parameters": query_strings(_LOGIN_INPUT, ("iss", "login_hint", "target_link_uri")),
    "responses": _LOGIN_ANSWERS,
}
LOGIN_POST_OPENAPI = {
    "security": [],
    "requestBody": form_body(_LOGIN_INPUT, ("iss", "login_hint", "target_link_uri")),
    "responses": _LOGIN_ANSWERS,
}
LAUNCH_OPENAPI = {
    "security": [],
    "requestBody": form_body(("id_token", "state", "error", "error_description"), ("state",)),
    "responses": {
        "200": page("The tool's page for this user and course (or the deep-linking picker)."),
        "default": ERROR_PAGE,
    },
}
_PICKER_FIELDS: dict[str, Any] = {
    "type": "object",
    "required": ["session_token", "pick"],
    "properties": {
        **string_fields(("session_token", "launch_id", "title", "live_session_id"))["properties"],
        "pick": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Repeated: `video:<id>`, `live:<id>`, or `live` with live_session_id.",
        },
    },
    "additionalProperties": {"type": "string", "description": "`title.<pick>`: that item's own title."},
}
_PICKER_FORM = {
    "application/x-www-form-urlencoded": {"schema": _PICKER_FIELDS},
    "multipart/form-data": {"schema": _PICKER_FIELDS},
}
DEEP_LINKING_OPENAPI = {
    "requestBody": {
        "required": True,
        "description": "JSON (the API, answered with JSON), or the picker's form post (answered with a page).",
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/media.lti.v1.CreateDeepLinkingResponseRequest"}
            },
            **_PICKER_FORM,
        },
    },
    "responses": {
        "200": {
            "description": "JSON: the signed response; form post: a page that posts it to the platform at once.",
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/media.lti.v1.CreateDeepLinkingResponseResponse"}
                },
                **HTML_PAGE,
            },
        },
        "default": {
            "description": "An error with its HTTP status: JSON for the API; for the form post, a page saying what "
            "failed, why, and the request id.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}, **HTML_PAGE},
        },
    },
}
REGISTER_OPENAPI = {
    "security": [],
    "parameters": query_strings(
        ("openid_configuration", "registration_token", "invitation", "organization_id"), ("openid_configuration",)
    ),
    "responses": {
        "200": page("Registered: a page that tells the platform to close the dialog."),
        "default": ERROR_PAGE,
    },
}


def lti_overrides() -> dict[tuple[str, str], Handler]:
    """The hand-written LTI routes, for ``edge.app.default_overrides``."""
    return {
        ("GET", LOGIN_ROUTE): Documented(lti_login, LOGIN_GET_OPENAPI),
        ("POST", LOGIN_ROUTE): Documented(lti_login, LOGIN_POST_OPENAPI),
        ("POST", LAUNCH_ROUTE): Documented(lti_launch, LAUNCH_OPENAPI),
        ("POST", DEEP_LINKING_ROUTE): Documented(deep_linking_response, DEEP_LINKING_OPENAPI),
        ("GET", REGISTER_ROUTE): Documented(dynamic_registration, REGISTER_OPENAPI),
    }
