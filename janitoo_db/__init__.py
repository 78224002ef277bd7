"""janitoo_db: one SQL database shared by janitoo and its extensions, each with its own Alembic branch.

The public names live in their modules: :class:`janitoo_db.base.Base`,
:func:`janitoo_db.base.create_db_engine`, :mod:`janitoo_db.models`,
:mod:`janitoo_db.commands` and :class:`janitoo_db.errors.JanitooDbError`.
This package imports nothing heavy, so ``jnt_dbman --help`` starts fast.
"""
__version__ = "1.0.0"
