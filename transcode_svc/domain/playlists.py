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


def with_target_duration(text: str) -> str:
    """``text`` with an EXT-X-TARGETDURATION that covers every segment it lists (see :func:`target_duration`)."""
    lines = text.splitlines()
    segments = parse_variant_playlist(text).segments
    for index, line in enumerate(lines):
        match = _TARGET_DURATION.fullmatch(line.strip())
        if match:
            lines[index] = f"#EXT-X-TARGETDURATION:{target_duration([s.duration for s in segments], int(match[1]))}"
            break
    return "\n".join(lines) + "\n"


def event_playlist(text: str) -> str:
    """The EVENT playlist players get while encoding runs, from the one FFmpeg writes.

    Adds ``#EXT-X-START:TIME-OFFSET=0`` (RFC 8216 4.3.5.2) after the header: without it
    players treat a playlist with no EXT-X-ENDLIST as live and begin near its end (hls.js
    three target durations from the edge), so someone opening a lecture while it
    encodes would miss its first minutes. The tag goes in the media playlists only,
    since 4.3.5 asks that it not appear in both the master and its media playlists.
    The target duration is made to cover every segment (:func:`target_duration`).
    """
    lines = [line for line in with_target_duration(text).splitlines() if not line.startswith("#EXT-X-START:")]
    header = 2 if len(lines) > 1 and lines[1].startswith("#EXT-X-VERSION:") else 1
    return "\n".join([*lines[:header], START_AT_BEGINNING, *lines[header:]]) + "\n"


def finalize_variant_playlist(text: str) -> str:
    """The VOD form of a finished EVENT playlist: type VOD, EXT-X-ENDLIST once, a target covering every segment.

    No EXT-X-START: a VOD playlist starts at its beginning by default.
    """
    text = with_target_duration(text)
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


def master_playlist(renditions: Sequence[MeasuredRendition]) -> str:
    """The master playlist: one EXT-X-STREAM-INF per rung, ascending, with every attribute.

    BANDWIDTH, AVERAGE-BANDWIDTH, RESOLUTION, CODECS and FRAME-RATE let a player choose a
    rung before fetching any of them; variants live at ``{name}/index.m3u8``.
    """
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rendition in sorted(renditions, key=lambda r: (r.plan.height * r.plan.width, r.bandwidth)):
        plan = rendition.plan
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={rendition.bandwidth},AVERAGE-BANDWIDTH={rendition.average_bandwidth},"
            f'RESOLUTION={plan.width}x{plan.height},CODECS="{plan.codecs}",FRAME-RATE={plan.frame_rate:.3f}'
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
