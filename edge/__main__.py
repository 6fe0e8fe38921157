"""``python -m edge``: settings, JSON logs, then serve until SIGTERM/SIGINT.

aiohttp's runner stops accepting, lets in-flight requests finish for
SHUTDOWN_GRACE_SECONDS, then runs the cleanup contexts (channels, clients).

aiohttp has no separate header-read timeout: its ``keepalive_timeout`` is armed when a
connection opens and closes it whenever the edge is still waiting for a complete
request, so EDGE_IDLE_TIMEOUT_SECONDS bounds both a client that dribbles its headers
(slowloris) and an idle keep-alive connection. Requests being handled and open streams
are not affected. Header lines are capped by aiohttp's parser (8190 bytes, 128 headers:
400) and bodies by ``client_max_size`` (1 MiB: 413).

The event loop is uvloop's (libuv): the same asyncio API with a cheaper transport and
scheduler, measured in bench/playback.py. With EDGE_PROCESSES above 1 each process
binds the port with SO_REUSEPORT (the kernel spreads connections over them) and needs
PROMETHEUS_MULTIPROC_DIR, the directory their metrics add up in (edge/metrics.py);
supervisord starts the N processes (devstack/supervisord.py).
"""

from __future__ import annotations

import logging
import os

import uvloop
from aiohttp import web

from edge.app import create_app, default_backend_services, default_overrides
from edge.metrics import MULTIPROCESS_DIR_VARIABLE, multiprocess_dir
from service_kit.logging import configure_logging
from service_kit.process import log_setting_notices
from service_kit.settings import load_settings_or_exit
from service_kit.settings.rate_limits import load_rate_limit_settings
from web.assets import Assets, AssetsNotBuilt
from web.i18n import Catalogues
from web.render import Pages

log = logging.getLogger("edge")


def main() -> None:
    settings = load_settings_or_exit()
    configure_logging("edge", settings.log_level)
    log_setting_notices(settings)
    shared = multiprocess_dir()
    if settings.edge_processes > 1 and (shared is None or not os.path.isdir(shared)):
        raise SystemExit(
            f"edge: EDGE_PROCESSES={settings.edge_processes} needs {MULTIPROCESS_DIR_VARIABLE} set to an existing "
            "directory the edge processes share, so /metrics counts them all (make run sets it)"
        )
    try:
        pages = Pages(Catalogues.load(), Assets.load())
    except AssetsNotBuilt as exc:
        raise SystemExit(f"edge: {exc}") from None
    app = create_app(
        settings,
        default_backend_services(settings),
        overrides=default_overrides(),
        with_process_metrics=True,
        pages=pages,
        rate_limits=load_rate_limit_settings(),
    )
    log.info(
        "edge listening",
        extra={"host": settings.edge_host, "port": settings.edge_port, "processes": settings.edge_processes},
    )
    web.run_app(
        app,
        host=settings.edge_host,
        port=settings.edge_port,
        access_log=None,
        print=None,
        shutdown_timeout=settings.shutdown_grace_seconds,
        keepalive_timeout=settings.edge_idle_timeout_seconds,
        reuse_port=settings.edge_processes > 1,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
