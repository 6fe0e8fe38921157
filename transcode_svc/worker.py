"""`python -m transcode_svc.worker`: an RQ worker for the transcode queue.

Workers are separate processes so FFmpeg never shares a process with a gRPC server; run
as many as the machines allow, on any machine that reaches Redis, PostgreSQL and the
object store. The scheduler runs inside the worker so retries with backoff fire.
"""

from __future__ import annotations

import logging

from redis import Redis
from rq import Queue, Worker

from service_kit.logging import configure_logging
from service_kit.settings import load_settings_or_exit

TRANSCODE_QUEUE = "transcode"

log = logging.getLogger(__name__)


def main() -> None:
    settings = load_settings_or_exit()
    configure_logging("transcode_worker", settings.log_level)
    connection = Redis.from_url(settings.redis_url)
    worker = Worker([Queue(TRANSCODE_QUEUE, connection=connection)], connection=connection)
    log.info("worker starting", extra={"queues": [TRANSCODE_QUEUE], "worker": worker.name})
    worker.work(with_scheduler=True, logging_level=settings.log_level.upper())


if __name__ == "__main__":
    main()
