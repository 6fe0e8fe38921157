"""The transcoding rules as plain data and functions: no FFmpeg, no I/O.

Everything that decides *what* a transcode produces lives here, so it is tested by
plain calls: the ladder (one table), which rungs a source gets (never upscale, chosen
by the short side, orientation and displayed shape kept, even dimensions), what the
source's picture needs first (deinterlacing, HDR tone mapping), the H.264 level and
RFC 6381 codecs string each rung announces, the master and variant playlists, progress
and ETA arithmetic, and how long a job may run. :mod:`transcode_svc.ladder` turns these
plans into one FFmpeg command.
"""

from __future__ import annotations

import enum
import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from fractions import Fraction

from service_kit.auth import SessionClaims


@dataclass(frozen=True)
class Rung:
    """One row of the ladder: a 16:9 target whose short side is ``height``."""

    name: str
    width: int
    height: int
    video_kbps: int


LADDER: tuple[Rung, ...] = (
    Rung("360p", 640, 360, 800),
    Rung("480p", 854, 480, 1400),
    Rung("720p", 1280, 720, 2800),
    Rung("1080p", 1920, 1080, 5000),
)
"""The seed's ladder, ascending; the one place it is defined."""

AUDIO_KBPS = 128
"""AAC stereo for every rung of a source with sound."""
MAXRATE_FACTOR = 1.1
"""Peak (VBV maxrate) over the average bit rate: bounded peaks keep BANDWIDTH honest."""
BUFSIZE_FACTOR = 1.5
"""VBV buffer over the average bit rate: about 1.5 s of smoothing at the average rate."""
SMALLEST_VIDEO_KBPS = 150
"""Floor of the bit rate of a source smaller than the lowest rung (scaled by its area)."""
DEFAULT_FRAME_RATE = 30.0
"""Used when probing could not tell the frame rate."""
H264_PROFILE = "high"
H264_PROFILE_IDC = 0x64
AAC_LC_CODECS = "mp4a.40.2"

SEGMENT_NAME_PATTERN = "seg_%05d.ts"
"""FFmpeg's pattern for segment files; deterministic names make a retried job overwrite, not add."""
VARIANT_PLAYLIST = "index.m3u8"
MASTER_PLAYLIST = "master.m3u8"
POSTER = "poster.jpg"


