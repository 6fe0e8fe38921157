"""The FFmpeg side of the ladder: one command that makes every rung, and its runner.

Shared by the RQ job (:mod:`transcode_svc.jobs`) and the operator's CLI::

    python -m transcode_svc.ladder SOURCE OUTDIR

which writes OUTDIR/master.m3u8, OUTDIR/{rung}/index.m3u8 + segments and
OUTDIR/poster.jpg from a local file (no Redis, no object store), honouring
TRANSCODE_PRESET, HLS_SEGMENT_SECONDS and the opening segments (HLS_OPENING_*).

The argv is a plain list, in the order FFmpeg's documentation gives: global options,
the input, one ``-filter_complex`` graph of comma-joined chains with our own labels,
then per rung its ``-map``, encoder and HLS muxer options and playlist. ffmpeg-python
(once a dependency, never imported) cannot write that list: it sorts every keyword
option, of filters and outputs alike, gives each filter its own chain and a generated
label, and puts global options after the last output; the details are in
docs/ARCHITECTURE.md (Transcoding, "FFmpeg command lines"). The arguments are pinned
one by one in tests/transcode/test_ffmpeg_commands.py. Probing is
:mod:`service_kit.ffprobe`'s, the one reader upload_svc uses too.

Why the command looks the way it does (numbers in bench/transcode.py):

- The source is decoded once; the largest rung is scaled from it and each smaller rung
  from the next larger one (a chain, not N scalers reading 1080p), with bilinear
  filtering: downscaling by at most 2/3 per step, bilinear is visually equal to
  bicubic here and cheaper, and scaling is the part of the graph that runs in
  FFmpeg's main thread between decoding and the encoders.
- An interlaced source is deinterlaced (bwdif), and an HDR one tone-mapped to SDR
  BT.709 at the largest rung's size, once, before the first scaler
  (:func:`picture_filters`; the reasons are in docs/ARCHITECTURE.md, Transcoding).
- Keyframes are forced on the segment grid (``-force_key_frames`` by time, which
  holds for variable frame rates too) with a fixed GOP and no scene-cut keyframes, so
  every rung cuts its segments at the same instants and players switch cleanly. The
  grid opens with a few short segments (:class:`transcode_svc.domain.SegmentGrid`,
  HLS_OPENING_SEGMENT_SECONDS x HLS_OPENING_SEGMENTS), so the first segment of every
  rung, and with it playback, comes after 2 s of encoding rather than 6.
- Every rung has its own HLS muxer writing an EVENT playlist, so segments are usable
  (and published) while the encode runs; the job turns them into VOD at the end.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from service_kit import ffprobe

if TYPE_CHECKING:
    from service_kit.settings import TranscodeSettings
from transcode_svc.domain import (
    AUDIO_RENDITION,
    MASTER_PLAYLIST,
    POSTER,
    SEGMENT_NAME_PATTERN,
    VARIANT_PLAYLIST,
    ChunkPlan,
    MeasuredRendition,
    PicturePlan,
    ProbeFacts,
    RenditionPlan,
    SegmentGrid,
    UnsupportedSource,
    chunk_keyframe_expression,
    failure_reason,
    finalize_variant_playlist,
    keyframe_interval,
    master_playlist,
    measured_bandwidths,
    parse_variant_playlist,
    plan_picture,
    plan_renditions,
    with_measured_bandwidth,
)

SCALER_FLAGS = "bilinear"
"""swscale filter for every rung (see the module docstring and bench/transcode.py)."""
DEINTERLACER = "bwdif=mode=send_frame:parity=auto:deint=interlaced"
"""One progressive frame per interlaced frame (the frame rate is kept); frames the decoder
marks progressive pass untouched. bwdif interpolates missing lines from both fields of
the neighbouring frames, sharper than yadif at about its cost."""
TONE_MAP_OPERATOR = "hable"
"""Keeps detail in highlights and midtones alike; ``desat=0`` keeps colours of bright areas."""
SDR_PEAK_NITS = 100
"""Nominal SDR white: linear light is expressed relative to it before tone mapping."""
SDR_BT709_TAGS = ["-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709", "-color_range", "tv"]
"""What a tone-mapped rendition declares in its H.264 VUI: the colours it holds."""
POSTER_MAX_HEIGHT = 720
STOP_GRACE_SECONDS = 5.0
POSTER_TIMEOUT_SECONDS = 120.0
"""TRANSCODE_POSTER_TIMEOUT_SECONDS' default: one frame of any source, read over the network."""


