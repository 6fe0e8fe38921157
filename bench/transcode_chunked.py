"""Time to ready of a long source, chunked, with one and two workers (issue 17, "more workers").

A source longer than TRANSCODE_CHUNK_THRESHOLD_SECONDS is cut into chunks of about
TRANSCODE_CHUNK_SECONDS; the worker that takes the job (the coordinator) queues a chunk
ticket per other chunk, so every free worker claims chunks (in PostgreSQL, lowest pending
first) and encodes them for every rung. This bench measures what that buys, through the
same path as bench/transcode_job.py (bench/job_path.py: the source in SeaweedFS,
StartTranscode, GetTranscodeJob every 100 ms), with fresh workers for each run, each
started as ``taskset -c <core> python -m transcode_svc.worker``:

- ``a``: single pass, 1 worker on core 0 (the threshold above the source's length): what a
  user has today;
- ``b``: chunked, 1 worker on core 0;
- ``c``: chunked, 2 workers on cores 0 and 1.

Chunked runs set TRANSCODE_CHUNK_THRESHOLD_SECONDS=120 and TRANSCODE_CHUNK_SECONDS
(BENCH_CHUNK_SECONDS, default 60). Reported: time to playable and to ready of each run,
with the load average just before it; the speed-ups ready(b)/ready(c) (goal at least
1.8x) and ready(a)/ready(c); per chunk (``transcode.chunks``, read only when the table
exists) its encode seconds, attempts and which worker encoded it (``host:pid`` of the
work horse, mapped to its worker's core by watching each worker's children); and a
projection for 1, 2, 10 and 50 workers, for this source and a 90-minute lecture
(bench/chunk_projection.py says how).

Only the workers are pinned: transcode_svc, PostgreSQL, Redis and SeaweedFS share the same
cores (the machine has 2), so each run's time includes what they take from the workers.

Source: BENCH_CHUNKED_SECONDS (default 600) of 1080p30 H.264 at about 8 Mbit/s with AAC
(bench/transcode.make_source); preset BENCH_CHUNKED_PRESET, else TRANSCODE_PRESET, else
veryfast. BENCH_CHUNKED_RUNS=a,c picks runs; BENCH_REDIS_DB the Redis database.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from redis import Redis
from rq import Worker

from bench._support import RESULTS_DIR, spawned, table, write_result
from bench.chunk_projection import ChunkTime, Projection, project
from bench.job_path import STARTUP_SECONDS, JobPath, retry_until_served
from bench.stack import environment, infrastructure, service_ports
from bench.transcode import make_source

NAME = "transcode_chunked"
CHUNK_THRESHOLD_SECONDS = 120
"""The chunked runs' TRANSCODE_CHUNK_THRESHOLD_SECONDS (the brief's; well under any source worth chunking)."""
TARGET_SPEED_UP = 1.8
"""Issue 17's goal for ready(1 worker, chunked) / ready(2 workers, chunked)."""
PROJECTED_WORKERS = (1, 2, 10, 50)
LECTURE_SECONDS = 90 * 60
WATCH_SECONDS = 0.2
"""How often each worker's children are listed; a chunk's encode lasts tens of seconds."""


@dataclass(frozen=True)
class Run:
    """One configuration: its workers' cores and whether the job is chunked."""

    label: str
    cores: tuple[int, ...]
    chunked: bool


RUNS = {
    "a": Run("single pass, 1 worker", (0,), chunked=False),
    "b": Run("chunked, 1 worker", (0,), chunked=True),
    "c": Run("chunked, 2 workers", (0, 1), chunked=True),
}


@dataclass(frozen=True)
class ChunkRow:
    """A row of ``transcode.chunks`` after the job, with the core of the worker that encoded it (None: unknown)."""

    index: int
    start_seconds: float
    end_seconds: float
    state: str
    attempts: int
    encode_seconds: float
    worker: str
    core: int | None


