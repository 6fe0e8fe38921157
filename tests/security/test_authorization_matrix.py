"""Every route of the edge, for a learner, an instructor and an administrator, in the same course, another
course of the organization and another organization.

The route list comes from the edge itself (the router ``create_app`` builds from the
protos' http rules, the operational routes and the pages' routes), so a route added to
a proto without a policy here fails ``test_every_route_of_the_edge_has_a_policy``.
Policies and the answer each gives are in tests/security/policies.py.

The resources (a video with its upload, transcode job and HLS files, an LTI registration
with Zoom credentials, a live session, a gradebook line item) belong to the "owner"
course; each cell calls the route with their ids, as a caller of that role and place.
The other organization's callers sit in a course with the owner course's id, so a check
that forgot the organization would let them through. Routes that destroy their resource
get a fresh one per cell.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import psycopg
import pytest

from edge.app import build_router, default_backend_services, default_overrides
from edge.operations import compile_operations
from service_kit.auth import issue_session_token
from service_kit.object_store import s3_client
from tests.security.conftest import SecurityStack
from tests.security.policies import Outcome, Place, Policy, Role, classify, expected
from web.assets import Assets

RouteKey = tuple[str, str]
World = dict[str, str]
Body = Callable[[World], Any]

P = Policy
HIDDEN = Outcome.HIDDEN
FORBIDDEN = Outcome.FORBIDDEN


@dataclass(frozen=True)
class Case:
    """How to call one route: its policy, query string, body, and what it destroys."""

    policy: Policy
    query: str = ""
    body: Body | None = None
    form: bool = False
    """Send the body as an HTML form post (LTI), not JSON."""
    fresh: str | None = None
    """The kind of resource the call destroys: each cell gets a new one (upload, video, config, session)."""
    other_course: Outcome | None = None
    """How a non-administrator of another course is refused, where it differs from the policy's default."""
    platform: bool = False
    """Allowed callers reach out to the LMS, which does not exist here: its 502/503 counts as allowed."""


def _registration_body(world: World) -> dict[str, Any]:
    platform = f"https://lms-{uuid.uuid4().hex[:8]}.example.edu"
    return {
        "issuer": platform,
        "client_id": f"client-{uuid.uuid4().hex[:8]}",
        "deployment_ids": ["d-1"],
        "key_set_url": f"{platform}/jwks",
        "auth_login_url": f"{platform}/auth",
        "auth_token_url": f"{platform}/token",
        "zoom_account_id": f"acct-{uuid.uuid4().hex[:6]}",
        "zoom_api_key": f"zoom-client-{uuid.uuid4().hex[:6]}",
        "zoom_api_secret": "zoom-secret-" + uuid.uuid4().hex,
    }


