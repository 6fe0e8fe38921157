"""The attendance service's ties to the outside: Zoom over HTTP, lti_svc over gRPC, Redis.

Zoom is reached with one aiohttp ClientSession, the same code whether the other end is
api.zoom.us or the local stand-in (``devstack.zoom_standin``): the base URLs are
settings. Access tokens come from Server-to-Server OAuth (``account_credentials``
grant, Basic auth) and are cached per account and client until shortly before they
expire; a 401 on a cached token drops it and asks once more. A 429 is honoured: its
Retry-After (seconds, or a date for the daily limit) is waited out when it is short
enough for a person waiting on the answer, and otherwise raised as ZoomRateLimited
with the wait, which the reconciler turns into a pause, never a loss. Zoom's 4xx
become ZoomRefused with Zoom's own message; no answer or a 5xx, ZoomUnavailable.

lti_svc hands out Zoom credentials and rosters only to a session JWT with the
``Service`` role for the organization, minted here for a minute at a time.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import grpc
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from attendance_svc import domain, errors
from media.lti.v1 import lti_pb2, lti_pb2_grpc
from service_kit import outbound
from service_kit.auth import AUTHORIZATION_METADATA_KEY, issue_session_token

log = logging.getLogger(__name__)

TOKEN_EXPIRY_MARGIN_SECONDS = 60
MAX_ERROR_TEXT = 300
MAX_RATE_LIMIT_RETRIES = 3
REPORT_PAGE_SIZE = 300
"""Zoom's largest page of the participants report."""
SERVICE_ROLE = "Service"
SERVICE_USER = "service:attendance_svc"
PRESENCE_CHANNEL_PREFIX = "attendance:meeting:"


ZoomCredentials = domain.ZoomCredentials
"""Kept under this name for the adapters' callers; the class is the domain's."""


def retry_after_seconds(headers: Mapping[str, str], now: float) -> float:
    """How long a 429 asks us to wait: Retry-After as seconds or a date; else by limit type.

    Zoom's daily limit resets at midnight UTC; without any hint, one second.
    """
    raw = headers.get("Retry-After", "").strip()
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
        moment = domain.parse_zoom_time(raw)
        if moment is None:
            try:
                moment = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError):
                moment = None
        if moment is not None:
            return max(0.0, moment.timestamp() - now)
    if headers.get("X-RateLimit-Type", "").lower() == "daily":
        today = datetime.fromtimestamp(now, UTC).date()
        midnight = datetime(today.year, today.month, today.day, tzinfo=UTC) + timedelta(days=1)
        return midnight.timestamp() - now
    return 1.0