NETWORK_TIMEOUT_MICROSECONDS = 30_000_000
"""How long FFmpeg waits on a stalled source URL before failing, rather than hanging."""


class LadderError(Exception):
    """FFmpeg could not make the ladder; ``reason`` is FFmpeg's own explanation in words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LadderCancelled(Exception):
    """The run was stopped on request (the job was cancelled)."""


class LadderTimedOut(LadderError):
    """FFmpeg ran past its time limit and was stopped."""


@dataclass(frozen=True)
class LadderOptions:
    """Encoder choices that are not rules of the ladder itself."""

    preset: str = "veryfast"
    segment_seconds: float = 6.0
    opening_segment_seconds: float = 2.0
    opening_segments: int = 3

    @classmethod
    def of(cls, settings: TranscodeSettings) -> LadderOptions:
        """The options TRANSCODE_PRESET, HLS_SEGMENT_SECONDS and HLS_OPENING_* ask for."""
        return cls(
            preset=settings.preset,
            segment_seconds=settings.segment_seconds,
            opening_segment_seconds=settings.opening_segment_seconds,
            opening_segments=settings.opening_segments,
        )

    @property
    def grid(self) -> SegmentGrid:
        """Where every rung cuts: the opening segments, then ``segment_seconds``."""
        return SegmentGrid(self.segment_seconds, self.opening_segment_seconds, self.opening_segments)


def _is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def input_arguments(source: str) -> list[str]:
    """Options for reading the source: a stall on a URL fails instead of hanging forever."""
    network = ["-rw_timeout", str(NETWORK_TIMEOUT_MICROSECONDS)] if _is_url(source) else []
    return [*network, "-i", source]


def picture_filters(picture: PicturePlan, width: int, height: int) -> list[str]:
    """Filters for the decoded source before any rung is scaled from it (none for progressive SDR).

    Deinterlacing comes first, on whole fields at the source's size. Tone mapping
    (zimg and FFmpeg's ``tonemap``, both in Debian's FFmpeg) runs at ``width`` x
    ``height``, the largest rung's size: zscale scales while it converts to linear
    light in 32-bit float RGB, so a 4K phone video is tone-mapped at 1080p, not 4K.
    Then BT.2020 primaries become BT.709, the ``hable`` curve brings the HDR range
    into SDR's, and zscale writes BT.709 8-bit limited-range YUV with those tags.
    """
    filters = [DEINTERLACER] if picture.deinterlace else []
    if picture.tone_maps:
        filters += [
            f"zscale=w={width}:h={height}:filter=bilinear:tin={picture.tone_map_from}:pin={picture.source_primaries}"
            f":min={picture.source_matrix}:t=linear:npl={SDR_PEAK_NITS}",
            "format=gbrpf32le",
            "zscale=p=bt709",
            f"tonemap=tonemap={TONE_MAP_OPERATOR}:desat=0",
            "zscale=t=bt709:m=bt709:r=tv",
            "format=yuv420p",
        ]
    return filters


def filter_graph(plans: Sequence[RenditionPlan], picture: PicturePlan | None = None) -> tuple[str, list[str]]:
    """The filter graph and the output label of each plan (in the order of ``plans``).

    The decoded source first gets :func:`picture_filters`; the largest rung is scaled
    from it, each smaller one from the rung above it; ``split`` hands one picture to
    both the encoder and the next scaler.
    """
    order = sorted(range(len(plans)), key=lambda i: plans[i].width * plans[i].height, reverse=True)
    labels = [f"r{i}" for i in range(len(plans))]
    parts: list[str] = []
    upstream = "0:v:0"
    for position, index in enumerate(order):
        plan = plans[index]
        before = picture_filters(picture or PicturePlan(), plan.width, plan.height) if position == 0 else []
        scale = f"[{upstream}]" + "".join(f"{f}," for f in before)
        scale += f"scale={plan.width}:{plan.height}:flags={SCALER_FLAGS},setsar=1"
        if position == 0:
            scale += ",format=yuv420p"
        if position == len(order) - 1:
            parts.append(f"{scale}[{labels[index]}]")
        else:
            upstream = f"n{index}"
            parts.append(f"{scale},split=2[{labels[index]}][{upstream}]")
    return ";".join(parts), labels


def build_command(
    source: str,
    outdir: Path,
    plans: Sequence[RenditionPlan],
    *,
    has_audio: bool,
    options: LadderOptions,
    picture: PicturePlan | None = None,
) -> list[str]:
    """The one FFmpeg command that writes every rung of ``plans`` under ``outdir``.

    ``picture`` (from :func:`transcode_svc.domain.plan_picture`) says whether the
    source is deinterlaced and tone-mapped first; tone-mapped rungs declare BT.709.
    """
    picture = picture or PicturePlan()
    graph, labels = filter_graph(plans, picture)
    grid = options.grid
    command = [*_FFMPEG_HEAD, *input_arguments(source), "-filter_complex", graph]
    for plan, label in zip(plans, labels, strict=True):
        command += ["-map", f"[{label}]"]
        if has_audio:
            command += ["-map", "0:a:0"]
        command += video_encoder_arguments(plan, options, grid.keyframe_expression(), picture)
        if has_audio:
            command += ["-c:a", "aac", "-b:a", str(plan.audio_bitrate), "-ac", "2"]
        command += hls_arguments(outdir / plan.name, grid, opening=grid.opens_short)
    return command


_FFMPEG_HEAD = ("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-nostats", "-progress", "pipe:1", "-y")
"""Quiet, progress as key=value blocks on stdout (:func:`run_command` reads them), overwrite."""


def video_encoder_arguments(
    plan: RenditionPlan, options: LadderOptions, keyframes: str, picture: PicturePlan
) -> list[str]:
    """libx264 for one rung: its level and VBV, a fixed GOP, keyframes only where ``keyframes`` puts them."""
    keyint = str(keyframe_interval(plan.frame_rate, options.segment_seconds))
    arguments = [
        "-c:v",
        "libx264",
        "-preset",
        options.preset,
        "-profile:v",
        "high",
        "-level:v",
        plan.level,
        "-b:v",
        str(plan.video_bitrate),
        "-maxrate",
        str(plan.max_bitrate),
        "-bufsize",
        str(plan.buffer_size),
        "-g",
        keyint,
        "-keyint_min",
        keyint,
        "-sc_threshold",
        "0",
        "-force_key_frames",
        keyframes,
    ]
    return arguments + (SDR_BT709_TAGS if picture.tone_maps else [])


def hls_arguments(rung_dir: Path, grid: SegmentGrid, *, opening: bool, start_number: int = 0) -> list[str]:
    """The HLS muxer writing one rung's EVENT playlist and numbered segments into ``rung_dir``.

    FFmpeg's HLS muxer cuts at the first keyframe at or after hls_init_time x the
    segments so far (with hls_list_size 0, for the whole file), and keyframes come
    only on the grid, so every grid keyframe, and only those, begins a segment.
    ``opening`` gives the grid's short opening segments (``-hls_init_time``).
    """
    init = ["-hls_init_time", f"{grid.opening_seconds:g}"] if opening else []
    return [
        "-f",
        "hls",
        "-hls_time",
        f"{grid.seconds:g}",
        *init,
        "-hls_list_size",
        "0",
        "-hls_playlist_type",
        "event",
        "-hls_flags",
        "independent_segments+temp_file",
        "-start_number",
        str(start_number),
        "-hls_segment_filename",
        str(rung_dir / SEGMENT_NAME_PATTERN),
        str(rung_dir / VARIANT_PLAYLIST),
    ]


def chunk_command(
    source: str,
    outdir: Path,
    plans: Sequence[RenditionPlan],
    chunk: ChunkPlan,
    *,
    options: LadderOptions,
    picture: PicturePlan | None = None,
) -> list[str]:
    """FFmpeg for one chunk of a chunked job: every rung's video of ``[chunk.start, chunk.end)``, no audio.

    The input is cut with ``-ss``/``-t`` before ``-i``: FFmpeg seeks to the keyframe
    before the start and decodes from there, dropping frames before the start, and
    stops before the end, so every frame of the source lands in exactly one chunk.
    Frames keep their time in the source: ``-output_ts_offset`` adds the chunk's start
    back, and ``-avoid_negative_ts disabled`` keeps FFmpeg from shifting each output on
    its own (it would, by the B-frame delay, and by the AAC priming in the audio
    rendition), so video and audio stay on one timeline. Segments are numbered on from
    ``chunk.first_segment``.
    """
    picture = picture or PicturePlan()
    graph, labels = filter_graph(plans, picture)
    grid = options.grid
    window = ["-ss", f"{chunk.start_seconds:.6f}", "-t", f"{chunk.seconds:.6f}"]
    command = [*_FFMPEG_HEAD, *window, *input_arguments(source), "-filter_complex", graph]
    keyframes = chunk_keyframe_expression(grid, chunk)
    for plan, label in zip(plans, labels, strict=True):
        command += ["-map", f"[{label}]", "-an"]
        command += video_encoder_arguments(plan, options, keyframes, picture)
        command += [*_TIMELINE, "-output_ts_offset", f"{chunk.start_seconds:.6f}"]
        command += hls_arguments(
            outdir / plan.name, grid, opening=chunk.opening and grid.opens_short, start_number=chunk.first_segment
        )
    return command


_TIMELINE = ["-avoid_negative_ts", "disabled"]
"""Source time in, source time out (plus the MPEG-TS muxer's fixed delay, the same for every output)."""


def audio_command(source: str, outdir: Path, audio_bitrate: int, *, options: LadderOptions) -> list[str]:
    """FFmpeg for a chunked job's audio rendition: the whole source's first audio stream, once.

    AAC-LC stereo at the ladder's rate into ``outdir/audio/``, segments on the video's
    grid (audio cuts at any AAC frame, so they end within 21 ms of the video's), on the
    chunks' timeline (see :func:`chunk_command`).
    """
    grid = options.grid
    return [
        *_FFMPEG_HEAD,
        *input_arguments(source),
        "-map",
        "0:a:0",
        "-vn",
        "-c:a",
        "aac",
        "-b:a",
        str(audio_bitrate),
        "-ac",
        "2",
        *_TIMELINE,
        *hls_arguments(outdir / AUDIO_RENDITION, grid, opening=grid.opens_short),
    ]


def poster_command(
    source: str,
    outdir: Path,
    plans: Sequence[RenditionPlan],
    duration_seconds: float,
    picture: PicturePlan | None = None,
) -> list[str]:
    """A fast seek to a tenth of the way in (at most 5 s) and one JPEG at a rung's size.

    A separate tiny process: it decodes one GOP, so the source is still decoded once
    in all practical terms, and the poster does not wait for the ladder to finish. It
    gets the renditions' deinterlacing and tone mapping, so it looks like them.
    """
    fitting = [plan for plan in plans if plan.height <= POSTER_MAX_HEIGHT and plan.width <= POSTER_MAX_HEIGHT * 2]
    target = max(fitting or plans[:1], key=lambda plan: plan.width * plan.height)
    seek = min(5.0, max(0.0, duration_seconds * 0.1))
    before = "".join(f"{f}," for f in picture_filters(picture or PicturePlan(), target.width, target.height))
    return [
        "ffmpeg",
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-ss",
        f"{seek:.3f}",
        *input_arguments(source),
        "-map",
        "0:v:0",
        "-frames:v",
        "1",
        "-vf",
        f"{before}scale={target.width}:{target.height},setsar=1",
        "-q:v",
        "3",
        str(outdir / POSTER),
    ]


def make_poster(
    source: str,
    outdir: Path,
    plans: Sequence[RenditionPlan],
    duration_seconds: float,
    picture: PicturePlan | None = None,
    *,
    timeout_seconds: float = POSTER_TIMEOUT_SECONDS,
) -> Path:
    """Write OUTDIR/poster.jpg; a source too short to seek into gets its first frame.

    Each FFmpeg run is killed past ``timeout_seconds`` (TRANSCODE_POSTER_TIMEOUT_SECONDS)
    and raises :class:`LadderTimedOut`, a LadderError like any other poster failure:
    ``subprocess.TimeoutExpired`` escaped the poster's thread before, which then died
    without a word in the job's log.
    """
    target = outdir / POSTER
    for duration in (duration_seconds, 0.0):
        try:
            completed = subprocess.run(
                poster_command(source, outdir, plans, duration, picture),
                capture_output=True,
                text=True,
                timeout=timeout_seconds,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise LadderTimedOut(f"the poster's FFmpeg ran longer than {timeout_seconds:g} s and was stopped") from None
        if completed.returncode == 0 and target.is_file() and target.stat().st_size > 0:
            return target
    raise LadderError(f"no poster: {failure_reason(completed.stderr)}")


ProgressCallback = Callable[[float], None]
"""Called with the seconds of source encoded so far, about twice a second."""


def _read_progress(stream: IO[str], out: queue.Queue[float | None]) -> None:
    """Turn FFmpeg's ``-progress`` key=value blocks into seconds encoded."""
    for line in stream:
        key, _, value = str(line).strip().partition("=")
        if key == "out_time_us" and value.lstrip("-").isdigit():
            out.put(max(0, int(value)) / 1_000_000)
    out.put(None)


def _drain(stream: IO[str], tail: collections.deque[str]) -> None:
    for line in stream:
        tail.append(str(line))


def run_command(
    command: Sequence[str],
    *,
    on_progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    timeout_seconds: float | None = None,
    poll_seconds: float = 0.25,
) -> None:
    """Run FFmpeg to the end, reporting progress; stop it on request or past the timeout.

    Raises :class:`LadderCancelled` when ``should_stop`` said so, :class:`LadderTimedOut`
    past the timeout, :class:`LadderError` with FFmpeg's reason when it fails. FFmpeg
    is always gone when this returns or raises (SIGTERM, then SIGKILL after a grace).
    """
    process = subprocess.Popen(
        list(command),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    progress: queue.Queue[float | None] = queue.Queue()
    tail: collections.deque[str] = collections.deque(maxlen=40)
    readers = [
        threading.Thread(target=_read_progress, args=(process.stdout, progress), daemon=True),
        threading.Thread(target=_drain, args=(process.stderr, tail), daemon=True),
    ]
    for reader in readers:
        reader.start()
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    outcome: type[Exception] | None = None
    try:
        while process.poll() is None:
            if should_stop is not None and should_stop():
                outcome = LadderCancelled
                break
            if deadline is not None and time.monotonic() > deadline:
                outcome = LadderTimedOut
                break
            with contextlib.suppress(queue.Empty):
                seconds = progress.get(timeout=poll_seconds)
                if seconds is not None and on_progress is not None:
                    on_progress(seconds)
    finally:
        _stop(process)
        for reader in readers:
            reader.join(timeout=STOP_GRACE_SECONDS)
    if outcome is LadderCancelled:
        raise LadderCancelled("stopped on request")
    if outcome is LadderTimedOut:
        raise LadderTimedOut(f"FFmpeg ran longer than its limit of {timeout_seconds:.0f} s and was stopped")
    if process.returncode != 0:
        raise LadderError(failure_reason("".join(tail)))
    while not progress.empty():
        seconds = progress.get_nowait()
        if seconds is not None and on_progress is not None:
            on_progress(seconds)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def prepare_outdir(outdir: Path, plans: Sequence[RenditionPlan]) -> None:
    for plan in plans:
        (outdir / plan.name).mkdir(parents=True, exist_ok=True)


def finish_outputs(outdir: Path, plans: Sequence[RenditionPlan], target_duration: int = 0) -> list[MeasuredRendition]:
    """Turn the finished EVENT playlists into VOD and write the measured master playlist.

    ``target_duration`` is the grid's (:attr:`SegmentGrid.target_duration`), which the
    EVENT playlists declared while encoding ran: the VOD ones keep it.
    """
    measured = []
    for plan in plans:
        playlist_path = outdir / plan.name / VARIANT_PLAYLIST
        text = playlist_path.read_text()
        playlist = parse_variant_playlist(text)
        if not playlist.segments:
            raise LadderError(f"FFmpeg wrote no segment for {plan.name}")
        sizes = [(segment.duration, (outdir / plan.name / segment.uri).stat().st_size) for segment in playlist.segments]
        peak, average = measured_bandwidths(sizes)
        playlist_path.write_text(finalize_variant_playlist(text, target_duration))
        measured.append(with_measured_bandwidth(plan, peak, average))
    (outdir / MASTER_PLAYLIST).write_text(master_playlist(measured))
    return measured


# ---- probing, for the CLI (the service gets probe facts from upload_svc) ---------------------

PROBE_TIMEOUT_SECONDS = 120.0


def probe_file(source: str) -> ProbeFacts:
    """ffprobe's facts about a local file or URL, read as upload_svc reads them; LadderError if it is no video.

    :mod:`service_kit.ffprobe` is the one reader, so the CLI plans from the same facts
    the service would get from upload_svc (its duration measured from packets when the
    file declares none); they become this service's ProbeFacts field for field.
    """
    try:
        report = ffprobe.probe(source, timeout_seconds=PROBE_TIMEOUT_SECONDS)
    except ffprobe.ProbeFailed as exc:
        raise LadderError(failure_reason(exc.stderr)) from exc
    if not report.has_video:
        raise LadderError("the source has no video stream")
    return ProbeFacts(**asdict(report.facts))


# ---- the CLI ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LadderResult:
    """What one local run produced and how long it took."""

    renditions: list[MeasuredRendition]
    seconds: float
    duration_seconds: float


def transcode_file(source: str, outdir: Path, options: LadderOptions) -> LadderResult:
    """The whole ladder on a local file: the same plan, command and finishing as the job."""
    probe = probe_file(source)
    try:
        plans = plan_renditions(probe)
    except UnsupportedSource as exc:
        raise LadderError(str(exc)) from exc
    picture = plan_picture(probe)
    outdir.mkdir(parents=True, exist_ok=True)
    prepare_outdir(outdir, plans)
    started = time.monotonic()
    run_command(build_command(source, outdir, plans, has_audio=probe.has_audio, options=options, picture=picture))
    make_poster(source, outdir, plans, probe.duration_seconds, picture)
    renditions = finish_outputs(outdir, plans, options.grid.target_duration)
    return LadderResult(renditions, time.monotonic() - started, probe.duration_seconds)


def main(argv: Sequence[str] | None = None) -> int:
    from service_kit.settings import SettingsError, load_transcode_settings

    parser = argparse.ArgumentParser(
        prog="python -m transcode_svc.ladder",
        description="Transcode a local video into the HLS ladder (honours TRANSCODE_PRESET, HLS_*SEGMENT* settings).",
    )
    parser.add_argument("source", help="the video file to transcode")
    parser.add_argument("outdir", type=Path, help="folder for master.m3u8, the renditions and poster.jpg")
    args = parser.parse_args(argv)
    try:
        settings = load_transcode_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if not os.path.exists(args.source):
        print(f"error: {args.source}: no such file", file=sys.stderr)
        return 1
    options = LadderOptions.of(settings)
    try:
        result = transcode_file(args.source, args.outdir, options)
    except LadderError as exc:
        print(f"error: {exc.reason}", file=sys.stderr)
        return 1
    for rendition in result.renditions:
        plan = rendition.plan
        print(
            f"{plan.name:>6} {plan.width}x{plan.height} {rendition.average_bandwidth / 1000:.0f} kbit/s average, "
            f"{rendition.bandwidth / 1000:.0f} kbit/s peak, {plan.codecs}"
        )
    factor = result.duration_seconds / result.seconds if result.seconds > 0 else 0.0
    print(
        f"{result.duration_seconds:.1f} s of video in {result.seconds:.1f} s ({factor:.2f}x realtime, {options.preset})"
    )
    print(f"wrote {args.outdir / MASTER_PLAYLIST}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
