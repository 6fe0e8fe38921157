"""HLS playlists and segments on the edge: token check, cached rewritten playlists, CORS.

Routes (all bound in playback.proto; these handlers replace the generic ones):

- ``GET /api/v1/media/hls/{video_id}/master.m3u8?token=``
- ``GET /api/v1/media/hls/{video_id}/{rendition}/index.m3u8?token=``
- ``GET /api/v1/media/hls/{video_id}/{rendition}/{segment}?token=`` (ResolveSegment: a 302
  to the signed URL, or in proxy mode the bytes, streamed from object storage)
- ``OPTIONS`` on any of them: the CORS preflight (:func:`hls_preflight_middleware`).

``{rendition}`` is a rung (``720p``) or, for a demuxed video, its one audio rendition
``audio`` (listed by the master's ``EXT-X-MEDIA``): both handlers check the name with
:func:`playback_svc.domain.check_rendition_name`, the very pattern playback_svc applies
before its whitelist, so the edge refuses nothing playback_svc would serve.

Why the edge serves playlists itself: the generic path costs a gRPC round trip to
playback_svc per request, and a rewritten hour-long variant (600 signed URLs, ~250 kB)
crosses that hop each time; bench/playback.py measures both. Here a request costs the
token check (one HMAC, :func:`playback_svc.domain.verify_token`, the very function
playback_svc uses) and a dict lookup; playback_svc is called only to fill the cache.
A player asks with the same token for as long as it plays, so a token whose signature
and video were checked once is remembered (:class:`VerifiedTokens`): later requests
re-check only its expiry (a profile of the edge under load put the full check at about
a twentieth of a request's time).

The cache key is (video, rendition, links expiry), the links expiry being the token's
expiry rounded down to a window (:func:`playback_svc.domain.links_expiry`), so all the
tokens of one window share one entry. Text that carries the token (variant URIs of the
master, segment URIs in proxy mode) is stored split around the token of the request
that filled it, and joined with each caller's own token: a token is still checked, and
still bound, per request. Entries live as long as playback_svc's ``max_age`` says (a
growing EVENT playlist: half a target duration).

A token-free body (a variant whose segment URLs are signed) is also gzipped once when
the entry is filled, and served so to players that send ``Accept-Encoding: gzip``
(browsers, hls.js, AVPlayer): signed URLs compress about eightfold (221 kB to 26 kB
for 600 segments in bench/playback.py).
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import grpc
from aiohttp import web
from aiohttp.typedefs import Handler as MiddlewareHandler
from aiohttp.typedefs import Middleware

from edge.errors import EdgeError, error_response, from_service_error
from edge.gateway import call_unary, operation_of
from edge.keys import MATCH, REQUEST_ID, SETTINGS
from edge.operations import Documented, Handler
from media.playback.v1 import playback_pb2
from playback_svc import domain
from playback_svc.cache import ExpiringCache
from service_kit.context import REQUEST_ID_HEADER
from service_kit.errors import ServiceError
from service_kit.settings import PlaybackSettings, SettingsError, load_playback_settings

log = logging.getLogger("edge.hls")

HLS_PREFIX = "/api/v1/media/hls/"
MASTER_ROUTE = ("GET", "/api/v1/media/hls/{video_id}/master.m3u8")
VARIANT_ROUTE = ("GET", "/api/v1/media/hls/{video_id}/{rendition}/index.m3u8")
SEGMENT_ROUTE = ("GET", "/api/v1/media/hls/{video_id}/{rendition}/{segment}")
PLAYLIST_ROUTES = frozenset({MASTER_ROUTE[1], VARIANT_ROUTE[1]})
"""The path templates players poll (a live variant every target duration): their access log is sampled."""
CACHE_MAX_ENTRIES = 4096
CACHE_MAX_BYTES = 128 * 1024 * 1024
PREFLIGHT_MAX_AGE = "600"
STREAM_CHUNK_BYTES = 256 * 1024
_TOKEN = {
    "name": "token",
    "in": "query",
    "required": True,
    "description": "The HLS access token (the credential here: no Authorization header is read).",
    "schema": {"type": "string"},
}
PLAYLIST_OPENAPI: dict[str, Any] = {
    "security": [],
    "parameters": [_TOKEN],
    "responses": {
        "200": {
            "description": "The playlist rewritten for this token (gzipped when accepted), with CORS headers.",
            "content": {domain.PLAYLIST_CONTENT_TYPE: {"schema": {"type": "string"}}},
        }
    },
}
"""What the cached playlist handler reads and answers, for /openapi.json."""
SEGMENT_OPENAPI: dict[str, Any] = {
    "security": [],
    "parameters": [
        _TOKEN,
        {"name": "Range", "in": "header", "required": False, "schema": {"type": "string"}},
    ],
    "responses": {
        "302": {
            "description": "To the segment's signed URL (object storage or the CDN).",
            "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
        },
        "200": {
            "description": "Proxy mode: the segment's bytes, streamed from object storage.",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        },
        "206": {
            "description": "Proxy mode: the requested range of the segment.",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        },
    },
}
"""What the segment handler reads and answers, for /openapi.json."""

PROXY_PASSED_HEADERS = ("Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "ETag", "Last-Modified")
"""Headers of object storage's answer a player may use; nothing else (no x-amz-*) is relayed."""


