"""The one reader of ffprobe: the commands that ask it, and the facts its answers become.

upload_svc probes every upload (over a presigned GET) and transcode_svc's CLI probes
local files; both ask ffprobe with the commands built here and read its answer here,
so a file has the same duration, size, rotation, frame rate, pixel shape, field order
and colours whichever service looked at it. Before, each had its own reader and they
drifted (rotation rounded in two ways, cover art taken for video by one of them, frame
rates rounded by one only). The model is PeerTube's ``packages/ffmpeg/src/ffprobe.ts``:
one module that both its server and its transcoding runners call.

This is a reader of an external format, not a rule of either service: which files are
taken as videos (upload_svc.domain) and which rungs a source gets
(transcode_svc.domain) stay with the services. Everything here but :func:`probe`
is a pure function of ffprobe's output; :func:`probe` runs ffprobe on a file for
callers that may block (the transcoder's CLI, tests), while upload_svc runs the same
commands asynchronously with its own reading of failures.

What ffprobe is asked (``-show_format -show_streams -of json``) and which keys are read
follow ffprobe's documentation (ffprobe-all, "Writers" and the stream section);
the rotation rule follows what the ``ffmpeg`` command does when it decodes
(see :func:`display_rotation`).
"""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

FFPROBE = "ffprobe"
REPORT_OPTIONS = ("-show_format", "-show_streams", "-of", "json")
"""The container and every stream, as one JSON object (``format`` and ``streams``)."""
PACKET_OPTIONS = ("-show_entries", "packet=pts_time,duration_time", "-of", "csv=p=0")
"""One ``pts,duration`` line per packet of every stream, in seconds: demuxed, never decoded."""
DEFAULT_TIMEOUT_SECONDS = 120.0
_NOT_SAID = frozenset({"unknown", "unspecified", "reserved", "n/a"})
"""FFmpeg's words for a property the file does not state (``color_transfer: unknown``)."""
_QUARTER_TURNS = frozenset({90, 180, 270})
IMAGE_DEMUXERS = frozenset({"image2", "image2pipe"})
"""FFmpeg's demuxers of still pictures besides the ``<codec>_pipe`` ones (``png_pipe``, ``jpeg_pipe``...)."""


def _network_options(source: str, timeout_seconds: float | None) -> list[str]:
    """``-rw_timeout`` (microseconds) for a URL, so a stalled store fails the probe instead of hanging it."""
    if timeout_seconds is None or "://" not in source:
        return []
    return ["-rw_timeout", str(int(timeout_seconds * 1_000_000))]


def report_command(
    source: str, *, executable: str = FFPROBE, network_timeout_seconds: float | None = None
) -> list[str]:
    """The argv that asks ffprobe for ``source``'s container and streams as JSON.

    ``source`` is a path, a URL (read with range requests, never downloaded whole) or
    ``pipe:0``; only a URL gets ``network_timeout_seconds``.
    """
    network = _network_options(source, network_timeout_seconds)
    return [executable, "-v", "error", *network, *REPORT_OPTIONS, source]


def packets_command(
    source: str, *, executable: str = FFPROBE, network_timeout_seconds: float | None = None
) -> list[str]:
    """The argv that lists every packet's time and duration: the length of a file that declares none."""
    network = _network_options(source, network_timeout_seconds)
    return [executable, "-v", "error", *network, *PACKET_OPTIONS, source]


