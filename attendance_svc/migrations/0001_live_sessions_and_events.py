"""Live sessions, raw Zoom events, join links and reconciliation jobs, in schema ``attendance``.

Revision ID: 0001_live_sessions_and_events
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_live_sessions_and_events"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

SCHEMA = "attendance"


def upgrade() -> None:
    op.create_table(
        "live_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Text(), nullable=False),
        sa.Column("course_id", sa.Text(), nullable=False),
        sa.Column("lti_config_id", sa.Text(), nullable=False),
        sa.Column("session_name", sa.Text(), nullable=False),
        sa.Column("scheduled_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scheduled_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("zoom_host_id", sa.Text(), nullable=False),
        sa.Column("zoom_meeting_id", sa.Text(), nullable=False),
        sa.Column("zoom_meeting_uuid", sa.Text(), nullable=False),
        sa.Column("join_url", sa.Text(), nullable=False),
        sa.Column("start_url", sa.Text(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("min_attendance_share", sa.Float(), nullable=False),
        sa.Column("late_grace_minutes", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("scheduled_end > scheduled_start", name=op.f("ck_live_sessions_ends_after_start")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_sessions")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_live_sessions_course_listing",
        "live_sessions",
        ["organization_id", "course_id", "scheduled_start", "id"],
        schema=SCHEMA,
    )
    op.create_index("ix_live_sessions_meeting", "live_sessions", ["zoom_meeting_id"], schema=SCHEMA)
    op.create_table(
        "zoom_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("meeting_id", sa.Text(), nullable=False),
        sa.Column("meeting_uuid", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("connection_id", sa.Text(), nullable=False),
        sa.Column("zoom_user_id", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("registrant_id", sa.Text(), nullable=False),
        sa.Column("participant_name", sa.Text(), nullable=False),
        sa.Column("has_participant", sa.Boolean(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.CheckConstraint("source IN ('webhook', 'report')", name=op.f("ck_zoom_events_source")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zoom_events")),
        sa.UniqueConstraint("key", name=op.f("uq_zoom_events_key")),
        schema=SCHEMA,
    )
    op.create_index("ix_zoom_events_meeting_time", "zoom_events", ["meeting_id", "occurred_at"], schema=SCHEMA)
    op.create_table(
        "join_links",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("registrant_id", sa.Text(), nullable=False),
        sa.Column("join_url", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            [f"{SCHEMA}.live_sessions.id"],
            name=op.f("fk_join_links_session_id_live_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "user_id", name=op.f("pk_join_links")),
        schema=SCHEMA,
    )
    op.create_table(
        "reconcile_jobs",
        sa.Column("meeting_uuid", sa.Text(), nullable=False),
        sa.Column("meeting_id", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_page_token", sa.Text(), nullable=False, server_default=""),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("meeting_uuid", name=op.f("pk_reconcile_jobs")),
        schema=SCHEMA,
    )
    op.create_index("ix_reconcile_jobs_due", "reconcile_jobs", ["done_at", "due_at"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("reconcile_jobs", schema=SCHEMA)
    op.drop_table("join_links", schema=SCHEMA)
    op.drop_index("ix_zoom_events_meeting_time", table_name="zoom_events", schema=SCHEMA)
    op.drop_table("zoom_events", schema=SCHEMA)
    op.drop_index("ix_live_sessions_meeting", table_name="live_sessions", schema=SCHEMA)
    op.drop_index("ix_live_sessions_course_listing", table_name="live_sessions", schema=SCHEMA)
    op.drop_table("live_sessions", schema=SCHEMA)
