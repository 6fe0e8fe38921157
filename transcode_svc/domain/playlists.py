"""What a transcode publishes: segment and playlist names, the HLS playlists, and the object keys.

Variant playlists as FFmpeg writes them and as players get them (EVENT while encoding,
VOD once done), the master playlist with measured bandwidths, the renditions a job
reports, and where every output lives in the bucket.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from transcode_svc.domain.renditions import RenditionPlan

SEGMENT_NAME_PATTERN = "seg_%05d.ts"
"""FFmpeg's pattern for segment files; deterministic names make a retried job overwrite, not add."""
VARIANT_PLAYLIST = "index.m3u8"
MASTER_PLAYLIST = "master.m3u8"
POSTER = "poster.jpg"
AUDIO_RENDITION = "audio"
"""A chunked video's audio rendition, encoded once for the whole source: ``hls/{video_id}/audio/``."""
AUDIO_GROUP = "audio"
"""GROUP-ID of that EXT-X-MEDIA rendition, which every variant names in its AUDIO attribute."""


# ---- the segment grid -----------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentGrid:
    """Where every rung cuts its segments: a few short opening segments, then the normal length.

    A video is playable once every rung has its first segment, and FFmpeg closes a
    segment only when the next one's keyframe reaches its muxer: with 6-second
    segments from the start, a user waited for 6 s of every rung to be encoded. Short
    opening segments (``opening_segments`` of ``opening_seconds``) make the first
    segment close after ``opening_seconds`` of encoding; the rest of the video keeps
    ``seconds`` (fewer requests, better compression). Keyframes are forced at exactly
    these instants on every rung, so rungs stay aligned and players switch between them
    at any boundary. With the defaults (3 x 2 s, then 6 s) the opening spans one normal
    segment, so every boundary from 6 s on is where it was before.

    RFC 8216 4.3.3.1 lets a segment be any length up to EXT-X-TARGETDURATION, and 6.2.1
    forbids that target to change in a playlist: :attr:`target_duration` is declared
    from the first published playlist on, not the opening's 2 that FFmpeg writes first.
    """

    seconds: float = 6.0
    opening_seconds: float = 2.0
    opening_segments: int = 3

    @property
    def opens_short(self) -> bool:
        """Whether there are opening segments shorter than the rest (none: one plain grid)."""
        return self.opening_segments > 0 and self.opening_seconds < self.seconds

    @property
    def opening_span(self) -> float:
        """Seconds of video in the opening segments (0 without them)."""
        return self.opening_segments * self.opening_seconds if self.opens_short else 0.0

    def boundaries(self, duration_seconds: float) -> list[float]:
        """Instants (seconds from the start) where segments begin, up to ``duration_seconds``."""
        instants: list[float] = []
        index = 0
        while (instant := self.boundary(index)) < duration_seconds:
            instants.append(instant)
            index += 1
        return instants

    def boundary(self, index: int) -> float:
        """Where segment ``index`` (0-based) begins."""
        if not self.opens_short or index <= self.opening_segments:
            step = self.opening_seconds if self.opens_short else self.seconds
            return index * step
        return self.opening_span + (index - self.opening_segments) * self.seconds

    def keyframe_expression(self) -> str:
        """FFmpeg's ``-force_key_frames`` expression putting a keyframe at every :meth:`boundary`.

        ``n_forced`` counts the keyframes forced so far, so keyframe ``n`` is forced on the
        first frame at or after ``boundary(n)``; by time, so it holds for variable frame
        rates too.
        """
        if not self.opens_short:
            return f"expr:gte(t,n_forced*{self.seconds:g})"
        count, opening = self.opening_segments, self.opening_seconds
        return (
            f"expr:if(lte(n_forced,{count}),gte(t,n_forced*{opening:g}),"
            f"gte(t,{self.opening_span:g}+(n_forced-{count})*{self.seconds:g}))"
        )

    @property
    def target_duration(self) -> int:
        """The EXT-X-TARGETDURATION every playlist declares from its first version on (4.3.3.1)."""
        return target_duration([self.seconds, self.opening_seconds if self.opens_short else 0.0])


# ---- playlists ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """One media segment a variant playlist lists."""

    uri: str
    duration: float


@dataclass(frozen=True)
class VariantPlaylist:
    """What a variant playlist says: its segments and whether it is complete."""

    segments: tuple[Segment, ...]
    ended: bool