@dataclass(frozen=True)
class MediaFacts:
    """What a file holds, as the transcoder needs it; every field is named as in transcode.proto's ProbeFacts.

    Sizes are the video stream's coded pixels (before rotation and pixel shape);
    strings are FFmpeg's own names, "" when the file does not say.
    """

    duration_seconds: float
    """The container's duration, else the video stream's, else measured from packets; 0 when none is known."""
    width: int
    height: int
    rotation: int = 0
    """Clockwise quarter turn the picture is shown at: 0, 90, 180 or 270 (:func:`display_rotation`)."""
    frame_rate: float = 0.0
    """Average frames per second, to 3 decimals (``30000/1001`` is 29.97); 0 when unknown."""
    video_codec: str = ""
    audio_codec: str = ""
    has_audio: bool = False
    sample_aspect_ratio: str = ""
    """Shape of one coded pixel in lowest terms (``"64:45"``); "" when square or unknown."""
    field_order: str = ""
    """``progressive``, or ``tt``/``bb``/``tb``/``bt`` for interlaced video; "" when unknown."""
    pixel_format: str = ""
    """``yuv420p``, ``yuv420p10le`` (10-bit, as HDR phones record), ..."""
    color_transfer: str = ""
    """``smpte2084`` (PQ) and ``arib-std-b67`` (HLG) are HDR; "" when unknown."""
    color_primaries: str = ""
    color_space: str = ""


@dataclass(frozen=True)
class Report:
    """ffprobe's answer about one file, read: the facts, and what deciding about them needs.

    A file without a video stream still has facts (an audio file's duration and codec,
    zero size); whether such a file is acceptable is the caller's rule.
    """

    facts: MediaFacts
    has_video: bool
    """A video stream that is a picture sequence: cover art (an attached picture) is not one."""
    start_seconds: float = 0.0
    """When the media starts; a negative start (an audio codec's priming) counts as 0."""
    format_name: str = ""
    """ffprobe's name of the container, e.g. ``matroska,webm`` or ``mov,mp4,m4a,3gp,3g2,mj2``."""
    frame_count: int = 0
    """Frames of the video stream as the container counts them (``nb_frames``); 0 when it does not say."""

    @property
    def is_still_image(self) -> bool:
        """One picture, not a video: an image file (``png_pipe``, ``image2``...) or a stream of a single frame.

        ffprobe reads a PNG or JPEG renamed ``.mp4`` as a one-frame "video" of 0.04 s,
        and an MP4 of one frame says so in ``nb_frames``; neither has anything to play.
        A container that does not count frames (Matroska) is not called a still here.
        """
        image_demuxer = self.format_name in IMAGE_DEMUXERS or self.format_name.endswith("_pipe")
        return self.has_video and (image_demuxer or self.frame_count == 1)

    @property
    def needs_measured_duration(self) -> bool:
        """A video whose container and stream declare no duration (ffprobe's ``Duration: N/A``).

        Browsers' MediaRecorder writes WebM as it records, to a stream it cannot seek
        back into, so the Segment Info never gets its Duration (nor Cues); such a file
        still plays, and its length is the end of its last packet.
        """
        return self.has_video and self.facts.duration_seconds <= 0

    @property
    def is_matroska(self) -> bool:
        """Matroska or WebM, whose packets can be read from the file's two ends (upload_svc's Prober)."""
        return "matroska" in self.format_name

    def with_measured_duration(self, seconds: float) -> Report:
        """This report with a duration measured from packets, when the file declares none; a declared one wins."""
        if self.facts.duration_seconds > 0:
            return self
        return replace(self, facts=replace(self.facts, duration_seconds=max(0.0, seconds)))

    def with_packets(self, packets_csv: str) -> Report:
        """:meth:`with_measured_duration` from the output of :func:`packets_command`."""
        return self.with_measured_duration(duration_from_packets(packets_csv, self.start_seconds))


class UnreadableReport(ValueError):
    """ffprobe's standard output is not the JSON object it was asked for."""


def parse_report(stdout: bytes | str) -> Report:
    """:func:`read_report` of the standard output of :func:`report_command`."""
    try:
        report = json.loads(stdout or "{}")
    except json.JSONDecodeError:
        raise UnreadableReport("ffprobe gave no readable report") from None
    if not isinstance(report, dict):
        raise UnreadableReport("ffprobe gave no readable report")
    return read_report(report)