@dataclass(frozen=True)
class ProbeFacts:
    """What probing the source revealed (the contract's ProbeFacts, without protobuf).

    transcode_svc's own type, because it is what the contract carries (upload_svc
    probed the source; a job stores it as JSON) and it adds what planning reads from
    it (:attr:`pixel_aspect`, :attr:`display_size`). Its fields are those of
    :class:`service_kit.ffprobe.MediaFacts`, name for name, so the CLI, which probes
    a file itself, builds one from the reader's facts in one line (tested).
    """

    duration_seconds: float
    width: int
    height: int
    rotation: int = 0
    frame_rate: float = 0.0
    video_codec: str = ""
    audio_codec: str = ""
    has_audio: bool = False
    sample_aspect_ratio: str = ""
    """Shape of one coded pixel, ``"64:45"``; "" when square or unknown."""
    field_order: str = ""
    """``progressive``, or ``tt``/``bb``/``tb``/``bt`` for interlaced video; "" when unknown."""
    pixel_format: str = ""
    color_transfer: str = ""
    color_primaries: str = ""
    color_space: str = ""

    @property
    def pixel_aspect(self) -> Fraction:
        """Width over height of one coded pixel; 1 when square, unknown or malformed."""
        width, _, height = self.sample_aspect_ratio.partition(":")
        try:
            ratio = Fraction(int(width), int(height))
        except (ValueError, ZeroDivisionError):
            return Fraction(1)
        return ratio if ratio > 0 else Fraction(1)

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height of the picture as shown, in square pixels.

        Non-square pixels stretch the coded width (720x576 at 64:45 is a 1024x576
        picture, 16:9; at 16:15 it is 768x576, 4:3), as FFmpeg's display aspect ratio
        says; a 90 or 270 degree rotation then swaps the two.
        """
        width = round(self.width * self.pixel_aspect) if self.width > 0 else self.width
        if self.rotation % 180 == 90:
            return self.height, width
        return width, self.height


@dataclass(frozen=True)
class RenditionPlan:
    """One output of the ladder, with everything the encoder and the playlist need."""

    name: str
    width: int
    height: int
    video_bitrate: int
    """Average video bit rate, bits per second."""
    max_bitrate: int
    buffer_size: int
    audio_bitrate: int
    """0 for a source without sound: the rendition is video-only."""
    frame_rate: float
    level: str
    """H.264 level such as "3.1", the smallest that fits size, rate and bit rate."""

    @property
    def codecs(self) -> str:
        """RFC 6381 codecs of the variant, as CODECS in the master playlist."""
        video = f"avc1.{H264_PROFILE_IDC:02x}00{round(float(self.level) * 10):02x}"
        return f"{video},{AAC_LC_CODECS}" if self.audio_bitrate else video

    @property
    def peak_bandwidth(self) -> int:
        """BANDWIDTH announced before any segment exists: the VBV peak plus audio."""
        return self.max_bitrate + self.audio_bitrate

    @property
    def average_bandwidth(self) -> int:
        """AVERAGE-BANDWIDTH announced before any segment exists: the targets."""
        return self.video_bitrate + self.audio_bitrate


class UnsupportedSource(ValueError):
    """Probe facts that no ladder can be planned from (no picture, no duration)."""


@dataclass(frozen=True)
class _Level:
    name: str
    max_macroblocks_per_second: int
    max_frame_macroblocks: int
    max_kbps_high: int


# ITU-T H.264 Table A-1 (MaxMBPS, MaxFS, MaxBR x 1.25 for the High profile), levels 3 and up.
_LEVELS = (
    _Level("3.0", 40_500, 1_620, 12_500),
    _Level("3.1", 108_000, 3_600, 17_500),
    _Level("3.2", 216_000, 5_120, 25_000),
    _Level("4.0", 245_760, 8_192, 25_000),
    _Level("4.1", 245_760, 8_192, 62_500),
    _Level("4.2", 522_240, 8_704, 62_500),
    _Level("5.0", 589_824, 22_080, 168_750),
    _Level("5.1", 983_040, 36_864, 300_000),
    _Level("5.2", 2_073_600, 36_864, 300_000),
)


def h264_level(width: int, height: int, frame_rate: float, max_kbps: int) -> str:
    """The smallest level whose frame size, macroblock rate and bit rate all fit.

    Announcing the real level (not a blanket 4.1) lets old phones pick the rungs they
    can decode; x264 is told the same level so the stream and the playlist agree.
    """
    frame_mbs = math.ceil(width / 16) * math.ceil(height / 16)
    rate_mbs = frame_mbs * frame_rate
    for level in _LEVELS:
        if (
            frame_mbs <= level.max_frame_macroblocks
            and rate_mbs <= level.max_macroblocks_per_second
            and max_kbps <= level.max_kbps_high
        ):
            return level.name
    return _LEVELS[-1].name


def _even(value: float) -> int:
    """Nearest even integer, at least 2: 4:2:0 chroma needs even dimensions."""
    return max(2, 2 * round(value / 2))


def _even_down(value: int) -> int:
    return max(2, value - value % 2)


def plan_renditions(probe: ProbeFacts) -> list[RenditionPlan]:
    """The rungs a source gets, ascending.

    - Never upscale: a rung whose short side exceeds the source's is dropped.
    - The short side chooses the rung, so portrait and rotated sources keep their
      orientation and aspect ratio (a 1080x1920 phone video gets 360x640 up to
      1080x1920, named by the short side: "360p" ... "1080p").
    - A source smaller than the lowest rung gets one rendition at its own size (even
      dimensions), its bit rate scaled from the lowest rung by area.
    - No audio stream, no audio in any rendition.
    """
    width, height = probe.display_size
    if width <= 0 or height <= 0:
        raise UnsupportedSource("the source has no video stream with a known size")
    if not probe.duration_seconds > 0:
        raise UnsupportedSource("the source has no known duration")
    frame_rate = probe.frame_rate if 0 < probe.frame_rate <= 240 else DEFAULT_FRAME_RATE
    audio_bitrate = AUDIO_KBPS * 1000 if probe.has_audio else 0
    short = min(width, height)
    fitting = [rung for rung in LADDER if rung.height <= short]
    shapes: list[tuple[str, int, int, int]] = []
    if not fitting:
        own_width, own_height = _even_down(width), _even_down(height)
        lowest = LADDER[0]
        area_share = (own_width * own_height) / (lowest.width * lowest.height)
        kbps = max(SMALLEST_VIDEO_KBPS, round(lowest.video_kbps * area_share))
        shapes.append((f"{min(own_width, own_height)}p", own_width, own_height, kbps))
    for rung in fitting:
        factor = rung.height / short
        out_width, out_height = _even(width * factor), _even(height * factor)
        if rung.height == short:
            out_width, out_height = _even_down(width), _even_down(height)
        shapes.append((rung.name, out_width, out_height, rung.video_kbps))
    plans = []
    for name, out_width, out_height, kbps in shapes:
        max_kbps = round(kbps * MAXRATE_FACTOR)
        plans.append(
            RenditionPlan(
                name=name,
                width=out_width,
                height=out_height,
                video_bitrate=kbps * 1000,
                max_bitrate=max_kbps * 1000,
                buffer_size=round(kbps * BUFSIZE_FACTOR) * 1000,
                audio_bitrate=audio_bitrate,
                frame_rate=frame_rate,
                level=h264_level(out_width, out_height, frame_rate, max_kbps),
            )
        )
    return plans


# ---- the source's picture: fields and colour -------------------------------------------------

INTERLACED_FIELD_ORDERS = frozenset({"tt", "bb", "tb", "bt"})
"""ffprobe's field orders of interlaced video (top or bottom field first, coded and displayed)."""
HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})
"""PQ (HDR10) and HLG (what phones record, Dolby Vision's base layer on iPhones): high dynamic range."""
_ZIMG_PRIMARIES = frozenset({"bt2020", "bt709", "smpte432", "smpte431"})
_ZIMG_MATRICES = frozenset({"bt2020nc", "bt2020c", "bt709"})