_EXTINF = re.compile(r"#EXTINF:([0-9.]+)")


def parse_variant_playlist(text: str) -> VariantPlaylist:
    """Segments FFmpeg has finished (it lists a segment only once it is closed)."""
    segments: list[Segment] = []
    duration: float | None = None
    for raw in text.splitlines():
        line = raw.strip()
        match = _EXTINF.match(line)
        if match:
            duration = float(match.group(1))
        elif line and not line.startswith("#") and duration is not None:
            segments.append(Segment(line, duration))
            duration = None
    return VariantPlaylist(tuple(segments), "#EXT-X-ENDLIST" in text)


_TARGET_DURATION = re.compile(r"#EXT-X-TARGETDURATION:\s*([0-9]+)\s*")
START_AT_BEGINNING = "#EXT-X-START:TIME-OFFSET=0"
"""RFC 8216 4.3.5.2: where players begin; 0 is the first segment, not the live edge."""


def target_duration(segment_durations: Sequence[float], declared: int = 0) -> int:
    """The EXT-X-TARGETDURATION of a playlist listing segments of these durations (seconds).

    RFC 8216 4.3.3.1: every EXTINF, rounded to the nearest integer, must be at most the
    target duration. FFmpeg writes the longest segment rounded half to even, so a clip
    under half a second says 0, which players read as "reload without pause". The
    answer never lowers what FFmpeg ``declared`` and is at least 1.
    """
    longest = max((math.floor(duration + 0.5) for duration in segment_durations), default=0)
    return max(1, declared, longest)


def with_target_duration(text: str, at_least: int = 0) -> str:
    """``text`` with an EXT-X-TARGETDURATION that covers every segment it lists (see :func:`target_duration`).

    ``at_least`` is the grid's target (:attr:`SegmentGrid.target_duration`): FFmpeg
    declares the longest segment so far, 2 while only opening segments exist, then 6.
    """
    lines = text.splitlines()
    segments = parse_variant_playlist(text).segments
    for index, line in enumerate(lines):
        match = _TARGET_DURATION.fullmatch(line.strip())
        if match:
            declared = max(int(match[1]), at_least)
            lines[index] = f"#EXT-X-TARGETDURATION:{target_duration([s.duration for s in segments], declared)}"
            break
    return "\n".join(lines) + "\n"


def event_playlist(text: str, target_at_least: int = 0) -> str:
    """The EVENT playlist players get while encoding runs, from the one FFmpeg writes.

    Adds ``#EXT-X-START:TIME-OFFSET=0`` (RFC 8216 4.3.5.2) after the header: without it
    players treat a playlist with no EXT-X-ENDLIST as live and begin near its end (hls.js
    three target durations from the edge), so someone opening a lecture while it
    encodes would miss its first minutes. The tag goes in the media playlists only,
    since 4.3.5 asks that it not appear in both the master and its media playlists.
    The target duration is made to cover every segment (:func:`target_duration`) and
    is at least ``target_at_least``, the grid's, so it does not change as the playlist grows.
    """
    lines = [
        line
        for line in with_target_duration(text, target_at_least).splitlines()
        if not line.startswith("#EXT-X-START:")
    ]
    header = 2 if len(lines) > 1 and lines[1].startswith("#EXT-X-VERSION:") else 1
    return "\n".join([*lines[:header], START_AT_BEGINNING, *lines[header:]]) + "\n"


def finalize_variant_playlist(text: str, target_at_least: int = 0) -> str:
    """The VOD form of a finished EVENT playlist: type VOD, EXT-X-ENDLIST once, a target covering every segment.

    No EXT-X-START: a VOD playlist starts at its beginning by default. ``target_at_least``
    keeps the target the EVENT playlist declared (:func:`event_playlist`).
    """
    text = with_target_duration(text, target_at_least)
    lines = [
        line
        for line in text.splitlines()
        if line.strip() and line.strip() != "#EXT-X-ENDLIST" and not line.startswith("#EXT-X-START:")
    ]
    lines = ["#EXT-X-PLAYLIST-TYPE:VOD" if line.startswith("#EXT-X-PLAYLIST-TYPE:") else line for line in lines]
    if not any(line.startswith("#EXT-X-PLAYLIST-TYPE:") for line in lines):
        lines.insert(1, "#EXT-X-PLAYLIST-TYPE:VOD")
    return "\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n"


