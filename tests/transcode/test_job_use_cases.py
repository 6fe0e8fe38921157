"""transcode_svc's use cases without a server: starting, reading, watching and cancelling jobs.

The ports are fakes (``tests/transcode/fakes.py``): a jobs table in a dict with
transactions, a queue, Redis's live progress and the bucket, each recording what it was
asked. The rules they exercise are the ones the servicer runs. The real unit of work's
translation of driver errors is checked against a PostgreSQL address nobody listens on.
"""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from service_kit import errors as kit_errors
from service_kit.auth import ADMINISTRATOR, INSTRUCTOR, LEARNER, SessionClaims
from service_kit.db import create_engine, session_factory
from tests.transcode.fakes import (
    NOW,
    PROBE,
    FakeBoard,
    FakeOutputs,
    FakeQueue,
    FakeUnitOfWork,
    a_job,
    caller,
    rig,
    running,
)
from transcode_svc import errors
from transcode_svc.domain import (
    JobStatus,
    JobView,
    LiveProgress,
    ProbeFacts,
    Progress,
    nominal,
    plan_renditions,
    published,
)
from transcode_svc.store import SqlUnitOfWork
from transcode_svc.use_cases import NewTranscode, TranscodeJobs


def asked(video_id: str = "v1", probe: ProbeFacts | None = PROBE, **fields: str) -> NewTranscode:
    values = {"organization_id": "org1", "course_id": "c1", "source_key": f"uploads/org1/{video_id}/source"}
    values.update(fields)
    return NewTranscode(video_id=video_id, probe=probe, **values)


# ---- starting ---------------------------------------------------------------------------------


async def test_starting_a_video_twice_gives_the_same_job_and_queues_it_once() -> None:
    use = rig()
    first = await use.jobs.start(None, asked())
    second = await use.jobs.start(None, asked())
    assert first.job_id == second.job_id
    assert first.status is JobStatus.QUEUED and first.progress_percent == 0
    assert use.queue.queued == [first.job_id]
    assert list(use.store.jobs) == [uuid.UUID(first.job_id)]


async def test_a_new_job_offers_the_planned_ladder_before_anything_is_encoded() -> None:
    view = await rig().jobs.start(None, asked())
    assert [r.name for r in view.renditions] == ["360p", "480p", "720p"]
    assert view.renditions == tuple(published(nominal(plan)) for plan in plan_renditions(PROBE))
    assert not view.playable


async def test_a_video_already_transcoded_is_answered_with_its_finished_job_and_nothing_is_queued() -> None:
    done = a_job(JobStatus.SUCCEEDED, progress=Progress(100, 0, True))
    use = rig(done)
    view = await use.jobs.start(None, asked())
    assert view.job_id == str(done.id) and view.status is JobStatus.SUCCEEDED and view.progress_percent == 100
    assert use.queue.queued == [] and len(use.store.jobs) == 1


async def test_a_video_whose_last_job_failed_gets_a_new_job() -> None:
    failed = a_job(JobStatus.FAILED, error_reason="moov atom not found")
    use = rig(failed)
    view = await use.jobs.start(None, asked())
    assert view.job_id != str(failed.id) and view.status is JobStatus.QUEUED
    assert use.queue.queued == [view.job_id]


async def test_starting_again_heals_a_queued_job_whose_queue_entry_was_lost() -> None:
    lost = a_job(JobStatus.QUEUED)
    use = rig(lost)
    view = await use.jobs.start(None, asked())
    assert view.job_id == str(lost.id)
    assert use.queue.queued == [str(lost.id)]


async def test_a_running_job_is_answered_as_it_stands_and_not_queued_again() -> None:
    busy = running(a_job())
    use = rig(busy)
    view = await use.jobs.start(None, asked())
    assert view.job_id == str(busy.id) and view.status is JobStatus.RUNNING and view.progress_percent == 40
    assert use.queue.queued == []