def _live_session_body(world: World) -> dict[str, Any]:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    return {
        "session_name": "Week 3: recursion",
        "scheduled_start": start.isoformat().replace("+00:00", "Z"),
        "scheduled_end": (start + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
        "zoom_host_id": "host@example.edu",
        "lti_config_id": world["config_id"],
        "course_id": world["course_id"],
    }


def _login_params(world: World) -> dict[str, str]:
    return {
        "iss": world["issuer"],
        "login_hint": "user-1",
        "target_link_uri": world["edge_url"] + "/lti/launch",
        "client_id": world["client_id"],
    }


ROUTE_POLICIES: dict[RouteKey, Case] = {
    # Operational and pages' assets.
    ("GET", "/health"): Case(P.OPERATIONAL),
    ("GET", "/metrics"): Case(P.OPERATIONAL),
    ("GET", "/openapi.json"): Case(P.OPERATIONAL),
    ("GET", "/static/{name}"): Case(P.OPERATIONAL),
    # Uploads and the video catalog (upload_svc).
    ("POST", "/api/v1/media/presigned-upload"): Case(
        P.NAMED_COURSE_STAFF,
        body=lambda w: {
            "filename": "a.mp4",
            "content_type": "video/mp4",
            "file_size": "1000",
            "course_id": w["course_id"],
        },
    ),
    ("POST", "/api/v1/media/uploads/{upload_id}/parts"): Case(P.COURSE_STAFF, body=lambda w: {"part_numbers": [1]}),
    ("GET", "/api/v1/media/uploads/{upload_id}/parts"): Case(P.COURSE_STAFF),
    ("POST", "/api/v1/media/uploads/{upload_id}/complete"): Case(P.COURSE_STAFF, body=lambda w: {}),
    ("DELETE", "/api/v1/media/uploads/{upload_id}"): Case(P.COURSE_STAFF, fresh="upload"),
    ("GET", "/api/v1/media/uploads/{upload_id}"): Case(P.COURSE_STAFF),
    ("GET", "/api/v1/media/uploads/{upload_id}/events"): Case(P.COURSE_STAFF),
    ("GET", "/api/v1/media/videos"): Case(P.NAMED_COURSE_MEMBER, query="course_id={course_id}"),
    ("GET", "/api/v1/media/videos/{video_id}"): Case(P.COURSE_MEMBER_READS),
    ("PATCH", "/api/v1/media/videos/{video.video_id}"): Case(
        P.COURSE_STAFF, query="update_mask=title", body=lambda w: {"title": "Week 1"}, other_course=HIDDEN
    ),
    ("DELETE", "/api/v1/media/videos/{video_id}"): Case(P.COURSE_STAFF, fresh="video", other_course=HIDDEN),
    # Transcode jobs (transcode_svc).
    ("GET", "/api/v1/media/transcode-jobs/{job_id}"): Case(P.COURSE_STAFF, other_course=HIDDEN),
    ("POST", "/api/v1/media/transcode-jobs/{job_id}:cancel"): Case(
        P.COURSE_STAFF, body=lambda w: {}, other_course=HIDDEN
    ),
    ("GET", "/api/v1/media/transcode-jobs/{job_id}:watch"): Case(P.COURSE_STAFF, other_course=HIDDEN),
    # Playback (playback_svc): the access token is minted for members, the playlists open with it.
    ("GET", "/api/v1/media/hls/{video_id}/access-token"): Case(P.COURSE_MEMBER_READS),
    ("GET", "/api/v1/media/hls/{video_id}/master.m3u8"): Case(P.HLS_TOKEN, query="token={hls_token}"),
    ("GET", "/api/v1/media/hls/{video_id}/{rendition}/index.m3u8"): Case(P.HLS_TOKEN, query="token={hls_token}"),
    ("GET", "/api/v1/media/hls/{video_id}/{rendition}/{segment}"): Case(P.HLS_TOKEN, query="token={hls_token}"),
    ("POST", "/api/v1/media/videos/{video_id}/progress"): Case(
        P.COURSE_MEMBER_READS, body=lambda w: {"position_seconds": 1.0, "duration_seconds": 2.0}
    ),
    ("GET", "/api/v1/media/videos/{video_id}/progress"): Case(P.COURSE_MEMBER_READS),
    # LMS registrations and LTI (lti_svc).
    ("POST", "/api/v1/lti/config"): Case(P.OWN_ORGANIZATION_ADMINISTRATOR, body=_registration_body),
    ("GET", "/api/v1/lti/configs/{config_id}"): Case(P.ORGANIZATION_ADMINISTRATOR),
    ("GET", "/api/v1/lti/configs"): Case(P.OWN_ORGANIZATION_ADMINISTRATOR),
    ("PATCH", "/api/v1/lti/configs/{config.config_id}"): Case(
        P.ORGANIZATION_ADMINISTRATOR, query="update_mask=deployment_ids", body=lambda w: {"deployment_ids": ["d-1"]}
    ),
    ("DELETE", "/api/v1/lti/configs/{config_id}"): Case(P.ORGANIZATION_ADMINISTRATOR, fresh="config"),
    ("PUT", "/api/v1/lti/configs/{config_id}/zoom-credentials"): Case(
        P.ORGANIZATION_ADMINISTRATOR,
        body=lambda w: {"zoom_account_id": "acct-2", "zoom_api_key": "key-2", "zoom_api_secret": "secret-2"},
    ),
    ("POST", "/api/v1/lti/launch"): Case(P.PUBLIC_LTI, body=lambda w: {"id_token": "not.a.jwt"}),
    ("GET", "/lti/login"): Case(P.PUBLIC_LTI, query="{login_query}"),
    ("POST", "/lti/login"): Case(P.PUBLIC_LTI, body=_login_params, form=True),
    ("POST", "/lti/launch"): Case(P.PUBLIC_LTI, body=lambda w: {"id_token": "not.a.jwt", "state": "x"}, form=True),
    ("POST", "/api/v1/sessions:refresh"): Case(P.SIGNED_IN, body=lambda w: {}),
    ("GET", "/.well-known/jwks.json"): Case(P.PUBLIC_LTI),
    ("POST", "/api/v1/lti/deep-linking/responses"): Case(
        P.LAUNCH_OWNER, body=lambda w: {"launch_id": w["launch_id"], "items": []}
    ),
    ("GET", "/api/v1/lti/courses/{course_id}/members"): Case(P.NAMED_COURSE_STAFF),
    ("POST", "/api/v1/lti/line-items/{line_item_id}/scores"): Case(
        P.COURSE_STAFF, body=lambda w: {"scores": []}, platform=True
    ),
    # Dynamic registration: the LMS's window opens it with an invitation, or an administrator's session.
    ("GET", "/lti/register"): Case(
        P.OWN_ORGANIZATION_ADMINISTRATOR,
        query="openid_configuration=https://lms.invalid/.well-known/openid-configuration",
        platform=True,
    ),
    ("POST", "/api/v1/lti/registration-invitations"): Case(P.OWN_ORGANIZATION_ADMINISTRATOR, body=lambda w: {}),
    ("POST", "/api/v1/lti/courses/{course_id}/line-items"): Case(
        P.NAMED_COURSE_STAFF, body=lambda w: {"live_session_id": w["session_id"], "label": "Attendance"}
    ),
    # Live sessions and attendance (attendance_svc).
    ("POST", "/api/v1/live-sessions"): Case(P.NAMED_COURSE_STAFF, body=_live_session_body),
    ("GET", "/api/v1/live-sessions/{session_id}"): Case(P.COURSE_MEMBER_READS, other_course=FORBIDDEN),
    ("GET", "/api/v1/live-sessions"): Case(P.NAMED_COURSE_MEMBER, query="course_id={course_id}"),
    ("PATCH", "/api/v1/live-sessions/{session.session_id}"): Case(
        P.COURSE_STAFF, query="update_mask=session_name", body=lambda w: {"session_name": "Week 4"}
    ),
    ("DELETE", "/api/v1/live-sessions/{session_id}"): Case(P.COURSE_STAFF, fresh="session"),
    ("POST", "/api/v1/webhooks/zoom"): Case(P.WEBHOOK_SIGNATURE, body=lambda w: {"event": "meeting.started"}),
    ("GET", "/api/v1/live-sessions/{session_id}/attendance"): Case(P.COURSE_STAFF),
    ("GET", "/api/v1/live-sessions/{session_id}/attendance:export"): Case(P.COURSE_STAFF, query="format=csv"),
    ("GET", "/api/v1/live-sessions/{session_id}/attendance/events"): Case(P.COURSE_STAFF),
    ("POST", "/api/v1/live-sessions/{session_id}:reconcile"): Case(P.COURSE_STAFF, body=lambda w: {}),
    ("POST", "/api/v1/live-sessions/{session_id}/join-links"): Case(
        P.COURSE_MEMBER_READS, body=lambda w: {}, other_course=FORBIDDEN
    ),
    # Personal API tokens (lti_svc): made by staff for themselves, listed and revoked by their owner only.
    ("POST", "/api/v1/api-tokens"): Case(P.STAFF_OWN_SESSION, body=lambda w: {"name": "cli", "expires_in_days": 1}),
    ("GET", "/api/v1/api-tokens"): Case(P.SIGNED_IN),
    ("DELETE", "/api/v1/api-tokens/{token_id}"): Case(P.TOKEN_OWNER),
}


def edge_routes(security_stack: SecurityStack) -> set[RouteKey]:
    """Every (method, template) the edge's router serves, as ``python -m edge`` builds it."""
    settings = security_stack.stack.infra.settings
    router = build_router(compile_operations(default_backend_services(settings)), default_overrides())
    return {(method, template.source) for method, template, _ in router.routes()}


def test_every_route_of_the_edge_has_a_policy(security_stack: SecurityStack) -> None:
    routes = edge_routes(security_stack)
    missing = sorted(routes - set(ROUTE_POLICIES))
    stale = sorted(set(ROUTE_POLICIES) - routes)
    assert not missing, f"routes without an expectation in ROUTE_POLICIES: {missing}"
    assert not stale, f"ROUTE_POLICIES names routes the edge does not serve: {stale}"


# ---- the owner's world -----------------------------------------------------------------------


@dataclass
class Owner:
    """The owner course's resources and a caller for every cell."""

    edge_url: str
    secret: str
    http: aiohttp.ClientSession
    organization_id: str
    course_id: str
    other_course_id: str
    other_organization_id: str
    world: World = field(default_factory=dict)

    def token(self, role: Role, place: Place, user: str | None = None) -> str:
        organization = self.other_organization_id if place is Place.OTHER_ORGANIZATION else self.organization_id
        course = self.other_course_id if place is Place.OTHER_COURSE else self.course_id
        return issue_session_token(
            self.secret,
            user_id=user or f"{role.value.lower()}-{place.name.lower()}",
            organization_id=organization,
            course_id=course,
            roles=[role.value],
            ttl_seconds=3600,
        )

    @property
    def instructor(self) -> str:
        return self.token(Role.INSTRUCTOR, Place.SAME_COURSE, user="owner-instructor")

    @property
    def administrator(self) -> str:
        return self.token(Role.ADMINISTRATOR, Place.SAME_COURSE, user="owner-admin")

    async def call(
        self, method: str, path: str, token: str | None, body: Any = None, *, form: bool = False
    ) -> tuple[int, str]:
        """The status and (the start of) the body; streams are closed once their status is known."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        kwargs: dict[str, Any] = {"data": body} if form else {"json": body}
        timeout = aiohttp.ClientTimeout(total=30, sock_read=10)
        async with self.http.request(
            method, self.edge_url + path, headers=headers, allow_redirects=False, timeout=timeout, **kwargs
        ) as reply:
            streaming = reply.content_type in ("text/event-stream", "application/x-ndjson")
            text = "" if streaming else await reply.text(errors="replace")
            return reply.status, text

    async def ok(self, method: str, path: str, token: str, body: Any = None) -> Any:
        status, text = await self.call(method, path, token, body)
        assert status == 200, f"{method} {path}: {status} {text}"
        return json.loads(text) if text else None

    async def new_upload(self) -> dict[str, Any]:
        body = {"filename": "Lecture.mp4", "content_type": "video/mp4", "file_size": "1000"}
        created: dict[str, Any] = await self.ok("POST", "/api/v1/media/presigned-upload", self.instructor, body)
        return created

    async def new_config(self) -> dict[str, Any]:
        reply = await self.ok("POST", "/api/v1/lti/config", self.administrator, _registration_body(self.world))
        config: dict[str, Any] = reply["config"]
        return config

    async def new_session(self) -> str:
        reply = await self.ok("POST", "/api/v1/live-sessions", self.instructor, _live_session_body(self.world))
        return str(reply["session"]["session_id"])

    async def fresh(self, kind: str) -> World:
        if kind == "upload":
            return {"upload_id": str((await self.new_upload())["upload_id"])}
        if kind == "video":
            video_id = str((await self.new_upload())["video_id"])
            path = f"/api/v1/media/videos/{video_id}?update_mask=published"
            await self.ok("PATCH", path, self.instructor, {"published": True})
            return {"video_id": video_id}
        if kind == "config":
            return {"config_id": str((await self.new_config())["config_id"])}
        if kind == "session":
            return {"session_id": await self.new_session()}
        raise AssertionError(kind)


def _small_video(directory: Path) -> bytes:
    path = directory / "owner.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "1",
         "-c:v", "libx264", "-preset", "ultrafast", str(path)],
        check=True,
        timeout=120,
    )  # fmt: skip
    return path.read_bytes()


_VARIANT = (
    b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n"
    b"#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:1.0,\nseg_00000.ts\n#EXT-X-ENDLIST\n"
)
HLS_FILES = {
    "master.m3u8": (
        b"#EXTM3U\n#EXT-X-VERSION:3\n"
        b'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",'
        b'URI="audio/index.m3u8"\n'
        b'#EXT-X-STREAM-INF:BANDWIDTH=200000,RESOLUTION=160x120,AUDIO="audio"\n240p/index.m3u8\n'
    ),
    "240p/index.m3u8": _VARIANT,
    "240p/seg_00000.ts": b"\x47" + bytes(187),
    "audio/index.m3u8": _VARIANT,
    "audio/seg_00000.ts": b"\x47" + bytes(187),
}
"""The owner's video in the demuxed layout (issue 17): a video-only rung and one audio rendition.

The cells ask for the audio rendition (the one name that is not a rung): the variant and
segment routes hold it to the same policy as any rung.
"""


@pytest.fixture(scope="session")
async def owner(security_stack: SecurityStack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Owner]:
    suffix = uuid.uuid4().hex[:8]
    async with aiohttp.ClientSession() as http:
        owner = Owner(
            security_stack.edge_url,
            security_stack.jwt_secret,
            http,
            organization_id=f"org-{suffix}",
            course_id=f"course-{suffix}",
            other_course_id=f"course-other-{suffix}",
            other_organization_id=f"org-other-{suffix}",
        )
        world = owner.world
        world.update(edge_url=owner.edge_url, course_id=owner.course_id, launch_id=str(uuid.uuid4()))
        config = await owner.new_config()
        world.update(config_id=str(config["config_id"]), issuer=config["issuer"], client_id=config["client_id"])
        world["login_query"] = "&".join(f"{k}={v}" for k, v in _login_params(world).items())
        # A video with its upload and transcode job (no worker runs: the job stays queued).
        source = _small_video(tmp_path_factory.mktemp("security-media"))
        created: dict[str, Any] = await owner.ok(
            "POST",
            "/api/v1/media/presigned-upload",
            owner.instructor,
            {"filename": "Lecture.mp4", "content_type": "video/mp4", "file_size": str(len(source))},
        )
        form = aiohttp.FormData()
        for name, value in created["fields"].items():
            form.add_field(name, value)
        form.add_field("file", source, filename="upload.bin", content_type="video/mp4")
        async with http.post(created["url"], data=form) as stored:
            assert stored.status == 204, await stored.text()
        done = await owner.ok("POST", f"/api/v1/media/uploads/{created['upload_id']}/complete", owner.instructor, {})
        video_id = str(created["video_id"])
        world.update(upload_id=str(created["upload_id"]), video_id=video_id, job_id=str(done["transcode_job_id"]))
        await owner.ok(
            "PATCH", f"/api/v1/media/videos/{video_id}?update_mask=published", owner.instructor, {"published": True}
        )
        settings = security_stack.stack.infra.settings
        s3 = s3_client(settings)
        for path, data in HLS_FILES.items():
            s3.put_object(Bucket=settings.s3_bucket, Key=f"hls/{video_id}/{path}", Body=data)
        token = await owner.ok("GET", f"/api/v1/media/hls/{video_id}/access-token", owner.instructor)
        world.update(
            hls_token=parse_qs(urlsplit(token["master_url"]).query)["token"][0],
            rendition="audio",
            segment="seg_00000.ts",
            name=next(iter(Assets.load().files)),
        )
        world["session_id"] = await owner.new_session()
        world["line_item_id"] = _line_item(settings.database_url, owner, world)
        made = await owner.ok(
            "POST", "/api/v1/api-tokens", owner.instructor, {"name": "owner's cli", "expires_in_days": 1}
        )
        world["token_id"] = str(made["token"]["token_id"])
        yield owner


def _line_item(database_url: str, owner: Owner, world: World) -> str:
    """The owner course's gradebook column, as a launch and CreateLineItem would leave it in lti_svc's tables."""
    line_item_id = str(uuid.uuid4())
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        connection.execute(
            "INSERT INTO lti.course_links (organization_id, course_id, registration_id, deployment_id, title, label,"
            " nrps_url, ags_lineitems_url, ags_scopes, updated_at)"
            " VALUES (%s, %s, %s, 'd-1', '', '', '', '', '[]', now())",
            (owner.organization_id, owner.course_id, world["config_id"]),
        )
        connection.execute(
            "INSERT INTO lti.line_items (id, organization_id, course_id, live_session_id, registration_id,"
            " platform_url, label, score_maximum, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, 'Attendance', 100, now())",
            (
                line_item_id,
                owner.organization_id,
                owner.course_id,
                world["session_id"],
                world["config_id"],
                world["issuer"] + "/lineitems/1",
            ),
        )
    return line_item_id


# ---- the matrix ------------------------------------------------------------------------------

CELLS = [(role, place) for role in Role for place in Place]
_VARIABLE = re.compile(r"\{([a-z_.]+)\}")


def _fill(template: str, world: World) -> str:
    return _VARIABLE.sub(lambda m: world[m.group(1).split(".")[-1]], template)


@pytest.mark.parametrize(
    ("method", "template"), sorted(ROUTE_POLICIES), ids=[f"{m} {t}" for m, t in sorted(ROUTE_POLICIES)]
)
async def test_each_caller_gets_the_answer_the_routes_policy_gives(owner: Owner, method: str, template: str) -> None:
    case = ROUTE_POLICIES[(method, template)]

    async def send(token: str | None) -> tuple[int, str]:
        world = {**owner.world, **(await owner.fresh(case.fresh) if case.fresh else {})}
        path = _fill(template, world) + (("?" + _fill(case.query, world)) if case.query else "")
        body = case.body(world) if case.body is not None else None
        return await owner.call(method, path, token, body, form=case.form)

    if case.policy is Policy.HLS_TOKEN:
        # The token is the credential: a session without it opens nothing.
        status, text = await owner.call(method, _fill(template, owner.world), owner.instructor)
        assert status == 401, f"{method} {template} without its token: {status} {text[:300]}"
    anonymous, anonymous_text = await send(None)
    assert anonymous < 500, f"{method} {template} without a session: {anonymous} {anonymous_text[:300]}"
    wrong: list[str] = []
    for role, place in CELLS:
        status, text = await send(owner.token(role, place))
        want = expected(case.policy, role, place, other_course=case.other_course)
        got = classify(status)
        ok = status == anonymous if want is Outcome.SAME_AS_ANONYMOUS else got is want
        platform_down = case.platform and want is Outcome.ALLOWED and status in (502, 503)
        if not ok or (status >= 500 and not platform_down):
            wrong.append(f"{role.value} in {place.value}: want {want.value}, got {status} {text[:200]}")
    assert not wrong, f"{method} {template} ({case.policy.value}):\n" + "\n".join(wrong)
