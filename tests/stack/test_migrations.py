"""Each service's hand-written migrations build exactly the tables its models describe."""

from __future__ import annotations

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine

from tests.support.processes import Infra

SERVICES_WITH_TABLES = ("upload", "transcode", "playback", "lti", "attendance")
"""Every service keeps tables (playback_svc only viewing positions: its playlist cache lives in process)."""


@pytest.mark.parametrize("service", SERVICES_WITH_TABLES)
def test_the_migrated_schema_matches_the_models(infra: Infra, service: str) -> None:
    metadata = importlib.import_module(f"{service}_svc.store").metadata
    assert isinstance(metadata, MetaData)
    engine = create_engine(infra.settings.database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "include_schemas": True,
                    "include_name": lambda name, kind, _: kind != "schema" or name == service,
                },
            )
            differences = [d for d in compare_metadata(context, metadata) if "alembic_version" not in str(d)]
    finally:
        engine.dispose()
    assert differences == []