async def test_a_store_outage_during_start_records_nothing_and_queues_nothing() -> None:
    use = rig()
    use.store.refuse_commits = True
    with pytest.raises(errors.StoreUnavailable, match=r"could not be recorded.*try again"):
        await use.jobs.start(None, asked())
    assert use.store.jobs == {} and use.queue.queued == []


async def test_a_database_that_cannot_be_reached_during_start_queues_nothing() -> None:
    use = rig()
    use.store.down = True
    with pytest.raises(errors.StoreUnavailable):
        await use.jobs.start(None, asked())
    assert use.queue.queued == []


async def test_a_queue_outage_removes_the_new_job_so_the_next_start_records_and_queues_it() -> None:
    use = rig()
    use.queue.down = True
    with pytest.raises(errors.QueueUnavailable, match="try again shortly"):
        await use.jobs.start(None, asked())
    assert use.store.jobs == {}
    use.queue.down = False
    view = await use.jobs.start(None, asked())
    assert use.queue.queued == [view.job_id] and list(use.store.jobs) == [uuid.UUID(view.job_id)]


async def test_a_queue_outage_keeps_a_job_that_was_recorded_by_an_earlier_start() -> None:
    earlier = a_job(JobStatus.QUEUED)
    use = rig(earlier)
    use.queue.down = True
    with pytest.raises(errors.QueueUnavailable):
        await use.jobs.start(None, asked())
    assert list(use.store.jobs) == [earlier.id]


async def test_when_the_queue_and_then_the_database_fail_the_job_stays_for_the_reconciler() -> None:
    use = rig()
    use.queue.down = True
    forget = use.store.units()

    def failing_after_the_first_commit() -> FakeUnitOfWork:
        work = forget()
        if use.store.commits:
            use.store.refuse_commits = True
        return work

    use.jobs = TranscodeJobs(
        uow=failing_after_the_first_commit,
        queue=use.queue,
        board=use.board,
        outputs=use.outputs,
        clock=lambda: NOW,
    )
    with pytest.raises(errors.QueueUnavailable):
        await use.jobs.start(None, asked())
    [left] = use.store.jobs.values()
    assert left.status is JobStatus.QUEUED


async def test_a_start_without_the_required_fields_is_refused_naming_each() -> None:
    use = rig()
    with pytest.raises(kit_errors.InvalidArgument) as refused:
        await use.jobs.start(None, asked(video_id=" ", probe=None, source_key=""))
    assert {v.field for v in refused.value.violations} == {"video_id", "source_key", "probe"}
    assert use.store.jobs == {} and use.queue.queued == []


async def test_a_source_without_a_picture_is_refused_with_the_reason_and_nothing_is_recorded() -> None:
    use = rig()
    with pytest.raises(errors.UnsupportedSource, match="no video stream"):
        await use.jobs.start(None, asked(probe=dataclasses.replace(PROBE, width=0)))
    assert use.store.jobs == {}


async def test_a_caller_from_another_organization_may_not_start_its_videos_job() -> None:
    use = rig()
    with pytest.raises(errors.NotAllowed, match="another organization"):
        await use.jobs.start(caller(INSTRUCTOR, organization_id="org2"), asked())
    assert use.store.jobs == {}
    assert (await use.jobs.start(caller(INSTRUCTOR), asked())).status is JobStatus.QUEUED


# ---- reading -----------------------------------------------------------------------------------


async def test_a_job_reads_with_the_workers_fresher_progress_while_it_runs() -> None:
    queued = a_job(JobStatus.QUEUED)
    use = rig(queued)
    use.board.published[str(queued.id)] = LiveProgress("running", 37, 12, True)
    view = await use.jobs.get(caller(INSTRUCTOR), str(queued.id))
    assert (view.status, view.progress_percent, view.eta_seconds, view.playable) == (JobStatus.RUNNING, 37, 12, True)


