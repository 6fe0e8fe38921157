"""Each transcode job records its video's course, so only that course's staff read and cancel it.

Revision ID: 0002_job_course
Revises: 0001_transcode_jobs
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_job_course"
down_revision: str | None = "0001_transcode_jobs"
branch_labels: str | None = None
depends_on: str | None = None

SCHEMA = "transcode"


def upgrade() -> None:
    op.add_column("jobs", sa.Column("course_id", sa.Text(), nullable=False, server_default=""), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("jobs", "course_id", schema=SCHEMA)