class Zoom:
    """Zoom's OAuth and REST APIs; one HTTP session for the process, closed at stop."""

    def __init__(
        self,
        *,
        api_base_url: str,
        oauth_base_url: str,
        timeout_seconds: float,
        max_retry_wait_seconds: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        policy: outbound.AddressPolicy = outbound.any_address,
    ) -> None:
        self._policy = policy
        self._api = api_base_url.rstrip("/")
        self._oauth = oauth_base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._max_wait = max_retry_wait_seconds
        self._sleep = sleep
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._tokens: dict[str, tuple[str, float]] = {}
        self._token_locks: dict[str, asyncio.Lock] = {}

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = outbound.client_session(
                timeout=self._timeout, headers={"User-Agent": "lecture-media-attendance/1"}, policy=self._policy
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def access_token(self, credentials: ZoomCredentials) -> str:
        """A cached token, or a new one from ``POST /oauth/token`` (one fetch at a time per app)."""
        key = credentials.cache_key
        cached = self._tokens.get(key)
        if cached is not None and cached[1] > self._clock():
            return cached[0]
        lock = self._token_locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(key)
            if cached is not None and cached[1] > self._clock():
                return cached[0]
            basic = base64.b64encode(f"{credentials.client_id}:{credentials.client_secret}".encode()).decode()
            url = f"{self._oauth}/oauth/token"
            params = {"grant_type": "account_credentials", "account_id": credentials.account_id}
            try:
                async with self._client().post(
                    url, params=params, headers={"Authorization": f"Basic {basic}"}
                ) as reply:
                    text = await reply.text()
                    status = reply.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise errors.ZoomUnavailable(
                    f"Zoom's OAuth endpoint did not answer: {exc.__class__.__name__}"
                ) from None
            if status >= 500:
                raise errors.ZoomUnavailable(f"Zoom's OAuth endpoint answered {status}: try again later")
            if status != 200:
                raise errors.ZoomCredentialsRefused(
                    f"Zoom refused the registration's Server-to-Server OAuth credentials ({status}): "
                    f"{_zoom_message(text)}; an administrator checks the account id, client id and secret"
                )
            try:
                document = json.loads(text)
                token = str(document["access_token"])
                expires_in = float(document.get("expires_in", 3600))
            except (ValueError, KeyError, TypeError):
                raise errors.ZoomUnavailable("Zoom's OAuth endpoint answered without an access token") from None
            self._tokens[key] = (token, self._clock() + max(expires_in - TOKEN_EXPIRY_MARGIN_SECONDS, 1.0))
            return token

    async def call(
        self,
        credentials: ZoomCredentials,
        method: str,
        path: str,
        *,
        what: str,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        interactive: bool = True,
    ) -> tuple[int, Any]:
        """One API call: (status, parsed JSON or None). Retries a refreshed token once and short 429s.

        ``interactive`` calls wait out at most ZOOM_MAX_RETRY_WAIT_SECONDS of Retry-After;
        background calls never wait here, they raise ZoomRateLimited for the caller to pause.
        """
        refreshed = False
        attempts = 0
        while True:
            token = await self.access_token(credentials)
            try:
                async with self._client().request(
                    method,
                    self._api + path,
                    params=params,
                    json=json_body,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                ) as reply:
                    status, text, headers = reply.status, await reply.text(), dict(reply.headers)
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise errors.ZoomUnavailable(f"Zoom did not answer ({what}): {exc.__class__.__name__}") from None
            if status == 401 and not refreshed:
                self._tokens.pop(credentials.cache_key, None)
                refreshed = True
                continue
            if status == 429:
                wait = retry_after_seconds(headers, self._clock())
                attempts += 1
                if interactive and wait <= self._max_wait and attempts <= MAX_RATE_LIMIT_RETRIES:
                    log.info("zoom rate limit: waiting", extra={"what": what, "seconds": wait})
                    await self._sleep(wait)
                    continue
                raise errors.ZoomRateLimited(
                    f"Zoom's rate limit for {what} is reached: try again in {int(wait) + 1} s",
                    metadata={"retry_after_seconds": str(int(wait) + 1)},
                ) from None
            if status >= 500:
                raise errors.ZoomUnavailable(f"Zoom answered {status} ({what}): try again later")
            if status >= 400:
                raise errors.ZoomRefused(f"Zoom refused {what} ({status}): {_zoom_message(text)}")
            return status, (json.loads(text) if text.strip() else None)

    async def create_meeting(
        self, credentials: ZoomCredentials, *, host: str, topic: str, start: datetime, end: datetime
    ) -> domain.ZoomMeeting:
        """A scheduled meeting (type 2) with registration on and automatic approval.

        Registration is what lets each learner get a personal join link (a registrant id
        that webhooks echo back); confirmation emails are off, since the LMS delivers links.
        """
        body = {
            "topic": topic,
            "type": 2,
            "start_time": domain.zoom_time(start),
            "duration": domain.duration_minutes(start, end),
            "timezone": "UTC",
            "settings": {"approval_type": 0, "registrants_confirmation_email": False, "waiting_room": False},
        }
        _, document = await self.call(
            credentials, "POST", f"/users/{_segment(host)}/meetings", what="creating the meeting", json_body=body
        )
        if not isinstance(document, dict) or "id" not in document:
            raise errors.ZoomUnavailable("Zoom created a meeting but answered without its id")
        return domain.ZoomMeeting(
            meeting_id=str(document["id"]),
            meeting_uuid=str(document.get("uuid", "")),
            join_url=str(document.get("join_url", "")),
            start_url=str(document.get("start_url", "")),
        )

    async def update_meeting(self, credentials: ZoomCredentials, meeting_id: str, change: domain.MeetingChange) -> None:
        """Tell Zoom a new topic and/or new times (start, whole minutes of duration, in UTC)."""
        body: dict[str, Any] = {}
        if change.topic is not None:
            body["topic"] = change.topic
        if change.times is not None:
            start, end = change.times
            body.update(
                start_time=domain.zoom_time(start), duration=domain.duration_minutes(start, end), timezone="UTC"
            )
        await self.call(
            credentials, "PATCH", f"/meetings/{_segment(meeting_id)}", what="updating the meeting", json_body=body
        )

    async def delete_meeting(self, credentials: ZoomCredentials, meeting_id: str) -> None:
        """Delete; a meeting Zoom no longer has is already what we want."""
        try:
            await self.call(credentials, "DELETE", f"/meetings/{_segment(meeting_id)}", what="deleting the meeting")
        except errors.ZoomRefused as exc:
            if "(404)" not in exc.message:
                raise

    async def add_registrant(
        self, credentials: ZoomCredentials, meeting_id: str, registrant: domain.Registrant
    ) -> domain.ZoomRegistration:
        body = {
            "email": registrant.email,
            "first_name": registrant.first_name or "Learner",
            "last_name": registrant.last_name,
        }
        _, document = await self.call(
            credentials,
            "POST",
            f"/meetings/{_segment(meeting_id)}/registrants",
            what="registering the learner",
            json_body=body,
        )
        if not isinstance(document, dict) or "join_url" not in document:
            raise errors.ZoomUnavailable("Zoom registered the learner but answered without a join URL")
        return domain.ZoomRegistration(
            registrant_id=str(document.get("registrant_id") or document.get("id") or ""),
            join_url=str(document["join_url"]),
        )

    async def participants_page(
        self, credentials: ZoomCredentials, meeting_uuid: str, page_token: str, *, interactive: bool
    ) -> tuple[list[dict[str, Any]], str]:
        """One page (up to 300) of the participants report of a meeting instance, and the next token."""
        params = {"page_size": str(REPORT_PAGE_SIZE)}
        if page_token:
            params["next_page_token"] = page_token
        _, document = await self.call(
            credentials,
            "GET",
            f"/report/meetings/{domain.report_path_uuid(meeting_uuid)}/participants",
            what="reading the participants report",
            params=params,
            interactive=interactive,
        )
        document = document if isinstance(document, dict) else {}
        records = [r for r in document.get("participants", []) if isinstance(r, dict)]
        return records, str(document.get("next_page_token") or "")


def _segment(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="@")


def _zoom_message(text: str) -> str:
    """Zoom's ``{"code", "message"}`` error body, or the start of whatever came."""
    try:
        document = json.loads(text)
        if isinstance(document, dict) and document.get("message"):
            return str(document["message"])[:MAX_ERROR_TEXT]
        if isinstance(document, dict) and document.get("reason"):
            return str(document["reason"])[:MAX_ERROR_TEXT]
    except ValueError:
        pass
    return text.strip()[:MAX_ERROR_TEXT] or "no reason given"


class Lti:
    """lti_svc's GetZoomCredentials and ListCourseMembers, called as a Service of the organization."""

    def __init__(self, address: str, jwt_secret: str, timeout_seconds: float) -> None:
        self._channel = grpc.aio.insecure_channel(address)
        self._stub = lti_pb2_grpc.LtiServiceStub(self._channel)
        self._secret = jwt_secret
        self._timeout = timeout_seconds

    async def close(self) -> None:
        await self._channel.close(None)

    def _metadata(self, organization_id: str) -> tuple[tuple[str, str], ...]:
        token = issue_session_token(
            self._secret,
            user_id=SERVICE_USER,
            organization_id=organization_id,
            course_id=None,
            roles=[SERVICE_ROLE],
            ttl_seconds=60,
        )
        return ((AUTHORIZATION_METADATA_KEY, f"Bearer {token}"),)

    async def zoom_credentials(self, organization_id: str, config_id: str) -> ZoomCredentials:
        try:
            reply = await self._stub.GetZoomCredentials(
                lti_pb2.GetZoomCredentialsRequest(config_id=config_id, organization_id=organization_id),
                timeout=self._timeout,
                metadata=self._metadata(organization_id),
            )
        except grpc.aio.AioRpcError as exc:
            raise _lti_error(exc, "reading the Zoom credentials") from None
        return ZoomCredentials(reply.account_id, reply.client_id, reply.client_secret)

    async def roster(self, organization_id: str, course_id: str) -> list[domain.RosterMember]:
        """The course's members over NRPS; empty when the platform offers no roster for the course."""
        members: list[domain.RosterMember] = []
        token = ""
        for _ in range(100):
            try:
                reply = await self._stub.ListCourseMembers(
                    lti_pb2.ListCourseMembersRequest(course_id=course_id, page_size=1000, page_token=token),
                    timeout=self._timeout,
                    metadata=self._metadata(organization_id),
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION):
                    log.info("no roster for the course", extra={"course_id": course_id, "why": exc.details()})
                    return []
                raise _lti_error(exc, "reading the course roster") from None
            for m in reply.members:
                if m.status in (lti_pb2.COURSE_MEMBER_STATUS_DELETED,):
                    continue
                members.append(
                    domain.RosterMember(
                        user_id=m.user_id,
                        name=m.name or " ".join(p for p in (m.given_name, m.family_name) if p),
                        email=m.email,
                        is_learner="Learner" in m.roles,
                    )
                )
            token = reply.next_page_token
            if not token:
                break
        return members


def _lti_error(exc: grpc.aio.AioRpcError, what: str) -> errors.AttendanceError:
    if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return errors.LtiUnavailable(f"lti_svc did not answer ({what}): try again later")
    if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
        return errors.ZoomNotConfigured(str(exc.details()))
    return errors.LtiRefused(f"{what}: {exc.details()}")


def _notice_json(notice: domain.PresenceNotice) -> dict[str, str]:
    document = {"kind": notice.kind}
    if notice.is_presence_change:
        at = notice.occurred_at.isoformat() if notice.occurred_at is not None else ""
        document.update(name=notice.name, email=notice.email, at=at)
    return document


def _notices_of(message: Mapping[str, Any] | None) -> list[domain.PresenceNotice]:
    """The notices one pub/sub message carries; anything unreadable carries none."""
    if not message or message.get("type") != "message":
        return []
    try:
        data = json.loads(message["data"])
    except (ValueError, TypeError):
        return []
    if not isinstance(data, list):
        return []
    return [_notice_of(item) for item in data if isinstance(item, dict)]


def _notice_of(item: Mapping[str, Any]) -> domain.PresenceNotice:
    at = item.get("at")
    occurred_at: datetime | None = None
    if isinstance(at, str):
        with contextlib.suppress(ValueError):
            occurred_at = datetime.fromisoformat(at)
    return domain.PresenceNotice(
        kind=str(item.get("kind", "")),
        name=str(item.get("name", "")),
        email=str(item.get("email", "")),
        occurred_at=occurred_at,
    )


class PresenceWatch:
    """One watcher's subscription to a meeting's channel."""

    def __init__(self, pubsub: PubSub) -> None:
        self._pubsub = pubsub

    async def next(self, *, wait_seconds: float) -> list[domain.PresenceNotice]:
        """The notices of the next message, waiting at most ``wait_seconds`` (none when nothing came)."""
        message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=wait_seconds)
        return _notices_of(message)

    async def drain(self) -> list[domain.PresenceNotice]:
        """Every notice already waiting, without waiting for more."""
        notices: list[domain.PresenceNotice] = []
        while True:
            message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=0.0)
            if message is None:
                return notices
            notices += _notices_of(message)


