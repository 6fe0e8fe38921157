"""``python -m upload_svc.worker``: the RQ worker of the upload queue, with RQ's scheduler.

It runs the periodic clean-up of abandoned uploads (upload_svc.jobs). On start it puts
the next sweep in the scheduled registry; each sweep schedules the one after it. Run one
or several: the slots' deterministic job ids keep each sweep single.
"""

from __future__ import annotations

import logging

from redis import Redis
from rq import Queue, Worker

from service_kit.logging import configure_logging
from service_kit.process import log_setting_notices
from service_kit.settings import load_settings_or_exit
from upload_svc.jobs import UPLOAD_QUEUE, schedule_next_sweep

log = logging.getLogger(__name__)


def main() -> None:
    settings = load_settings_or_exit()
    configure_logging("upload_worker", settings.log_level)
    log_setting_notices(settings)
    connection = Redis.from_url(settings.redis_url)
    queue = Queue(UPLOAD_QUEUE, connection=connection)
    job_id = schedule_next_sweep(queue)
    worker = Worker([queue], connection=connection)
    log.info("worker starting", extra={"queues": [UPLOAD_QUEUE], "worker": worker.name, "next_sweep": job_id})
    worker.work(with_scheduler=True, logging_level=settings.log_level.upper())


if __name__ == "__main__":
    main()