GZIP_MIN_BYTES = 1024
"""Smaller playlists (a master) go out as they are: gzip would save a packet at most."""


@dataclass(frozen=True)
class CachedPlaylist:
    """A rewritten playlist split around the token that filled it, and how long it is good for.

    ``gzipped`` is the whole body compressed once, at fill time, when the body does not
    depend on the token (variant playlists whose segments are presigned or CDN-signed):
    a 1-hour lecture's playlist is about 220 kB of signed URLs, which a player fetches
    again and again while the video is still transcoding.
    """

    parts: tuple[bytes, ...]
    deadline: float
    links_expire_at: int | None
    ended: bool
    size: int
    gzipped: bytes | None = None

    def for_token(self, token: bytes) -> bytes:
        return self.parts[0] if len(self.parts) == 1 else token.join(self.parts)


VERIFIED_TOKENS_MAX = 65536
"""Verified tokens remembered per edge process (each under 1 kB), then forgotten all at once."""


class VerifiedTokens:
    """Tokens already verified for a video, so a player's next request re-checks only the expiry.

    Only tokens that passed :func:`playback_svc.domain.verify_token` are kept, under the
    secret, the exact token text and the video, so nothing a client makes up can enter or
    match; an expired one is dropped and checked in full again, which answers as before.
    """

    def __init__(self, max_entries: int = VERIFIED_TOKENS_MAX) -> None:
        self._max_entries = max_entries
        self._tokens: dict[tuple[str, str, str], domain.AccessToken] = {}

    def verify(self, secret: str, token: str, *, video_id: str, now: float) -> domain.AccessToken:
        key = (secret, token, video_id)
        known = self._tokens.get(key)
        if known is not None:
            if known.expires_at > now:
                return known
            del self._tokens[key]
        verified = domain.verify_token(secret, token, video_id=video_id, now=now)
        if len(self._tokens) >= self._max_entries:
            self._tokens.clear()
        self._tokens[key] = verified
        return verified

    def __len__(self) -> int:
        return len(self._tokens)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header admits gzip (``gzip;q=0`` refuses it)."""
    for item in accept_encoding.split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            quality = params.strip().lower().removeprefix("q=")
            try:
                return not params.strip() or float(quality) > 0
            except ValueError:
                return False
    return False


def cors_headers(origins: tuple[str, ...], request_origin: str | None) -> dict[str, str]:
    """Access-Control-Allow-Origin for a player's origin: ``*``, or the origin itself if listed."""
    if "*" in origins:
        return {"Access-Control-Allow-Origin": "*"}
    if request_origin is not None and request_origin.rstrip("/") in origins:
        return {"Access-Control-Allow-Origin": request_origin, "Vary": "Origin"}
    return {"Vary": "Origin"}


