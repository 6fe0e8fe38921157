"""The playback rules as plain data and functions, with no I/O.

- **Access tokens.** ``base64url(payload) "." base64url(HMAC-SHA256)``, the payload being
  ``expiry \\n video id \\n user id``. URL-safe without escaping, signed with
  HLS_PROXY_SECRET under a domain-separation prefix, compared in constant time. The
  edge verifies tokens with these same functions on its hot path, so they stay cheap
  (one HMAC, two small base64 decodes).
- **Expiry windows.** Many viewers' tokens share one rewritten variant playlist: signed
  segment URLs expire at the token's expiry rounded *down* to a window boundary, so every
  token of that window gets the same text and no URL outlives its token. Near its end a
  token gets URLs that expire exactly with it.
- **Whitelist.** A rendition is a name the video's own master playlist lists
  (``720p``); a segment is a name its own variant playlist lists (``seg_00042.ts``).
  Both must also match a strict pattern first, so nothing free-form (``..``, ``%2e``,
  slashes, other extensions) ever reaches an object key. Video rungs are listed by
  ``EXT-X-STREAM-INF``; a demuxed video (issue 17: long videos transcoded in chunks) also
  lists its one audio rendition, always named ``audio``, by the ``URI`` attribute of its
  ``EXT-X-MEDIA:TYPE=AUDIO`` tag (RFC 8216 4.3.4.1), and nowhere else.
- **Rewriting.** Variant URIs in the master get the token; segment URIs in a variant
  become whatever the delivery mode says (signed S3 or CDN URL, or the edge's own
  segment route with the token). EVENT playlists (still transcoding) and VOD ones are
  rewritten alike; only how long a rewrite may be reused differs.
- **Access.** Who may mint a token for whom (the catalog decides who sees the video).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from playback_svc import errors
from service_kit.auth import SessionClaims

TOKEN_SIGNING_PREFIX = b"media.playback.hls-token.v1:"
"""Domain separation: an HMAC made for anything else with the same secret never verifies here."""
MAX_TOKEN_LENGTH = 1024
MAX_USER_ID_LENGTH = 255
MAX_WINDOW_SECONDS = 300
PLAYLIST_CONTENT_TYPE = "application/vnd.apple.mpegurl"
MASTER_PLAYLIST = "master.m3u8"
VARIANT_PLAYLIST = "index.m3u8"
MASTER_MAX_AGE_SECONDS = 30
"""The master changes once, when transcoding ends (measured bandwidths); 30 s stale is harmless."""

AUDIO_RENDITION = "audio"
"""The one audio rendition of a demuxed video (``hls/{video_id}/audio/``), shared by every rung."""
RENDITION_NAME = re.compile(r"[0-9]{2,4}p|audio")
"""Rung names as the transcoder writes them (``360p``, ``1080p``), and :data:`AUDIO_RENDITION`;
nothing else is a rendition."""
SEGMENT_NAME = re.compile(r"seg_[0-9]{5}\.(?:ts|m4s)|init(?:_[0-9]{1,5})?\.mp4")
"""Media segment and fMP4 init names as the transcoder writes them."""
_VARIANT_URI = re.compile(r"([0-9]{2,4}p)/index\.m3u8")
_AUDIO_URI = re.compile(r"(audio)/index\.m3u8")
_AUDIO_MEDIA_TAG = "#EXT-X-MEDIA:TYPE=AUDIO,"
"""How a demuxed master's audio tag starts: the transcoder writes TYPE first, URI last."""
_URI_ATTRIBUTE = re.compile(r'URI="([^"]*)"')
_TARGET_DURATION = re.compile(r"#EXT-X-TARGETDURATION:([0-9]+)")
_EXTINF = re.compile(r"#EXTINF:([0-9]+(?:\.[0-9]*)?)")


class Delivery(StrEnum):
    """How players reach segment bytes (HLS_SEGMENT_DELIVERY)."""

    S3 = "s3"
    CDN = "cdn"
    PROXY = "proxy"


