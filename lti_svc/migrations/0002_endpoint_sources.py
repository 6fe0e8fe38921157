"""Where each registration's platform URLs came from: given, discovered, or a known LMS's values.

Revision ID: 0002_endpoint_sources
Revises: 0001_lti_registrations_and_keys
Create Date: 2026-11-30

Registrations made before this revision had every URL given by an administrator (or by
dynamic registration, which read them from the platform's configuration), so existing
rows are marked ``given``; an empty token URL has no source.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_endpoint_sources"
down_revision: str | None = "0001_lti_registrations_and_keys"
branch_labels: str | None = None
depends_on: str | None = None

SCHEMA = "lti"
SOURCE_COLUMNS = ("key_set_url_source", "auth_login_url_source", "auth_token_url_source")


def upgrade() -> None:
    for column in SOURCE_COLUMNS:
        op.add_column("registrations", sa.Column(column, sa.Text(), nullable=False, server_default=""), schema=SCHEMA)
    op.add_column(
        "registrations", sa.Column("endpoints_origin", sa.Text(), nullable=False, server_default=""), schema=SCHEMA
    )
    op.execute(
        f"UPDATE {SCHEMA}.registrations SET key_set_url_source = 'given', auth_login_url_source = 'given',"
        " auth_token_url_source = CASE WHEN auth_token_url = '' THEN '' ELSE 'given' END"
    )
    for column in (*SOURCE_COLUMNS, "endpoints_origin"):
        op.alter_column("registrations", column, server_default=None, schema=SCHEMA)


def downgrade() -> None:
    for column in (*SOURCE_COLUMNS, "endpoints_origin"):
        op.drop_column("registrations", column, schema=SCHEMA)
