"""Viewing positions (resume where the viewer left off), in schema ``playback``.

Revision ID: 0001_viewing_positions
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_viewing_positions"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

SCHEMA = "playback"


def upgrade() -> None:
    op.create_table(
        "viewing_positions",
        sa.Column("organization_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("video_id", sa.Text(), nullable=False),
        sa.Column("position_seconds", sa.Float(), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "user_id", "video_id", name=op.f("pk_viewing_positions")),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("viewing_positions", schema=SCHEMA)
