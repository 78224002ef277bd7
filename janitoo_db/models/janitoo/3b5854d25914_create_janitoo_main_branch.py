"""Create janitoo main branch

Revision ID: 3b5854d25914
Revises:
Create Date: 2015-11-16 23:55:17.000000

The root of the core branch: it only carries the ``janitoo`` label, so every
extension can depend on the core by name.
"""
from __future__ import annotations

revision = "3b5854d25914"
down_revision = None
branch_labels = ("janitoo",)
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