def read_report(report: Mapping[str, Any]) -> Report:
    """The facts of ``ffprobe -show_format -show_streams -of json``: the one place its JSON becomes facts.

    The video stream is the first one that is not an attached picture (an MP3's album
    cover is a one-frame "video" stream that plays nothing); audio is the first audio
    stream. Values ffprobe prints as ``N/A`` or leaves out read as 0 or "".
    """
    container = report.get("format") or {}
    streams = [stream for stream in report.get("streams") or [] if isinstance(stream, Mapping)]
    video = next(
        (
            stream
            for stream in streams
            if stream.get("codec_type") == "video" and not (stream.get("disposition") or {}).get("attached_pic")
        ),
        None,
    )
    audio = next((stream for stream in streams if stream.get("codec_type") == "audio"), None)
    picture: Mapping[str, Any] = video or {}
    facts = MediaFacts(
        duration_seconds=_number(container.get("duration")) or _number(picture.get("duration")),
        width=max(0, int(_number(picture.get("width")))),
        height=max(0, int(_number(picture.get("height")))),
        rotation=display_rotation(picture),
        frame_rate=_rate(picture.get("avg_frame_rate")) or _rate(picture.get("r_frame_rate")),
        video_codec=str(picture.get("codec_name") or ""),
        audio_codec=str(audio.get("codec_name") or "") if audio else "",
        has_audio=audio is not None,
        sample_aspect_ratio=_pixel_aspect(picture.get("sample_aspect_ratio")),
        field_order=_named(picture.get("field_order")),
        pixel_format=_named(picture.get("pix_fmt")),
        color_transfer=_named(picture.get("color_transfer")),
        color_primaries=_named(picture.get("color_primaries")),
        color_space=_named(picture.get("color_space")),
    )
    return Report(
        facts=facts,
        has_video=video is not None,
        start_seconds=max(0.0, _number(container.get("start_time"))),
        format_name=str(container.get("format_name") or ""),
        frame_count=max(0, int(_number(picture.get("nb_frames")))),
    )


def duration_from_packets(packets_csv: str, start: float = 0.0) -> float:
    """Seconds from ``start`` to the end of the last packet (to the microsecond), or 0 when no packet has a time.

    ``packets_csv`` is the output of :func:`packets_command`: ``pts,duration`` per
    line, ``N/A`` where unknown. Packets are not all in time order (B-frames,
    interleaved streams), so the end is the largest pts + duration of any packet.
    """
    end = 0.0
    for line in packets_csv.splitlines():
        fields = line.strip().split(",")
        if len(fields) >= 2 and _is_number(fields[0]):
            end = max(end, _number(fields[0]) + max(0.0, _number(fields[1])))
    return round(max(0.0, end - start), 6)


# ---- rotation -------------------------------------------------------------------------------


def display_rotation(video: Mapping[str, Any]) -> int:
    """The clockwise quarter turn FFmpeg applies to this stream's frames when it decodes them.

    The transcoder plans rungs from the picture as displayed, and the frames reach its
    scalers already turned by FFmpeg's autorotation, so the rule is FFmpeg's own
    (fftools' ``get_rotation`` and the filter it then inserts; checked against what
    Debian 12's FFmpeg 5.1 decodes in tests/kit/test_ffprobe_reader.py): the display
    matrix's angle is rounded to whole degrees (halves away from zero) and taken
    clockwise modulo 360; 90, 180 and 270 turn the frame (transpose or flip), and any
    other angle is drawn turned inside the coded frame, whose shape so stays as
    coded: 0 here.

    The angle comes from, in order: the display matrix ffprobe prints (exact), the
    ``rotation`` ffprobe prints beside it (counter-clockwise, and truncated to whole
    degrees by ffprobe, so a matrix at -89.7 reads as -89 while FFmpeg turns it by
    90), and last the ``rotate`` tag (clockwise) that ffprobe before 5.0 printed
    instead.
    """
    for side_data in video.get("side_data_list") or []:
        if isinstance(side_data, Mapping) and ("displaymatrix" in side_data or "rotation" in side_data):
            counter_clockwise = _matrix_rotation(side_data.get("displaymatrix"))
            if counter_clockwise is None:
                counter_clockwise = _number(side_data.get("rotation"))
            return quarter_turn(-counter_clockwise)
    tag = (video.get("tags") or {}).get("rotate")
    return quarter_turn(_number(tag)) if tag is not None else 0


