"""transcode_svc's use cases: what each RPC decides, between the servicer and the store.

The servicer turns protos into calls of these and their results back into protos; the
use cases check who may, apply the domain's rules and drive the ports in order (the
store through a unit of work, the queue, live progress, the bucket), cleaning up when a
later step fails. They import no grpc, database driver, Redis or RQ, so the tests run
them against fakes of the ports (``tests/transcode/fakes.py``).

- :mod:`.ports`: the interfaces the use cases need
- :mod:`.jobs`: start a video's job, read, watch and cancel it, a video's latest job
"""

from transcode_svc.use_cases.jobs import NewTranscode, TranscodeJobs, VideoTranscode
from transcode_svc.use_cases.ports import QueueFailed, StoreFailed, UnitOfWork, UnitOfWorkFactory

__all__ = [
    "NewTranscode",
    "QueueFailed",
    "StoreFailed",
    "TranscodeJobs",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "VideoTranscode",
]
