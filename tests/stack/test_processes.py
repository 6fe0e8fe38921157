"""The split-process runtime: each service is its own process, discoverable and observable."""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis
from rq import Worker
from rq.worker import BaseWorker

from devstack import free_port
from service_kit.auth import issue_session_token
from service_kit.settings import SERVICE_NAMES
from tests.support.processes import Infra, Stack, spawn, wait_for_grpc_health

FULL_NAMES = {
    "upload": "media.upload.v1.UploadService",
    "transcode": "media.transcode.v1.TranscodeService",
    "playback": "media.playback.v1.PlaybackService",
    "lti": "media.lti.v1.LtiService",
    "attendance": "media.attendance.v1.AttendanceService",
}


def listed_services(address: str) -> set[str]:
    with grpc.insecure_channel(address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        replies = stub.ServerReflectionInfo(iter([request]), timeout=5)
        return {service.name for reply in replies for service in reply.list_services_response.service}


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_each_service_answers_the_standard_health_check_for_its_own_name(stack: Stack, service: str) -> None:
    with grpc.insecure_channel(stack.address(service)) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=FULL_NAMES[service]), timeout=5
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_reflection_lets_grpcurl_discover_each_service(stack: Stack, service: str) -> None:
    names = listed_services(stack.address(service))
    assert FULL_NAMES[service] in names
    assert "grpc.health.v1.Health" in names


def unknown_upload(stack: Stack, request_id: str) -> urllib.error.HTTPError:
    """GET an upload that does not exist, as a signed-in instructor: a 404 from upload_svc."""
    token = issue_session_token(
        stack.infra.settings.jwt_secret_key,
        user_id="instructor-1",
        organization_id="org-stack",
        course_id="course-1",
        roles=["Instructor"],
        ttl_seconds=300,
    )
    request = urllib.request.Request(
        f"{stack.edge_url}/api/v1/media/uploads/{uuid.uuid4()}",
        headers={"X-Request-ID": request_id, "Authorization": f"Bearer {token}"},
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    assert raised.value.code == 404
    return raised.value


def test_a_request_id_from_the_browser_reaches_the_service_logs(stack: Stack) -> None:
    request_id = f"trace-{time.time_ns()}"
    assert unknown_upload(stack, request_id).headers["X-Request-ID"] == request_id
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in stack.processes["upload"].log_text().splitlines() if line.strip()]
        matching = [line for line in lines if line.get("request_id") == request_id]
        if matching:
            assert matching[-1]["rpc"] == "media.upload.v1.UploadService/GetUpload"
            assert matching[-1]["user_id"] == "instructor-1"
            return
        time.sleep(0.1)
    pytest.fail("the request id never reached the upload service's logs")


def test_service_metrics_count_rpcs_by_method_and_code(stack: Stack) -> None:
    unknown_upload(stack, "metrics-probe")
    port = stack.infra.settings.endpoint("upload").metrics_port
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        families = {family.name: family for family in text_string_to_metric_families(reply.read().decode())}
    handled = [
        sample
        for sample in families["grpc_server_handled"].samples
        if sample.labels.get("grpc_method") == "GetUpload" and sample.labels.get("grpc_code") == "NOT_FOUND"
    ]
    assert handled and handled[0].value >= 1
    assert "grpc_server_handling_seconds" in families


def test_a_service_stops_cleanly_on_sigterm(infra: Infra) -> None:
    port = free_port()
    process = spawn(
        "upload-sigterm",
        "upload_svc",
        infra,
        {"UPLOAD_SVC_PORT": str(port), "UPLOAD_SVC_METRICS_PORT": str(free_port())},
    )
    try:
        wait_for_grpc_health(process, f"127.0.0.1:{port}", time.monotonic() + 30)
        process.popen.send_signal(signal.SIGTERM)
        assert process.popen.wait(15) == 0
        messages = [json.loads(line)["msg"] for line in process.log_text().splitlines() if line.startswith("{")]
        assert messages[-2:] == ["stopping", "stopped"]
    finally:
        process.stop()


def test_a_transcode_worker_listens_on_the_shared_queue_and_stops_on_sigterm(infra: Infra) -> None:
    connection = Redis.from_url(infra.settings.redis_url)
    before = {worker.name for worker in Worker.all(connection=connection)}
    process = spawn("worker", "transcode_svc.worker", infra)
    try:
        deadline = time.monotonic() + 30
        started: list[BaseWorker] = []
        while not started and time.monotonic() < deadline:
            started = [w for w in Worker.all(connection=connection) if w.name not in before]
            time.sleep(0.1)
        assert started, process.log_text()
        assert started[0].queue_names() == ["transcode"]
        process.popen.send_signal(signal.SIGTERM)
        process.popen.wait(30)
        assert started[0].name not in {w.name for w in Worker.all(connection=connection)}
    finally:
        process.stop()