def measured_bandwidths(segments: Sequence[tuple[float, int]]) -> tuple[int, int]:
    """(peak, average) bits per second from (duration, bytes) of every segment.

    RFC 8216 4.3.4.2: BANDWIDTH is the largest segment bit rate and AVERAGE-BANDWIDTH
    the mean over the whole playlist; both are measured once the output is complete.
    """
    timed = [(duration, size) for duration, size in segments if duration > 0]
    if not timed:
        return 0, 0
    peak = max(size * 8 / duration for duration, size in timed)
    average = sum(size for _, size in timed) * 8 / sum(duration for duration, _ in timed)
    return math.ceil(peak), math.ceil(average)


def with_measured_bandwidth(plan: RenditionPlan, peak: int, average: int) -> MeasuredRendition:
    return MeasuredRendition(plan, peak or plan.peak_bandwidth, average or plan.average_bandwidth)


@dataclass(frozen=True)
class MeasuredRendition:
    """A rendition with the bandwidths its master playlist line announces."""

    plan: RenditionPlan
    bandwidth: int
    average_bandwidth: int


def nominal(plan: RenditionPlan) -> MeasuredRendition:
    """Announce the targets while encoding runs (nothing is measured yet)."""
    return MeasuredRendition(plan, plan.peak_bandwidth, plan.average_bandwidth)


@dataclass(frozen=True)
class PublishedRendition:
    """A rendition as a job reports it (the contract's Rendition, and what a job row stores).

    Before the job succeeds these are the planned rungs with their nominal bandwidths;
    afterwards, what was published, with the bandwidths measured on its segments.
    """

    name: str
    width: int
    height: int
    bandwidth: int
    average_bandwidth: int
    codecs: str
    frame_rate: float


def published(rendition: MeasuredRendition) -> PublishedRendition:
    """What a job reports of one rendition of its ladder."""
    plan = rendition.plan
    return PublishedRendition(
        name=plan.name,
        width=plan.width,
        height=plan.height,
        bandwidth=rendition.bandwidth,
        average_bandwidth=rendition.average_bandwidth,
        codecs=plan.codecs,
        frame_rate=plan.frame_rate,
    )


def master_playlist(renditions: Sequence[MeasuredRendition], *, separate_audio: bool = False) -> str:
    """The master playlist: one EXT-X-STREAM-INF per rung, ascending, with every attribute.

    BANDWIDTH, AVERAGE-BANDWIDTH, RESOLUTION, CODECS and FRAME-RATE let a player choose a
    rung before fetching any of them; variants live at ``{name}/index.m3u8``.

    ``separate_audio`` (a chunked video) adds the audio rendition as EXT-X-MEDIA
    TYPE=AUDIO (RFC 8216 4.3.4.1) at ``audio/index.m3u8``, and every variant names its
    group (AUDIO, 4.3.4.2); the bandwidths and CODECS given already count the audio,
    as 4.3.4.2 asks of a variant whose renditions play together.
    """
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    audio = f',AUDIO="{AUDIO_GROUP}"' if separate_audio else ""
    if separate_audio:
        lines.append(
            f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{AUDIO_GROUP}",NAME="Audio",DEFAULT=YES,AUTOSELECT=YES,'
            f'CHANNELS="2",URI="{AUDIO_RENDITION}/{VARIANT_PLAYLIST}"'
        )
    for rendition in sorted(renditions, key=lambda r: (r.plan.height * r.plan.width, r.bandwidth)):
        plan = rendition.plan
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={rendition.bandwidth},AVERAGE-BANDWIDTH={rendition.average_bandwidth},"
            f'RESOLUTION={plan.width}x{plan.height},CODECS="{plan.codecs}",FRAME-RATE={plan.frame_rate:.3f}{audio}'
        )
        lines.append(f"{plan.name}/{VARIANT_PLAYLIST}")
    return "\n".join(lines) + "\n"


# ---- object keys ----------------------------------------------------------------------------


def hls_prefix(video_id: str) -> str:
    """Every output of a video lives under this prefix (DESIGN.md, object layout)."""
    return f"hls/{video_id}/"


def output_key(video_id: str, relative_path: str) -> str:
    """The object key of an output file, from its path relative to the output folder."""
    return hls_prefix(video_id) + relative_path
