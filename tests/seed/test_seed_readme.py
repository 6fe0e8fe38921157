"""Every request the seed README documents, sent as written and in its order, through the edge.

The README is the promise a new user reads first: its paths, field names and bodies
must work verbatim. Where it leaves a value open ("..."), the test supplies the value a
user would (their organization, the LMS's issuer); where it names a file size, the file
has that size.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp

from service_kit.auth import verify_session_token
from tests.lti.platform import INSTRUCTOR_ROLE, hidden_fields
from tests.seed.conftest import SeedStack
from tests.support.processes import REPO_ROOT

SEED_FILE_SIZE = 104857600
"""``"file_size": 104857600`` in the seed's presigned-upload example: exactly 100 MiB."""


def operator_token(stack: SeedStack, *, organization: str, role: str, course: str | None = None) -> str:
    """A session token from the operator CLI the README offers until an LMS is registered."""
    arguments = [sys.executable, "-m", "service_kit.token", "--organization-id", organization, "--role", role]
    if course:
        arguments += ["--course-id", course]
    env = {**os.environ, **stack.stack.infra.env}
    done = subprocess.run(arguments, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def lecture_of_seed_size(directory: Path) -> bytes:
    """A real two-second MP4 lecture padded to the seed's 104857600 bytes with a ``free`` box.

    ISO/IEC 14496-12 §8.1.2: a free-space box's contents are irrelevant and may be ignored,
    so every reader (ffprobe, FFmpeg, browsers) plays the file as the short clip it is.
    """
    clip = directory / "lecture-01.mp4"
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y",
            "-f", "lavfi", "-i", "testsrc=size=640x360:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440",
            "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(clip),
        ],
        check=True,
    )  # fmt: skip
    data = clip.read_bytes()
    padding = SEED_FILE_SIZE - len(data)
    return data + struct.pack(">I4s", padding, b"free") + bytes(padding - 8)


