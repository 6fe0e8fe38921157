"""The join of a chunked job runs once, whoever calls it and however many call it at once.

Two coordinators of one job exist when a work horse outlives its killed worker and RQ
runs the job again. Both reach the join when the last chunk is done; the job's row lock
makes one of them join and the other find the job finished. Real PostgreSQL, Redis and
SeaweedFS; the chunks' segments are small stand-in files (the join only writes playlists).
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import asdict

import pytest
import redis

from service_kit.object_store import s3_client
from service_kit.settings import Settings
from tests.support.processes import Infra
from transcode_svc import adapters, chunked, domain, ladder, store
from transcode_svc.chunk_work import ChunkedJob
from transcode_svc.domain import JobStatus, Progress, PublishedSegment
from transcode_svc.job_support import Reporter, sessions_for


def a_chunked_job_whose_chunks_are_all_done(settings: Settings, outputs: adapters.OutputStore) -> ChunkedJob:
    """A running job of 12 s in three done chunks of 4 one-second segments per rung, segments in the bucket."""
    probe = domain.ProbeFacts(duration_seconds=12, width=854, height=480, frame_rate=25, has_audio=True)
    job_id, video_id = uuid.uuid4(), f"video-{uuid.uuid4().hex[:8]}"
    options = ladder.LadderOptions(segment_seconds=1, opening_segments=0)
    plans = tuple(domain.plan_renditions(probe))
    job = ChunkedJob(job_id, video_id, "uploads/o/v/source", plans, domain.plan_picture(probe), options, 12, True)
    sessions = sessions_for(settings)
    with sessions.begin() as session:
        session.add(
            store.JobRow(
                id=job_id,
                video_id=video_id,
                organization_id="org",
                source_key=job.source_key,
                probe=asdict(probe),
                status=JobStatus.RUNNING.value,
            )
        )
    with sessions.begin() as session:
        chunks = store.add_chunks_sync(session, job_id, domain.plan_chunks(12, options.grid, 4))
    for chunk in chunks:
        with sessions.begin() as session:
            claim = store.claim_chunk_sync(session, job_id, "test", 30)
            assert claim is not None and claim.plan == chunk
            records: dict[str, list[list[object]]] = {}
            for plan in plans:
                numbers = range(chunk.first_segment, chunk.first_segment + 4)
                records[plan.name] = [PublishedSegment(f"seg_{n:05d}.ts", 1.0, 5000).as_record() for n in numbers]
                for number in numbers:
                    outputs.put_text("segment", domain.output_key(video_id, f"{plan.name}/seg_{number:05d}.ts"))
            assert store.finish_chunk_sync(session, claim, records, 1.5)
    return job


def test_two_coordinators_joining_at_once_join_once(infra: Infra, caplog: pytest.LogCaptureFixture) -> None:
    settings = infra.settings
    outputs = adapters.OutputStore(settings)
    job = a_chunked_job_whose_chunks_are_all_done(settings, outputs)
    connection = redis.Redis.from_url(settings.redis_url)
    board = adapters.ProgressBoard(connection)
    sessions = sessions_for(settings)
    audio = [PublishedSegment(f"seg_{n:05d}.ts", 1.0, 16000) for n in range(12)]
    run = chunked.ChunkedRun(
        settings,
        connection,
        outputs,
        sessions,
        board,
        job,
        Reporter(board, sessions, job.job_id, 12, 1.0, Progress()),
        store.utcnow(),
        False,
    )
    both_ready = threading.Barrier(2)
    results: list[str] = []

    def coordinator() -> None:
        both_ready.wait()
        results.append(chunked._join(run, audio))

    caplog.set_level(logging.INFO, logger="transcode_svc.chunked")
    threads = [threading.Thread(target=coordinator) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert results == ["succeeded", "succeeded"]
    joins = [record for record in caplog.records if record.getMessage() == "transcode succeeded"]
    assert len(joins) == 1, "one of the two joined, the other found the job finished"
    with sessions.begin() as session:
        row = store.get_job_sync(session, job.job_id)
        assert row is not None and row.job_status is JobStatus.SUCCEEDED
        assert [record["name"] for record in row.renditions] == ["360p", "480p"]
    variant = outputs_text(settings, job.video_id, "480p/index.m3u8")
    assert variant.count("#EXTINF:1.000000,") == 12 and variant.rstrip().endswith("#EXT-X-ENDLIST")
    assert [line for line in variant.splitlines() if line.startswith("seg_")] == [f"seg_{n:05d}.ts" for n in range(12)]
    master = outputs_text(settings, job.video_id, "master.m3u8")
    # 5000 bytes a second of video and 16000 of audio: the variant's bandwidth counts both.
    assert "BANDWIDTH=168000,AVERAGE-BANDWIDTH=168000" in master and 'AUDIO="audio"' in master
    connection.close()


def outputs_text(settings: Settings, video_id: str, relative: str) -> str:
    """A file the join wrote, read back from the bucket."""
    answer = s3_client(settings).get_object(Bucket=settings.s3_bucket, Key=domain.output_key(video_id, relative))
    return str(answer["Body"].read().decode())