def _runs() -> dict[str, Run]:
    """The runs BENCH_CHUNKED_RUNS names (comma-separated keys of RUNS), all by default; an unknown key fails."""
    chosen = os.environ.get("BENCH_CHUNKED_RUNS", "")
    keys = [part.strip() for part in chosen.split(",") if part.strip()] or list(RUNS)
    unknown = [key for key in keys if key not in RUNS]
    if unknown:
        raise SystemExit(f"BENCH_CHUNKED_RUNS: unknown run {', '.join(unknown)} (one of {', '.join(RUNS)})")
    return {key: RUNS[key] for key in keys}


def chunk_settings(run: Run, source_seconds: int, chunk_seconds: str) -> dict[str, str]:
    """The workers' chunk settings: chunked above the brief's threshold, or a threshold an hour above the source."""
    if run.chunked:
        return {
            "TRANSCODE_CHUNK_THRESHOLD_SECONDS": str(CHUNK_THRESHOLD_SECONDS),
            "TRANSCODE_CHUNK_SECONDS": chunk_seconds,
        }
    return {"TRANSCODE_CHUNK_THRESHOLD_SECONDS": str(source_seconds + 3600), "TRANSCODE_CHUNK_SECONDS": chunk_seconds}


@contextlib.contextmanager
def pinned_workers(cores: Sequence[int], logs: Path, run_key: str) -> Iterator[dict[int, int]]:
    """One ``taskset -c <core> python -m transcode_svc.worker`` per core; yields {worker pid: core}, stops them after.

    taskset execs the worker, so the pid is the worker's own (and its process group's).
    Each worker serves /metrics on a port the OS picks, so two never collide.
    """
    with environment({"TRANSCODE_WORKER_METRICS_PORT": "0"}), contextlib.ExitStack() as stack:
        pids: dict[int, int] = {}
        for core in cores:
            log = logs / f"{NAME}_{run_key}_core{core}.log"
            command = ["taskset", "-c", str(core), sys.executable, "-m", "transcode_svc.worker"]
            process = stack.enter_context(spawned(command, log))
            pids[process.pid] = core
        yield pids


def wait_for_workers(redis_url: str, pids: Mapping[int, int]) -> None:
    """Until every worker in ``pids`` has registered with RQ (so each can take a chunk ticket from the start)."""
    connection = Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            registered = {worker.pid for worker in Worker.all(connection=connection)}
            if set(pids) <= registered:
                return
            time.sleep(0.2)
        raise TimeoutError(f"workers {sorted(set(pids))} did not register with RQ within {STARTUP_SECONDS:.0f} s")
    finally:
        connection.close()


class HorseWatch:
    """Which core each work horse ran on: RQ forks a horse per job, and a chunk's ``worker`` names the horse.

    Every :data:`WATCH_SECONDS` it lists each worker's descendants (``/proc/<pid>/task/*/children``,
    recursively, in case a horse hands the encode to a child); they inherit the worker's
    pinning, so they get its core here. With a single worker every process is its own.
    """

    def __init__(self, workers: Mapping[int, int]) -> None:
        self.workers = dict(workers)
        self.cores: dict[int, int] = dict(workers)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="horse-watch", daemon=True)

    def __enter__(self) -> HorseWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.is_set():
            for pid, core in self.workers.items():
                for descendant in _descendants(pid):
                    self.cores.setdefault(descendant, core)
            self._stop.wait(WATCH_SECONDS)

    def core_of(self, worker: str) -> int | None:
        """The core of a chunk's ``worker`` (``host:pid``, transcode_svc's worker name), None when not seen."""
        if len(set(self.workers.values())) == 1:
            return next(iter(self.workers.values()))
        _, _, pid = worker.rpartition(":")
        return self.cores.get(int(pid)) if pid.isdigit() else None


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{parent}/task").iterdir():
                with contextlib.suppress(OSError):
                    children = [int(child) for child in (task / "children").read_text().split()]
                    found += children
                    pending += children
    return found


