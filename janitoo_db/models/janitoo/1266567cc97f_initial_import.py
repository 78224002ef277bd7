"""Initial import

Revision ID: 1266567cc97f
Revises: 3b5854d25914
Create Date: 2015-11-17 00:01:03.441237

The core tables as the original janitoo created them; setting values are
still pickled here and become JSON in revision 5d2f0a8c91e3.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1266567cc97f"
down_revision = "3b5854d25914"
branch_labels = None
depends_on = None

PERMISSIONS = (
    "admin", "power", "user", "guest", "banned", "mod_edituser", "mod_banuser",
    "editpost", "deletepost", "deletetopic", "posttopic", "postreply",
)


def upgrade() -> None:
    op.create_table(
        "core_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        *(sa.Column(name, sa.Boolean(), nullable=False) for name in PERMISSIONS),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "core_settings_group",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "core_settings",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("settinggroup_key", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("value_type", sa.String(length=20), nullable=False),
        sa.Column("extra", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["settinggroup_key"], ["core_settings_group.key"]),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "core_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("password", sa.String(length=120), nullable=False),
        sa.Column("date_joined", sa.DateTime(), nullable=True),
        sa.Column("lastseen", sa.DateTime(), nullable=True),
        sa.Column("birthday", sa.DateTime(), nullable=True),
        sa.Column("gender", sa.String(length=10), nullable=True),
        sa.Column("website", sa.String(length=200), nullable=True),
        sa.Column("location", sa.String(length=100), nullable=True),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("avatar", sa.String(length=200), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("theme", sa.String(length=15), nullable=True),
        sa.Column("language", sa.String(length=15), nullable=True),
        sa.Column("primary_group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["primary_group_id"], ["core_groups.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "core_groups_users",
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["group_id"], ["core_groups.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["core_users.id"], ondelete="CASCADE"),
    )


def downgrade() -> None:
    for table in ("core_groups_users", "core_users", "core_settings", "core_settings_group", "core_groups"):
        op.drop_table(table)
