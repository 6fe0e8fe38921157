"""The PlaybackService servicer and the process's ``serve``.

Each RPC maps proto to domain and back: token format, windows, whitelists and rewriting
are in :mod:`playback_svc.domain`, object storage, signers and the catalog in
:mod:`playback_svc.adapters`. Playback's one table holds viewers' positions
(:mod:`playback_svc.store`, for resuming); the rest of its state is the token policy
(settings) and the playlist cache, which lives in this process (see
:mod:`playback_svc.cache`): parsed master and variant playlists per video, and
rewritten variants per (video, rendition, links expiry).

GetPlaylist and ResolveSegment need no session: the HLS token in the request is the
whole authorisation, checked before anything else. CreateAccessToken needs the
caller's session; upload_svc's GetVideo, called with that same session, decides
whether the caller sees the video at all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from google.api import httpbody_pb2
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from media.playback.v1 import playback_pb2, playback_pb2_grpc
from playback_svc import adapters, domain, errors, store
from playback_svc.cache import ExpiringCache
from playback_svc.domain import CatalogStatus, Delivery, MasterPlaylist, VariantPlaylist
from service_kit.caller import forwarded_metadata, require_caller
from service_kit.db import create_engine, session_factory
from service_kit.grpc_server import Registration
from service_kit.grpc_server import serve as serve_grpc
from service_kit.settings import PlaybackSettings, Settings, SettingsError, load_playback_settings

if TYPE_CHECKING:
    from grpc import aio

    Context = aio.ServicerContext[Any, Any]
else:
    Context = Any

log = logging.getLogger(__name__)

SERVICE_NAME = playback_pb2.DESCRIPTOR.services_by_name["PlaybackService"].full_name
VOD_SOURCE_SECONDS = 600.0
"""A finished (VOD) variant never changes; re-read now and then only so a deleted video stops."""
UPSTREAM_URL_SECONDS = 60
"""Proxy mode: the edge starts reading at once, so its internal URL needs only a minute."""


@dataclass(frozen=True)
class Dependencies:
    """What the servicer talks to, made once per process."""

    secret: str
    playback: PlaybackSettings
    public_base_url: str
    store: adapters.HlsStore
    catalog: adapters.Catalog
    links: adapters.SigV4Presigner | adapters.CloudFrontSigner | None
    """Signer of segment URLs for players (s3, cdn); None in proxy mode."""
    internal: adapters.SigV4Presigner
    """Signer on the internal endpoint, for the edge's reads in proxy mode."""
    sessions: async_sessionmaker[AsyncSession] | None = None
    """The database (viewing positions); None where a test needs none."""


@dataclass(frozen=True)
class Rendered:
    """A rewritten variant and the stored playlist it was made from."""

    source: VariantPlaylist
    text: str


def master_url(public_base_url: str, video_id: str, token: str) -> str:
    return f"{public_base_url}/api/v1/media/hls/{quote(video_id, safe='')}/{domain.MASTER_PLAYLIST}?token={token}"


