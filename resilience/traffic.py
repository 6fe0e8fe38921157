"""Uploads and Zoom webhooks driven through the edge while faults are injected, with what was acknowledged.

Every request is labelled with the phase (scenario) running when it was answered, so the
loss check at the end can say which fault lost what. Refused requests (5xx, 504, a
connection reset) are not losses: the caller was told and may retry. Losses are only
acknowledged work that never landed.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import psycopg

from devstack.zoom_standin import sign
from resilience.stack import Stack
from service_kit.auth import INSTRUCTOR, issue_session_token

REQUEST_TIMEOUT_SECONDS = 15.0
UPLOAD_PAUSE_SECONDS = 0.7
"""One upload about every second keeps one worker busy but not hopelessly behind."""
WEBHOOK_PAUSE_SECONDS = 0.05
READY = "VIDEO_STATUS_READY"
FAILED = "VIDEO_STATUS_FAILED"


def make_clip(path: Path) -> bytes:
    """A one-second 160x120 H.264/AAC test pattern: real media, transcoded in about a second."""
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y",
            "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
            "-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(path),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    return path.read_bytes()


@dataclass
class Ledger:
    """What each phase sent and what was acknowledged (by id, so losses can be named)."""

    phase: str = "warm-up"
    uploads_acked: dict[str, list[str]] = field(default_factory=dict)
    webhooks_acked: dict[str, list[str]] = field(default_factory=dict)
    refused: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(phase, "upload <status>" / "webhook <status>") → count of requests not acknowledged."""

    def ack_upload(self, upload_id: str) -> None:
        self.uploads_acked.setdefault(self.phase, []).append(upload_id)

    def ack_webhook(self, connection_id: str) -> None:
        self.webhooks_acked.setdefault(self.phase, []).append(connection_id)

    def refuse(self, what: str) -> None:
        self.refused[(self.phase, what)] += 1

    def refused_in(self, phase: str, kind: str) -> int:
        return sum(n for (p, what), n in self.refused.items() if p == phase and what.startswith(kind))


