"""The entry point every service's ``__main__`` hands its ``serve`` coroutine to.

Settings first (fail fast with one line), then JSON logging, then the event loop; so
no service repeats this and every process starts the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from service_kit.logging import configure_logging
from service_kit.settings import Settings, load_settings_or_exit

log = logging.getLogger(__name__)


def log_setting_notices(settings: Settings) -> None:
    """Say once, at start, how seed-style settings were read (a driver replaced, Celery unused)."""
    for notice in settings.notices:
        log.info(notice)


def run_service(process_name: str, serve: Callable[[Settings], Coroutine[Any, Any, None]]) -> None:
    settings = load_settings_or_exit()
    configure_logging(process_name, settings.log_level)
    log_setting_notices(settings)
    asyncio.run(serve(settings))
