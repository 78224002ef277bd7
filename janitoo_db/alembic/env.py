"""Alembic environment shared by every janitoo branch (jnt_dbman and plain alembic)."""
from alembic import context

from janitoo_db.runtime.environment import run_environment

run_environment(context)
