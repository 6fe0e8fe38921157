"""The LTI routes a JSON body cannot carry: browser redirects, form posts and small pages.

- ``GET|POST /lti/login``: the platform's third-party login initiation. lti_svc keeps
  state and nonce in Redis (single use); the answer is a 302 to the platform, or, when
  the platform offers LTI client-side postMessage storage (``lti_storage_target``), a
  page that stores the state in the platform's frame (``lti.put_data``) and then goes on.
- ``POST /lti/launch``: the platform's form post (id_token, state). lti_svc checks
  everything; the answer is the tool's page for that user and course, with the session
  token embedded for the page's scripts (never in a URL, never a cookie, so it works in
  an iframe where third-party cookies are blocked). Deep-linking launches get the picker.
- ``POST /api/v1/lti/deep-linking/responses`` as a form (from the picker): the signed
  LtiDeepLinkingResponse, auto-posted as the field ``JWT`` to the platform's return URL.
  As JSON it stays the generic API call.
- ``GET /lti/register``: LTI Dynamic Registration; the page reports the outcome and
  posts ``{subject: "org.imsglobal.lti.close"}`` to the LMS window that opened it.

Proving the browser that finishes a launch is the one that started it (login CSRF):
the state cookie when the browser keeps it; otherwise the platform's postMessage
storage, checked by the launch page before it uses the session; otherwise the page
offers to start again in a new window, where first-party cookies work. The server
side never depends on the cookie: state and nonce are checked in Redis either way.

Every page escapes every value (html.escape), carries a Content-Security-Policy with a
per-response script nonce, and every refusal is a readable page with a 4xx status.
"""

from __future__ import annotations

import html
import json
import logging
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import grpc
from aiohttp import web

from edge.errors import EdgeError, from_service_error
from edge.gateway import call_unary, handle_operation, operation_of, outgoing_metadata
from edge.keys import BACKENDS, REQUEST_ID, SETTINGS
from edge.operations import Handler
from media.lti.v1 import lti_pb2
from media.upload.v1 import upload_pb2
from service_kit import errors as kit_errors
from service_kit.auth import AUTHORIZATION_METADATA_KEY, verify_session_token
from service_kit.context import REQUEST_ID_HEADER

log = logging.getLogger("edge.lti")

LOGIN_ROUTE = "/lti/login"
LAUNCH_ROUTE = "/lti/launch"
DEEP_LINKING_ROUTE = "/api/v1/lti/deep-linking/responses"
REGISTER_ROUTE = "/lti/register"
STATE_COOKIE_PREFIX = "lti_state_"
STORAGE_TIMEOUT_MS = 2000
LIST_VIDEOS = "/media.upload.v1.UploadService/ListVideos"
LOGIN_FIELDS = ("iss", "login_hint", "target_link_uri", "lti_message_hint", "client_id", "lti_deployment_id")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

_STYLE = """
body{font:16px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:44rem;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.4rem}.muted{color:#555}.box{border:1px solid #ccc;border-radius:6px;padding:1rem;margin:1rem 0}
.error{border-color:#b00020;background:#fff5f5}button{font-size:1rem;padding:.4rem 1rem}
label{display:block;margin:.3rem 0}
"""


