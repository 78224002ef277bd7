"""Create janitoo_template branch

Revision ID: 8f41c2d7a9b0
Revises:
Create Date: 2026-11-25 12:30:00.000000

The root of janitoo_template's branch: it only carries the label.
"""
from __future__ import annotations

revision = "8f41c2d7a9b0"
down_revision = None
branch_labels = ("janitoo_template",)
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
