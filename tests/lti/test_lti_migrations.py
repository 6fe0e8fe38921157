"""The hand-written migration builds exactly the tables the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from lti_svc.store import metadata
from tests.support.processes import Infra


def test_the_migrated_lti_schema_matches_the_models(infra: Infra) -> None:
    engine = create_engine(infra.settings.database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "include_schemas": True,
                    "include_name": lambda name, kind, _: kind != "schema" or name == "lti",
                },
            )
            differences = [d for d in compare_metadata(context, metadata) if "alembic_version" not in str(d)]
    finally:
        engine.dispose()
    assert differences == []
