"""Alembic environment shared by every service; the service comes from the config.

Migrations run synchronously over psycopg 3 (``postgresql+psycopg``): they run once at
deploy time, outside any event loop.

Run by the ``alembic`` command from the repository root (the seed's quick start says
``alembic upgrade head``), no service is named: that run applies every service's
migrations, each in its own schema with its own version table, through
``python -m service_kit.migrate`` in a child process (one Alembic environment cannot
run inside another). Only ``upgrade head`` means something for five version tables at
once; other commands are pointed at the per-service tool.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

from alembic import context
from sqlalchemy import MetaData

config = context.config


def run_every_service() -> None:
    """``alembic upgrade head`` from the root: every service to head, or one line saying what to run."""
    command = getattr(config.cmd_opts, "cmd", None)
    name = getattr(command[0], "__name__", "") if command else ""
    destination = getattr(config.cmd_opts, "revision", None)
    if name != "upgrade" or destination not in ("head", "heads") or context.is_offline_mode():
        raise SystemExit(
            "from the repository root only `alembic upgrade head` is offered (every service's schema to its"
            " latest revision); for one service's history use python -m service_kit.migrate SERVICE"
        )
    sys.exit(subprocess.run([sys.executable, "-m", "service_kit.migrate"], check=False).returncode)


if "service" not in config.attributes:
    run_every_service()
service: str = config.attributes["service"]


def target_metadata() -> MetaData | None:
    """The service's models, for ``alembic revision --autogenerate`` comparisons."""
    try:
        module = importlib.import_module(f"{service}_svc.store")
    except ModuleNotFoundError:
        return None
    metadata = getattr(module, "metadata", None)
    return metadata if isinstance(metadata, MetaData) else None


connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=target_metadata(),
    version_table_schema=service,
    include_schemas=False,
)
with context.begin_transaction():
    context.run_migrations()