# ---- access tokens --------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessToken:
    """What a verified token binds."""

    user_id: str
    video_id: str
    expires_at: int


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, signed: bytes) -> bytes:
    return hmac.new(secret, TOKEN_SIGNING_PREFIX + signed, hashlib.sha256).digest()


def mint_token(secret: str, *, user_id: str, video_id: str, expires_at: int) -> str:
    """A URL-safe token binding ``user_id``, ``video_id`` and ``expires_at`` (Unix seconds)."""
    check_identifier("user_id", user_id)
    check_identifier("video_id", video_id)
    payload = _b64encode(f"{expires_at}\n{video_id}\n{user_id}".encode())
    return payload + "." + _b64encode(_mac(secret.encode(), payload.encode("ascii")))


def verify_token(secret: str, token: str, *, video_id: str, now: float) -> AccessToken:
    """Check the signature, then the expiry, then the video; raise the error a player should see.

    Every malformed or tampered token raises the same :class:`errors.InvalidHlsToken`
    with the same message, whatever part failed.
    """
    if not token:
        raise errors.MissingHlsToken("this playlist needs an access token: add ?token=... from the access-token call")
    payload, dot, signature = token.rpartition(".")
    invalid = errors.InvalidHlsToken("the access token is not valid: request a new one")
    if not dot or not payload or len(token) > MAX_TOKEN_LENGTH:
        raise invalid
    try:
        given = _b64decode(signature)
        signed = payload.encode("ascii")
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise invalid from None
    if _b64encode(given) != signature or not hmac.compare_digest(given, _mac(secret.encode(), signed)):
        raise invalid  # the re-encoding check refuses stray characters base64 would skip
    try:
        expires_text, bound_video, user_id = _b64decode(payload).decode("utf-8").split("\n")
        expires_at = int(expires_text)
    except (binascii.Error, ValueError):
        raise invalid from None
    if expires_at <= now:
        raise errors.ExpiredHlsToken("the access token has expired: request a new one")
    if not hmac.compare_digest(bound_video.encode(), video_id.encode()):
        raise errors.TokenForAnotherVideo("the access token does not open this video")
    return AccessToken(user_id=user_id, video_id=bound_video, expires_at=expires_at)


def check_identifier(field: str, value: str) -> str:
    """An id fit to sign and to put in a path: present, short, no whitespace or control characters."""
    if not value:
        raise errors.InvalidPlaybackRequest(f"{field} is required")
    if len(value) > MAX_USER_ID_LENGTH or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise errors.InvalidPlaybackRequest(
            f"{field} must be at most {MAX_USER_ID_LENGTH} printable characters without spaces"
        )
    return value


