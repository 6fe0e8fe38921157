"""``python -m upload_svc.worker``: the RQ worker of the upload queue, with RQ's scheduler.

It runs the periodic clean-up of abandoned uploads (upload_svc.jobs) and, every 30 s, the
hand-off of videos completed while transcode_svc was away. On start it puts the next of
each in the scheduled registry; each run schedules the one after it. Run one or several:
the slots' deterministic job ids keep each run single.

Each worker serves /metrics on UPLOAD_WORKER_METRICS_PORT (0: any free port, logged as
``metrics_port``); what the sweeps count in the work horses reaches it through Redis
(:mod:`service_kit.job_metrics`).
"""

from __future__ import annotations

import logging

from redis import Redis
from rq import Queue, Worker

from service_kit.job_metrics import start_worker_metrics
from service_kit.logging import configure_logging
from service_kit.process import log_setting_notices
from service_kit.settings import load_settings_or_exit
from upload_svc.jobs import HAND_OFF_INTERVAL_SECONDS, UPLOAD_QUEUE, schedule_next_hand_off, schedule_next_sweep
from upload_svc.metrics import WORKER_METRICS

log = logging.getLogger(__name__)


class UploadWorker(Worker):
    """RQ's worker that puts the periodic chains back whenever it does maintenance.

    Each run schedules its successor, so the chains live only in Redis: a Redis that
    restarts without its data (the default here: no RDB, no AOF) drops them, and no sweep
    or hand-off would run again until the worker restarted (``make resilience`` found
    that). Scheduling is idempotent per slot, so doing it every maintenance round
    (HAND_OFF_INTERVAL_SECONDS) costs two writes and restores a lost chain within a round.
    """

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()  # type: ignore[no-untyped-call]  # rq is untyped here
        for queue in self.queues:
            schedule_next_sweep(queue)
            schedule_next_hand_off(queue)


def main() -> None:
    settings = load_settings_or_exit()
    configure_logging("upload_worker", settings.log_level)
    log_setting_notices(settings)
    connection = Redis.from_url(settings.redis_url)
    queue = Queue(UPLOAD_QUEUE, connection=connection)
    worker = UploadWorker(
        [queue],
        connection=connection,
        maintenance_interval=HAND_OFF_INTERVAL_SECONDS,
        # An idle worker wakes from its blocking dequeue (worker_ttl - 15 s) to do maintenance.
        worker_ttl=HAND_OFF_INTERVAL_SECONDS + 15,
    )
    store, metrics_port = start_worker_metrics(settings, "upload", worker.name, WORKER_METRICS)
    job_id = schedule_next_sweep(queue)
    schedule_next_hand_off(queue)
    log.info(
        "worker starting",
        extra={"queues": [UPLOAD_QUEUE], "worker": worker.name, "next_sweep": job_id, "metrics_port": metrics_port},
    )
    try:
        worker.work(with_scheduler=True, logging_level=settings.log_level.upper())
    finally:
        store.delete()


if __name__ == "__main__":
    main()
