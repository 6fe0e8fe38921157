"""Platform registrations, deployments, tool keys, course links and line items, in schema ``lti``.

Revision ID: 0001_lti_registrations_and_keys
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_lti_registrations_and_keys"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

SCHEMA = "lti"


def upgrade() -> None:
    op.create_table(
        "registrations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Text(), nullable=False),
        sa.Column("issuer", sa.Text(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("key_set_url", sa.Text(), nullable=False),
        sa.Column("auth_login_url", sa.Text(), nullable=False),
        sa.Column("auth_token_url", sa.Text(), nullable=False),
        sa.Column("zoom_account_id", sa.Text(), nullable=False),
        sa.Column("zoom_client_id_sealed", sa.Text(), nullable=True),
        sa.Column("zoom_client_secret_sealed", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registrations")),
        sa.UniqueConstraint("issuer", "client_id", name="uq_registrations_issuer_client_id"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_registrations_org_listing", "registrations", ["organization_id", "created_at", "id"], schema=SCHEMA
    )
    op.create_table(
        "deployments",
        sa.Column("registration_id", sa.Uuid(), nullable=False),
        sa.Column("deployment_id", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            [f"{SCHEMA}.registrations.id"],
            name=op.f("fk_deployments_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("registration_id", "deployment_id", name=op.f("pk_deployments")),
        schema=SCHEMA,
    )
    op.create_table(
        "tool_keys",
        sa.Column("kid", sa.Text(), nullable=False),
        sa.Column("public_jwk", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("private_key_sealed", sa.Text(), nullable=False),
        sa.Column("activates_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_tool_keys")),
        schema=SCHEMA,
    )
    op.create_table(
        "course_links",
        sa.Column("organization_id", sa.Text(), nullable=False),
        sa.Column("course_id", sa.Text(), nullable=False),
        sa.Column("registration_id", sa.Uuid(), nullable=False),
        sa.Column("deployment_id", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("nrps_url", sa.Text(), nullable=False),
        sa.Column("ags_lineitems_url", sa.Text(), nullable=False),
        sa.Column("ags_scopes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            [f"{SCHEMA}.registrations.id"],
            name=op.f("fk_course_links_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", "course_id", name=op.f("pk_course_links")),
        schema=SCHEMA,
    )
    op.create_table(
        "line_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Text(), nullable=False),
        sa.Column("course_id", sa.Text(), nullable=False),
        sa.Column("live_session_id", sa.Text(), nullable=False),
        sa.Column("registration_id", sa.Uuid(), nullable=False),
        sa.Column("platform_url", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("score_maximum", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            [f"{SCHEMA}.registrations.id"],
            name=op.f("fk_line_items_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_items")),
        sa.UniqueConstraint("organization_id", "course_id", "live_session_id", name="uq_line_items_session"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("line_items", schema=SCHEMA)
    op.drop_table("course_links", schema=SCHEMA)
    op.drop_table("tool_keys", schema=SCHEMA)
    op.drop_table("deployments", schema=SCHEMA)
    op.drop_index("ix_registrations_org_listing", table_name="registrations", schema=SCHEMA)
    op.drop_table("registrations", schema=SCHEMA)