@dataclass(frozen=True)
class PicturePlan:
    """What the decoded source needs before any rung is scaled from it.

    The default changes nothing: progressive SDR sources go straight to the scalers.
    """

    deinterlace: bool = False
    """Interlaced source: bwdif makes one progressive frame per frame (frame rate kept)."""
    tone_map_from: str = ""
    """The source's HDR transfer (:data:`HDR_TRANSFERS`) when it is tone-mapped to SDR BT.709; "" otherwise."""
    source_primaries: str = ""
    """Colour primaries to read an HDR source with (zimg's names); "" when not tone-mapping."""
    source_matrix: str = ""
    """Matrix coefficients to read an HDR source with (zimg's names); "" when not tone-mapping."""

    @property
    def tone_maps(self) -> bool:
        return bool(self.tone_map_from)


def plan_picture(probe: ProbeFacts) -> PicturePlan:
    """How the source's fields and colours are made fit for 8-bit SDR H.264 renditions.

    - Interlaced (ffprobe's field order tt, bb, tb or bt): deinterlaced explicitly, not
      left to the accident of downscaling, which blends fields in small rungs and
      leaves combing in any rung near the source's height.
    - HDR (PQ or HLG transfer, as phones record in HEVC 10-bit BT.2020): tone-mapped to
      SDR BT.709, which every browser plays on every screen, instead of 8-bit H.264
      still tagged HDR (shown washed out or dark). Unknown primaries or matrix of an
      HDR source are read as BT.2020, the only ones HDR video uses in practice.
    """
    hdr = probe.color_transfer if probe.color_transfer in HDR_TRANSFERS else ""
    return PicturePlan(
        deinterlace=probe.field_order in INTERLACED_FIELD_ORDERS,
        tone_map_from=hdr,
        source_primaries=(probe.color_primaries if probe.color_primaries in _ZIMG_PRIMARIES else "bt2020")
        if hdr
        else "",
        source_matrix=(probe.color_space if probe.color_space in _ZIMG_MATRICES else "bt2020nc") if hdr else "",
    )


def keyframe_interval(frame_rate: float, segment_seconds: float) -> int:
    """Frames between keyframes: one GOP per segment, so every rung cuts at the same instants."""
    return max(1, round(frame_rate * segment_seconds))


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


