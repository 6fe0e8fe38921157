"""The PlaybackService servicer and the process's ``serve``.

Each RPC is proto in, a use case (:mod:`playback_svc.use_cases`), proto out: tokens in
:mod:`.use_cases.access_tokens`, playlists and segments in :mod:`.use_cases.playlists`
(with the per-process playlist cache, :mod:`playback_svc.cache`), resume positions in
:mod:`.use_cases.progress`. Rules are in :mod:`playback_svc.domain`; object storage,
signers and the catalog in :mod:`playback_svc.adapters`; positions in
:mod:`playback_svc.store`.

GetPlaylist and ResolveSegment need no session: the HLS token in the request is the
whole authorisation, checked before anything else. CreateAccessToken and the progress
RPCs need the caller's session; upload_svc's GetVideo, called with that same session,
decides whether the caller sees the video at all.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from google.api import httpbody_pb2

from media.playback.v1 import playback_pb2, playback_pb2_grpc
from playback_svc import adapters, domain, store
from playback_svc.domain import Delivery, ViewingPosition
from playback_svc.use_cases.access_tokens import AccessTokens
from playback_svc.use_cases.playlists import Playlists
from playback_svc.use_cases.ports import UnitOfWorkFactory, UrlSigner
from playback_svc.use_cases.progress import ViewingProgress
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

SERVICE_NAME = playback_pb2.DESCRIPTOR.services_by_name["PlaybackService"].full_name


@dataclass(frozen=True)
class UseCases:
    """The three use cases the servicer calls, made once per process."""

    tokens: AccessTokens
    playlists: Playlists
    progress: ViewingProgress


class PlaybackServicer(playback_pb2_grpc.PlaybackServiceServicer):
    """Serves media.playback.v1.PlaybackService: proto in, use case, proto out."""

    def __init__(self, use_cases: UseCases, *, clock: Callable[[], float] = time.time) -> None:
        self._use = use_cases
        self._clock = clock

    async def CreateAccessToken(
        self, request: playback_pb2.CreateAccessTokenRequest, context: Context
    ) -> playback_pb2.CreateAccessTokenResponse:
        issued = await self._use.tokens.mint(
            require_caller(), request.video_id, request.user_id, forwarded_metadata(context)
        )
        reply = playback_pb2.CreateAccessTokenResponse(token=issued.token, master_url=issued.master_url)
        reply.expires_at.FromSeconds(issued.expires_at)
        return reply

    async def RecordPlaybackProgress(
        self, request: playback_pb2.RecordPlaybackProgressRequest, context: Context
    ) -> playback_pb2.RecordPlaybackProgressResponse:
        progress = await self._use.progress.record(
            require_caller(),
            request.video_id,
            request.position_seconds,
            request.duration_seconds,
            forwarded_metadata(context),
        )
        message = progress_message(progress.video_id, progress.position)
        return playback_pb2.RecordPlaybackProgressResponse(progress=message)

    async def GetPlaybackProgress(
        self, request: playback_pb2.GetPlaybackProgressRequest, context: Context
    ) -> playback_pb2.GetPlaybackProgressResponse:
        progress = await self._use.progress.get(require_caller(), request.video_id, forwarded_metadata(context))
        message = progress_message(progress.video_id, progress.position)
        return playback_pb2.GetPlaybackProgressResponse(progress=message)

    async def GetPlaylist(
        self, request: playback_pb2.GetPlaylistRequest, context: Context
    ) -> playback_pb2.GetPlaylistResponse:
        rendered = await self._use.playlists.playlist(request.token, request.video_id, request.rendition, self._clock())
        reply = playback_pb2.GetPlaylistResponse()
        reply.max_age.FromSeconds(rendered.max_age_seconds)
        if rendered.links_expire_at is not None:
            reply.links_expire_at.FromSeconds(rendered.links_expire_at)
        reply.body.CopyFrom(
            httpbody_pb2.HttpBody(content_type=domain.PLAYLIST_CONTENT_TYPE, data=rendered.text.encode())
        )
        return reply

    async def ResolveSegment(
        self, request: playback_pb2.ResolveSegmentRequest, context: Context
    ) -> playback_pb2.ResolveSegmentResponse:
        location = await self._use.playlists.segment(
            request.token, request.video_id, request.rendition, request.segment, self._clock()
        )
        if location.upstream_url is not None:  # one of the oneof "target": setting both would keep the last
            return playback_pb2.ResolveSegmentResponse(upstream_url=location.upstream_url)
        return playback_pb2.ResolveSegmentResponse(redirect_url=location.redirect_url or "")


def progress_message(video_id: str, stored: ViewingPosition | None) -> playback_pb2.PlaybackProgress:
    message = playback_pb2.PlaybackProgress(video_id=video_id)
    if stored is not None:
        message.position_seconds = stored.position_seconds
        message.duration_seconds = stored.duration_seconds
        message.resume_seconds = domain.resume_at(stored.position_seconds, stored.duration_seconds)
        message.updated_at.FromDatetime(stored.updated_at)
    return message


def url_signer(settings: Settings, playback: PlaybackSettings) -> UrlSigner | None:
    """The signer of players' segment URLs for the configured delivery mode (None: proxy mode).

    Raises ValueError when the CloudFront private key does not parse.
    """
    if playback.segment_delivery == Delivery.CDN:
        assert playback.cdn_url and playback.cloudfront_key_pair_id and playback.cloudfront_private_key_pem
        return adapters.CloudFrontSigner(
            cdn_url=playback.cdn_url,
            key_pair_id=playback.cloudfront_key_pair_id,
            private_key=adapters.load_rsa_private_key(playback.cloudfront_private_key_pem),
        )
    if playback.segment_delivery == Delivery.S3:
        return adapters.s3_presigner(settings, settings.s3_public_endpoint_url or settings.s3_endpoint_url)
    return None


def use_cases(
    settings: Settings, playback: PlaybackSettings, catalog: adapters.Catalog, uow: UnitOfWorkFactory
) -> UseCases:
    """The use cases over this process's storage, signers, catalog and database."""
    playlists = Playlists(
        secret=settings.hls_proxy_secret,
        delivery=Delivery(playback.segment_delivery),
        token_ttl_seconds=playback.token_ttl_seconds,
        objects=adapters.HlsStore(settings),
        links=url_signer(settings, playback),
        internal=adapters.s3_presigner(settings, settings.s3_endpoint_url),
    )
    tokens = AccessTokens(
        secret=settings.hls_proxy_secret,
        token_ttl_seconds=playback.token_ttl_seconds,
        public_base_url=settings.public_base_url,
        catalog=catalog,
        playlists=playlists,
    )
    return UseCases(tokens=tokens, playlists=playlists, progress=ViewingProgress(catalog=catalog, uow=uow))


async def serve(settings: Settings) -> None:
    try:
        playback = load_playback_settings()
    except SettingsError as exc:
        raise SystemExit(f"configuration error: {exc}") from None
    catalog = adapters.Catalog(settings.endpoint("upload").address, settings.backend_timeout_seconds)
    sessions = session_factory(create_engine(settings.database_url, pool_size=5))
    try:
        servicer = PlaybackServicer(use_cases(settings, playback, catalog, lambda: store.SqlUnitOfWork(sessions)))
    except ValueError as exc:  # a CloudFront key that does not parse
        raise SystemExit(f"configuration error: CLOUDFRONT_PRIVATE_KEY: {exc}") from None
    stops: list[Callable[[], Awaitable[None]]] = [catalog.close, sessions.kw["bind"].dispose]
    await serve_grpc(
        service="playback",
        settings=settings,
        registrations=[Registration(SERVICE_NAME, playback_pb2_grpc.add_PlaybackServiceServicer_to_server, servicer)],
        on_stop=stops,
    )
