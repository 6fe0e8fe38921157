"""The seed README's environment and quick start work as written: its DATABASE_URL, its Celery
variables, and ``alembic upgrade head`` from the repository root."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg

from devstack import free_port
from service_kit.settings import load_settings
from tests.support.processes import REPO_ROOT, Infra, spawn, wait_for_grpc_health
from tests.support.settings import MINIMAL_ENV

NO_DOTENV = Path("/nonexistent/.env")
SEED_DATABASE_URL = "postgresql+asyncpg://user:pass@localhost:5432/media_db"


def test_the_seeds_asyncpg_database_url_names_the_same_database_through_psycopg() -> None:
    settings = load_settings({**MINIMAL_ENV, "DATABASE_URL": SEED_DATABASE_URL}, dotenv_path=NO_DOTENV)
    assert settings.database_url == "postgresql+psycopg://user:pass@localhost:5432/media_db"
    assert any("asyncpg" in notice and "psycopg 3" in notice for notice in settings.notices)


def test_the_seeds_celery_variables_are_accepted_and_explained_once() -> None:
    env = {
        **MINIMAL_ENV,
        "CELERY_BROKER_URL": "redis://localhost:6379/1",
        "CELERY_RESULT_BACKEND": "redis://localhost:6379/2",
    }
    notices = load_settings(env, dotenv_path=NO_DOTENV).notices
    celery = [n for n in notices if "CELERY" in n]
    assert len(celery) == 1
    assert "CELERY_BROKER_URL and CELERY_RESULT_BACKEND are accepted" in celery[0]
    assert "RQ" in celery[0] and "REDIS_URL" in celery[0]


def test_without_seed_style_values_nothing_is_said() -> None:
    assert load_settings(MINIMAL_ENV, dotenv_path=NO_DOTENV).notices == ()


def test_a_service_started_with_the_seeds_values_logs_each_translation_and_serves(infra: Infra) -> None:
    port = free_port()
    asyncpg_url = infra.settings.database_url.replace("postgresql+psycopg://", "postgresql+asyncpg://")
    extra = {
        "DATABASE_URL": asyncpg_url,
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/1",
        "UPLOAD_SVC_PORT": str(port),
        "UPLOAD_SVC_METRICS_PORT": str(free_port()),
    }
    process = spawn(f"upload-seed-env-{port}", "upload_svc", infra, extra)
    try:
        wait_for_grpc_health(process, f"127.0.0.1:{port}", deadline=time.monotonic() + 60)
    finally:
        process.stop()
    log = process.log_text()
    assert log.count("DATABASE_URL names the postgresql+asyncpg driver") == 1
    assert log.count("CELERY_BROKER_URL is accepted but not used") == 1


def test_alembic_upgrade_head_from_the_repository_root_migrates_every_service(infra: Infra) -> None:
    database = f"media_alembic_{uuid.uuid4().hex[:8]}"
    admin_url = infra.settings.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        base, _, _ = infra.settings.database_url.rpartition("/")
        seed_style_url = base.replace("postgresql+psycopg://", "postgresql+asyncpg://") + f"/{database}"
        env = {**os.environ, "DATABASE_URL": seed_style_url, "MEDIA_DOTENV": str(NO_DOTENV)}
        alembic = Path(sys.executable).with_name("alembic")
        done = subprocess.run(
            [str(alembic), "upgrade", "head"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr + done.stdout
        with psycopg.connect(f"{base.replace('postgresql+psycopg://', 'postgresql://')}/{database}") as db:
            versions = {
                schema: db.execute(f'SELECT version_num FROM "{schema}".alembic_version').fetchone()
                for schema in ("upload", "transcode", "lti", "attendance")
            }
        assert all(versions.values()), versions

        refused = subprocess.run(
            [str(alembic), "downgrade", "-1"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert refused.returncode != 0
        assert "only `alembic upgrade head`" in refused.stderr
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
