"""The UploadService servicer and the process's `serve`.

Each RPC maps proto to domain and back; rules live in the domain module, tables in the
store module. RPCs not yet built answer UNIMPLEMENTED (HTTP 501) through grpc's own base
class, so clients see the whole contract from the first day.
"""

from __future__ import annotations

from media.upload.v1 import upload_pb2, upload_pb2_grpc
from service_kit.grpc_server import Registration
from service_kit.grpc_server import serve as serve_grpc
from service_kit.settings import Settings

SERVICE_NAME = upload_pb2.DESCRIPTOR.services_by_name["UploadService"].full_name


class UploadServicer(upload_pb2_grpc.UploadServiceServicer):
    """Serves media.upload.v1.UploadService."""


async def serve(settings: Settings) -> None:
    await serve_grpc(
        service="upload",
        settings=settings,
        registrations=[Registration(SERVICE_NAME, upload_pb2_grpc.add_UploadServiceServicer_to_server, UploadServicer())],
    )
