"""Every RPC in proto/ has an implementation: none falls back to the generated UNIMPLEMENTED stub."""

from __future__ import annotations

import importlib

import pytest

SERVICES = {
    "upload_svc.server": ("media.upload.v1", "upload", "UploadService", "UploadServicer"),
    "transcode_svc.server": ("media.transcode.v1", "transcode", "TranscodeService", "TranscodeServicer"),
    "playback_svc.server": ("media.playback.v1", "playback", "PlaybackService", "PlaybackServicer"),
    "lti_svc.server": ("media.lti.v1", "lti", "LtiService", "LtiServicer"),
    "attendance_svc.server": ("media.attendance.v1", "attendance", "AttendanceService", "AttendanceServicer"),
}


@pytest.mark.parametrize("server_module", sorted(SERVICES))
def test_the_servicer_implements_every_rpc_of_its_contract(server_module: str) -> None:
    package, stem, service_name, servicer_name = SERVICES[server_module]
    messages = importlib.import_module(f"{package}.{stem}_pb2")
    stubs = importlib.import_module(f"{package}.{stem}_pb2_grpc")
    generated_base = getattr(stubs, f"{service_name}Servicer")
    servicer = getattr(importlib.import_module(server_module), servicer_name)
    rpcs = [method.name for method in messages.DESCRIPTOR.services_by_name[service_name].methods]

    unimplemented = [rpc for rpc in rpcs if getattr(servicer, rpc) is getattr(generated_base, rpc)]

    assert rpcs
    assert unimplemented == []