def quarter_turn(clockwise_degrees: float) -> int:
    """0, 90, 180 or 270: the angle rounded to whole degrees as C's round(), if that is a quarter turn; else 0."""
    whole = math.copysign(math.floor(abs(clockwise_degrees) + 0.5), clockwise_degrees)
    degrees = int(whole) % 360
    return degrees if degrees in _QUARTER_TURNS else 0


def _matrix_rotation(text: object) -> float | None:
    """Counter-clockwise degrees of the 3x3 display matrix ffprobe prints; None if absent or degenerate.

    ffprobe prints the nine 16.16 fixed-point integers three to a line after an
    offset (``00000000:  0  65536  0``). The angle is that of the matrix's first
    column pair, each normalised by its scale (ISO/IEC 14496-12 8.3.2 ``matrix``;
    the same computation as libavutil's ``av_display_rotation_get``).
    """
    if not isinstance(text, str):
        return None
    try:
        values = [int(value) for line in text.splitlines() if ":" in line for value in line.split(":", 1)[1].split()]
    except ValueError:
        return None
    if len(values) != 9:
        return None
    scale_x, scale_y = math.hypot(values[0], values[3]), math.hypot(values[1], values[4])
    if scale_x == 0 or scale_y == 0:
        return None
    return -math.degrees(math.atan2(values[1] / scale_y, values[0] / scale_x))


# ---- values ---------------------------------------------------------------------------------


def _number(value: object) -> float:
    """A finite number from ffprobe's text; 0 for ``N/A``, absent or malformed."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _rate(value: object) -> float:
    """``30000/1001`` as 29.97 (3 decimals); ``0/0`` (unknown) as 0."""
    numerator, _, denominator = str(value or "").partition("/")
    top, bottom = _number(numerator), _number(denominator or "1")
    return round(top / bottom, 3) if bottom else 0.0


def _named(value: object) -> str:
    """One of FFmpeg's names as given; "" for its words for "not said"."""
    text = str(value or "").strip()
    return "" if text.lower() in _NOT_SAID else text


def _pixel_aspect(value: object) -> str:
    """``64:45`` in lowest terms; "" when square (1:1), unknown (0:1) or malformed."""
    width, _, height = str(value or "").partition(":")
    try:
        ratio = Fraction(int(width), int(height))
    except (ValueError, ZeroDivisionError):
        return ""
    return "" if ratio <= 0 or ratio == 1 else f"{ratio.numerator}:{ratio.denominator}"


# ---- running it -----------------------------------------------------------------------------


class ProbeFailed(Exception):
    """ffprobe could not read the file, or ran past its time; ``stderr`` is its own explanation."""

    def __init__(self, stderr: str) -> None:
        super().__init__(stderr)
        self.stderr = stderr


def probe(source: str, *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS, executable: str = FFPROBE) -> Report:
    """Probe a file or URL, blocking: the report, and for a video that declares no length its packets.

    For callers that may block (a CLI, tests). A file's packets are demuxed whole,
    which costs a read of the file and no decoding; upload_svc measures remote
    Matroska from its two ends instead (``upload_svc.adapters.Prober``).
    """

    def ask(command: Callable[..., list[str]]) -> str:
        return _run(command(source, executable=executable, network_timeout_seconds=timeout_seconds), timeout_seconds)

    try:
        report = parse_report(ask(report_command))
    except UnreadableReport as exc:
        raise ProbeFailed(str(exc)) from None
    if report.needs_measured_duration:
        report = report.with_packets(ask(packets_command))
    return report


def _run(command: Sequence[str], timeout_seconds: float) -> str:
    try:
        completed = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout_seconds, check=False)
    except subprocess.TimeoutExpired:
        raise ProbeFailed(f"ffprobe ran longer than {timeout_seconds:g} s and was stopped") from None
    except OSError as exc:
        raise ProbeFailed(f"ffprobe could not be started ({exc.strerror})") from exc
    if completed.returncode != 0:
        raise ProbeFailed(completed.stderr)
    return completed.stdout