class HlsEdge:
    """The HLS handlers and their playlist cache; one per edge process."""

    def __init__(self, playback: PlaybackSettings, *, clock: Callable[[], float] = time.time) -> None:
        self._playback = playback
        self._clock = clock
        self._window = domain.window_seconds(playback.token_ttl_seconds)
        self._tokens = VerifiedTokens()
        self._cache: ExpiringCache[tuple[str, str, int], CachedPlaylist] = ExpiringCache(
            max_entries=CACHE_MAX_ENTRIES, max_weight=CACHE_MAX_BYTES, weigh=lambda entry: entry.size
        )

    def overrides(self) -> dict[tuple[str, str], Handler]:
        return {
            MASTER_ROUTE: Documented(self.playlist, PLAYLIST_OPENAPI),
            VARIANT_ROUTE: Documented(self.playlist, PLAYLIST_OPENAPI),
            SEGMENT_ROUTE: Documented(self.segment, SEGMENT_OPENAPI),
        }

    def _cors(self, request: web.Request) -> dict[str, str]:
        return cors_headers(self._playback.cors_origins, request.headers.get("Origin"))

    def _refusal(self, request: web.Request, error: ServiceError | EdgeError) -> web.Response:
        edge_error = error if isinstance(error, EdgeError) else from_service_error(error, token_sent=False)
        edge_error.headers.pop("WWW-Authenticate", None)  # the credential is ?token=, not a Bearer header
        response = error_response(edge_error)
        response.headers.update(self._cors(request))
        response.headers["Cache-Control"] = "no-store"
        return response

    # ---- playlists -------------------------------------------------------------------------

    async def playlist(self, request: web.Request) -> web.StreamResponse:
        """Master or variant playlist: token first, then the cache, then playback_svc."""
        params = request[MATCH].params
        video_id = params["video_id"]
        rendition = params.get("rendition", "")
        token_text = request.query.get("token", "")
        now = self._clock()
        try:
            token = self._tokens.verify(request.app[SETTINGS].hls_proxy_secret, token_text, video_id=video_id, now=now)
            if rendition:
                domain.check_rendition_name(rendition)
        except ServiceError as exc:
            return self._refusal(request, exc)
        links_expire_at = domain.links_expiry(token.expires_at, now, self._window) if rendition else 0
        key = (video_id, rendition, links_expire_at)
        entry = self._cache.get(key)
        if entry is not None and entry.links_expire_at is not None and entry.links_expire_at > token.expires_at:
            self._cache.discard(key)  # filled under another HLS_TOKEN_TTL: its links outlive this token
            entry = None
        if entry is None:
            try:
                entry = await self._cache.get_or_fill(key, lambda: self._fill(request, video_id, rendition, token_text))
            except (ServiceError, EdgeError) as exc:
                return self._refusal(request, exc)
        remaining = max(0, int(entry.deadline - now))
        headers = {
            "Content-Type": domain.PLAYLIST_CONTENT_TYPE,
            "Cache-Control": f"private, max-age={remaining}" if entry.ended else "private, no-cache",
            **self._cors(request),
        }
        if entry.gzipped is not None:
            headers["Vary"] = ", ".join(filter(None, (headers.get("Vary"), "Accept-Encoding")))
            if accepts_gzip(request.headers.get("Accept-Encoding", "")):
                headers["Content-Encoding"] = "gzip"
                return web.Response(body=entry.gzipped, headers=headers)
        return web.Response(body=entry.for_token(token_text.encode()), headers=headers)

    async def _fill(
        self, request: web.Request, video_id: str, rendition: str, token: str
    ) -> tuple[CachedPlaylist, float]:
        message = playback_pb2.GetPlaylistRequest(video_id=video_id, rendition=rendition, token=token)
        reply: Any = await call_unary(request, operation_of(request), message, _metadata(request))
        body = bytes(reply.body.data)
        max_age = reply.max_age.ToTimedelta().total_seconds() if reply.HasField("max_age") else 0.0
        links = int(reply.links_expire_at.seconds) if reply.HasField("links_expire_at") else None
        parts = tuple(body.split(token.encode()))
        gzipped = None
        if len(parts) == 1 and len(body) >= GZIP_MIN_BYTES:
            gzipped = await asyncio.to_thread(gzip.compress, body, compresslevel=6, mtime=0)
        entry = CachedPlaylist(
            parts=parts,
            deadline=self._clock() + max_age,
            links_expire_at=links,
            ended=not rendition or b"#EXT-X-ENDLIST" in body,
            size=len(body) + len(gzipped or b""),
            gzipped=gzipped,
        )
        return entry, max_age

    # ---- segments --------------------------------------------------------------------------

    async def segment(self, request: web.Request) -> web.StreamResponse:
        """A segment: 302 to its signed URL, or (proxy mode) its bytes streamed from object storage."""
        params = request[MATCH].params
        video_id, rendition, segment = params["video_id"], params["rendition"], params["segment"]
        token_text = request.query.get("token", "")
        try:
            self._tokens.verify(
                request.app[SETTINGS].hls_proxy_secret, token_text, video_id=video_id, now=self._clock()
            )
            domain.check_rendition_name(rendition)
            domain.check_segment_name(segment)
            message = playback_pb2.ResolveSegmentRequest(
                video_id=video_id, rendition=rendition, segment=segment, token=token_text
            )
            reply: Any = await call_unary(request, operation_of(request), message, _metadata(request))
        except (ServiceError, EdgeError) as exc:
            return self._refusal(request, exc)
        target = reply.WhichOneof("target")
        cors = self._cors(request)
        if target == "redirect_url":
            return web.Response(
                status=302, headers={"Location": reply.redirect_url, "Cache-Control": "private, no-store", **cors}
            )
        if target == "body":
            return web.Response(
                body=bytes(reply.body.data),
                headers={"Content-Type": reply.body.content_type or "video/mp2t", "Cache-Control": "private", **cors},
            )
        return await self._stream(request, str(reply.upstream_url), cors)

    async def _stream(self, request: web.Request, url: str, cors: Mapping[str, str]) -> web.StreamResponse:
        """Relay object storage's answer chunk by chunk (Range passed through), never the whole file in memory.

        One client session per segment: proxy mode is the fallback for stores players
        cannot reach, and a segment is seconds of video, so a connection per segment is
        cheap next to the bytes it carries.
        """
        forwarded = {"Range": request.headers["Range"]} if "Range" in request.headers else {}
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=30)
        async with (
            aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session,
            session.get(url, headers=forwarded) as upstream,
        ):
            if upstream.status not in (200, 206):
                log.warning("segment read failed", extra={"upstream_status": upstream.status})
                status = 404 if upstream.status in (403, 404) else 503
                return self._refusal(request, _upstream_error(status))
            response = web.StreamResponse(status=upstream.status)
            for name in PROXY_PASSED_HEADERS:
                if name in upstream.headers:
                    response.headers[name] = upstream.headers[name]
            response.headers["Cache-Control"] = "private"
            response.headers.update(cors)
            await response.prepare(request)
            async for chunk in upstream.content.iter_chunked(STREAM_CHUNK_BYTES):
                await response.write(chunk)
            await response.write_eof()
            return response