def read_chunks(database_url: str, job_id: str, watch: HorseWatch) -> list[ChunkRow] | None:
    """The job's rows of ``transcode.chunks`` by index; None when the table does not exist (before chunking landed)."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            if connection.scalar(sa.text("SELECT to_regclass('transcode.chunks')")) is None:
                return None
            rows = connection.execute(
                sa.text(
                    "SELECT chunk_index, start_seconds, end_seconds, state, attempts, encode_seconds, worker"
                    " FROM transcode.chunks WHERE job_id = CAST(:job_id AS uuid) ORDER BY chunk_index"
                ),
                {"job_id": job_id},
            ).all()
    finally:
        engine.dispose()
    return [
        ChunkRow(
            index=int(row.chunk_index),
            start_seconds=float(row.start_seconds),
            end_seconds=float(row.end_seconds),
            state=str(row.state),
            attempts=int(row.attempts),
            encode_seconds=float(row.encode_seconds),
            worker=str(row.worker),
            core=watch.core_of(str(row.worker)),
        )
        for row in rows
    ]


def chunk_summary(chunks: Sequence[ChunkRow]) -> dict[str, Any]:
    """Encode seconds (min, median, max) over the chunks, and how many each worker encoded (by core when known)."""
    times = [chunk.encode_seconds for chunk in chunks]
    by_worker: dict[str, int] = {}
    for chunk in chunks:
        by_worker[worker_group(chunk)] = by_worker.get(worker_group(chunk), 0) + 1
    return {
        "count": len(chunks),
        "encode_min_s": round(min(times), 2),
        "encode_median_s": round(statistics.median(times), 2),
        "encode_max_s": round(max(times), 2),
        "by_worker": by_worker,
    }


def worker_group(chunk: ChunkRow) -> str:
    """The worker a chunk counts for: its core, else the horse's ``host:pid``.

    A worker forks a new horse for every chunk ticket, so the name in the row differs from
    one ticket to the next even on one worker; grouping by core puts them back together
    (the busiest worker's total, the projection's measured makespan, depends on it).
    """
    return f"core {chunk.core}" if chunk.core is not None else chunk.worker


def _worker_label(chunk: ChunkRow) -> str:
    return f"core {chunk.core} ({chunk.worker})" if chunk.core is not None else chunk.worker


def _source_seconds() -> int:
    return int(os.environ.get("BENCH_CHUNKED_SECONDS", "600"))


def main() -> dict[str, Any]:
    logs = RESULTS_DIR / "logs"
    runs = _runs()
    seconds = _source_seconds()
    chunk_seconds = os.environ.get("BENCH_CHUNK_SECONDS", "60")
    preset = os.environ.get("BENCH_CHUNKED_PRESET") or os.environ.get("TRANSCODE_PRESET") or "veryfast"
    result: dict[str, Any] = {
        "benchmark": NAME,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpus": os.cpu_count(),
        "preset": preset,
        "source_seconds": seconds,
        "chunk_seconds": float(chunk_seconds),
        "chunk_threshold_seconds": CHUNK_THRESHOLD_SECONDS,
        "runs": {},
    }
    chunk_rows: dict[str, list[ChunkRow] | None] = {}
    with tempfile.TemporaryDirectory(prefix="bench-transcode-chunked-") as scratch_name:
        scratch = Path(scratch_name)
        redis_db = int(os.environ.get("BENCH_REDIS_DB", "12"))
        with infrastructure(scratch, schemas=["transcode"], redis_db=redis_db, object_store=True) as env:
            service_ports(env, "transcode_svc")
            env["TRANSCODE_PRESET"] = preset
            source, warm_up = scratch / f"source_{seconds}.mp4", scratch / "warm_up.mp4"
            make_source(source, seconds, preset="faster" if seconds <= 60 else "superfast")
            make_source(warm_up, 2)
            with (
                environment(env),
                spawned([sys.executable, "-m", "transcode_svc"], logs / f"{NAME}_transcode_svc.log"),
            ):
                path = JobPath(env)
                try:
                    for key, run in runs.items():
                        settings = {"LOG_LEVEL": "INFO", **chunk_settings(run, seconds, chunk_seconds)}
                        with environment(settings), pinned_workers(run.cores, logs, key) as workers:
                            # The warm-up (2 s, never chunked) waits for transcode_svc and a worker.
                            retry_until_served(lambda: path.time_job(warm_up, STARTUP_SECONDS))
                            wait_for_workers(env["REDIS_URL"], workers)
                            load = os.getloadavg()
                            with HorseWatch(workers) as watch:
                                timed = path.time_job(source, deadline_seconds=seconds * 20 + 120)
                            chunk_rows[key] = read_chunks(env["DATABASE_URL"], timed.job_id, watch)
                        result["runs"][key] = _run_result(run, load, timed.job_id, timed.timings, chunk_rows[key])
                finally:
                    path.close()
    result |= speed_ups(result["runs"])
    projection = _projection(result["runs"], chunk_rows)
    if projection is not None:
        result["projection"] = projection
    print(report(result, chunk_rows))
    write_result(NAME, result)
    return result


def _run_result(
    run: Run, load: tuple[float, float, float], job_id: str, timings: dict[str, float], chunks: list[ChunkRow] | None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "label": run.label,
        "cores": list(run.cores),
        "chunked": run.chunked,
        "load_average_before": [round(value, 2) for value in load],
        "job_id": job_id,
        **timings,
    }
    if chunks is not None:
        entry["chunks"] = [asdict(chunk) for chunk in chunks]
        if chunks:
            entry["chunk_summary"] = chunk_summary(chunks)
    return entry


def speed_ups(runs: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """ready(b)/ready(c) (issue 17's figure, goal 1.8) and ready(a)/ready(c), for the runs that ran."""
    ratios: dict[str, float] = {}
    for slower in ("b", "a"):
        if slower in runs and "c" in runs:
            ratios[f"speed_up_{slower}_over_c"] = round(runs[slower]["ready_s"] / runs["c"]["ready_s"], 2)
    return ratios


def _projection(
    runs: Mapping[str, Mapping[str, Any]], chunk_rows: Mapping[str, list[ChunkRow] | None]
) -> dict[str, Any] | None:
    """Projected time to ready by workers, from run c's chunks (2 workers, as the many would run), else b's."""
    for key in ("c", "b"):
        rows = chunk_rows.get(key)
        if rows:
            chunks = [
                ChunkTime(row.index, row.start_seconds, row.end_seconds, row.encode_seconds, worker_group(row))
                for row in rows
            ]
            projected: Projection = project(chunks, runs[key]["ready_s"], PROJECTED_WORKERS, LECTURE_SECONDS)
            return {
                "from_run": key,
                "fixed_s": round(projected.fixed_seconds, 2),
                "measured_makespan_s": round(projected.measured_makespan_seconds, 2),
                "cost_per_source_second": round(projected.cost_per_second, 3),
                "chunk_seconds": projected.chunk_seconds,
                "lecture_seconds": LECTURE_SECONDS,
                "source_ready_s": {str(n): round(value, 1) for n, value in projected.source.items()},
                "lecture_ready_s": {str(n): round(value, 1) for n, value in projected.long_source.items()},
            }
    return None


def report(result: Mapping[str, Any], chunk_rows: Mapping[str, list[ChunkRow] | None]) -> str:
    """The tables: runs, each run's chunks, speed-ups and the projection, with the notes that qualify them."""
    runs: Mapping[str, Mapping[str, Any]] = result["runs"]
    rows = []
    for key, entry in runs.items():
        summary = entry.get("chunk_summary")
        encode = (
            f"{summary['encode_min_s']:.1f} / {summary['encode_median_s']:.1f} / {summary['encode_max_s']:.1f}"
            if summary
            else "-"
        )
        rows.append(
            [
                key,
                entry["label"],
                ",".join(str(core) for core in entry["cores"]),
                " ".join(f"{value:.2f}" for value in entry["load_average_before"]),
                f"{entry['playable_s']:.2f}",
                f"{entry['ready_s']:.2f}",
                str(summary["count"]) if summary else "-",
                encode,
            ]
        )
    lines = [
        f"{result['source_seconds']} s 1080p30 source, {result['preset']}, chunks of about "
        f"{result['chunk_seconds']:g} s above {result['chunk_threshold_seconds']} s",
        table(
            ["run", "", "cores", "load 1/5/15 before", "playable s", "ready s", "chunks", "encode s min/med/max"],
            rows,
        ),
    ]
    for key, chunks in chunk_rows.items():
        if chunks is None:
            lines.append(f"run {key}: no transcode.chunks table (chunked transcoding not there yet)")
        elif not chunks:
            lines.append(f"run {key}: no chunk rows (single pass)")
        else:
            lines.append(f"run {key}, chunks:")
            lines.append(
                table(
                    ["chunk", "start s", "end s", "state", "attempts", "encode s", "worker"],
                    [
                        [
                            str(chunk.index),
                            f"{chunk.start_seconds:.1f}",
                            f"{chunk.end_seconds:.1f}",
                            chunk.state,
                            str(chunk.attempts),
                            f"{chunk.encode_seconds:.2f}",
                            _worker_label(chunk),
                        ]
                        for chunk in chunks
                    ],
                )
            )
    if "speed_up_b_over_c" in result:
        met = "met" if result["speed_up_b_over_c"] >= TARGET_SPEED_UP else "NOT met"
        lines.append(
            f"speed-up chunked 1 -> 2 workers: {result['speed_up_b_over_c']:.2f}x (goal {TARGET_SPEED_UP}x: {met})"
        )
    if "speed_up_a_over_c" in result:
        lines.append(f"speed-up single pass -> chunked on 2 workers: {result['speed_up_a_over_c']:.2f}x")
    projection = result.get("projection")
    if projection is not None:
        lines.append(
            f"projection from run {projection['from_run']}: fixed cost {projection['fixed_s']:.1f} s (ready minus the "
            f"busiest worker's {projection['measured_makespan_s']:.1f} s of chunks), "
            f"{projection['cost_per_source_second']:.3f} encode s per source s (median chunk)"
        )
        lecture_minutes = projection["lecture_seconds"] // 60
        lines.append(
            table(
                [
                    "workers",
                    f"{result['source_seconds']} s source, ready s",
                    "measured",
                    f"{lecture_minutes}-minute lecture, ready s",
                ],
                [
                    [
                        n,
                        f"{projection['source_ready_s'][n]:.0f}",
                        _measured_ready(runs, n),
                        f"{projection['lecture_ready_s'][n]:.0f}",
                    ]
                    for n in sorted(projection["source_ready_s"], key=int)
                ],
            )
        )
        lines.append(
            "the projection assumes a core per worker at the measured speed and the measured fixed cost "
            "(its audio encode grows with the length, so the lecture's figures are a floor)"
        )
    lines.append(
        "only the workers are pinned (taskset); transcode_svc, PostgreSQL, Redis and SeaweedFS share the "
        f"same {result['cpus']} cores, so each run includes what they took"
    )
    return "\n".join(lines)


def _measured_ready(runs: Mapping[str, Mapping[str, Any]], workers: str) -> str:
    """The chunked run with that many workers (b: 1, c: 2), to set beside its projection; "-" when none ran."""
    key = {"1": "b", "2": "c"}.get(workers, "")
    return f"{runs[key]['ready_s']:.0f} ({key})" if key in runs else "-"


if __name__ == "__main__":
    main()