class Traffic:
    """The two loops (uploads, webhooks) and the end-of-run accounting."""

    def __init__(self, stack: Stack, clip: bytes) -> None:
        self.stack = stack
        self.clip = clip
        self.ledger = Ledger()
        self.meeting_uuid = f"resilience-{uuid.uuid4().hex}=="
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self.token = issue_session_token(
            stack.env["JWT_SECRET_KEY"],
            user_id="resilience-instructor",
            organization_id="resilience-org",
            course_id="resilience-course",
            roles=[INSTRUCTOR],
            ttl_seconds=3 * 3600,
        )

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "start() first"
        return self._session

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS))
        self._tasks = [
            asyncio.create_task(self._uploads(), name="uploads"),
            asyncio.create_task(self._webhooks(), name="webhooks-1"),
            asyncio.create_task(self._webhooks(), name="webhooks-2"),
        ]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    # --- uploads ------------------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def prepare_upload(self) -> dict[str, Any] | None:
        """Presign and send the clip as a browser does; the created upload, or None (counted as refused)."""
        async with self.session.post(
            f"{self.stack.edge_url}/api/v1/media/presigned-upload",
            json={"filename": "clip.mp4", "content_type": "video/mp4", "file_size": len(self.clip)},
            headers=self._headers(),
        ) as reply:
            if reply.status != 200:
                self.ledger.refuse(f"upload presign {reply.status}")
                return None
            created: dict[str, Any] = await reply.json()
        form = aiohttp.FormData()
        for name, value in created["fields"].items():
            form.add_field(name, value)
        form.add_field("file", self.clip, filename="clip.mp4", content_type="video/mp4")
        async with self.session.post(created["url"], data=form) as reply:
            if reply.status not in (200, 201, 204):
                self.ledger.refuse(f"upload store {reply.status}")
                return None
        return created

    async def complete(self, created: dict[str, Any]) -> int:
        """POST .../complete; its HTTP status (0 when the edge could not be reached)."""
        try:
            async with self.session.post(
                f"{self.stack.edge_url}/api/v1/media/uploads/{created['upload_id']}/complete",
                json={},
                headers=self._headers(),
            ) as reply:
                await reply.read()
                return reply.status
        except (aiohttp.ClientError, TimeoutError):
            return 0

    async def _one_upload(self) -> None:
        created = await self.prepare_upload()
        if created is None:
            return
        status = await self.complete(created)
        if status != 200:
            self.ledger.refuse(f"upload complete {status}")
            return
        self.ledger.ack_upload(str(created["upload_id"]))

    async def _uploads(self) -> None:
        while not self._stop.is_set():
            try:
                await self._one_upload()
            except (aiohttp.ClientError, TimeoutError):
                self.ledger.refuse("upload connection")
            await asyncio.sleep(UPLOAD_PAUSE_SECONDS)

    async def upload_status(self, upload_id: str) -> str:
        try:
            async with self.session.get(
                f"{self.stack.edge_url}/api/v1/media/uploads/{upload_id}", headers=self._headers()
            ) as reply:
                if reply.status != 200:
                    return f"HTTP {reply.status}"
                body: dict[str, Any] = await reply.json()
                return str(body.get("status", ""))
        except (aiohttp.ClientError, TimeoutError):
            return "unreachable"

    # --- webhooks -----------------------------------------------------------------------------------------

    def _notification(self, connection_id: str) -> bytes:
        now = datetime.now(UTC)
        body = {
            "event": "meeting.participant_joined",
            "event_ts": int(now.timestamp() * 1000),
            "payload": {
                "account_id": "resilience",
                "object": {
                    "id": "9900000001",
                    "uuid": self.meeting_uuid,
                    "host_id": "resilience-host",
                    "topic": "resilience",
                    "type": 2,
                    "start_time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "timezone": "UTC",
                    "duration": 60,
                    "participant": {
                        "user_id": connection_id,
                        "user_name": "Learner",
                        "id": "",
                        "participant_user_id": "",
                        "participant_uuid": connection_id,
                        "email": "",
                        "registrant_id": "",
                        "join_time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    },
                },
            },
        }
        return json.dumps(body).encode()

    async def _one_webhook(self) -> None:
        connection_id = uuid.uuid4().hex
        body = self._notification(connection_id)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "x-zm-request-timestamp": timestamp,
            "x-zm-signature": sign(self.stack.env["ZOOM_WEBHOOK_SECRET"], timestamp, body),
        }
        async with self.session.post(
            f"{self.stack.edge_url}/api/v1/webhooks/zoom", data=body, headers=headers
        ) as reply:
            await reply.read()
            if 200 <= reply.status < 300:
                self.ledger.ack_webhook(connection_id)
            else:
                self.ledger.refuse(f"webhook {reply.status}")

    async def _webhooks(self) -> None:
        while not self._stop.is_set():
            try:
                await self._one_webhook()
            except (aiohttp.ClientError, TimeoutError):
                self.ledger.refuse("webhook connection")
            await asyncio.sleep(WEBHOOK_PAUSE_SECONDS)

    # --- accounting -----------------------------------------------------------------------------------------

    def stored_connections(self) -> set[str]:
        """Connection ids of this run's meeting stored by attendance_svc (straight from PostgreSQL)."""
        with psycopg.connect(self.stack.database_dsn) as connection:
            rows = connection.execute(
                "SELECT connection_id FROM attendance.zoom_events WHERE meeting_uuid = %s", (self.meeting_uuid,)
            ).fetchall()
        return {str(row[0]) for row in rows}

    async def settle_uploads(self, seconds: float) -> dict[str, str]:
        """Wait until every acknowledged upload is ready or failed (or time runs out); upload id → status."""
        pending = {upload_id for ids in self.ledger.uploads_acked.values() for upload_id in ids}
        final: dict[str, str] = {}
        deadline = time.monotonic() + seconds
        while pending and time.monotonic() < deadline:
            for upload_id in sorted(pending):
                status = await self.upload_status(upload_id)
                if status in (READY, FAILED):
                    final[upload_id] = status
                    pending.discard(upload_id)
            if pending:
                await asyncio.sleep(1.0)
        for upload_id in pending:
            final[upload_id] = await self.upload_status(upload_id)
        return final
