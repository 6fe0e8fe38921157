"""The PlaybackService servicer and the process's `serve`.

Each RPC maps proto to domain and back; rules live in the domain module, tables in the
store module. RPCs not yet built answer UNIMPLEMENTED (HTTP 501) through grpc's own base
class, so clients see the whole contract from the first day.
"""

from __future__ import annotations

from media.playback.v1 import playback_pb2, playback_pb2_grpc
from service_kit.grpc_server import Registration
from service_kit.grpc_server import serve as serve_grpc
from service_kit.settings import Settings

SERVICE_NAME = playback_pb2.DESCRIPTOR.services_by_name["PlaybackService"].full_name


class PlaybackServicer(playback_pb2_grpc.PlaybackServiceServicer):
    """Serves media.playback.v1.PlaybackService."""


async def serve(settings: Settings) -> None:
    # RPCs not built yet are abstract in the typed stubs and answer UNIMPLEMENTED at run time.
    servicer = PlaybackServicer()  # type: ignore[abstract]
    await serve_grpc(
        service="playback",
        settings=settings,
        registrations=[Registration(SERVICE_NAME, playback_pb2_grpc.add_PlaybackServiceServicer_to_server, servicer)],
    )
