"""Minting HLS access tokens: who may watch which video, for whom, and from when."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from playback_svc import domain, errors
from playback_svc.domain import CatalogStatus
from playback_svc.use_cases.playlists import Playlists
from playback_svc.use_cases.ports import Catalog, Forwarded
from service_kit.auth import SessionClaims

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IssuedToken:
    """A token for one viewer and one video, the master playlist URL carrying it, and its expiry (epoch s)."""

    token: str
    master_url: str
    expires_at: int


def master_url(public_base_url: str, video_id: str, token: str) -> str:
    """The public master playlist URL a player opens: ``{base}/api/v1/media/hls/{video}/master.m3u8?token=``."""
    return f"{public_base_url}/api/v1/media/hls/{quote(video_id, safe='')}/{domain.MASTER_PLAYLIST}?token={token}"


class AccessTokens:
    """CreateAccessToken: the catalog decides whether the caller sees the video at all (with their own
    session); this decides whether there is anything to play yet, and whose token it is."""

    def __init__(
        self,
        *,
        secret: str,
        token_ttl_seconds: int,
        public_base_url: str,
        catalog: Catalog,
        playlists: Playlists,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret
        self._ttl = token_ttl_seconds
        self._base = public_base_url
        self._catalog = catalog
        self._playlists = playlists
        self._clock = clock

    async def mint(
        self, caller: SessionClaims, video_id: str, requested_user_id: str, forwarded: Forwarded
    ) -> IssuedToken:
        """A token for the caller (or, for course staff and administrators, the user they name).

        Raises VideoNotFound (the caller may not see it), VideoNotPlayable (nothing to play:
        upload unfinished, failed or cancelled, or no segments published yet) and
        MayNotWatchForOthers.
        """
        video = await self._catalog.video(domain.check_identifier("video_id", video_id), forwarded)
        if video.status is CatalogStatus.NOT_PLAYABLE:
            raise errors.VideoNotPlayable(
                "the video has nothing to play: its upload is unfinished, failed or cancelled"
            )
        subject = domain.token_subject(caller, requested_user_id)
        try:
            await self._playlists.master(video.video_id)
        except errors.PlaylistNotFound:
            raise errors.VideoNotPlayable(
                "the video is not playable yet: transcoding has not published its first segments; try again shortly"
            ) from None
        expires_at = int(self._clock()) + self._ttl
        token = domain.mint_token(self._secret, user_id=subject, video_id=video.video_id, expires_at=expires_at)
        log.info("hls token issued", extra={"video_id": video.video_id, "for_user": subject})
        return IssuedToken(token, master_url(self._base, video.video_id, token), expires_at)
