"""What n workers would make of a chunked job, from the chunk times one run measured (issue 17).

Pure functions, no I/O, so tests/transcode/test_chunk_projection.py calls them directly and
bench/transcode_chunked.py feeds them what it read from ``transcode.chunks``.

The model: a chunked job's time to ready is a *fixed cost* (the hand-off, planning,
the audio encoded once, the join and the final playlists: what does not shrink with more
workers) plus the *makespan* of its chunks. The chunks are handed out as the service
does: every free worker claims the lowest pending chunk (chunk tickets on the queue,
claims in PostgreSQL), so the schedule is greedy list scheduling in index order, not an
optimal packing. The fixed cost is measured, not guessed: a run's time to ready minus the
makespan it actually had (the busiest worker's total encode seconds).

What the model leaves out, so what a projection for many workers does not promise: each
worker is assumed to have a core of its own at the measured speed (no contention for
memory bandwidth, the object store or the network), and the fixed cost is taken as is,
though the audio encode in it grows with the source's length.
"""

from __future__ import annotations

import heapq
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ChunkTime:
    """One encoded chunk: ``[start_seconds, end_seconds)`` of the source, wall seconds its encode took, by whom."""

    index: int
    start_seconds: float
    end_seconds: float
    encode_seconds: float
    worker: str

    @property
    def seconds(self) -> float:
        """The chunk's length in the source, seconds."""
        return self.end_seconds - self.start_seconds


@dataclass(frozen=True)
class Schedule:
    """Chunks handed out to workers: the makespan (seconds) and each worker's chunk indexes in claim order."""

    makespan_seconds: float
    claims: tuple[tuple[int, ...], ...]


def schedule_chunks(chunk_seconds: Sequence[float], workers: int) -> Schedule:
    """Hand chunks out in index order, each to the worker that is free first (the lowest-numbered on a tie).

    ``chunk_seconds[i]`` is chunk i's encode time. All workers are free at 0. This is what
    the service does when every free worker claims the lowest pending chunk. Raises
    ValueError for fewer than one worker or a negative chunk time.
    """
    if workers < 1:
        raise ValueError(f"at least one worker, not {workers}")
    if any(seconds < 0 for seconds in chunk_seconds):
        raise ValueError("chunk times are never negative")
    free_at = [(0.0, worker) for worker in range(workers)]
    claims: list[list[int]] = [[] for _ in range(workers)]
    for index, seconds in enumerate(chunk_seconds):
        at, worker = heapq.heappop(free_at)
        claims[worker].append(index)
        heapq.heappush(free_at, (at + seconds, worker))
    return Schedule(makespan_seconds=max(at for at, _ in free_at), claims=tuple(tuple(c) for c in claims))


def measured_makespan(chunks: Sequence[ChunkTime]) -> float:
    """The busiest worker's total encode seconds in a run: the part of its time to ready the chunks took."""
    totals: dict[str, float] = {}
    for chunk in chunks:
        totals[chunk.worker] = totals.get(chunk.worker, 0.0) + chunk.encode_seconds
    return max(totals.values(), default=0.0)


def cost_per_source_second(chunks: Sequence[ChunkTime]) -> float:
    """The median over chunks of encode seconds per source second (a chunk of no length is left out)."""
    costs = [chunk.encode_seconds / chunk.seconds for chunk in chunks if chunk.seconds > 0]
    if not costs:
        raise ValueError("no chunk with a length to take a cost from")
    return statistics.median(costs)


def chunk_lengths(total_seconds: float, chunk_seconds: float) -> list[float]:
    """Chunk lengths of a ``total_seconds`` source cut every ``chunk_seconds``; a short remainder joins the last.

    A remainder under half a chunk is added to the last chunk rather than standing alone.
    The service cuts on segment boundaries (transcode_svc's chunk plan); with the measured
    chunk length as ``chunk_seconds`` this is the same cut to within a segment.
    """
    if total_seconds <= 0 or chunk_seconds <= 0:
        raise ValueError("lengths are positive")
    whole, remainder = divmod(total_seconds, chunk_seconds)
    lengths = [chunk_seconds] * int(whole)
    if not lengths:
        return [total_seconds]
    if remainder >= chunk_seconds / 2:
        lengths.append(remainder)
    else:
        lengths[-1] += remainder
    return lengths


@dataclass(frozen=True)
class Projection:
    """Projected time to ready (seconds) by number of workers, for the measured source and a longer one.

    ``fixed_seconds`` is the measured run's time to ready minus its ``measured_makespan_seconds``;
    ``cost_per_second`` (encode seconds per source second, the median chunk's) scales the
    chunk times to ``long_source_seconds`` cut into chunks of ``chunk_seconds``.
    """

    fixed_seconds: float
    measured_makespan_seconds: float
    cost_per_second: float
    chunk_seconds: float
    long_source_seconds: float
    source: Mapping[int, float]
    long_source: Mapping[int, float]


def project(
    chunks: Sequence[ChunkTime], ready_seconds: float, workers: Sequence[int], long_source_seconds: float
) -> Projection:
    """Time to ready with each number of ``workers``, from one run's chunks and its measured time to ready.

    ``chunks`` are that run's, in any order (they are scheduled by index); ``ready_seconds``
    its time to ready. Raises ValueError without chunks.
    """
    if not chunks:
        raise ValueError("no chunks to project from")
    ordered = sorted(chunks, key=lambda chunk: chunk.index)
    makespan = measured_makespan(ordered)
    fixed = ready_seconds - makespan
    cost = cost_per_source_second(ordered)
    chunk_seconds = statistics.median(chunk.seconds for chunk in ordered)
    times = [chunk.encode_seconds for chunk in ordered]
    long_times = [cost * length for length in chunk_lengths(long_source_seconds, chunk_seconds)]
    return Projection(
        fixed_seconds=fixed,
        measured_makespan_seconds=makespan,
        cost_per_second=cost,
        chunk_seconds=chunk_seconds,
        long_source_seconds=long_source_seconds,
        source={n: fixed + schedule_chunks(times, n).makespan_seconds for n in workers},
        long_source={n: fixed + schedule_chunks(long_times, n).makespan_seconds for n in workers},
    )