class PresenceFeed:
    """Redis pub/sub per meeting: whichever process stored the event, every watcher hears it."""

    def __init__(self, redis: Redis[bytes]) -> None:
        self._redis = redis

    @staticmethod
    def channel(meeting_id: str) -> str:
        return PRESENCE_CHANNEL_PREFIX + meeting_id

    @contextlib.asynccontextmanager
    async def watch(self, meeting_id: str) -> AsyncIterator[PresenceWatch]:
        """Subscribed from entry (so nothing published after it is missed) until exit."""
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self.channel(meeting_id))
        try:
            yield PresenceWatch(pubsub)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe()
                await pubsub.close()

    async def publish(self, items: Sequence[domain.EventToStore]) -> None:
        by_meeting: dict[str, list[dict[str, str]]] = {}
        for item in items:
            if item.event in (domain.PARTICIPANT_JOINED, domain.PARTICIPANT_LEFT) and item.participant is not None:
                kind = domain.JOINED if item.event == domain.PARTICIPANT_JOINED else domain.LEFT
                notice = domain.PresenceNotice(kind, item.participant.name, item.participant.email, item.occurred_at)
                by_meeting.setdefault(item.meeting_id, []).append(_notice_json(notice))
            elif item.event in (domain.MEETING_STARTED, domain.MEETING_ENDED):
                by_meeting.setdefault(item.meeting_id, []).append(_notice_json(domain.PresenceNotice(item.event)))
        if not by_meeting:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for meeting_id, notices in by_meeting.items():
                pipe.publish(self.channel(meeting_id), json.dumps(notices))
            await pipe.execute()
