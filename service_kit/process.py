"""The entry point every service's ``__main__`` hands its ``serve`` coroutine to.

Settings first (fail fast with one line), then JSON logging, then the event loop; so
no service repeats this and every process starts the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from service_kit.logging import configure_logging
from service_kit.settings import Settings, load_settings_or_exit


def run_service(process_name: str, serve: Callable[[Settings], Coroutine[Any, Any, None]]) -> None:
    settings = load_settings_or_exit()
    configure_logging(process_name, settings.log_level)
    asyncio.run(serve(settings))