def window_seconds(token_ttl_seconds: int) -> int:
    """Width of the expiry windows tokens are grouped in: a twelfth of the lifetime, 1 s to 5 min.

    With the default hour, at most 12 windows are live at once, so a busy video keeps at
    most 12 rewritten copies of each variant playlist, and a token's segment URLs lose
    at most 5 minutes of its lifetime.
    """
    return max(1, min(MAX_WINDOW_SECONDS, token_ttl_seconds // 12))


def links_expiry(token_expires_at: int, now: float, window: int) -> int:
    """When the signed segment URLs of a playlist served to this token expire.

    The token's expiry rounded down to the window, shared by every token of that
    window; when that would leave less than one window of validity, the token's own
    expiry (so a token near its end still gets working URLs). Never after the token.
    """
    rounded = token_expires_at - token_expires_at % window
    return rounded if rounded - now >= window else token_expires_at


# ---- names ------------------------------------------------------------------------------------


def check_rendition_name(name: str) -> str:
    """A well-formed rung name or ``audio``, or PlaylistNotFound (the whitelist check follows)."""
    if not RENDITION_NAME.fullmatch(name):
        raise errors.PlaylistNotFound("no such playlist for this video")
    return name


def check_segment_name(name: str) -> str:
    if not SEGMENT_NAME.fullmatch(name):
        raise errors.PlaylistNotFound("no such segment for this video")
    return name


def hls_key(video_id: str, relative_path: str) -> str:
    """The object key of a video's HLS file (DESIGN.md: ``hls/{video_id}/...``)."""
    return f"hls/{video_id}/{relative_path}"


# ---- playlists --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MasterPlaylist:
    """A master playlist and the renditions it lists, in its order (the whitelist)."""

    lines: tuple[str, ...]
    renditions: tuple[str, ...]


@dataclass(frozen=True)
class VariantPlaylist:
    """A variant playlist: its lines, the segment names it lists, whether it is finished."""

    lines: tuple[str, ...]
    segments: frozenset[str]
    ended: bool
    target_duration: int


def _unreadable(what: str) -> errors.StoredPlaylistUnreadable:
    return errors.StoredPlaylistUnreadable(f"the stored {what} is not one the transcoder writes: try again later")


def parse_master(text: str) -> MasterPlaylist:
    """Lines and renditions of a stored master playlist; any unexpected URI refuses the whole file.

    Rung URIs (``360p/index.m3u8``) are accepted on URI lines and in the URI attribute of
    other tags; ``audio/index.m3u8`` only in the URI attribute of an
    ``#EXT-X-MEDIA:TYPE=AUDIO,...`` tag, which may list nothing else. A master must list
    at least one rung: an audio rendition alone is nothing a player can choose.
    """
    lines = tuple(line.strip() for line in text.splitlines() if line.strip())
    if not lines or lines[0] != "#EXTM3U":
        raise _unreadable("master playlist")
    renditions: list[str] = []
    for line in lines:
        uris = _URI_ATTRIBUTE.findall(line) if line.startswith("#") else [line]
        if line.startswith(_AUDIO_MEDIA_TAG):
            allowed = _AUDIO_URI
        elif line.startswith("#EXT-X-MEDIA:") and uris:
            raise _unreadable("master playlist")  # subtitle, video or other renditions: not ones we write
        else:
            allowed = _VARIANT_URI
        for uri in uris:
            match = allowed.fullmatch(uri)
            if match is None:
                raise _unreadable("master playlist")
            if match.group(1) not in renditions:
                renditions.append(match.group(1))
    if all(name == AUDIO_RENDITION for name in renditions):
        raise _unreadable("master playlist")
    return MasterPlaylist(lines, tuple(renditions))


def parse_variant(text: str) -> VariantPlaylist:
    """Lines and segment names of a stored variant playlist (EVENT or VOD).

    A target duration below what the segments need (RFC 8216 4.3.3.1: every EXTINF
    rounded to the nearest integer, and at least 1) is raised in the lines served:
    transcoders before that rule wrote ``EXT-X-TARGETDURATION:0`` for clips shorter
    than half a second, and those playlists stay in storage.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != "#EXTM3U":
        raise _unreadable("variant playlist")
    segments: set[str] = set()
    target, target_line, longest = 0, -1, 0
    for index, line in enumerate(lines):
        uris = _URI_ATTRIBUTE.findall(line) if line.startswith("#") else [line]
        for uri in uris:
            if not SEGMENT_NAME.fullmatch(uri):
                raise _unreadable("variant playlist")
            segments.add(uri)
        found = _TARGET_DURATION.fullmatch(line)
        if found:
            target, target_line = int(found.group(1)), index
        duration = _EXTINF.match(line)
        if duration:
            longest = max(longest, math.floor(float(duration.group(1)) + 0.5))
    if target_line >= 0 and target < max(1, longest):
        target = max(1, longest)
        lines[target_line] = f"#EXT-X-TARGETDURATION:{target}"
    return VariantPlaylist(tuple(lines), frozenset(segments), "#EXT-X-ENDLIST" in lines, target)


def _rewrite(lines: Sequence[str], uri_for: Callable[[str], str]) -> str:
    out: list[str] = []
    for line in lines:
        if not line.startswith("#"):
            out.append(uri_for(line))
        elif 'URI="' in line:
            out.append(_URI_ATTRIBUTE.sub(lambda m: f'URI="{uri_for(m.group(1))}"', line))
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def rewrite_master(master: MasterPlaylist, token: str) -> str:
    """The master with each variant URI carrying the token (relative, so it resolves to the edge).

    That includes the ``URI="audio/index.m3u8"`` attribute of a demuxed video's
    ``EXT-X-MEDIA`` tag: a player fetches the audio playlist with that URI as written.
    """
    return _rewrite(master.lines, lambda uri: f"{uri}?token={token}")


def rewrite_variant(variant: VariantPlaylist, segment_uri: Callable[[str], str]) -> str:
    """The variant with each segment (and init) URI replaced by ``segment_uri(name)``."""
    return _rewrite(variant.lines, segment_uri)


def proxied_segment_uri(token: str) -> Callable[[str], str]:
    """Proxy mode: the segment's name, relative to the variant's URL, with the token."""
    return lambda name: f"{name}?token={token}"


def variant_max_age(variant: VariantPlaylist, links_expire_at: int, now: float) -> int:
    """How long a rewritten variant may be served again.

    EVENT (still transcoding): half a target duration, so new segments show up as soon
    as a player reloads (RFC 8216 6.3.4: players reload about every target duration).
    VOD: until its links expire, less a minute of slack for the player, at least 1 s.
    """
    if not variant.ended:
        return max(1, variant.target_duration // 2)
    return max(1, int(links_expire_at - now) - 60)


# ---- who may watch ----------------------------------------------------------------------------


class CatalogStatus(StrEnum):
    """The catalog's word on a video, as far as playback cares."""

    PLAYABLE_SOON = "playable_soon"
    """Uploaded, queued, transcoding or ready: playable once the master playlist exists."""
    NOT_PLAYABLE = "not_playable"
    """Pending upload, failed or cancelled: there is nothing to play, and will not be."""


@dataclass(frozen=True)
class CatalogVideo:
    """What playback needs of a catalog entry the caller may see (upload_svc's GetVideo)."""

    video_id: str
    organization_id: str
    course_id: str
    status: CatalogStatus


def token_subject(caller: SessionClaims, requested_user_id: str) -> str:
    """Whose token to mint: the caller's, unless course staff or an administrator names someone.

    The catalog already checked that the caller sees the video (same organization;
    its course's staff and learners, learners only once published; administrators),
    so staff asking here are staff of the video's course, and the token they mint
    opens only that video. The course roster is not consulted (lti_svc is not on
    playback_svc's side of the call graph): a staff member is trusted to name a
    user of their own course.
    """
    wanted = requested_user_id.strip()
    if not wanted or wanted == caller.user_id:
        return caller.user_id
    if not (caller.manages_course or caller.is_administrator):
        raise errors.MayNotWatchForOthers(
            "only instructors of the course or administrators may request a token for another user"
        )
    return check_identifier("user_id", wanted)


# ---- viewing progress (resume where the viewer left off) --------------------------------------

MAX_POSITION_SECONDS = 7 * 24 * 3600.0
"""No lecture is a week long: a larger position is a broken client, refused."""
FINISHED_MARGIN_SECONDS = 5.0
"""A viewer who stopped this close to the end has finished: the next viewing starts at 0."""


@dataclass(frozen=True)
class ViewingPosition:
    """A viewer's last reported place in a video (seconds), and when it was reported."""

    position_seconds: float
    duration_seconds: float
    updated_at: datetime


def progress_position(position_seconds: float, duration_seconds: float) -> tuple[float, float]:
    """A player's reported (position, duration), checked; the position is kept within the duration."""
    for name, value in (("position_seconds", position_seconds), ("duration_seconds", duration_seconds)):
        if not math.isfinite(value) or value < 0 or value > MAX_POSITION_SECONDS:
            raise errors.InvalidPlaybackRequest(
                f"{name} must be a number of seconds from 0 to {MAX_POSITION_SECONDS:.0f}"
            )
    if duration_seconds > 0:
        position_seconds = min(position_seconds, duration_seconds)
    return position_seconds, duration_seconds


def resume_at(position_seconds: float, duration_seconds: float) -> float:
    """Where to start again: the stored position, or 0 when the viewer had (nearly) reached the end."""
    if duration_seconds > 0 and position_seconds >= duration_seconds - FINISHED_MARGIN_SECONDS:
        return 0.0
    return position_seconds
