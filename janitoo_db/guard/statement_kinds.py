"""What a statement a revision sends does, as repair needs to know it: which table, column or index it makes.

Read from the construct SQLAlchemy or Alembic compiled (``CreateTable``,
``AddColumn``, ``CreateIndex``...); SQL text is only told apart as a read,
transaction control or a session setting, and anything else is a change
repair cannot invert ("other").
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.ddl.base import AddColumn, AlterTable, DropColumn, RenameTable
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ddl
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import SelectBase

from janitoo_db.defaults import BOOKKEEPING_TABLES

#: Actions repair knows the inverse of.
CREATES = ("create_table", "add_column", "create_index")
#: Prefix of the action of a create that found its object already there: it changed nothing (or failed).
WAS_THERE = "there:"
#: The first words of statements that only read (and SQLite's PRAGMA without "=").
READS = ("select", "show", "describe", "desc", "explain")
#: Transaction control, which changes nothing by itself.
TRANSACTION = ("begin", "start", "commit", "rollback", "savepoint", "release")
#: What follows SET when the setting outlives the session.
LASTING_SETS = ("global", "persist", "persist_only", "password", "default", "role")
#: Characters of a statement kept, to be named in messages.
KEPT = 400


def classify(construct: Any, sql: str) -> tuple[str, str | None, str | None] | None:
    """(action, table, object) of a statement; None for one that only reads."""
    if isinstance(construct, SelectBase):
        return None
    if isinstance(construct, ddl.CreateTable) and construct.element.schema is None:
        return "create_table", construct.element.name, None
    if isinstance(construct, ddl.CreateIndex) and construct.element.table is not None \
            and construct.element.table.schema is None and construct.element.name:
        return "create_index", construct.element.table.name, str(construct.element.name)
    if isinstance(construct, AddColumn) and construct.schema is None:
        return "add_column", construct.table_name, construct.column.name
    if isinstance(construct, RenameTable):
        return "rename_table", None, None  # what the table was called no longer is: never covered
    if isinstance(construct, DropColumn):
        return "drop_column", construct.table_name, construct.column.name
    if isinstance(construct, AlterTable):
        return "alter_table", construct.table_name, None
    if isinstance(construct, (ddl.DropTable, ddl.DropIndex, ddl.AddConstraint, ddl.DropConstraint)):
        table = construct.element if isinstance(construct.element, sa.Table) else construct.element.table
        return type(construct).__name__.lower(), getattr(table, "name", None), None
    if isinstance(construct, UpdateBase):
        return "data", getattr(construct.table, "name", None), None
    words = sql.lstrip(" \t\r\n(").split(None, 2)
    first = words[0].lower() if words else ""
    if ";" in sql.rstrip().rstrip(";"):
        return "other", None, None
    lowered = " ".join(sql.lower().split())
    # SELECT ... INTO makes a table (PostgreSQL) or a file; EXPLAIN ANALYZE runs what it explains.
    writes = " into " in lowered or "analyze" in lowered
    if (first in READS and not writes) or first in TRANSACTION or (first == "pragma" and "=" not in sql):
        return None
    if first == "set" and len(words) > 1 and words[1].lower() not in LASTING_SETS:
        return None  # a setting of the session (SET FOREIGN_KEY_CHECKS = 0): gone with the connection
    return "other", None, None


def tidy(statement: str) -> str:
    """*statement* on one line, its first :data:`KEPT` characters."""
    return " ".join(statement[:KEPT * 4].split())[:KEPT]


def ours(construct: Any) -> bool:
    """True for a statement on janitoo_db's own bookkeeping tables."""
    element = getattr(construct, "element", None)
    table = getattr(construct, "table", None) if element is None else element
    name = getattr(table, "name", None) or getattr(construct, "table_name", None)
    return name in BOOKKEEPING_TABLES


def present(connection: Connection, action: str, table: str | None, name: str | None) -> bool | None:
    """Whether what a create statement makes is in the database; None for other statements."""
    if action not in CREATES or table is None:
        return None
    inspector = sa.inspect(connection)
    if not inspector.has_table(table):
        return False
    if action == "create_table":
        return True
    if action == "add_column":
        return name in {column["name"] for column in inspector.get_columns(table)}
    return name in {index["name"] for index in inspector.get_indexes(table)} | {
        constraint["name"] for constraint in inspector.get_unique_constraints(table)}
