"""The ladder's cost: one FFmpeg process for every rung, against the naive pipeline and the limit.

Source: a 1080p30 H.264 file at about 8 Mbit/s with AAC audio (testsrc2 with temporal
noise, so the encoder has real work). Three pipelines make the same four rungs with the
same x264 preset (TRANSCODE_PRESET, default veryfast), bit rates and HLS muxing,
alternated within one run (median of the rounds):

- ladder: ``transcode_svc.ladder.build_command`` (decode once, chained scaling, split);
- naive: one FFmpeg process per rendition, run in turn (decodes the source four times);
- limit: the issue's encode-only limit, the same four encodes in one process fed the raw
  decoded frames from disk (and PCM audio), so no decoding at all; the pictures go
  through the ladder's own scaling graph on their way to the encoders;
- limit_prescaled: stricter still, the encoders are fed frames already scaled on disk,
  so neither decoding nor scaling is left: what is over it is decode plus scale.

Reported: ladder/limit (the figure to watch; target 1.10), as the median of the rounds'
paired ratios (each ladder run over the limit run just before it, so a slow patch of the
shared machine weighs on both) with their range; ladder/limit_prescaled, naive/ladder, the
realtime factor, and time-to-playable (first segment of every rung listed) and time-to-ready for
a 1-minute source on the local ladder (and a 10-minute one with BENCH_TRANSCODE_LONG=1;
bench/transcode_job.py times both lengths through the queue, a worker and S3).
The machine is shared with whatever else runs; the alternation keeps the ratio fair.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._support import table, write_result
from transcode_svc.domain import VARIANT_PLAYLIST, ProbeFacts, RenditionPlan, parse_variant_playlist, plan_renditions
from transcode_svc.ladder import LadderOptions, build_command, filter_graph

NAME = "transcode"
RATIO_SECONDS = 20
ROUNDS = 5
"""Alternated rounds; the spread between runs is about 2%, the margin the target leaves."""


def make_source(path: Path, seconds: int, preset: str = "faster") -> None:
    """A 1080p30 H.264 source at about 8 Mbit/s with AAC; long ones use a cheaper preset to keep the bench short."""
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1920x1080:rate=30,noise=alls=10:allf=t+u",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            str(seconds),
            "-c:v",
            "libx264",
            "-preset",
            preset,
            "-b:v",
            "8M",
            "-maxrate",
            "10M",
            "-bufsize",
            "16M",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-movflags",
            "+faststart",
            str(path),
        ],
        check=True,
    )


def _encoder_args(plan: RenditionPlan, options: LadderOptions, rung_dir: Path) -> list[str]:
    """The per-rung tail of the ladder's own command (so every pipeline encodes identically)."""
    command = build_command("SOURCE", rung_dir.parent, [plan], has_audio=True, options=options)
    first_map = command.index("-map")
    tail = command[first_map:]
    return tail[4:]  # drop "-map [r0] -map 0:a:0"


def _run(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _fresh(outdir: Path, plans: list[RenditionPlan]) -> None:
    shutil.rmtree(outdir, ignore_errors=True)
    for plan in plans:
        (outdir / plan.name).mkdir(parents=True)


def ladder_command(source: Path, outdir: Path, plans: list[RenditionPlan], options: LadderOptions) -> list[str]:
    return build_command(str(source), outdir, plans, has_audio=True, options=options)


def naive_commands(source: Path, outdir: Path, plans: list[RenditionPlan], options: LadderOptions) -> list[list[str]]:
    quiet = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    return [
        [
            *quiet,
            "-i",
            str(source),
            "-vf",
            f"scale={plan.width}:{plan.height},setsar=1,format=yuv420p",
            "-map",
            "0:v:0",
            "-map",
            "0:a:0",
            *_encoder_args(plan, options, outdir / plan.name),
        ]
        for plan in plans
    ]


def prepare_raw(source: Path, workdir: Path, plans: list[RenditionPlan]) -> list[Path]:
    """Decode and scale once, to raw files the limit reads: its encoders get finished pictures."""
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(source)]
    raws = []
    for plan in plans:
        raw = workdir / f"raw_{plan.name}.nut"
        command += ["-map", "0:v:0", "-vf", f"scale={plan.width}:{plan.height},setsar=1,format=yuv420p"]
        command += ["-c:v", "rawvideo", "-f", "nut", str(raw)]
        raws.append(raw)
    audio = workdir / "raw_audio.wav"
    command += ["-map", "0:a:0", "-c:a", "pcm_s16le", str(audio)]
    subprocess.run(command, check=True)
    return [*raws, audio]


def prepare_decoded(source: Path, workdir: Path) -> Path:
    """The source's decoded pictures at full size, raw on disk: the limit's input."""
    raw = workdir / "raw_decoded.nut"
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(source), "-map", "0:v:0"]
    subprocess.run([*command, "-c:v", "rawvideo", "-pix_fmt", "yuv420p", "-f", "nut", str(raw)], check=True)
    return raw


