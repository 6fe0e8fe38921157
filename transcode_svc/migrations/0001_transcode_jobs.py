"""Transcode jobs, their progress and their renditions, in schema ``transcode``.

Revision ID: 0001_transcode_jobs
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_transcode_jobs"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

SCHEMA = "transcode"
STATUSES = "'queued', 'running', 'succeeded', 'failed', 'cancelled'"


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("video_id", sa.Text(), nullable=False),
        sa.Column("organization_id", sa.Text(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column("probe", postgresql.JSONB(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("progress_percent", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("eta_seconds", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("playable", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("error_reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("renditions", postgresql.JSONB(), nullable=False, server_default="[]"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
        sa.CheckConstraint(f"status IN ({STATUSES})", name="ck_jobs_status"),
        sa.CheckConstraint("progress_percent BETWEEN 0 AND 100", name="ck_jobs_progress"),
        schema=SCHEMA,
    )
    op.create_index("ix_jobs_video_created", "jobs", ["video_id", "created_at"], schema=SCHEMA)
    op.create_index(
        "uq_jobs_active_video",
        "jobs",
        ["video_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )


def downgrade() -> None:
    op.drop_table("jobs", schema=SCHEMA)
