"""Which origins the player's page must reach, for its Content-Security-Policy.

The player (``web/src/player.js``) fetches playlists from the edge itself (``'self'``) and
segments from wherever playback_svc signs them: the object store's public endpoint
(presigned S3 GETs), the CDN (CloudFront), or the edge again (proxy mode). Its ``<video>``
plays a MediaSource, so its ``src`` is a ``blob:`` URL.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from service_kit.settings import PlaybackSettings, Settings

PLAYER_MEDIA_SRC = ("'self'", "blob:")


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def segment_origins(settings: Settings, playback: PlaybackSettings) -> tuple[str, ...]:
    """The origins segment URLs point at besides the edge (none in proxy mode)."""
    if playback.segment_delivery == "proxy":
        return ()
    if playback.segment_delivery == "cdn" and playback.cdn_url:
        return (origin_of(playback.cdn_url),)
    endpoint = settings.s3_public_endpoint_url or settings.s3_endpoint_url
    if endpoint:
        return (origin_of(endpoint),)
    return (f"https://s3.{settings.aws_region}.amazonaws.com",)


def player_connect_origins(settings: Settings, playback: PlaybackSettings) -> tuple[str, ...]:
    """What the page's ``connect-src`` adds to ``'self'`` for the player."""
    return segment_origins(settings, playback)