# ---- page rendering -------------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element: no '<' can close it early."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page(
    title: str,
    body: str,
    *,
    status: int = 200,
    script: str = "",
    nonce: str | None = None,
    form_action: str = "'self'",
    frame_ancestors: str = "*",
) -> web.Response:
    """A small HTML page with a strict CSP: only this response's own script and style run."""
    nonce = nonce or secrets.token_urlsafe(16)
    csp = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; img-src 'self' data:;"
        f" connect-src 'self'; form-action {form_action}; base-uri 'none'; frame-ancestors {frame_ancestors}"
    )
    script_tag = f'<script nonce="{nonce}">{script}</script>' if script else ""
    text = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<style nonce="{nonce}">{_STYLE}</style></head><body>{body}{script_tag}</body></html>'
    )
    return web.Response(
        status=status,
        text=text,
        content_type="text/html",
        headers={
            "Content-Security-Policy": csp,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _reason(error: EdgeError) -> str:
    for detail in error.details:
        if isinstance(detail, dict) and detail.get("reason"):
            return str(detail["reason"])
    return error.code.name


def error_page(error: EdgeError, request: web.Request) -> web.Response:
    """A refusal as a page an administrator can act on: what failed, why, and the request id."""
    title = "The LMS launch could not be completed" if error.http_status < 500 else "The media service failed"
    body = (
        f'<h1>{_e(title)}</h1><div class="box error"><p>{_e(error.message)}</p>'
        f'<p class="muted">Reason: <code>{_e(_reason(error))}</code> · HTTP {error.http_status} · request id'
        f" <code>{_e(request.get(REQUEST_ID, ''))}</code></p></div>"
        "<p>If you are a student, tell your instructor; an LMS administrator can fix the registration.</p>"
    )
    return page(title, body, status=error.http_status)


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
    form = await request.post()
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
        response: web.StreamResponse = _storage_login_page(reply, storage_target)
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


def _storage_login_page(reply: lti_pb2.StartOidcLoginResponse, storage_target: str) -> web.Response:
    """Store the state in the platform's frame (lti.put_data), then go to the platform's authorization URL.

    The message goes to the platform's origin only (the authorization URL's), never "*".
    Should the platform not answer, the browser goes on anyway: the launch page falls back.
    """
    origin = f"{urlsplit(reply.redirect_url).scheme}://{urlsplit(reply.redirect_url).netloc}"
    data = {"target": storage_target, "origin": origin, "key": f"state_{reply.state}", "value": reply.state}
    script = f"""
const cfg = {_script_json(data)}, next = {_script_json(reply.redirect_url)};
const frame = cfg.target === "_parent" ? window.parent : (window.parent.frames[cfg.target] || window.parent);
const id = "put-" + Math.random().toString(36).slice(2);
let done = false;
function go() {{ if (!done) {{ done = true; window.location.replace(next); }} }}
window.addEventListener("message", (event) => {{
  if (event.origin === cfg.origin && event.data && event.data.message_id === id
      && event.data.subject === "lti.put_data.response") go();
}});
try {{
  frame.postMessage({{subject: "lti.put_data", message_id: id, key: cfg.key, value: cfg.value}}, cfg.origin);
}} catch (e) {{ go(); }}
setTimeout(go, {STORAGE_TIMEOUT_MS});
"""
    body = (
        '<h1>Signing you in…</h1><p class="muted">Handing over to your learning platform.</p>'
        f'<noscript><p><a href="{_e(reply.redirect_url)}">Continue</a></p></noscript>'
    )
    return page("Signing in", body, script=script)


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
    if launch.message_type == lti_pb2.LTI_MESSAGE_TYPE_DEEP_LINKING:
        videos = await _ready_videos(request, reply.session_token, launch.course.course_id)
        content = _picker(launch, reply.session_token, videos)
        form_action = "'self'"
    else:
        content = _resource_view(launch)
        form_action = "'none'"
    session = {
        "session_token": reply.session_token,
        "expires_at": reply.expires_at.ToJsonString(),
        "user_id": launch.user.user_id,
        "organization_id": launch.organization_id,
        "course_id": launch.course.course_id,
        "roles": list(launch.roles),
        "custom": dict(launch.custom),
    }
    check = {
        "bound": cookie_bound,
        "target": reply.lti_storage_target,
        "origin": reply.platform_origin,
        "key": f"state_{state}",
        "state": state,
        "relaunch": reply.relaunch_url,
    }
    body = (
        f'<main id="tool" data-verified="{"yes" if cookie_bound or not reply.lti_storage_target else "pending"}">'
        f"{content}</main>"
        '<div id="fallback" class="box error" hidden><p>Your browser blocks what this page needs inside the'
        ' course. <button id="relaunch" type="button">Open in a new window</button></p></div>'
        f'<script type="application/json" id="lti-session">{_script_json(session)}</script>'
    )
    script = f"""
const check = {_script_json(check)};
const main = document.getElementById("tool");
function fallback() {{
  main.hidden = true; main.dataset.verified = "no";
  document.getElementById("fallback").hidden = false;
  document.getElementById("relaunch").onclick = () => window.open(check.relaunch, "_blank", "noopener");
}}
if (main.dataset.verified === "pending") {{
  const frame = check.target === "_parent" ? window.parent : (window.parent.frames[check.target] || window.parent);
  const id = "get-" + Math.random().toString(36).slice(2);
  const timer = setTimeout(fallback, {STORAGE_TIMEOUT_MS});
  window.addEventListener("message", (event) => {{
    if (event.origin !== check.origin || !event.data || event.data.message_id !== id) return;
    clearTimeout(timer);
    const ok = event.data.subject === "lti.get_data.response" && event.data.value === check.state;
    if (ok) main.dataset.verified = "yes"; else fallback();
  }});
  try {{ frame.postMessage({{subject: "lti.get_data", message_id: id, key: check.key}}, check.origin); }}
  catch (e) {{ clearTimeout(timer); fallback(); }}
}}
"""
    response = page(
        launch.course.title or "Course media",
        body,
        script=script,
        form_action=form_action,
        frame_ancestors=reply.platform_origin or "*",
    )
    response.del_cookie(STATE_COOKIE_PREFIX + state, path=LAUNCH_ROUTE)
    return response


def _identity(launch: lti_pb2.LtiLaunch) -> str:
    user = launch.user
    name = user.name or " ".join(p for p in (user.given_name, user.family_name) if p) or user.user_id
    course = launch.course
    course_name = course.title or course.course_id
    label = f" ({course.label})" if course.label else ""
    roles = ", ".join(launch.roles) or "no course role"
    return (
        f'<h1>{_e(course_name)}{_e(label)}</h1><p>Signed in as <strong id="user-name">{_e(name)}</strong>'
        f'{" · " + _e(user.email) if user.email else ""} · <span id="roles">{_e(roles)}</span></p>'
    )


def _resource_view(launch: lti_pb2.LtiLaunch) -> str:
    custom = launch.custom
    if custom.get("video_id"):
        what = f'<p>Video <code id="video-id">{_e(custom["video_id"])}</code> opens here.</p>'
    elif custom.get("live_session_id"):
        what = f'<p>Live session <code id="live-session-id">{_e(custom["live_session_id"])}</code> joins here.</p>'
    else:
        what = "<p>The course's lecture videos and live sessions.</p>"
    return _identity(launch) + f'<div class="box">{what}</div>'


async def _ready_videos(request: web.Request, token: str, course_id: str) -> list[tuple[str, str]]:
    """The course's ready videos for the picker; an unavailable catalog shows none rather than failing the launch."""
    metadata = ((REQUEST_ID_HEADER, request[REQUEST_ID]), (AUTHORIZATION_METADATA_KEY, f"Bearer {token}"))
    try:
        call = request.app[BACKENDS].unary(LIST_VIDEOS)
        reply = await call(
            upload_pb2.ListVideosRequest(course_id=course_id, page_size=100),
            timeout=request.app[SETTINGS].backend_timeout_seconds,
            metadata=metadata,
        )
    except (grpc.aio.AioRpcError, KeyError):
        log.warning("video catalog unavailable for the picker")
        return []
    assert isinstance(reply, upload_pb2.ListVideosResponse)
    return [(v.video_id, v.title) for v in reply.videos if v.status == upload_pb2.VIDEO_STATUS_READY]


def _picker(launch: lti_pb2.LtiLaunch, token: str, videos: list[tuple[str, str]]) -> str:
    """The instructor picks a ready video or a live session; the form posts back to the edge."""
    options = (
        "".join(
            f'<label><input type="radio" name="pick" value="video:{_e(vid)}"> {_e(title or vid)}</label>'
            for vid, title in videos
        )
        or '<p class="muted">No ready videos in this course yet.</p>'
    )
    settings = launch.deep_linking_settings
    return (
        _identity(launch) + f'<form method="post" action="{DEEP_LINKING_ROUTE}" class="box"><h2>Add to the course</h2>'
        f'<input type="hidden" name="launch_id" value="{_e(launch.launch_id)}">'
        f'<input type="hidden" name="session_token" value="{_e(token)}">'
        f"<fieldset><legend>A ready video</legend>{options}</fieldset>"
        '<fieldset><legend>Or a live session</legend><label><input type="radio" name="pick" value="live">'
        ' Live session id <input name="live_session_id" autocomplete="off"></label></fieldset>'
        f'<label>Title <input name="title" value="{_e(settings.title)}"></label>'
        '<button type="submit">Add</button></form>'
    )


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
        pick = fields.get("pick", "")
        item = lti_pb2.DeepLinkingItem(
            type=lti_pb2.DEEP_LINKING_ITEM_TYPE_LTI_RESOURCE_LINK, title=fields.get("title", "")
        )
        if pick.startswith("video:"):
            item.video_id = pick.removeprefix("video:")
        elif pick == "live" and fields.get("live_session_id", "").strip():
            item.live_session_id = fields["live_session_id"].strip()
        else:
            raise _refusal("pick a ready video, or a live session with its id", "NOTHING_PICKED")
        metadata = ((REQUEST_ID_HEADER, request[REQUEST_ID]), (AUTHORIZATION_METADATA_KEY, f"Bearer {token}"))
        reply = await call_unary(
            request,
            operation_of(request),
            lti_pb2.CreateDeepLinkingResponseRequest(launch_id=fields.get("launch_id", ""), items=[item]),
            metadata,
        )
    except EdgeError as error:
        return error_page(error, request)
    except kit_errors.ServiceError as error:
        return error_page(from_service_error(error, token_sent=True), request)
    assert isinstance(reply, lti_pb2.CreateDeepLinkingResponseResponse)
    return auto_post_page(reply.return_url, reply.jwt)


def auto_post_page(return_url: str, signed: str) -> web.Response:
    """An HTML form with the single field JWT, submitted at once to the platform's deep_link_return_url."""
    parts = urlsplit(return_url)
    body = (
        "<h1>Adding to your course…</h1>"
        f'<form id="return" method="post" action="{_e(return_url)}">'
        f'<input type="hidden" name="JWT" value="{_e(signed)}">'
        '<noscript><button type="submit">Continue to the course</button></noscript></form>'
    )
    return page(
        "Adding to your course",
        body,
        script='document.getElementById("return").submit();',
        form_action=f"{parts.scheme}://{parts.netloc}",
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
    deployment = f" Deployment <code>{_e(reply.deployment_id)}</code>." if reply.deployment_id else ""
    body = (
        f"<h1>Registered with {_e(reply.platform_name)}</h1>"
        f'<div class="box"><p>Client id <code id="client-id">{_e(reply.config.client_id)}</code>.{deployment}</p>'
        "<p>You can close this window.</p></div>"
    )
    script = '(window.opener || window.parent).postMessage({subject: "org.imsglobal.lti.close"}, "*");'
    return page("Tool registered", body, script=script)


def lti_overrides() -> dict[tuple[str, str], Handler]:
    """The hand-written LTI routes, for ``edge.app.default_overrides``."""
    return {
        ("GET", LOGIN_ROUTE): lti_login,
        ("POST", LOGIN_ROUTE): lti_login,
        ("POST", LAUNCH_ROUTE): lti_launch,
        ("POST", DEEP_LINKING_ROUTE): deep_linking_response,
        ("GET", REGISTER_ROUTE): dynamic_registration,
    }
