"""Apply every service's Alembic migrations, each in its own schema.

``python -m service_kit.migrate`` upgrades all five services; name some to upgrade only
those. Each service keeps its revisions in ``<service>_svc/migrations/`` and its version
table in its own schema, so services evolve their tables independently. A PostgreSQL
advisory lock makes concurrent runs (two workers starting at once) wait, not collide.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from service_kit.settings import SERVICE_NAMES, SettingsError, load_database_url

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_DIR = Path(__file__).resolve().parent / "alembic"
MIGRATION_LOCK_KEY = 0x6D656469  # "medi": one advisory lock for every migration run


def versions_dir(service: str) -> Path:
    return REPO_ROOT / f"{service}_svc" / "migrations"


def alembic_config(service: str, database_url: str) -> Config:
    """An in-memory Alembic config for one service (no alembic.ini to keep in sync)."""
    config = Config()
    config.set_main_option("script_location", str(ENV_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(versions_dir(service)))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["service"] = service
    return config


def upgrade(services: list[str], database_url: str) -> None:
    """Create each schema if needed and upgrade it to head, one service after another."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        try:
            for service in services:
                connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{service}"'))
                connection.commit()
                config = alembic_config(service, database_url)
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                connection.commit()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "services", nargs="*", metavar="SERVICE", help=f"any of {', '.join(SERVICE_NAMES)} (all by default)"
    )
    args = parser.parse_args(argv)
    services: list[str] = args.services or list(SERVICE_NAMES)
    unknown = sorted(set(services) - set(SERVICE_NAMES))
    if unknown:
        parser.error(f"unknown service {', '.join(unknown)}: choose from {', '.join(SERVICE_NAMES)}")
    try:
        database_url, notices = load_database_url()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    for notice in notices:
        print(notice, file=sys.stderr)
    upgrade(services, database_url)
    print(f"migrated: {', '.join(services)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
