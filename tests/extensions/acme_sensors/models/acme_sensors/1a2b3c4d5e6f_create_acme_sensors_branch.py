"""Create acme_sensors branch

Revision ID: 1a2b3c4d5e6f
Revises:
Create Date: 2026-11-25 12:00:00
"""
revision = "1a2b3c4d5e6f"
down_revision = None
branch_labels = ("acme_sensors",)
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
