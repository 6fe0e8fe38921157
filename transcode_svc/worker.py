"""`python -m transcode_svc.worker`: an RQ worker for the transcode queue.

Workers are separate processes so FFmpeg never shares a process with a gRPC server; run
as many as the machines allow, on any machine that reaches Redis, PostgreSQL and the
object store. The scheduler runs inside the worker so retries with backoff fire.

A worker killed with SIGKILL (or a machine that dies) leaves its job in RQ's started
registry; RQ 3 treats an entry whose heartbeat lapsed as abandoned and retries it
(or fails it when no retry is left) the next time any worker cleans the registries.
Stock RQ lets a heartbeat lapse only after 60 s plus the monitoring interval and
cleans every 10 minutes; :class:`TranscodeWorker` makes both settings
(TRANSCODE_HEARTBEAT_SECONDS: abandoned after three silent beats;
TRANSCODE_MAINTENANCE_SECONDS), so a dead worker's job moves on in seconds.

RQ runs every job in a work horse forked from the worker, so what the worker has
loaded before the fork costs a horse nothing: :func:`preload` imports the job's
module and loads botocore's S3 service model once, which each horse otherwise did
itself before FFmpeg could start (0.25 s of its 0.4 to 0.6 s, measured by
bench/transcode_job.py, on time to playable).

Each worker serves /metrics on TRANSCODE_WORKER_METRICS_PORT (0: any free port, logged
as ``metrics_port``); what its work horses count reaches it through Redis
(:mod:`service_kit.job_metrics`).
"""

from __future__ import annotations

import logging
from typing import Any

from redis import Redis
from rq import Queue, Worker

from service_kit.job_metrics import start_worker_metrics
from service_kit.logging import configure_logging
from service_kit.process import log_setting_notices
from service_kit.settings import Settings, load_settings_or_exit
from transcode_svc import adapters
from transcode_svc import jobs as _jobs  # noqa: F401 (imported before RQ forks: see preload)
from transcode_svc.adapters import TRANSCODE_QUEUE
from transcode_svc.job_support import MISSED_BEATS
from transcode_svc.metrics import WORKER_METRICS

log = logging.getLogger(__name__)


class TranscodeQueue(Queue):
    """RQ's queue whose registry-cleaning lock lapses after one maintenance interval.

    Stock RQ holds ``rq:clean_registries:<queue>`` for 899 s and frees it in a ``finally``;
    a worker killed with SIGKILL while it cleans never reaches that ``finally``, and no
    other worker would then recover an abandoned job for a quarter of an hour. Cleaning
    takes milliseconds, so a lock as long as one interval (TRANSCODE_MAINTENANCE_SECONDS)
    is ample, and a dead cleaner delays recovery by one interval at most. A longer lock
    found in Redis (a stock RQ worker's, or one from before an upgrade) is cut to one
    interval too. (TTL then EXPIRE rather than EXPIRE ... LT, which needs Redis 7.)
    """

    maintenance_lock_seconds = 29
    """Set from the settings by :func:`main`; one worker per process, so a class attribute suffices."""

    def acquire_maintenance_lock(self) -> bool:
        """Take the lock for one interval; a longer lock (stock RQ's, left by a dead worker) is cut to one."""
        key, seconds = self.registry_cleaning_key, self.maintenance_lock_seconds
        if self.connection.set(key, 1, nx=True, ex=seconds):
            return True
        remaining = self.connection.ttl(key)
        if isinstance(remaining, int) and remaining > seconds:
            self.connection.expire(key, seconds)
        return False


class TranscodeWorker(Worker):
    """RQ's forking worker with a heartbeat lease measured in beats, not a fixed minute."""

    def get_heartbeat_ttl(self, job: Any, working_time: float = 0.0) -> int:
        return int(self.job_monitoring_interval * MISSED_BEATS)


def preload(settings: Settings) -> None:
    """Load before forking what every work horse needs first (see the module's docstring).

    The job's module is imported with this one (RQ would import it in each horse),
    SQLAlchemy's ORM models with it; this makes an S3 client: boto3's default session
    keeps the parsed service model, so the client each horse makes from it is ready in
    milliseconds. No connection is opened here: the client is dropped unused, and a
    horse's connections are its own.
    """
    adapters.OutputStore(settings)


def main() -> None:
    settings = load_settings_or_exit()
    configure_logging("transcode_worker", settings.log_level)
    log_setting_notices(settings)
    preload(settings)
    connection = Redis.from_url(settings.redis_url)
    beat = settings.transcode.heartbeat_seconds
    maintenance = settings.transcode.maintenance_seconds
    TranscodeQueue.maintenance_lock_seconds = max(int(maintenance) - 1, 1)
    worker = TranscodeWorker(
        [TranscodeQueue(TRANSCODE_QUEUE, connection=connection)],
        connection=connection,
        job_monitoring_interval=beat,
        maintenance_interval=maintenance,
        # An idle worker wakes from its blocking dequeue (worker_ttl - 15 s) to clean registries.
        worker_ttl=maintenance + 15,
    )
    store, metrics_port = start_worker_metrics(settings, "transcode", worker.name, WORKER_METRICS)
    log.info(
        "worker starting", extra={"queues": [TRANSCODE_QUEUE], "worker": worker.name, "metrics_port": metrics_port}
    )
    try:
        worker.work(with_scheduler=True, logging_level=settings.log_level.upper())
    finally:
        store.delete()


if __name__ == "__main__":
    main()
