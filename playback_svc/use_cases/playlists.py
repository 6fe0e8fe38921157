"""Token-checked playlists and segment locations, with the per-process playlist cache.

The HLS token in the request is the whole authorisation (no session), checked before
anything is read. Playlists are read from object storage once and kept: a master for
:data:`playback_svc.domain.MASTER_MAX_AGE_SECONDS`, a finished variant for
:data:`VOD_SOURCE_SECONDS`, a growing one for half its target duration; rewritten
variants with signed segment URLs are kept per (video, rendition, links expiry) so one
rewrite serves every viewer of the same window.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from playback_svc import domain, errors
from playback_svc.cache import ExpiringCache
from playback_svc.domain import Delivery, MasterPlaylist, VariantPlaylist
from playback_svc.use_cases.ports import HlsObjects, UrlSigner

VOD_SOURCE_SECONDS = 600.0
"""A finished (VOD) variant never changes; re-read now and then only so a deleted video stops."""
UPSTREAM_URL_SECONDS = 60
"""Proxy mode: the edge starts reading at once, so its internal URL needs only a minute."""


@dataclass(frozen=True)
class RenderedPlaylist:
    """A playlist ready to send: its text, how long clients may cache it, and when its links expire."""

    text: str
    max_age_seconds: int
    links_expire_at: int | None = None
    """Epoch seconds; None for the master and in proxy mode (no signed links inside)."""


@dataclass(frozen=True)
class SegmentLocation:
    """Where a segment is read: a signed URL for the player, or (proxy mode) an internal one for the edge."""

    redirect_url: str | None = None
    upstream_url: str | None = None


@dataclass(frozen=True)
class _Rendered:
    source: VariantPlaylist
    text: str


class Playlists:
    """GetPlaylist and ResolveSegment, over the stored playlists and the URL signers.

    ``links`` signs segment URLs for players (S3 presigned or CloudFront); None in proxy
    mode, where ``internal`` signs the edge's own reads on the internal endpoint.
    """

    def __init__(
        self,
        *,
        secret: str,
        delivery: Delivery,
        token_ttl_seconds: int,
        objects: HlsObjects,
        links: UrlSigner | None,
        internal: UrlSigner,
    ) -> None:
        self._secret = secret
        self._delivery = delivery
        self._window = domain.window_seconds(token_ttl_seconds)
        self._objects = objects
        self._links = links
        self._internal = internal
        self._masters: ExpiringCache[str, MasterPlaylist] = ExpiringCache(max_entries=10_000)
        self._variants: ExpiringCache[tuple[str, str], VariantPlaylist] = ExpiringCache(max_entries=10_000)
        self._rendered: ExpiringCache[tuple[str, str, int], _Rendered] = ExpiringCache(
            max_entries=2_000, max_weight=256 * 1024 * 1024, weigh=lambda r: len(r.text)
        )

    async def playlist(self, token: str, video_id: str, rendition: str, now: float) -> RenderedPlaylist:
        """The master (``rendition`` empty) or a variant, rewritten for this token.

        Raises the token's errors (missing, invalid, expired, another video) and
        PlaylistNotFound for a rendition the master does not list.
        """
        checked = domain.verify_token(self._secret, token, video_id=video_id, now=now)
        master = await self.master(checked.video_id)
        if not rendition:
            return RenderedPlaylist(domain.rewrite_master(master, token), domain.MASTER_MAX_AGE_SECONDS)
        name = _listed_rendition(master, rendition)
        variant = await self._variant(checked.video_id, name)
        if self._delivery is Delivery.PROXY:
            text = domain.rewrite_variant(variant, domain.proxied_segment_uri(token))
            return RenderedPlaylist(text, domain.variant_max_age(variant, checked.expires_at, now))
        links_expire_at = domain.links_expiry(checked.expires_at, now, self._window)
        text = await self._signed_variant(checked.video_id, name, variant, links_expire_at, now)
        return RenderedPlaylist(text, domain.variant_max_age(variant, links_expire_at, now), links_expire_at)

    async def segment(self, token: str, video_id: str, rendition: str, segment: str, now: float) -> SegmentLocation:
        """Where the named segment is read; PlaylistNotFound unless the variant lists it."""
        checked = domain.verify_token(self._secret, token, video_id=video_id, now=now)
        master = await self.master(checked.video_id)
        name = _listed_rendition(master, rendition)
        segment = domain.check_segment_name(segment)
        variant = await self._variant(checked.video_id, name)
        if segment not in variant.segments and not variant.ended:
            self._variants.discard((checked.video_id, name))  # a growing playlist may list it by now
            variant = await self._variant(checked.video_id, name)
        if segment not in variant.segments:
            raise errors.PlaylistNotFound("no such segment for this video")
        key = domain.hls_key(checked.video_id, f"{name}/{segment}")
        if self._links is None:
            return SegmentLocation(upstream_url=self._internal.signer(int(now) + UPSTREAM_URL_SECONDS, now)(key))
        links_expire_at = domain.links_expiry(checked.expires_at, now, self._window)
        sign = self._links.signer(links_expire_at, now)
        # An RSA signature (CloudFront) costs about a millisecond: off the event loop.
        url = await asyncio.to_thread(sign, key) if self._delivery is Delivery.CDN else sign(key)
        return SegmentLocation(redirect_url=url)

    async def master(self, video_id: str) -> MasterPlaylist:
        """The video's parsed master playlist; PlaylistNotFound until transcoding publishes one."""

        async def fill() -> tuple[MasterPlaylist, float]:
            text = await self._objects.read_text(domain.hls_key(video_id, domain.MASTER_PLAYLIST))
            if text is None:
                raise errors.PlaylistNotFound("no such playlist for this video")
            return domain.parse_master(text), domain.MASTER_MAX_AGE_SECONDS

        return await self._masters.get_or_fill(video_id, fill)

    async def _variant(self, video_id: str, rendition: str) -> VariantPlaylist:
        async def fill() -> tuple[VariantPlaylist, float]:
            text = await self._objects.read_text(domain.hls_key(video_id, f"{rendition}/{domain.VARIANT_PLAYLIST}"))
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
        assert self._links is not None
        prefix = domain.hls_key(video_id, rendition + "/")
        sign = self._links.signer(links_expire_at, now)
        # Off the event loop: 600 HMACs take milliseconds, 600 RSA signatures most of a second.
        text = await asyncio.to_thread(domain.rewrite_variant, variant, lambda name: sign(prefix + name))
        self._rendered.put(key, _Rendered(variant, text), max(1.0, links_expire_at - now))
        return text


def _listed_rendition(master: MasterPlaylist, name: str) -> str:
    """The rendition name, once it is well formed and the master lists it (no path reaches storage otherwise)."""
    domain.check_rendition_name(name)
    if name not in master.renditions:
        raise errors.PlaylistNotFound("no such playlist for this video")
    return name