def _upstream_error(status: int) -> EdgeError:
    if status == 404:
        return EdgeError(grpc.StatusCode.NOT_FOUND, "no such segment for this video")
    return EdgeError(grpc.StatusCode.UNAVAILABLE, "object storage did not return the segment: try again shortly")


def _metadata(request: web.Request) -> tuple[tuple[str, str], ...]:
    """Only the request id: playlist requests carry no session (players cannot send one)."""
    return ((REQUEST_ID_HEADER, request[REQUEST_ID]),)


def _playback_settings_or_exit() -> PlaybackSettings:
    try:
        return load_playback_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def hls_overrides(playback: PlaybackSettings | None = None) -> dict[tuple[str, str], Handler]:
    """The HLS handlers for ``create_app(overrides=...)``, with one playlist cache."""
    return HlsEdge(playback or _playback_settings_or_exit()).overrides()


def hls_preflight_middleware(playback: PlaybackSettings | None = None) -> Middleware:
    """Answers CORS preflights (OPTIONS) on the HLS routes; every other request passes through.

    No proto binds OPTIONS, so the router would answer 405; players on another origin
    that add a header (Range, say) preflight first, and get GET allowed here.
    """
    settings = playback or _playback_settings_or_exit()

    @web.middleware
    async def middleware(request: web.Request, handler: MiddlewareHandler) -> web.StreamResponse:
        if request.method != "OPTIONS" or not request.path.startswith(HLS_PREFIX):
            return await handler(request)
        headers = {
            **cors_headers(settings.cors_origins, request.headers.get("Origin")),
            "Access-Control-Allow-Methods": "GET, OPTIONS",
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
            "Allow": "GET, OPTIONS",
        }
        asked = request.headers.get("Access-Control-Request-Headers")
        if asked:
            headers["Access-Control-Allow-Headers"] = ", ".join(
                name.strip() for name in asked.split(",") if name.strip().replace("-", "").isalnum()
            )
        return web.Response(status=204, headers=headers)

    return middleware
