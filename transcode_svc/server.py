"""The TranscodeService servicer and the process's `serve`.

Each RPC maps proto to domain and back; rules live in the domain module, tables in the
store module. RPCs not yet built answer UNIMPLEMENTED (HTTP 501) through grpc's own base
class, so clients see the whole contract from the first day.
"""

from __future__ import annotations

from media.transcode.v1 import transcode_pb2, transcode_pb2_grpc
from service_kit.grpc_server import Registration
from service_kit.grpc_server import serve as serve_grpc
from service_kit.settings import Settings

SERVICE_NAME = transcode_pb2.DESCRIPTOR.services_by_name["TranscodeService"].full_name


class TranscodeServicer(transcode_pb2_grpc.TranscodeServiceServicer):
    """Serves media.transcode.v1.TranscodeService."""


async def serve(settings: Settings) -> None:
    # RPCs not built yet are abstract in the typed stubs and answer UNIMPLEMENTED at run time.
    servicer = TranscodeServicer()  # type: ignore[abstract]
    await serve_grpc(
        service="transcode",
        settings=settings,
        registrations=[Registration(SERVICE_NAME, transcode_pb2_grpc.add_TranscodeServiceServicer_to_server, servicer)],
    )
