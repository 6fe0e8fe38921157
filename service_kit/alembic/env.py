"""Alembic environment shared by every service; the service comes from the config.

Migrations run synchronously over psycopg 3 (``postgresql+psycopg``): they run once at
deploy time, outside any event loop.
"""

from __future__ import annotations

import importlib

from alembic import context
from sqlalchemy import MetaData

config = context.config
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
