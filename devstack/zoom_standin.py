"""A local Zoom, written from Zoom's public API and webhook documentation, for tests and `make run`.

It speaks the parts attendance_svc uses, as Zoom documents them:

- ``POST /oauth/token?grant_type=account_credentials&account_id=...`` with HTTP Basic
  client credentials (Server-to-Server OAuth) → ``{access_token, token_type, expires_in, scope}``.
- ``POST /v2/users/{userId}/meetings``; ``GET``/``PATCH``/``DELETE /v2/meetings/{meetingId}``;
  ``POST /v2/meetings/{meetingId}/registrants`` (one registrant per email).
- ``GET /v2/report/meetings/{meetingUUID}/participants`` with ``page_size`` (at most 300) and
  ``next_page_token``; uuids that start with ``/`` or contain ``//`` must come double-encoded.
- Errors as Zoom writes them: ``{"code", "message"}``, 401 for a bad token, 404 code 3001 for
  a missing meeting, 429 with ``Retry-After`` (and ``X-RateLimit-Type``) when told to.

And what only a stand-in needs, under ``/_standin/``:

- ``POST /_standin/meetings/{meetingId}/events`` ``{"event", "participant": {...}, "at", "deliver"}``
  simulates the meeting: it records the event for the participants report and, unless
  ``deliver`` is false (a webhook Zoom gave up on), POSTs a correctly signed notification
  (``x-zm-signature``, ``x-zm-request-timestamp``) to the webhook URL.
- ``POST /_standin/rate-limit`` ``{"report_429": n, "retry_after": "2", "daily": false}``: the
  next n report requests answer 429.

Run it with ``python -m devstack.zoom_standin --port 9190 --webhook-url
http://127.0.0.1:8000/api/v1/webhooks/zoom`` (the secret is ZOOM_WEBHOOK_SECRET) and point
ZOOM_API_BASE_URL at ``http://127.0.0.1:9190/v2`` and ZOOM_OAUTH_BASE_URL at
``http://127.0.0.1:9190``. It accepts any client credentials unless accounts are given.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import signal
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import aiohttp
from aiohttp import web

from devstack import ZOOM_STANDIN_PORT

MAX_REPORT_PAGE = 300


def _now_iso(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status, headers=headers)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """What Zoom puts in x-zm-signature."""
    return "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


@dataclass
class Attendance:
    """One participant connection in one meeting instance, for the report."""

    connection_id: str
    name: str
    email: str
    zoom_user_id: str
    registrant_id: str
    join_time: str
    leave_time: str = ""


@dataclass
class Meeting:
    id: str
    uuid: str
    host_id: str
    topic: str
    start_time: str
    duration: int
    settings: dict[str, Any]
    registrants: dict[str, dict[str, Any]] = field(default_factory=dict)
    instances: dict[str, list[Attendance]] = field(default_factory=dict)
    ended: dict[str, str] = field(default_factory=dict)


@dataclass
class RateLimit:
    remaining: int = 0
    retry_after: str = "1"
    daily: bool = False


class ZoomStandIn:
    """The stand-in's state and its aiohttp app; ``base`` is its root URL once started."""

    def __init__(
        self,
        *,
        webhook_url: str = "",
        webhook_secret: str = "",
        token_ttl_seconds: int = 3599,
        accounts: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.token_ttl_seconds = token_ttl_seconds
        self.accounts = accounts or {}
        self.tokens: dict[str, float] = {}
        self.meetings: dict[str, Meeting] = {}
        self.report_limit = RateLimit()
        self.oauth_requests = 0
        self.oauth_requests_by_account: collections.Counter[str] = collections.Counter()
        self.report_requests = 0
        self.deliveries: list[int] = []
        self.base = ""
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/oauth/token", self._token)
        app.router.add_post("/v2/users/{user_id}/meetings", self._create_meeting)
        app.router.add_get("/v2/meetings/{meeting_id}", self._get_meeting)
        app.router.add_patch("/v2/meetings/{meeting_id}", self._update_meeting)
        app.router.add_delete("/v2/meetings/{meeting_id}", self._delete_meeting)
        app.router.add_post("/v2/meetings/{meeting_id}/registrants", self._add_registrant)
        app.router.add_get("/v2/report/meetings/{uuid:.+}/participants", self._report)
        app.router.add_post("/_standin/meetings/{meeting_id}/events", self._simulate)
        app.router.add_post("/_standin/rate-limit", self._rate_limit)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> ZoomStandIn:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.base = f"http://{host}:{self._runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- OAuth -----------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        self.oauth_requests += 1
        if request.query.get("grant_type") != "account_credentials":
            return web.json_response(
                {"reason": "Unsupported grant type", "error": "unsupported_grant_type"}, status=400
            )
        account = request.query.get("account_id", "")
        self.oauth_requests_by_account[account] += 1
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            client_id = secret = ""
        if scheme.lower() != "basic" or not account or not client_id or not secret:
            return web.json_response(
                {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}, status=400
            )
        if self.accounts and self.accounts.get(account) != (client_id, secret):
            return web.json_response(
                {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}, status=400
            )
        token = "standin-" + secrets.token_urlsafe(24)
        self.tokens[token] = time.time() + self.token_ttl_seconds
        return web.json_response(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.token_ttl_seconds,
                "scope": "meeting:write",
            }
        )

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.tokens.get(token, 0) > time.time()

    # ---- meetings --------------------------------------------------------------------------

    async def _create_meeting(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 124, "Invalid access token.")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, 300, "Request Body should be a valid JSON object.")
        host = request.match_info["user_id"]
        if host.startswith("unknown"):
            return _error(404, 1001, f"User does not exist: {host}.")
        meeting_id = str(secrets.randbelow(9 * 10**10) + 10**10)
        meeting = Meeting(
            id=meeting_id,
            uuid=base64.b64encode(secrets.token_bytes(16)).decode(),
            host_id=host,
            topic=str(body.get("topic", "Zoom meeting"))[:200],
            start_time=str(body.get("start_time", _now_iso())),
            duration=int(body.get("duration", 60)),
            settings=dict(body.get("settings", {})),
        )
        self.meetings[meeting_id] = meeting
        return web.json_response(self._meeting_document(meeting), status=201)

    def _meeting_document(self, meeting: Meeting) -> dict[str, Any]:
        return {
            "id": int(meeting.id),
            "uuid": meeting.uuid,
            "host_id": meeting.host_id,
            "topic": meeting.topic,
            "type": 2,
            "start_time": meeting.start_time,
            "duration": meeting.duration,
            "timezone": "UTC",
            "join_url": f"{self.base}/j/{meeting.id}",
            "start_url": f"{self.base}/s/{meeting.id}?zak={secrets.token_urlsafe(12)}",
            "registration_url": f"{self.base}/meeting/register/{meeting.id}",
            "settings": meeting.settings,
        }

    def _meeting(self, request: web.Request) -> Meeting | None:
        return self.meetings.get(request.match_info["meeting_id"])

    async def _get_meeting(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 124, "Invalid access token.")
        meeting = self._meeting(request)
        if meeting is None:
            return _error(404, 3001, f"Meeting does not exist: {request.match_info['meeting_id']}.")
        return web.json_response(self._meeting_document(meeting))

    async def _update_meeting(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 124, "Invalid access token.")
        meeting = self._meeting(request)
        if meeting is None:
            return _error(404, 3001, f"Meeting does not exist: {request.match_info['meeting_id']}.")
        body = await request.json()
        meeting.topic = str(body.get("topic", meeting.topic))
        meeting.start_time = str(body.get("start_time", meeting.start_time))
        meeting.duration = int(body.get("duration", meeting.duration))
        return web.Response(status=204)

    async def _delete_meeting(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 124, "Invalid access token.")
        if self.meetings.pop(request.match_info["meeting_id"], None) is None:
            return _error(404, 3001, f"Meeting does not exist: {request.match_info['meeting_id']}.")
        return web.Response(status=204)

    async def _add_registrant(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 124, "Invalid access token.")
        meeting = self._meeting(request)
        if meeting is None:
            return _error(404, 3001, f"Meeting does not exist: {request.match_info['meeting_id']}.")
        body = await request.json()
        email = str(body.get("email", "")).strip().lower()
        if "@" not in email or not body.get("first_name"):
            return _error(400, 300, "Validation Failed: email and first_name are required.")
        registrant = meeting.registrants.get(email)
        if registrant is None:
            registrant_id = secrets.token_urlsafe(16)
            registrant = {
                "id": registrant_id,
                "registrant_id": registrant_id,
                "join_url": f"{self.base}/w/{meeting.id}?tk={secrets.token_urlsafe(24)}",
                "topic": meeting.topic,
                "start_time": meeting.start_time,
                "first_name": body["first_name"],
                "last_name": body.get("last_name", ""),
                "email": email,
            }
            meeting.registrants[email] = registrant
        return web.json_response(
            {k: registrant[k] for k in ("id", "registrant_id", "join_url", "topic", "start_time")}, status=201
        )

    # ---- the participants report -----------------------------------------------------------

    def _instance(self, raw_uuid: str) -> tuple[Meeting, str] | None:
        candidates = {raw_uuid, unquote(raw_uuid)}
        for meeting in self.meetings.values():
            for uuid in candidates:
                if uuid in meeting.instances:
                    return meeting, uuid
        return None

    async def _report(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 124, "Invalid access token.")
        self.report_requests += 1
        if self.report_limit.remaining > 0:
            self.report_limit.remaining -= 1
            limit_type = "Daily" if self.report_limit.daily else "QPS"
            return _error(
                429,
                429,
                "You have reached the maximum per-second rate limit for this API. Try again later."
                if not self.report_limit.daily
                else "You have reached the maximum daily rate limit for this API.",
                headers={"Retry-After": self.report_limit.retry_after, "X-RateLimit-Type": limit_type},
            )
        # aiohttp has decoded the path once; a uuid with / or // arrives once more encoded.
        decoded = request.match_info["uuid"]
        if decoded.startswith("/") or "//" in decoded:
            return _error(404, 3001, "Meeting does not exist: the uuid must be double-encoded.")
        found = self._instance(unquote(decoded)) if "%" in decoded else self._instance(decoded)
        if found is None:
            return _error(404, 3001, f"Meeting does not exist: {decoded}.")
        meeting, uuid = found
        try:
            size = min(int(request.query.get("page_size", "30")), MAX_REPORT_PAGE)
            offset = int(base64.urlsafe_b64decode(request.query.get("next_page_token", "") + "==") or b"0")
        except ValueError:
            return _error(400, 300, "Invalid page_size or next_page_token.")
        records = meeting.instances[uuid]
        page = records[offset : offset + size]
        nxt = offset + size
        token = base64.urlsafe_b64encode(str(nxt).encode()).decode().rstrip("=") if nxt < len(records) else ""
        ended = meeting.ended.get(uuid, "")
        return web.json_response(
            {
                "page_count": (len(records) + size - 1) // size if size else 0,
                "page_size": size,
                "total_records": len(records),
                "next_page_token": token,
                "participants": [
                    {
                        "id": a.zoom_user_id,
                        "user_id": a.connection_id,
                        "participant_user_id": a.zoom_user_id,
                        "name": a.name,
                        "user_email": a.email,
                        "registrant_id": a.registrant_id,
                        "join_time": a.join_time,
                        "leave_time": a.leave_time or ended,
                        "duration": _seconds_between(a.join_time, a.leave_time or ended),
                        "status": "in_meeting",
                    }
                    for a in page
                ],
            }
        )

    async def _rate_limit(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.report_limit = RateLimit(
            remaining=int(body.get("report_429", 0)),
            retry_after=str(body.get("retry_after", "1")),
            daily=bool(body.get("daily", False)),
        )
        return web.json_response({"report_429": self.report_limit.remaining})

    # ---- simulating a meeting ---------------------------------------------------------------

    async def _simulate(self, request: web.Request) -> web.Response:
        meeting = self._meeting(request)
        if meeting is None:
            return _error(404, 3001, f"Meeting does not exist: {request.match_info['meeting_id']}.")
        body = await request.json()
        at = datetime.fromisoformat(body["at"].replace("Z", "+00:00")) if body.get("at") else None
        status = await self.emit(
            meeting.id,
            str(body.get("event", "")),
            participant=body.get("participant"),
            at=at,
            deliver=bool(body.get("deliver", True)),
            meeting_uuid=body.get("meeting_uuid"),
        )
        return web.json_response({"delivered_status": status})

    def notification(
        self,
        meeting: Meeting,
        event: str,
        *,
        participant: dict[str, Any] | None,
        at: datetime,
        meeting_uuid: str,
    ) -> dict[str, Any]:
        """A notification body as Zoom sends it for meeting and participant events."""
        obj: dict[str, Any] = {
            "id": meeting.id,
            "uuid": meeting_uuid,
            "host_id": meeting.host_id,
            "topic": meeting.topic,
            "type": 2,
            "start_time": meeting.start_time,
            "timezone": "UTC",
            "duration": meeting.duration,
        }
        if event == "meeting.started":
            obj["start_time"] = _now_iso(at)
        elif event == "meeting.ended":
            obj["end_time"] = _now_iso(at)
        if participant is not None:
            time_field = "leave_time" if "left" in event else ("date_time" if "waiting" in event else "join_time")
            obj["participant"] = {
                "user_id": str(participant.get("connection_id", "")),
                "user_name": str(participant.get("name", "")),
                "id": str(participant.get("zoom_user_id", "")),
                "participant_user_id": str(participant.get("zoom_user_id", "")),
                "participant_uuid": str(participant.get("participant_uuid", "")),
                "email": str(participant.get("email", "")),
                "registrant_id": str(participant.get("registrant_id", "")),
                time_field: _now_iso(at),
            }
            if "left" in event:
                obj["participant"]["leave_reason"] = str(participant.get("leave_reason", "left the meeting"))
        return {
            "event": event,
            "event_ts": int(at.timestamp() * 1000),
            "payload": {"account_id": "standin-account", "object": obj},
        }

    def _record(self, meeting: Meeting, uuid: str, event: str, participant: dict[str, Any] | None, at: str) -> None:
        records = meeting.instances.setdefault(uuid, [])
        if event == "meeting.ended":
            meeting.ended[uuid] = at
        if participant is None:
            return
        connection = str(participant.get("connection_id", ""))
        if event == "meeting.participant_joined":
            records.append(
                Attendance(
                    connection_id=connection,
                    name=str(participant.get("name", "")),
                    email=str(participant.get("email", "")),
                    zoom_user_id=str(participant.get("zoom_user_id", "")),
                    registrant_id=str(participant.get("registrant_id", "")),
                    join_time=at,
                )
            )
        elif event == "meeting.participant_left":
            for record in reversed(records):
                if record.connection_id == connection and not record.leave_time:
                    record.leave_time = at
                    break

    async def emit(
        self,
        meeting_id: str,
        event: str,
        *,
        participant: dict[str, Any] | None = None,
        at: datetime | None = None,
        deliver: bool = True,
        meeting_uuid: str | None = None,
    ) -> int:
        """Record the event for the report and deliver it signed; the HTTP status, or 0 when not delivered."""
        meeting = self.meetings[meeting_id]
        moment = at or datetime.now(UTC)
        uuid = meeting_uuid or meeting.uuid
        self._record(meeting, uuid, event, participant, _now_iso(moment))
        if not deliver or not self.webhook_url:
            return 0
        body = json.dumps(self.notification(meeting, event, participant=participant, at=moment, meeting_uuid=uuid))
        return await self.deliver(body.encode())

    async def deliver(self, body: bytes, *, timestamp: str | None = None) -> int:
        """POST a signed notification to the webhook URL, as Zoom does; returns the status."""
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3))
        ts = timestamp or str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "x-zm-request-timestamp": ts,
            "x-zm-signature": sign(self.webhook_secret, ts, body),
            "User-Agent": "Zoom Marketplace/1.0a",
        }
        try:
            async with self._http.post(self.webhook_url, data=body, headers=headers) as reply:
                await reply.read()
                status = reply.status
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        self.deliveries.append(status)
        return status


