"""Picture facts from probing: pixel shape, field order, pixel format and colour.

The transcoder needs them to size rungs by the displayed picture (non-square pixels),
deinterlace interlaced sources and tone-map HDR ones. NULL for videos probed before.

Revision ID: 0002_picture_facts
Revises: 0001_videos_and_uploads
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_picture_facts"
down_revision: str | None = "0001_videos_and_uploads"
branch_labels: str | None = None
depends_on: str | None = None

SCHEMA = "upload"
COLUMNS = ("sample_aspect_ratio", "field_order", "pixel_format", "color_transfer", "color_primaries", "color_space")


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column("videos", sa.Column(name, sa.Text(), nullable=True), schema=SCHEMA)


def downgrade() -> None:
    for name in reversed(COLUMNS):
        op.drop_column("videos", name, schema=SCHEMA)
