"""What a source gets: the ladder, the rungs planned for it, and what its picture needs first.

The ladder (one table), which rungs a source gets (never upscale, chosen by the short
side, orientation and displayed shape kept, even dimensions), the H.264 level and RFC
6381 codecs string each rung announces, and deinterlacing and HDR tone mapping.
:mod:`transcode_svc.ladder` turns these plans into one FFmpeg command.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction


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
