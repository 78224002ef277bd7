"""Initial import

Revision ID: c3e9b5a1d274
Revises: 8f41c2d7a9b0
Create Date: 2026-11-25 12:31:00.000000

"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c3e9b5a1d274"
down_revision = "8f41c2d7a9b0"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "template_rooms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("floor", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_template_rooms")),
        sa.UniqueConstraint("name", name=op.f("uq_template_rooms_name")),
    )
    op.create_table(
        "template_sensors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=True),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["room_id"], ["template_rooms.id"], ondelete="CASCADE",
                                name=op.f("fk_template_sensors_room_id_template_rooms")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_template_sensors")),
    )


def downgrade() -> None:
    op.drop_table("template_sensors")
    op.drop_table("template_rooms")