async def test_a_finished_job_reads_as_stored_whatever_redis_still_says() -> None:
    done = a_job(JobStatus.FAILED, error_reason="Invalid data found when processing input")
    use = rig(done)
    use.board.published[str(done.id)] = LiveProgress("running", 80, 3, True)
    view = await use.jobs.get(caller(INSTRUCTOR), str(done.id))
    assert view.status is JobStatus.FAILED and view.error_reason.startswith("Invalid data")
    assert not view.playable and view.eta_seconds == 0


@pytest.mark.parametrize(
    "who",
    [
        caller(INSTRUCTOR, organization_id="org2"),
        caller(ADMINISTRATOR, organization_id="org2"),
        caller(INSTRUCTOR, course_id="c2"),
    ],
    ids=["another organization's instructor", "another organization's administrator", "another course's instructor"],
)
async def test_another_organizations_or_courses_job_answers_not_found_as_an_unknown_id(who: SessionClaims) -> None:
    job = a_job()
    use = rig(job)
    for attempt in (use.jobs.get, use.jobs.cancel):
        with pytest.raises(errors.JobNotFound, match=str(job.id)):
            await attempt(who, str(job.id))
    with pytest.raises(errors.JobNotFound):
        await anext(use.jobs.watch(who, str(job.id)))
    with pytest.raises(errors.JobNotFound):
        await use.jobs.get(caller(INSTRUCTOR), str(uuid.uuid4()))
    assert use.store.jobs[job.id].status is JobStatus.QUEUED and use.board.cancel_flags == []


async def test_a_learner_of_the_course_is_told_the_job_is_for_its_staff() -> None:
    job = a_job()
    use = rig(job)
    with pytest.raises(errors.NotAllowed, match="instructors"):
        await use.jobs.get(caller(LEARNER), str(job.id))
    assert (await use.jobs.get(caller(ADMINISTRATOR, course_id="c9"), str(job.id))).job_id == str(job.id)


async def test_a_job_id_that_is_not_a_uuid_is_refused_as_invalid() -> None:
    with pytest.raises(kit_errors.InvalidArgument, match="job_id"):
        await rig().jobs.get(caller(INSTRUCTOR), "not-a-job")


async def test_a_read_while_the_database_is_away_is_a_503_that_says_to_retry() -> None:
    job = a_job()
    use = rig(job)
    use.store.down = True
    with pytest.raises(errors.StoreUnavailable, match=r"could not be read.*try again"):
        await use.jobs.get(caller(INSTRUCTOR), str(job.id))


# ---- cancelling --------------------------------------------------------------------------------


async def test_cancelling_a_queued_job_withdraws_it_and_removes_leftover_outputs() -> None:
    job = a_job(JobStatus.QUEUED)
    use = rig(job)
    use.queue.queued.append(str(job.id))
    view = await use.jobs.cancel(caller(INSTRUCTOR), str(job.id))
    assert view.status is JobStatus.CANCELLED and view.finished_at == NOW and not view.playable
    assert use.store.jobs[job.id].status is JobStatus.CANCELLED
    assert use.board.cancel_flags == [str(job.id)]
    assert use.board.announced == [(str(job.id), "cancelled")]
    assert use.queue.queued == [] and use.outputs.deleted == ["v1"]


async def test_cancelling_a_running_job_tells_its_worker_and_leaves_the_outputs_to_it() -> None:
    job = running(a_job())
    use = rig(job)
    use.queue.running.add(str(job.id))
    view = await use.jobs.cancel(caller(INSTRUCTOR), str(job.id))
    assert view.status is JobStatus.CANCELLED and view.eta_seconds == 0
    assert use.board.cancel_flags == [str(job.id)] and use.outputs.deleted == []


@pytest.mark.parametrize("status", [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED])
async def test_cancelling_a_finished_job_answers_it_as_it_finished_and_touches_nothing(status: JobStatus) -> None:
    job = a_job(status, finished_at=NOW)
    use = rig(job)
    view = await use.jobs.cancel(caller(INSTRUCTOR), str(job.id))
    assert view.status is status
    assert use.store.jobs[job.id] == job and use.store.commits == 0
    assert use.board.cancel_flags == [] and use.queue.withdrawn == [] and use.outputs.deleted == []