class PlaybackServicer(playback_pb2_grpc.PlaybackServiceServicer):
    """Serves media.playback.v1.PlaybackService."""

    def __init__(self, deps: Dependencies, *, clock: Callable[[], float] = time.time) -> None:
        self._deps = deps
        self._clock = clock
        self._delivery = Delivery(deps.playback.segment_delivery)
        self._window = domain.window_seconds(deps.playback.token_ttl_seconds)
        self._masters: ExpiringCache[str, MasterPlaylist] = ExpiringCache(max_entries=10_000)
        self._variants: ExpiringCache[tuple[str, str], VariantPlaylist] = ExpiringCache(max_entries=10_000)
        self._rendered: ExpiringCache[tuple[str, str, int], Rendered] = ExpiringCache(
            max_entries=2_000, max_weight=256 * 1024 * 1024, weigh=lambda r: len(r.text)
        )

    # ---- tokens ----------------------------------------------------------------------------

    async def CreateAccessToken(
        self, request: playback_pb2.CreateAccessTokenRequest, context: Context
    ) -> playback_pb2.CreateAccessTokenResponse:
        caller = require_caller()
        video_id = domain.check_identifier("video_id", request.video_id)
        video = await self._deps.catalog.video(video_id, forwarded_metadata(context))
        if video.status is CatalogStatus.NOT_PLAYABLE:
            raise errors.VideoNotPlayable(
                "the video has nothing to play: its upload is unfinished, failed or cancelled"
            )
        subject = domain.token_subject(caller, request.user_id)
        try:
            await self._master(video.video_id)
        except errors.PlaylistNotFound:
            raise errors.VideoNotPlayable(
                "the video is not playable yet: transcoding has not published its first segments; try again shortly"
            ) from None
        expires_at = int(self._clock()) + self._deps.playback.token_ttl_seconds
        token = domain.mint_token(self._deps.secret, user_id=subject, video_id=video.video_id, expires_at=expires_at)
        log.info("hls token issued", extra={"video_id": video.video_id, "for_user": subject})
        reply = playback_pb2.CreateAccessTokenResponse(
            token=token, master_url=master_url(self._deps.public_base_url, video.video_id, token)
        )
        reply.expires_at.FromSeconds(expires_at)
        return reply

    # ---- viewing progress ------------------------------------------------------------------

    async def _viewer_of(self, video_id: str, context: Context) -> tuple[str, str, str]:
        """(organization, user, video) of the caller's progress, once the catalog says they see the video."""
        caller = require_caller()
        video_id = domain.check_identifier("video_id", video_id)
        video = await self._deps.catalog.video(video_id, forwarded_metadata(context))
        return caller.organization_id, caller.user_id, video.video_id

    def _database(self) -> async_sessionmaker[AsyncSession]:
        if self._deps.sessions is None:
            raise errors.StorageUnavailable("viewing progress is not stored by this process")
        return self._deps.sessions

    async def RecordPlaybackProgress(
        self, request: playback_pb2.RecordPlaybackProgressRequest, context: Context
    ) -> playback_pb2.RecordPlaybackProgressResponse:
        position, duration = domain.progress_position(request.position_seconds, request.duration_seconds)
        organization_id, user_id, video_id = await self._viewer_of(request.video_id, context)
        async with self._database().begin() as session:
            stored = await store.record_position(session, organization_id, user_id, video_id, position, duration)
        return playback_pb2.RecordPlaybackProgressResponse(progress=progress_message(video_id, stored))

    async def GetPlaybackProgress(
        self, request: playback_pb2.GetPlaybackProgressRequest, context: Context
    ) -> playback_pb2.GetPlaybackProgressResponse:
        organization_id, user_id, video_id = await self._viewer_of(request.video_id, context)
        async with self._database()() as session:
            stored = await store.position_of(session, organization_id, user_id, video_id)
        return playback_pb2.GetPlaybackProgressResponse(progress=progress_message(video_id, stored))

    # ---- playlists -------------------------------------------------------------------------

    async def GetPlaylist(
        self, request: playback_pb2.GetPlaylistRequest, context: Context
    ) -> playback_pb2.GetPlaylistResponse:
        now = self._clock()
        token = domain.verify_token(self._deps.secret, request.token, video_id=request.video_id, now=now)
        master = await self._master(token.video_id)
        reply = playback_pb2.GetPlaylistResponse()
        if not request.rendition:
            text = domain.rewrite_master(master, request.token)
            reply.max_age.FromSeconds(domain.MASTER_MAX_AGE_SECONDS)
        else:
            rendition = self._whitelisted_rendition(master, request.rendition)
            variant = await self._variant(token.video_id, rendition)
            if self._delivery is Delivery.PROXY:
                text = domain.rewrite_variant(variant, domain.proxied_segment_uri(request.token))
                reply.max_age.FromSeconds(domain.variant_max_age(variant, token.expires_at, now))
            else:
                links_expire_at = domain.links_expiry(token.expires_at, now, self._window)
                text = await self._signed_variant(token.video_id, rendition, variant, links_expire_at, now)
                reply.max_age.FromSeconds(domain.variant_max_age(variant, links_expire_at, now))
                reply.links_expire_at.FromSeconds(links_expire_at)
        reply.body.CopyFrom(httpbody_pb2.HttpBody(content_type=domain.PLAYLIST_CONTENT_TYPE, data=text.encode()))
        return reply

    async def ResolveSegment(
        self, request: playback_pb2.ResolveSegmentRequest, context: Context
    ) -> playback_pb2.ResolveSegmentResponse:
        now = self._clock()
        token = domain.verify_token(self._deps.secret, request.token, video_id=request.video_id, now=now)
        master = await self._master(token.video_id)
        rendition = self._whitelisted_rendition(master, request.rendition)
        segment = domain.check_segment_name(request.segment)
        variant = await self._variant(token.video_id, rendition)
        if segment not in variant.segments and not variant.ended:
            self._variants.discard((token.video_id, rendition))  # a growing playlist may list it by now
            variant = await self._variant(token.video_id, rendition)
        if segment not in variant.segments:
            raise errors.PlaylistNotFound("no such segment for this video")
        key = domain.hls_key(token.video_id, f"{rendition}/{segment}")
        if self._deps.links is None:
            return playback_pb2.ResolveSegmentResponse(
                upstream_url=self._deps.internal.signer(int(now) + UPSTREAM_URL_SECONDS, now)(key)
            )
        links_expire_at = domain.links_expiry(token.expires_at, now, self._window)
        sign = self._deps.links.signer(links_expire_at, now)
        url = await asyncio.to_thread(sign, key) if self._delivery is Delivery.CDN else sign(key)
        return playback_pb2.ResolveSegmentResponse(redirect_url=url)

    # ---- the playlist cache ----------------------------------------------------------------

    @staticmethod
    def _whitelisted_rendition(master: MasterPlaylist, name: str) -> str:
        domain.check_rendition_name(name)
        if name not in master.renditions:
            raise errors.PlaylistNotFound("no such playlist for this video")
        return name

    async def _master(self, video_id: str) -> MasterPlaylist:
        async def fill() -> tuple[MasterPlaylist, float]:
            text = await self._deps.store.read_text(domain.hls_key(video_id, domain.MASTER_PLAYLIST))
            if text is None:
                raise errors.PlaylistNotFound("no such playlist for this video")
            return domain.parse_master(text), domain.MASTER_MAX_AGE_SECONDS

        return await self._masters.get_or_fill(video_id, fill)

    async def _variant(self, video_id: str, rendition: str) -> VariantPlaylist:
        async def fill() -> tuple[VariantPlaylist, float]:
            key = domain.hls_key(video_id, f"{rendition}/{domain.VARIANT_PLAYLIST}")
            text = await self._deps.store.read_text(key)
            if text is None:
                raise errors.PlaylistNotFound("no such playlist for this video")
            variant = domain.parse_variant(text)
            return variant, VOD_SOURCE_SECONDS if variant.ended else max(1, variant.target_duration // 2)

        return await self._variants.get_or_fill((video_id, rendition), fill)

    async def _signed_variant(
        self, video_id: str, rendition: str, variant: VariantPlaylist, links_expire_at: int, now: float
    ) -> str:
        """The variant with signed segment URLs, rewritten once per stored version and window."""
        key = (video_id, rendition, links_expire_at)
        cached = self._rendered.get(key)
        if cached is not None and cached.source is variant:
            return cached.text
        links = self._deps.links
        assert links is not None
        prefix = domain.hls_key(video_id, rendition + "/")
        sign = links.signer(links_expire_at, now)
        # Off the event loop: 600 HMACs take milliseconds, 600 RSA signatures most of a second.
        text = await asyncio.to_thread(domain.rewrite_variant, variant, lambda name: sign(prefix + name))
        self._rendered.put(key, Rendered(variant, text), max(1.0, links_expire_at - now))
        return text


def progress_message(video_id: str, stored: store.Position | None) -> playback_pb2.PlaybackProgress:
    message = playback_pb2.PlaybackProgress(video_id=video_id)
    if stored is not None:
        message.position_seconds = stored.position_seconds
        message.duration_seconds = stored.duration_seconds
        message.resume_seconds = domain.resume_at(stored.position_seconds, stored.duration_seconds)
        message.updated_at.FromDatetime(stored.updated_at)
    return message


def dependencies(settings: Settings, playback: PlaybackSettings) -> Dependencies:
    """Signers and clients for the configured delivery mode."""
    links: adapters.SigV4Presigner | adapters.CloudFrontSigner | None
    if playback.segment_delivery == Delivery.CDN:
        assert playback.cdn_url and playback.cloudfront_key_pair_id and playback.cloudfront_private_key_pem
        links = adapters.CloudFrontSigner(
            cdn_url=playback.cdn_url,
            key_pair_id=playback.cloudfront_key_pair_id,
            private_key=adapters.load_rsa_private_key(playback.cloudfront_private_key_pem),
        )
    elif playback.segment_delivery == Delivery.S3:
        links = adapters.s3_presigner(settings, settings.s3_public_endpoint_url or settings.s3_endpoint_url)
    else:
        links = None
    return Dependencies(
        secret=settings.hls_proxy_secret,
        playback=playback,
        public_base_url=settings.public_base_url,
        store=adapters.HlsStore(settings),
        catalog=adapters.Catalog(settings.endpoint("upload").address, settings.backend_timeout_seconds),
        links=links,
        internal=adapters.s3_presigner(settings, settings.s3_endpoint_url),
        sessions=session_factory(create_engine(settings.database_url, pool_size=5)),
    )


async def serve(settings: Settings) -> None:
    try:
        playback = load_playback_settings()
    except SettingsError as exc:
        raise SystemExit(f"configuration error: {exc}") from None
    try:
        deps = dependencies(settings, playback)
    except ValueError as exc:  # a CloudFront key that does not parse
        raise SystemExit(f"configuration error: CLOUDFRONT_PRIVATE_KEY: {exc}") from None
    stops: list[Callable[[], Awaitable[None]]] = [deps.catalog.close]
    if deps.sessions is not None:
        engine = deps.sessions.kw["bind"]
        stops.append(engine.dispose)
    await serve_grpc(
        service="playback",
        settings=settings,
        registrations=[
            Registration(SERVICE_NAME, playback_pb2_grpc.add_PlaybackServiceServicer_to_server, PlaybackServicer(deps))
        ],
        on_stop=stops,
    )
