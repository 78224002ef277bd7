"""Readings

Revision ID: 2b3c4d5e6f70
Revises: 1a2b3c4d5e6f
Create Date: 2026-11-25 12:01:00

Needs core_users, so it depends on the core revision that creates it.
"""
import sqlalchemy as sa
from alembic import op

revision = "2b3c4d5e6f70"
down_revision = "1a2b3c4d5e6f"
branch_labels = None
depends_on = "1266567cc97f"


def upgrade() -> None:
    op.create_table(
        "acme_readings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["core_users.id"], name=op.f("fk_acme_readings_owner_id_core_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acme_readings")),
    )


def downgrade() -> None:
    op.drop_table("acme_readings")
