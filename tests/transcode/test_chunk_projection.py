"""The chunked-transcode projection of bench/transcode_chunked.py, as plain calls (no stack).

What n workers would make of a job is the measured fixed cost plus the chunks handed
out as the service hands them out: in index order, each to the worker free first.
"""

from __future__ import annotations

import pytest

from bench.chunk_projection import (
    ChunkTime,
    chunk_lengths,
    cost_per_source_second,
    measured_makespan,
    project,
    schedule_chunks,
)


def chunk(index: int, encode_seconds: float, worker: str = "host:1", seconds: float = 60.0) -> ChunkTime:
    return ChunkTime(index, index * seconds, (index + 1) * seconds, encode_seconds, worker)


def test_one_worker_encodes_every_chunk_in_turn() -> None:
    schedule = schedule_chunks([3.0, 1.0, 2.0], workers=1)
    assert schedule.makespan_seconds == 6.0
    assert schedule.claims == ((0, 1, 2),)


def test_a_free_worker_claims_the_lowest_pending_chunk() -> None:
    # Worker 0 takes chunk 0 (10 s), worker 1 chunks 1, 2 and 3 (1 s each) while it runs,
    # then worker 1 is free first again at 3 s and takes chunk 4.
    schedule = schedule_chunks([10.0, 1.0, 1.0, 1.0, 5.0], workers=2)
    assert schedule.claims == ((0,), (1, 2, 3, 4))
    assert schedule.makespan_seconds == 10.0


def test_index_order_is_kept_even_where_a_packing_would_be_shorter() -> None:
    # In index order: 3 + 2 + 2 on worker 0, 3 + 2 on worker 1, so 7 s; a packing (3 + 3, 2 + 2 + 2) would reach 6.
    assert schedule_chunks([3.0, 3.0, 2.0, 2.0, 2.0], workers=2).makespan_seconds == 7.0


def test_more_workers_than_chunks_leaves_the_longest_chunk() -> None:
    times = [4.0, 9.0, 6.0]
    assert schedule_chunks(times, workers=50).makespan_seconds == 9.0
    assert schedule_chunks(times, workers=50).claims[3:] == ((),) * 47


def test_a_tie_goes_to_the_lowest_numbered_worker() -> None:
    assert schedule_chunks([1.0, 1.0, 1.0], workers=2).claims == ((0, 2), (1,))


@pytest.mark.parametrize(("times", "workers"), [([1.0], 0), ([1.0, -0.5], 2)])
def test_no_workers_or_a_negative_time_is_refused(times: list[float], workers: int) -> None:
    with pytest.raises(ValueError):
        schedule_chunks(times, workers)


def test_no_chunks_take_no_time() -> None:
    assert schedule_chunks([], workers=3).makespan_seconds == 0.0


def test_the_measured_makespan_is_the_busiest_workers_total() -> None:
    chunks = [chunk(0, 10.0, "a:1"), chunk(1, 7.0, "b:2"), chunk(2, 6.0, "b:2"), chunk(3, 2.0, "a:1")]
    assert measured_makespan(chunks) == 13.0


def test_the_cost_per_source_second_is_the_median_chunks() -> None:
    chunks = [chunk(0, 30.0), chunk(1, 60.0), chunk(2, 120.0, seconds=60.0)]
    assert cost_per_source_second(chunks) == 1.0


def test_a_remainder_under_half_a_chunk_joins_the_last() -> None:
    assert chunk_lengths(5400.0, 60.0) == [60.0] * 90
    assert chunk_lengths(140.0, 60.0) == [60.0, 80.0]
    assert chunk_lengths(150.0, 60.0) == [60.0, 60.0, 30.0]
    assert chunk_lengths(100.0, 60.0) == [60.0, 40.0]
    assert chunk_lengths(20.0, 60.0) == [20.0]


def test_the_projection_adds_the_measured_fixed_cost_to_each_schedule() -> None:
    # Two workers encoded four 60 s chunks: "a" 10 + 10 s, "b" 12 + 8 s; ready after 30 s,
    # so the fixed cost is 30 - 20 = 10 s.
    chunks = [chunk(0, 10.0, "a:1"), chunk(1, 12.0, "b:2"), chunk(2, 10.0, "a:1"), chunk(3, 8.0, "b:2")]
    projected = project(chunks, ready_seconds=30.0, workers=[1, 2, 10], long_source_seconds=600.0)
    assert projected.fixed_seconds == 10.0
    assert projected.measured_makespan_seconds == 20.0
    assert projected.source == {1: 50.0, 2: 30.0, 10: 22.0}
    # Median cost 10/60 s per source second; 600 s is ten 60 s chunks of 10 s each.
    assert projected.cost_per_second == pytest.approx(1 / 6)
    assert projected.chunk_seconds == 60.0
    assert projected.long_source[1] == pytest.approx(110.0)
    assert projected.long_source[2] == pytest.approx(60.0)
    assert projected.long_source[10] == pytest.approx(20.0)


def test_chunks_are_scheduled_by_index_whatever_order_they_come_in() -> None:
    chunks = [chunk(0, 10.0), chunk(1, 1.0), chunk(2, 1.0), chunk(3, 1.0), chunk(4, 5.0)]
    shuffled = [chunks[3], chunks[0], chunks[4], chunks[2], chunks[1]]
    assert project(shuffled, 25.0, [2], 600.0).source == project(chunks, 25.0, [2], 600.0).source


def test_a_projection_needs_chunks() -> None:
    with pytest.raises(ValueError):
        project([], ready_seconds=30.0, workers=[2], long_source_seconds=600.0)