def _seconds_between(start: str, end: str) -> int:
    if not start or not end:
        return 0
    a = datetime.fromisoformat(start.replace("Z", "+00:00"))
    b = datetime.fromisoformat(end.replace("Z", "+00:00"))
    return max(0, int((b - a).total_seconds()))


async def _serve(host: str, port: int, webhook_url: str, secret: str) -> None:
    standin = await ZoomStandIn(webhook_url=webhook_url, webhook_secret=secret).start(host=host, port=port)
    print(f"zoom stand-in on {standin.base} (API {standin.base}/v2), webhooks to {webhook_url}", flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await standin.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A local Zoom API and webhook sender for development.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 in a container)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("ZOOM_STANDIN_PORT", str(ZOOM_STANDIN_PORT))))
    parser.add_argument(
        "--webhook-url",
        default=os.environ.get("ZOOM_STANDIN_WEBHOOK_URL", "http://127.0.0.1:8000/api/v1/webhooks/zoom"),
    )
    parser.add_argument("--webhook-secret", default=os.environ.get("ZOOM_WEBHOOK_SECRET", ""))
    args = parser.parse_args(argv)
    if not args.webhook_secret:
        parser.error("set ZOOM_WEBHOOK_SECRET (or --webhook-secret): webhooks are signed with it")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.webhook_url, args.webhook_secret))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
