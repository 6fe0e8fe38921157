"""The chunks of chunked transcode jobs: where each stands, who holds it, what it published.

Revision ID: 0003_chunks
Revises: 0002_job_course
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_chunks"
down_revision: str | None = "0002_job_course"
branch_labels: str | None = None
depends_on: str | None = None

SCHEMA = "transcode"
STATES = "'pending', 'running', 'done', 'failed'"


def upgrade() -> None:
    op.create_table(
        "chunks",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("start_seconds", sa.Float(), nullable=False),
        sa.Column("end_seconds", sa.Float(), nullable=False),
        sa.Column("first_segment", sa.Integer(), nullable=False),
        sa.Column("opening", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("state", sa.Text(), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("claim", sa.Uuid(), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("worker", sa.Text(), nullable=False, server_default=""),
        sa.Column("encoded_seconds", sa.Float(), nullable=False, server_default="0"),
        sa.Column("encode_seconds", sa.Float(), nullable=False, server_default="0"),
        sa.Column("segments", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("error_reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "chunk_index", name="pk_chunks"),
        sa.ForeignKeyConstraint(["job_id"], [f"{SCHEMA}.jobs.id"], name="fk_chunks_job_id_jobs", ondelete="CASCADE"),
        sa.CheckConstraint(f"state IN ({STATES})", name="ck_chunks_state"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("chunks", schema=SCHEMA)
