"""Time to playable and to ready through the real job path: the queue, a worker and S3.

bench/transcode.py times the ladder on local files; a user waits on more than that. Here
the source sits in SeaweedFS, ``StartTranscode`` goes to a running transcode_svc, an RQ
worker (``python -m transcode_svc.worker``) picks the job up, FFmpeg reads the source
over a presigned URL and the worker uploads segments while it encodes. The clock starts
just before StartTranscode and reads ``GetTranscodeJob`` every 100 ms, as a client
would: playable is the first reply with ``playable`` set (the master playlist is in the
bucket, which is checked), ready the first with SUCCEEDED.

Time to playable *after complete* adds what upload_svc does first on complete: ffprobe
of the source over a presigned GET (timed here the same way, ``probe``), then
StartTranscode. The stages in between come from the worker's log lines (each with
seconds since the job's row was written): ``horse`` when the work horse has the job
(enqueue, RQ's dequeue, the fork, the horse's set-up), ``ffmpeg`` when FFmpeg is
spawned, the first segment of the lowest and of the highest rung seen by the
publisher (seconds since FFmpeg started) and the slowest first upload, and playable as
the worker saw it.

Each source runs once per segment grid, each with its own worker: ``6 s`` (no opening
segments: the grid before issue 17) and ``2 s opening`` (the defaults: 3 x 2 s, then
6 s), and the ratio of their times to playable after complete is printed.

Issue 17's target: playable within 5 s of complete, whatever the source's length.
Sources: 1 minute and 10 minutes, 1080p30 H.264 at about 8 Mbit/s with AAC, veryfast
(the 10-minute one makes this bench last about half an hour; BENCH_TRANSCODE_SHORT=1
leaves it out; BENCH_TRANSCODE_LENGTHS=60,180 picks lengths in seconds,
BENCH_TRANSCODE_GRIDS="6 s" one grid).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._support import RESULTS_DIR, spawned, table, write_result
from bench.job_path import STARTUP_SECONDS, JobPath, retry_until_served
from bench.stack import environment, infrastructure, service_ports
from bench.transcode import make_source

NAME = "transcode_job"
TARGET_PLAYABLE_SECONDS = 5.0
GRIDS = {"6 s": {"HLS_OPENING_SEGMENTS": "0"}, "2 s opening": {}}
"""The segment grids compared: before issue 17 (every segment 6 s) and the defaults."""
BEFORE, AFTER = "6 s", "2 s opening"


def _grids() -> dict[str, dict[str, str]]:
    """The grids to run: all, or those BENCH_TRANSCODE_GRIDS names (comma-separated labels of GRIDS)."""
    chosen = os.environ.get("BENCH_TRANSCODE_GRIDS")
    if not chosen:
        return GRIDS
    return {label.strip(): GRIDS[label.strip()] for label in chosen.split(",") if label.strip()}


def _lengths() -> list[int]:
    chosen = os.environ.get("BENCH_TRANSCODE_LENGTHS")
    if chosen:
        return [int(part) for part in chosen.split(",") if part.strip()]
    return [60] if os.environ.get("BENCH_TRANSCODE_SHORT") else [60, 600]


def main() -> dict[str, Any]:
    logs = RESULTS_DIR / "logs"
    lengths = _lengths()
    result: dict[str, Any] = {"benchmark": NAME, "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cpus": os.cpu_count()}
    result["load_average"] = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-transcode-job-") as scratch_name:
        scratch = Path(scratch_name)
        redis_db = int(os.environ.get("BENCH_REDIS_DB", "12"))
        with infrastructure(scratch, schemas=["transcode"], redis_db=redis_db, object_store=True) as env:
            service_ports(env, "transcode_svc")
            env["TRANSCODE_PRESET"] = os.environ.get("TRANSCODE_PRESET", "veryfast")
            result["preset"] = env["TRANSCODE_PRESET"]
            sources = {seconds: scratch / f"source_{seconds}.mp4" for seconds in lengths}
            for seconds, source in sources.items():
                make_source(source, seconds, preset="faster" if seconds <= 60 else "superfast")
            warm_up = scratch / "warm_up.mp4"
            make_source(warm_up, 2)
            with (
                environment(env),
                spawned([sys.executable, "-m", "transcode_svc"], logs / "transcode_svc.log"),
            ):
                path = JobPath(env)
                try:
                    for grid, settings in _grids().items():
                        worker_log = logs / f"transcode_worker_{grid.replace(' ', '_')}.log"
                        with (
                            environment({"LOG_LEVEL": "INFO", "HLS_OPENING_SEGMENTS": "3", **settings}),
                            spawned([sys.executable, "-m", "transcode_svc.worker"], worker_log),
                        ):
                            retry_until_served(lambda: path.time_job(warm_up, STARTUP_SECONDS))
                            for seconds, source in sources.items():
                                result[f"{grid}: source_{seconds}s"] = path.time_job(
                                    source, deadline_seconds=seconds * 20 + 120, worker_log=worker_log
                                ).timings
                finally:
                    path.close()
    print(stage_table(result, lengths))
    for seconds in lengths if {BEFORE, AFTER} <= set(_grids()) else []:
        before = result[f"{BEFORE}: source_{seconds}s"]["playable_after_complete_s"]
        after = result[f"{AFTER}: source_{seconds}s"]["playable_after_complete_s"]
        result[f"playable_ratio_{seconds}s"] = round(after / before, 2)
        print(f"{seconds} s source: playable after complete {before:.2f} s -> {after:.2f} s ({after / before:.2f}x)")
    print(
        f"through transcode_svc, an RQ worker and SeaweedFS ({result['preset']}, load average "
        f"{result['load_average']:.2f} at the start); target: playable within {TARGET_PLAYABLE_SECONDS:.0f} s "
        "of complete whatever the length"
    )
    write_result(NAME, result)
    return result


STAGE_COLUMNS = (
    ("probe", "probe_s"),
    ("start rpc", "start_rpc_s"),
    ("horse", "horse_s"),
    ("ffmpeg", "ffmpeg_s"),
    ("1st seg low", "first_segment_lowest_s"),
    ("1st seg high", "first_segment_highest_s"),
    ("1st upload", "first_upload_s"),
    ("playable (worker)", "playable_worker_s"),
    ("playable (client)", "playable_s"),
    ("after complete", "playable_after_complete_s"),
    ("ready", "ready_s"),
)
"""horse, ffmpeg and playable (worker) count from the job's row; first segments from FFmpeg's start."""


def stage_table(result: dict[str, Any], lengths: list[int]) -> str:
    """One row per grid and source: the stages of time to playable, in seconds."""
    rows = []
    for grid in _grids():
        for seconds in lengths:
            timed = result[f"{grid}: source_{seconds}s"]
            rows.append([grid, f"{seconds} s", *(f"{timed[key]:.2f}" for _, key in STAGE_COLUMNS)])
    return table(["grid", "source", *(label for label, _ in STAGE_COLUMNS)], rows)


if __name__ == "__main__":
    main()