class Client:
    """The edge as curl sees it: JSON in, JSON out, a bearer token when there is one."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base

    async def call(self, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = None if body is None else json.dumps(body)
        async with self.http.request(method, self.base + path, data=data, headers=headers) as reply:
            text = await reply.text()
            return reply.status, json.loads(text) if "json" in reply.content_type else text


async def test_the_video_upload_and_hls_playback_flows_work_as_the_seed_documents_them(
    seed_stack: SeedStack, tmp_path: Path
) -> None:
    organization, course = f"seed-org-{uuid.uuid4().hex[:6]}", "seed-course"
    instructor = operator_token(seed_stack, organization=organization, role="Instructor", course=course)
    seed_stack.witness(instructor)
    lecture = lecture_of_seed_size(tmp_path)
    async with aiohttp.ClientSession() as http:
        api = Client(http, seed_stack.edge_url)

        # 1. Request presigned upload URL
        status, created = await api.call(
            "POST",
            "/api/v1/media/presigned-upload",
            instructor,
            {"filename": "lecture-01.mp4", "content_type": "video/mp4", "file_size": 104857600},
        )
        assert status == 200, created
        assert created["method"] == "UPLOAD_METHOD_POST" and created["url"] and created["fields"]
        upload_id, video_id = created["upload_id"], created["video_id"]

        # 2. Upload directly to S3 using the presigned URL
        form = aiohttp.FormData()
        for name, value in created["fields"].items():
            form.add_field(name, value)
        form.add_field("file", lecture, filename="lecture-01.mp4", content_type="video/mp4")
        async with http.post(created["url"], data=form) as stored:
            assert stored.status == 204, await stored.text()

        # 3. Complete upload and start transcoding (the seed sends no body)
        status, completed = await api.call("POST", f"/api/v1/media/uploads/{upload_id}/complete", instructor)
        assert status == 200, completed

        # 4. Monitor transcoding progress via upload status
        seen_progress: list[int] = []
        deadline = time.monotonic() + 180
        upload: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status, upload = await api.call("GET", f"/api/v1/media/uploads/{upload_id}", instructor)
            assert status == 200, upload
            seen_progress.append(upload["progress"])
            if upload["status"] in ("VIDEO_STATUS_READY", "VIDEO_STATUS_FAILED"):
                break
            await asyncio.sleep(0.3)
        assert upload["status"] == "VIDEO_STATUS_READY", upload
        assert seen_progress == sorted(seen_progress) and seen_progress[-1] == 100
        assert upload["video_id"] == video_id

        # HLS playback 1. Generate access token (for a learner of the course, as staff may)
        status, access = await api.call(
            "GET", f"/api/v1/media/hls/{video_id}/access-token?user_id=learner-seed-1", instructor
        )
        assert status == 200, access
        access_token = access["token"]
        seed_stack.witness(access_token)

        # 2. Access master playlist
        async with http.get(
            f"{seed_stack.edge_url}/api/v1/media/hls/{video_id}/master.m3u8", params={"token": access_token}
        ) as reply:
            assert reply.status == 200
            assert reply.content_type == "application/vnd.apple.mpegurl"
            master = await reply.text()
        assert master.startswith("#EXTM3U") and "#EXT-X-STREAM-INF" in master
        variants = [line for line in master.splitlines() if line and not line.startswith("#")]
        assert variants and all("token=" in v for v in variants)

        # 3. The player requests variant playlists and segments
        variant_url = f"{seed_stack.edge_url}/api/v1/media/hls/{video_id}/{variants[0]}"
        async with http.get(variant_url) as reply:
            assert reply.status == 200
            variant = await reply.text()
        assert "#EXT-X-ENDLIST" in variant
        segment = next(line for line in variant.splitlines() if line and not line.startswith("#"))
        async with http.get(
            segment if segment.startswith("http") else f"{variant_url.rsplit('/', 1)[0]}/{segment}"
        ) as got:
            assert got.status == 200
            assert (await got.read())[:1] == b"\x47"  # an MPEG-TS sync byte: real media bytes


async def test_the_live_session_flow_works_as_the_seed_documents_it(seed_stack: SeedStack) -> None:
    platform = seed_stack.platform
    organization = f"seed-org-{uuid.uuid4().hex[:6]}"
    administrator = operator_token(seed_stack, organization=organization, role="Administrator")
    seed_stack.witness(administrator, "seed-zoom-client-secret")
    async with aiohttp.ClientSession() as http:
        api = Client(http, seed_stack.edge_url)

        # 1. Create LTI configuration: exactly the seed's keys; endpoints are discovered from the issuer.
        status, created = await api.call(
            "POST",
            "/api/v1/lti/config",
            administrator,
            {
                "organization_id": organization,
                "client_id": platform.client_id,
                "issuer": platform.issuer,
                "deployment_id": platform.deployment_id,
                "zoom_api_key": "seed-zoom-client-id",
                "zoom_api_secret": "seed-zoom-client-secret",
            },
        )
        assert status == 200, created
        config = created["config"]
        assert config["key_set_url_source"] == "ENDPOINT_SOURCE_DISCOVERED" and config["has_zoom_credentials"]

        # 2. Handle LTI launch: the platform's id_token, from its OIDC login, posted as JSON.
        hint = json.dumps(
            {"user": "teacher-seed", "roles": [INSTRUCTOR_ROLE], "message_type": "LtiResourceLinkRequest"}
        )
        login_params = {
            "iss": platform.issuer,
            "login_hint": hint,
            "target_link_uri": f"{seed_stack.edge_url}/lti/launch",
            "lti_message_hint": "message-hint-7",
            "client_id": platform.client_id,
        }
        async with http.get(f"{seed_stack.edge_url}/lti/login", params=login_params, allow_redirects=False) as login:
            assert login.status == 302, await login.text()
            authorize = login.headers["Location"]
        assert parse_qs(urlsplit(authorize).query)["client_id"] == [platform.client_id]
        async with http.get(authorize) as page:
            id_token = hidden_fields(await page.text())["id_token"]
        status, launched = await api.call(
            "POST", "/api/v1/lti/launch", body={"id_token": id_token, "organization_id": organization}
        )
        assert status == 200, launched
        session_token = launched["session_token"]
        seed_stack.witness(id_token, session_token)
        claims = verify_session_token(session_token, seed_stack.stack.infra.settings.jwt_secret_key)
        assert (claims.organization_id, claims.course_id) == (organization, platform.context_id)
        assert "Instructor" in claims.roles

        # 3. Create live session: the seed's body, its times included.
        status, scheduled = await api.call(
            "POST",
            "/api/v1/live-sessions",
            session_token,
            {
                "session_name": "Weekly Lecture",
                "scheduled_start": "2024-01-15T10:00:00Z",
                "scheduled_end": "2024-01-15T11:30:00Z",
                "zoom_host_id": "zoom-user-id",
                "lti_config_id": config["config_id"],
            },
        )
        assert status == 200, scheduled
        session = scheduled["session"]
        assert session["session_name"] == "Weekly Lecture"
        meeting = seed_stack.zoom.meetings[session["zoom_meeting_id"]]
        assert meeting.topic == "Weekly Lecture"
        assert seed_stack.zoom.oauth_requests_by_account["seed-zoom-account"] >= 1

        # 4. Monitor attendance: a learner joins for 60 minutes through Zoom's signed webhooks.
        start = datetime(2024, 1, 15, 10, 5, tzinfo=UTC)
        learner = {"name": "Bea Learner", "email": "bea@example.edu", "connection_id": "bea-1"}
        await seed_stack.zoom.emit(meeting.id, "meeting.participant_joined", participant=learner, at=start)
        await seed_stack.zoom.emit(
            meeting.id, "meeting.participant_left", participant=learner, at=start + timedelta(minutes=60)
        )
        status, attendance = await api.call(
            "GET", f"/api/v1/live-sessions/{session['session_id']}/attendance", session_token
        )
        assert status == 200, attendance
        [row] = [r for r in attendance["rows"] if r["email"] == "bea@example.edu"]
        assert row["attended_seconds"] == 3600


async def test_the_health_and_metrics_endpoints_answer_as_the_seed_documents_them(seed_stack: SeedStack) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{seed_stack.edge_url}/health") as reply:
            assert reply.status == 200
            health = await reply.json()
        assert health["status"] == "ok", health
        assert {"database", "redis"} <= set(health["components"]), health
        async with http.get(f"{seed_stack.edge_url}/metrics") as reply:
            assert reply.status == 200
            assert "http_requests_total" in await reply.text()


def test_no_secret_or_token_used_above_reached_any_processs_log(seed_stack: SeedStack) -> None:
    """Logs are read by more people than secrets are: keys, tokens and Zoom secrets never appear in them.

    Each token is looked for whole and by its signature alone (a log that cut a JWT at a
    dot would still leak what makes it valid).
    """
    logs = {path.name: path.read_text(errors="replace") for path in seed_stack.stack.infra.state_dir.glob("*.log")}
    assert {"edge.log", "upload.log", "lti.log", "attendance.log", "transcode-worker.log"} <= set(logs)
    assert len(seed_stack.secrets_used) >= 6
    for secret in seed_stack.secrets_used:
        pieces = {secret, secret.rsplit(".", 1)[-1]} if secret.count(".") == 2 else {secret}
        for piece in pieces:
            leaked = [name for name, text in logs.items() if piece in text]
            assert not leaked, f"a secret of {len(secret)} characters appears in {leaked}"