# ---- job lifecycle and progress -------------------------------------------------------------


class JobStatus(enum.Enum):
    """Where a transcode job stands; the values are the database's."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


@dataclass(frozen=True)
class Progress:
    """A job's progress as users see it: never backwards, 100 only when done."""

    percent: int = 0
    eta_seconds: int = 0
    playable: bool = False

    def advanced(self, percent: int, eta_seconds: int, playable: bool = False) -> Progress:
        """This progress moved forward; a lower percent (a retried attempt) keeps the old one."""
        if percent < self.percent:
            return replace(self, playable=self.playable or playable)
        return Progress(percent, eta_seconds, self.playable or playable)

    def finished(self) -> Progress:
        return Progress(100, 0, True)


def encoded_percent(encoded_seconds: float, duration_seconds: float) -> int:
    """Share of the source encoded, 0 to 99: 100 is kept for "published and ready"."""
    if duration_seconds <= 0 or encoded_seconds <= 0:
        return 0
    return max(0, min(99, math.floor(encoded_seconds / duration_seconds * 100)))


def eta_seconds(elapsed_seconds: float, encoded_seconds: float, duration_seconds: float) -> int:
    """Seconds left if the rest goes at the pace so far; 0 when there is no pace yet."""
    if encoded_seconds <= 0 or duration_seconds <= 0 or elapsed_seconds <= 0:
        return 0
    remaining = max(0.0, duration_seconds - encoded_seconds)
    return math.ceil(remaining * elapsed_seconds / encoded_seconds)


@dataclass(frozen=True)
class Timeouts:
    """How long FFmpeg may run, and the RQ job around it (which must outlive FFmpeg)."""

    ffmpeg_seconds: int
    job_seconds: int


FFMPEG_BASE_SECONDS = 120
"""Start-up, probing and the poster, whatever the length."""
PUBLISH_MARGIN_SECONDS = 300
"""The job's own work after FFmpeg: final playlists, orphan clean-up, database."""


def job_timeouts(duration_seconds: float, seconds_per_source_second: float) -> Timeouts:
    """Timeouts that scale with the source: a 2-hour lecture is not a stuck 2-minute clip.

    ``seconds_per_source_second`` is the slowest pace still considered alive
    (TRANSCODE_TIMEOUT_FACTOR); the RQ job gets a margin on top so that FFmpeg's own
    timeout always fires first and the job can record why.
    """
    ffmpeg = FFMPEG_BASE_SECONDS + math.ceil(max(0.0, duration_seconds) * seconds_per_source_second)
    return Timeouts(ffmpeg, ffmpeg + PUBLISH_MARGIN_SECONDS)


def retry_intervals(max_attempts: int, intervals: Sequence[int]) -> list[int]:
    """Back-off before each retry: the configured list, its last value repeated as needed."""
    retries = max(0, max_attempts - 1)
    if not intervals:
        return [0] * retries
    return [intervals[min(i, len(intervals) - 1)] for i in range(retries)]


NETWORK_FAILURE_MARKERS = (
    "connection refused",
    "connection reset",
    "connection timed out",
    "operation timed out",
    "network is unreachable",
    "no route to host",
    "broken pipe",
    "server returned 5",
    "stream ends prematurely",
    "will reconnect",
    "input/output error",
)
"""Lower-case fragments of FFmpeg's words (its http and tcp protocols) for a read that failed in transit."""


def is_network_failure(reason: str) -> bool:
    """Whether FFmpeg's reason says the source could not be read in transit, not that it is bad media."""
    lowered = reason.lower()
    return any(marker in lowered for marker in NETWORK_FAILURE_MARKERS)


def failure_reason(stderr_tail: str) -> str:
    """FFmpeg's reason in words: its last meaningful error lines, without paths or noise."""
    lines = [line.strip() for line in stderr_tail.splitlines() if line.strip()]
    meaningful = [
        line
        for line in lines
        if not line.startswith(("frame=", "size=", "Press [q]", "video:", "[out#", "Conversion failed"))
    ]
    chosen = meaningful[-3:] if meaningful else lines[-1:]
    text = "; ".join(chosen)
    text = re.sub(r"(/[^\s:;'\"]+)+", "the source", text)
    text = re.sub(r"https?://\S+", "the source", text)
    return (text or "FFmpeg failed without saying why")[:500]


