"""Which live jobs the reconciler queues again: the rule alone, without Redis or PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from transcode_svc.domain import JobStatus, LiveJob, RqState, Sighting, needs_enqueue, quiet_seconds

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
QUIET = 15.0


def job(status: JobStatus = JobStatus.QUEUED, changed_seconds_ago: float = 60.0) -> LiveJob:
    return LiveJob("job-1", status, NOW - timedelta(seconds=changed_seconds_ago), 30.0)


def seen(state: RqState, seconds_ago: float | None = None) -> Sighting:
    return Sighting(state, None if seconds_ago is None else NOW - timedelta(seconds=seconds_ago))


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.RUNNING])
def test_a_live_job_rq_does_not_know_is_queued_again(status: JobStatus) -> None:
    assert needs_enqueue(job(status), seen(RqState.MISSING), NOW, QUIET)


@pytest.mark.parametrize("status", [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED])
def test_a_finished_job_is_never_queued_again(status: JobStatus) -> None:
    assert not needs_enqueue(job(status), seen(RqState.MISSING), NOW, QUIET)


def test_a_job_whose_row_changed_within_the_quiet_period_is_left_to_whoever_changed_it() -> None:
    # StartTranscode between its commit and its enqueue; a horse still flushing progress.
    assert not needs_enqueue(job(changed_seconds_ago=QUIET - 1), seen(RqState.MISSING), NOW, QUIET)
    assert needs_enqueue(job(changed_seconds_ago=QUIET), seen(RqState.MISSING), NOW, QUIET)


@pytest.mark.parametrize("state", [RqState.WAITING, RqState.RUNNING])
def test_a_job_rq_holds_is_left_in_rq(state: RqState) -> None:
    assert not needs_enqueue(job(JobStatus.RUNNING, changed_seconds_ago=3600), seen(state), NOW, QUIET)


def test_an_abandoned_job_is_left_to_rqs_maintenance_for_the_quiet_period_then_queued_again() -> None:
    running = job(JobStatus.RUNNING)
    assert not needs_enqueue(running, seen(RqState.ABANDONED, seconds_ago=2), NOW, QUIET)
    assert needs_enqueue(running, seen(RqState.ABANDONED, seconds_ago=QUIET), NOW, QUIET)


def test_a_job_rq_ended_while_the_row_stayed_live_is_queued_again_once_the_callback_had_its_time() -> None:
    running = job(JobStatus.RUNNING)
    assert not needs_enqueue(running, seen(RqState.ENDED, seconds_ago=1), NOW, QUIET)
    assert needs_enqueue(running, seen(RqState.ENDED, seconds_ago=QUIET + 5), NOW, QUIET)
    assert needs_enqueue(running, seen(RqState.ENDED), NOW, QUIET)


@pytest.mark.parametrize(("flush", "quiet"), [(1.0, 15.0), (5.0, 15.0), (10.0, 30.0)])
def test_the_quiet_period_spans_three_progress_flushes_and_never_less_than_fifteen_seconds(
    flush: float, quiet: float
) -> None:
    assert quiet_seconds(flush) == quiet
