"""The interceptor: domain errors arrive as rich statuses, callers are verified, metadata flows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any, cast

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc import aio

from media.transcode.v1 import transcode_pb2, transcode_pb2_grpc
from service_kit import context, errors
from service_kit.auth import issue_session_token
from service_kit.caller import require_caller
from service_kit.interceptors import STATUS_DETAILS_KEY, ServiceInterceptor

SECRET = "j" * 40


class ScriptedTranscodeServicer(transcode_pb2_grpc.TranscodeServiceServicer):
    """Answers GetTranscodeJob according to the job id, so each test picks an outcome."""

    async def GetTranscodeJob(
        self, request: transcode_pb2.GetTranscodeJobRequest, ctx: aio.ServicerContext[Any, Any]
    ) -> transcode_pb2.GetTranscodeJobResponse:
        if request.job_id == "missing":
            raise errors.NotFound("no transcode job with that id", reason="JOB_NOT_FOUND", metadata={"job_id": "x"})
        if request.job_id == "invalid":
            problems = errors.ValidationErrors()
            problems.add("job_id", "must be a UUID")
            problems.add("page_size", "must be at most 100")
            problems.raise_if_any()
        if request.job_id == "crash":
            raise RuntimeError("database password is hunter2")
        if request.job_id == "whoami":
            caller = require_caller()
            return transcode_pb2.GetTranscodeJobResponse(
                job=transcode_pb2.TranscodeJob(job_id=caller.user_id, video_id=context.request_id_var.get() or "")
            )
        return transcode_pb2.GetTranscodeJobResponse(job=transcode_pb2.TranscodeJob(job_id=request.job_id))

    async def WatchTranscodeJob(
        self, request: transcode_pb2.WatchTranscodeJobRequest, ctx: aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[transcode_pb2.WatchTranscodeJobResponse]:
        yield transcode_pb2.WatchTranscodeJobResponse(job=transcode_pb2.TranscodeJob(job_id=request.job_id))
        raise errors.Unavailable("the progress store went away")


@pytest.fixture
async def stub() -> AsyncIterator[transcode_pb2_grpc.TranscodeServiceAsyncStub]:
    server = aio.server(interceptors=[ServiceInterceptor(SECRET, error_domain="media.transcode")])
    servicer = ScriptedTranscodeServicer()  # type: ignore[abstract]  # the other RPCs answer UNIMPLEMENTED
    transcode_pb2_grpc.add_TranscodeServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield transcode_pb2_grpc.TranscodeServiceStub(channel)
    await server.stop(None)


async def call(
    stub: transcode_pb2_grpc.TranscodeServiceAsyncStub,
    job_id: str,
    metadata: tuple[tuple[str, str | bytes], ...] = (),
) -> aio.AioRpcError:
    with pytest.raises(aio.AioRpcError) as raised:
        await stub.GetTranscodeJob(transcode_pb2.GetTranscodeJobRequest(job_id=job_id), timeout=5, metadata=metadata)
    return raised.value


def status_details(error: aio.AioRpcError) -> status_pb2.Status:
    trailers = cast(Iterable[tuple[str, str | bytes]], error.trailing_metadata() or ())
    details = [value for key, value in trailers if key == STATUS_DETAILS_KEY]
    assert len(details) == 1 and isinstance(details[0], bytes)
    return status_pb2.Status.FromString(details[0])


async def test_a_missing_resource_is_not_found_with_a_stable_reason(
    stub: transcode_pb2_grpc.TranscodeServiceAsyncStub,
) -> None:
    error = await call(stub, "missing")
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == "no transcode job with that id"
    info = error_details_pb2.ErrorInfo()
    assert status_details(error).details[0].Unpack(info)
    assert (info.reason, info.domain, dict(info.metadata)) == ("JOB_NOT_FOUND", "media.transcode", {"job_id": "x"})


async def test_every_invalid_field_is_reported_at_once(stub: transcode_pb2_grpc.TranscodeServiceAsyncStub) -> None:
    error = await call(stub, "invalid")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    bad_request = error_details_pb2.BadRequest()
    assert status_details(error).details[1].Unpack(bad_request)
    assert [(v.field, v.description) for v in bad_request.field_violations] == [
        ("job_id", "must be a UUID"),
        ("page_size", "must be at most 100"),
    ]


async def test_an_unexpected_failure_is_internal_and_leaks_nothing(
    stub: transcode_pb2_grpc.TranscodeServiceAsyncStub,
) -> None:
    error = await call(stub, "crash")
    assert error.code() == grpc.StatusCode.INTERNAL
    assert "hunter2" not in (error.details() or "")


async def test_a_bad_session_token_is_refused_before_the_servicer_runs(
    stub: transcode_pb2_grpc.TranscodeServiceAsyncStub,
) -> None:
    error = await call(stub, "ok", metadata=(("authorization", "Bearer not-a-jwt"),))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_an_rpc_that_needs_a_caller_refuses_an_anonymous_one(
    stub: transcode_pb2_grpc.TranscodeServiceAsyncStub,
) -> None:
    error = await call(stub, "whoami")
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "Authorization: Bearer" in (error.details() or "")


async def test_the_verified_caller_and_request_id_reach_the_servicer(
    stub: transcode_pb2_grpc.TranscodeServiceAsyncStub,
) -> None:
    token = issue_session_token(
        SECRET, user_id="learner-7", organization_id="org", course_id="c", roles=["Learner"], ttl_seconds=60
    )
    reply = await stub.GetTranscodeJob(
        transcode_pb2.GetTranscodeJobRequest(job_id="whoami"),
        metadata=(("authorization", f"Bearer {token}"), ("x-request-id", "req-42")),
        timeout=5,
    )
    assert (reply.job.job_id, reply.job.video_id) == ("learner-7", "req-42")


async def test_a_stream_that_fails_midway_ends_with_the_mapped_status(
    stub: transcode_pb2_grpc.TranscodeServiceAsyncStub,
) -> None:
    received = []
    with pytest.raises(aio.AioRpcError) as raised:
        async for reply in stub.WatchTranscodeJob(transcode_pb2.WatchTranscodeJobRequest(job_id="j"), timeout=5):
            received.append(reply.job.job_id)
    assert received == ["j"]
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_an_rpc_not_built_yet_answers_unimplemented_not_internal(
    stub: transcode_pb2_grpc.TranscodeServiceAsyncStub,
) -> None:
    with pytest.raises(aio.AioRpcError) as raised:
        await stub.CancelTranscodeJob(transcode_pb2.CancelTranscodeJobRequest(job_id="j"), timeout=5)
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