def decoded_limit_command(
    decoded: Path, audio: Path, outdir: Path, plans: list[RenditionPlan], options: LadderOptions
) -> list[str]:
    """The ladder's graph and encoders, fed decoded pictures: everything but the decoding."""
    graph, labels = filter_graph(plans)
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    command += ["-i", str(decoded), "-i", str(audio), "-filter_complex", graph]
    for plan, label in zip(plans, labels, strict=True):
        command += ["-map", f"[{label}]", "-map", "1:a:0", *_encoder_args(plan, options, outdir / plan.name)]
    return command


def limit_command(raws: list[Path], outdir: Path, plans: list[RenditionPlan], options: LadderOptions) -> list[str]:
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    for raw in raws:
        command += ["-i", str(raw)]
    audio_input = len(raws) - 1
    for index, plan in enumerate(plans):
        command += ["-map", f"{index}:v:0", "-map", f"{audio_input}:a:0"]
        command += _encoder_args(plan, options, outdir / plan.name)
    return command


def time_to_playable(
    source: Path, outdir: Path, plans: list[RenditionPlan], options: LadderOptions
) -> dict[str, float]:
    """Seconds until every rung lists a segment (playable), and until FFmpeg is done (ready)."""
    _fresh(outdir, plans)
    started = time.perf_counter()
    process = subprocess.Popen(ladder_command(source, outdir, plans, options), stdout=subprocess.DEVNULL)
    playable = None
    while process.poll() is None:
        if playable is None and all(_has_segment(outdir / plan.name / VARIANT_PLAYLIST) for plan in plans):
            playable = time.perf_counter() - started
        time.sleep(0.05)
    ready = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError("the ladder failed")
    return {"playable_s": round(playable if playable is not None else ready, 2), "ready_s": round(ready, 2)}


def _has_segment(playlist: Path) -> bool:
    try:
        return bool(parse_variant_playlist(playlist.read_text()).segments)
    except FileNotFoundError:
        return False


def main() -> dict[str, Any]:
    options = LadderOptions(preset=os.environ.get("TRANSCODE_PRESET", "veryfast"), segment_seconds=6.0)
    work = Path(tempfile.mkdtemp(prefix="bench-transcode-"))
    try:
        source = work / "source.mp4"
        make_source(source, RATIO_SECONDS)
        plans = plan_renditions(ProbeFacts(RATIO_SECONDS, 1920, 1080, frame_rate=30.0, has_audio=True))
        raws = prepare_raw(source, work, plans)
        decoded = prepare_decoded(source, work)
        out = work / "out"
        times: dict[str, list[float]] = {"limit": [], "limit_prescaled": [], "ladder": [], "naive": []}
        for _ in range(ROUNDS):
            _fresh(out, plans)
            times["limit"].append(_run(decoded_limit_command(decoded, raws[-1], out, plans, options)))
            _fresh(out, plans)
            times["limit_prescaled"].append(_run(limit_command(raws, out, plans, options)))
            _fresh(out, plans)
            times["ladder"].append(_run(ladder_command(source, out, plans, options)))
            _fresh(out, plans)
            times["naive"].append(sum(_run(c) for c in naive_commands(source, out, plans, options)))
        for raw in [*raws, decoded]:
            raw.unlink()
        median = {name: statistics.median(values) for name, values in times.items()}
        paired = [ladder / limit for ladder, limit in zip(times["ladder"], times["limit"], strict=True)]
        result: dict[str, Any] = {
            "preset": options.preset,
            "source_seconds": RATIO_SECONDS,
            "seconds": {name: round(value, 2) for name, value in median.items()},
            "ladder_over_limit": round(statistics.median(paired), 3),
            "ladder_over_limit_rounds": [round(ratio, 3) for ratio in paired],
            "ladder_over_prescaled_limit": round(median["ladder"] / median["limit_prescaled"], 3),
            "naive_over_limit": round(median["naive"] / median["limit"], 3),
            "speedup_over_naive": round(median["naive"] / median["ladder"], 3),
            "realtime_factor": round(RATIO_SECONDS / median["ladder"], 3),
        }
        lengths = [60, 600] if os.environ.get("BENCH_TRANSCODE_LONG") else [60]
        for seconds in lengths:
            long_source = work / f"source_{seconds}.mp4"
            make_source(long_source, seconds, preset="faster" if seconds <= 60 else "superfast")
            long_plans = plan_renditions(ProbeFacts(seconds, 1920, 1080, frame_rate=30.0, has_audio=True))
            result[f"source_{seconds}s"] = time_to_playable(long_source, work / "long", long_plans, options)
            long_source.unlink()
        rows = [[name, f"{median[name]:.2f}", f"{median[name] / median['limit']:.2f}x"] for name in median]
        print(table(["pipeline", "seconds", "vs limit"], rows))
        print(
            f"ladder {result['ladder_over_limit']}x the limit (target 1.10; rounds "
            f"{min(paired):.3f}-{max(paired):.3f}; "
            f"{result['ladder_over_prescaled_limit']}x the pre-scaled one), "
            f"{result['speedup_over_naive']}x faster than naive, "
            f"{result['realtime_factor']}x realtime ({options.preset}, {ROUNDS} rounds alternated)"
        )
        for seconds in lengths:
            print(f"{seconds} s source: {result[f'source_{seconds}s']}")
        write_result(NAME, result)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