# ---- a job as recorded, and as callers see it -------------------------------------------------


@dataclass(frozen=True)
class TranscodeJob:
    """One attempt to transcode a video, as PostgreSQL records it.

    ``progress`` is the last flush (every TRANSCODE_PROGRESS_FLUSH_SECONDS): Redis has
    the live value while the job runs (:class:`LiveProgress`). ``renditions`` are the
    published ones, empty until the job succeeds.
    """

    id: uuid.UUID
    video_id: str
    organization_id: str
    course_id: str
    """The video's course, whose staff manage the job; "" for jobs recorded before courses were."""
    source_key: str
    probe: ProbeFacts
    status: JobStatus
    progress: Progress
    error_reason: str
    attempts: int
    renditions: tuple[PublishedRendition, ...]
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def cancelled(self, at: datetime) -> TranscodeJob:
        """The job once cancelled at ``at``: final, nothing left to wait for, nothing playable."""
        return replace(
            self,
            status=JobStatus.CANCELLED,
            progress=Progress(self.progress.percent, 0, False),
            finished_at=at,
            updated_at=at,
        )


def new_job(
    *,
    job_id: uuid.UUID,
    video_id: str,
    organization_id: str,
    course_id: str,
    source_key: str,
    probe: ProbeFacts,
    now: datetime,
) -> TranscodeJob:
    """A job as StartTranscode records it: queued, nothing done, no attempt yet."""
    return TranscodeJob(
        id=job_id,
        video_id=video_id,
        organization_id=organization_id,
        course_id=course_id,
        source_key=source_key,
        probe=probe,
        status=JobStatus.QUEUED,
        progress=Progress(),
        error_reason="",
        attempts=0,
        renditions=(),
        created_at=now,
        updated_at=now,
    )


@dataclass(frozen=True)
class LiveProgress:
    """What the workers last published of a job in Redis, fresher than the row while it runs."""

    status: str
    """The worker's word for where the job stands (a :class:`JobStatus` value), "" when it said none."""
    percent: int = 0
    eta_seconds: int = 0
    playable: bool = False


@dataclass(frozen=True)
class JobView:
    """A job as callers see it: the row, advanced by live progress, and the renditions it offers.

    Two views are equal exactly when a caller would see no difference, which is how a
    watch knows when to send a new snapshot.
    """

    job_id: str
    video_id: str
    organization_id: str
    status: JobStatus
    progress_percent: int
    eta_seconds: int
    error_reason: str
    attempts: int
    renditions: tuple[PublishedRendition, ...]
    playable: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def offered_renditions(job: TranscodeJob) -> tuple[PublishedRendition, ...]:
    """What the job publishes: the measured renditions once it succeeded, else the planned rungs.

    A source no ladder can be planned from offers nothing (StartTranscode refuses those,
    so only a job recorded before a planning rule changed can be one).
    """
    if job.status is JobStatus.SUCCEEDED and job.renditions:
        return job.renditions
    try:
        plans = plan_renditions(job.probe)
    except UnsupportedSource:
        return ()
    return tuple(published(nominal(plan)) for plan in plans)


