"""The video catalog and its uploads, in schema ``upload``.

Revision ID: 0001_videos_and_uploads
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_videos_and_uploads"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

SCHEMA = "upload"
STATUSES = "'pending_upload', 'uploaded', 'queued', 'transcoding', 'ready', 'failed', 'cancelled'"


def upgrade() -> None:
    op.create_table(
        "videos",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Text(), nullable=False),
        sa.Column("course_id", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("rotation", sa.Integer(), nullable=True),
        sa.Column("frame_rate", sa.Float(), nullable=True),
        sa.Column("video_codec", sa.Text(), nullable=True),
        sa.Column("audio_codec", sa.Text(), nullable=True),
        sa.Column("has_audio", sa.Boolean(), nullable=True),
        sa.Column("error_reason", sa.Text(), nullable=True),
        sa.Column("transcode_job_id", sa.Text(), nullable=True),
        sa.Column("transcode_progress", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_videos_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_videos")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_videos_course_listing",
        "videos",
        ["organization_id", "course_id", "created_at", "id"],
        schema=SCHEMA,
    )
    op.create_index("ix_videos_status_created", "videos", ["status", "created_at"], schema=SCHEMA)
    op.create_table(
        "uploads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("video_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.Text(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("part_size", sa.BigInteger(), nullable=False),
        sa.Column("part_count", sa.Integer(), nullable=False),
        sa.Column("s3_upload_id", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("method IN ('post', 'multipart')", name=op.f("ck_uploads_method")),
        sa.ForeignKeyConstraint(
            ["video_id"],
            [f"{SCHEMA}.videos.id"],
            name=op.f("fk_uploads_video_id_videos"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uploads")),
        sa.UniqueConstraint("video_id", name=op.f("uq_uploads_video_id")),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("uploads", schema=SCHEMA)
    op.drop_index("ix_videos_status_created", table_name="videos", schema=SCHEMA)
    op.drop_index("ix_videos_course_listing", table_name="videos", schema=SCHEMA)
    op.drop_table("videos", schema=SCHEMA)