async def test_a_cancel_the_database_does_not_take_leaves_the_job_queued_and_says_so() -> None:
    job = a_job()
    use = rig(job)
    use.store.refuse_commits = True
    with pytest.raises(errors.StoreUnavailable, match="could not be cancelled"):
        await use.jobs.cancel(caller(INSTRUCTOR), str(job.id))
    assert use.store.jobs[job.id].status is JobStatus.QUEUED
    assert use.board.announced == [] and use.queue.withdrawn == [] and use.outputs.deleted == []


# ---- watching ----------------------------------------------------------------------------------


async def test_a_watch_sends_each_change_once_and_ends_with_the_final_status() -> None:
    job = a_job(JobStatus.QUEUED)
    use = rig(job)
    done = dataclasses.replace(running(job, 99), status=JobStatus.SUCCEEDED, progress=Progress(100, 0, True))
    use.board.script = [
        (LiveProgress("running", 10, 30), None),
        (LiveProgress("running", 10, 30), None),  # nothing new: no snapshot
        (LiveProgress("running", 60, 8, True), None),
        (LiveProgress("succeeded", 99, 0, True), done),
    ]
    seen: list[JobView] = [view async for view in use.jobs.watch(caller(INSTRUCTOR), str(job.id))]
    assert [(v.status, v.progress_percent, v.playable) for v in seen] == [
        (JobStatus.QUEUED, 0, False),
        (JobStatus.RUNNING, 10, False),
        (JobStatus.RUNNING, 60, True),
        (JobStatus.SUCCEEDED, 100, True),
    ]


async def test_a_watch_of_a_finished_job_sends_it_once_and_ends() -> None:
    job = a_job(JobStatus.CANCELLED)
    use = rig(job)
    use.board.script = [(LiveProgress("running", 50), None)]
    seen = [view async for view in use.jobs.watch(caller(INSTRUCTOR), str(job.id))]
    assert [v.status for v in seen] == [JobStatus.CANCELLED]


# ---- a video's latest job ----------------------------------------------------------------------


async def test_a_video_without_a_job_has_no_transcode() -> None:
    assert await rig().jobs.of_video(None, "v1") is None


async def test_a_videos_renditions_are_offered_only_once_it_is_playable() -> None:
    job = running(a_job())
    use = rig(job)
    found = await use.jobs.of_video(None, "v1")
    assert found is not None and found.job.status is JobStatus.RUNNING and found.renditions == ()
    use.board.published[str(job.id)] = LiveProgress("running", 45, 10, True)
    found = await use.jobs.of_video(caller(LEARNER), "v1")
    assert found is not None and found.job.playable and [r.name for r in found.renditions] == ["360p", "480p", "720p"]


async def test_another_organizations_caller_may_not_read_a_videos_transcode() -> None:
    use = rig(a_job())
    with pytest.raises(errors.NotAllowed):
        await use.jobs.of_video(caller(INSTRUCTOR, organization_id="org2"), "v1")
    with pytest.raises(kit_errors.InvalidArgument, match="video_id"):
        await use.jobs.of_video(None, "")


# ---- the PostgreSQL unit of work's failures ----------------------------------------------------


async def test_an_unreachable_database_is_a_503_that_says_to_retry_and_queues_nothing() -> None:
    sessions = session_factory(create_engine("postgresql+psycopg://root@127.0.0.1:1/nowhere", pool_size=1))
    queue = FakeQueue()
    jobs = TranscodeJobs(
        uow=lambda: SqlUnitOfWork(sessions),
        queue=queue,
        board=FakeBoard(rig().store),
        outputs=FakeOutputs(),
        clock=lambda: NOW,
    )
    try:
        with pytest.raises(errors.StoreUnavailable, match="try again shortly"):
            await jobs.start(None, asked())
        with pytest.raises(errors.StoreUnavailable):
            await jobs.get(caller(INSTRUCTOR), str(uuid.uuid4()))
        assert queue.queued == []
    finally:
        await sessions.kw["bind"].dispose()