def job_view(job: TranscodeJob, live: LiveProgress | None = None) -> JobView:
    """The job as callers see it.

    While the job is not final, Redis's progress advances the row's (never backwards),
    and a worker that says "running" makes a queued row read running. A succeeded job
    is at 100 % and playable; only a failed one has a reason; a final one has no ETA;
    only a running or succeeded job is playable.
    """
    status = job.status
    progress = job.progress
    if live is not None and not status.is_final:
        progress = progress.advanced(live.percent, live.eta_seconds, live.playable)
        if live.status == JobStatus.RUNNING.value and status is JobStatus.QUEUED:
            status = JobStatus.RUNNING
    if status is JobStatus.SUCCEEDED:
        progress = progress.finished()
    return JobView(
        job_id=str(job.id),
        video_id=job.video_id,
        organization_id=job.organization_id,
        status=status,
        progress_percent=progress.percent,
        eta_seconds=0 if status.is_final else progress.eta_seconds,
        error_reason=job.error_reason if status is JobStatus.FAILED else "",
        attempts=job.attempts,
        renditions=offered_renditions(job),
        playable=progress.playable and status in (JobStatus.RUNNING, JobStatus.SUCCEEDED),
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


# ---- who may read and cancel a job ------------------------------------------------------------


class JobAccess(enum.Enum):
    """What a caller may do with a job, and how a refusal answers."""

    MANAGE = "manage"
    HIDDEN = "hidden"
    """Another organization's, or another course's, job: answered as if it did not exist."""
    NOT_STAFF = "not staff"
    """A member of the job's course without a staff role: 403, the job is the staff's tool."""


def job_access(caller: SessionClaims, organization_id: str, course_id: str) -> JobAccess:
    """Staff of the video's course and the organization's administrators manage its job.

    The rule mirrors the catalog's (upload_svc.domain): another organization's job, or
    another course's, is reported as missing, so ids never leak across courses. Jobs
    started before the course was recorded (``course_id`` empty) keep the older rule:
    any staff of the organization.
    """
    if organization_id != caller.organization_id:
        return JobAccess.HIDDEN
    if caller.is_administrator:
        return JobAccess.MANAGE
    if course_id and course_id != caller.course_id:
        return JobAccess.HIDDEN
    return JobAccess.MANAGE if caller.manages_course else JobAccess.NOT_STAFF


# ---- which live jobs the queue owes a run -----------------------------------------------------

QUIET_SECONDS_MIN = 15.0
"""The shortest quiet period: a live job changed or ended in RQ more recently is left alone."""


class RqState(enum.StrEnum):
    """What RQ knows of one transcode job."""

    MISSING = "missing"
    """No RQ job, or one RQ calls queued or scheduled that no queue or registry holds."""
    WAITING = "waiting"
    """In the queue (or taken from it a moment ago), or scheduled for a retry."""
    RUNNING = "running"
    """Started, and its worker's heartbeat is current."""
    ABANDONED = "abandoned"
    """Started, but the heartbeat lapsed: the worker died."""
    ENDED = "ended"
    """RQ finished, failed, stopped or cancelled it."""


@dataclass(frozen=True)
class Sighting:
    """RQ's state of a job, and since when (heartbeat lapse or end; None when unknown)."""

    state: RqState
    since: datetime | None = None


@dataclass(frozen=True)
class LiveJob:
    """The facts of a job's row the rule needs (status, last change) and the enqueue needs (duration)."""

    job_id: str
    status: JobStatus
    updated_at: datetime
    duration_seconds: float

    @classmethod
    def of(cls, job: TranscodeJob) -> LiveJob:
        return cls(str(job.id), job.status, job.updated_at, job.probe.duration_seconds)


def quiet_seconds(progress_flush_seconds: float) -> float:
    """How long a live job must have been left alone before it counts as lost (seconds).

    Three progress flushes (TRANSCODE_PROGRESS_FLUSH_SECONDS), so that a running horse
    that lost its worker is never taken for lost while it still writes; never less than
    :data:`QUIET_SECONDS_MIN`.
    """
    return max(QUIET_SECONDS_MIN, 3 * progress_flush_seconds)


def needs_enqueue(job: LiveJob, sighting: Sighting, now: datetime, quiet: float) -> bool:
    """Whether ``job`` must be put in the queue again: PostgreSQL says live, RQ has lost it.

    ``now`` and the job's times are aware datetimes; ``quiet`` in seconds. A final job
    never; a job whose row changed within ``quiet`` not yet (StartTranscode between its
    commit and its enqueue; a horse still flushing progress); a job RQ does not know,
    yes; one RQ holds (queued, scheduled, running with a heartbeat) no; one whose
    heartbeat lapsed or that RQ ended without the row following, once that is ``quiet``
    old (RQ's own maintenance retries abandoned jobs, and a failure callback may be writing).
    """
    if job.status.is_final:
        return False
    if now - job.updated_at < timedelta(seconds=quiet):
        return False
    if sighting.state is RqState.MISSING:
        return True
    if sighting.state in (RqState.WAITING, RqState.RUNNING):
        return False
    return sighting.since is None or now - sighting.since >= timedelta(seconds=quiet)
