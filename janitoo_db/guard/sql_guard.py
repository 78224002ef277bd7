"""``--no-destructive`` at the connection: every statement a revision sends is judged before it is sent.

The dry run of :mod:`janitoo_db.guard.destructive` sees what a revision asks of
``op``, and what it sends through Alembic's executor; it cannot see SQL built
from what the database holds, nor what goes straight to the connection
(``op.get_bind().execute`` after a read, ``exec_driver_sql``).  So while an
``upgrade``/``initdb`` with ``--no-destructive`` runs, a
``before_cursor_execute`` listener on the migration's connection
(:func:`watching`) judges each statement a revision's ``upgrade()`` sends,
whatever path it took, and raises before the driver gets it when it can
destroy data.  A statement is judged:

* from what SQLAlchemy compiled it from, when that says it all: Alembic's
  and SQLAlchemy's own DDL constructs (``op.create_table``,
  ``op.add_column``, ``op.alter_column``, whose type change the dry run
  judged knowing both types; ``op.drop_table`` and ``op.drop_column`` are
  destructive), and Core's ``INSERT``, ``UPDATE``, ``SELECT`` and ``DELETE``;
* otherwise from its text, by :mod:`janitoo_db.guard.sql_text` (sqlglot, for the
  database's dialect): what it cannot read is refused as "not checked".

A destructive statement is let through only on a table a statement of the
same run created (``CREATE TABLE`` without ``IF NOT EXISTS``): such a table
held no data before the run, as :mod:`janitoo_db.guard.destructive` rules.  Any
other is refused: the run fails and rolls back where the database can, and
on MySQL/MariaDB the statement has not run.  Once one is refused every
later statement of the run is too, and the revision fails even if its code
caught the error.

Only revision code is judged: :func:`scoped` marks the time each revision's
``upgrade()``/``downgrade()`` runs (``migration.run_alembic`` wraps every
step with it), and janitoo_db's own bookkeeping inside that time (an
``autocommit_block()`` writing versions and marks) runs in
:func:`bookkeeping`.  ``alembic_version`` writes, lock queries and the
``janitoo_db_*`` tables are written outside revision code, and never judged.
"""
from __future__ import annotations

import functools
import re
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterable, Iterator

from sqlalchemy import event
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import ColumnClause, TextClause

from janitoo_db.guard import sql_text
from janitoo_db.guard.sql_text import (
    CREATE_TABLE,
    DESTRUCTIVE_KINDS,
    DROP_COLUMN,
    DROP_TABLE,
    NOT_CHECKED,
    RENAME_TABLE,
    SQL,
    Effect,
)

#: The revision step whose code runs now (None: janitoo_db's or Alembic's own statements).
_revision: ContextVar[Any] = ContextVar("janitoo_db_guarded_revision", default=None)
#: The watch of the --no-destructive run in progress, if any.
_watch: ContextVar[_Watch | None] = ContextVar("janitoo_db_sql_watch", default=None)

#: SQLAlchemy's and Alembic's DDL constructs that destroy no data (a type change is judged by the dry run).
_HARMLESS_DDL = frozenset({
    "CreateIndex", "DropIndex", "AddConstraint", "DropConstraint", "CreateSequence", "DropSequence",
    "CreateSchema", "SetTableComment", "DropTableComment", "SetColumnComment", "DropColumnComment",
    "SetConstraintComment", "DropConstraintComment", "CreateEnumType", "DropEnumType", "CreateDomainType",
    "DropDomainType", "AddColumn", "ColumnNullable", "ColumnType", "ColumnName", "ColumnDefault",
    "ComputedColumnDefault", "IdentityColumnDefault", "ColumnComment", "MySQLAlterDefault", "MySQLChangeColumn",
    "MySQLModifyColumn", "PostgresqlColumnType"})


class StatementRefused(Exception):
    """A revision sent a statement that can destroy data, which its dry run did not show; it was not sent.

    Not a :class:`janitoo_db.errors.JanitooDbError`: the migration turns it
    into one (a :class:`~janitoo_db.errors.RefusedError`), saying where the
    database was left.
    """

    advice = ("Read 'jnt_dbman upgrade --plan', back the database up, then upgrade with --allow-destructive")


def scoped(steps: Iterable[Any]) -> list[Any]:
    """*steps* (Alembic's revision steps), each marking the time its revision's code runs, for the watch."""
    steps = list(steps)
    for step in steps:
        run = step.migration_fn

        def in_revision(run: Any = run, step: Any = step, **kw: Any) -> Any:
            token = _revision.set(step)
            try:
                result = run(**kw)
            finally:
                _revision.reset(token)
            watch = _watch.get()
            if watch is not None and watch.refused is not None:  # the revision's code caught the refusal
                raise watch.refused
            return result

        in_revision.__name__ = run.__name__  # Alembic names a step after it
        step.migration_fn = in_revision
    return steps


@contextmanager
def bookkeeping() -> Iterator[Callable[[], Any]]:
    """janitoo_db's own statements, sent while a revision's code runs: not judged.

    Yields a function giving a context manager in which the revision's
    statements are judged again (the body of an ``autocommit_block()``).
    """
    step = _revision.get()
    token = _revision.set(None)
    try:
        yield lambda: _again(step)
    finally:
        _revision.reset(token)


@contextmanager
def _again(step: Any) -> Iterator[None]:
    token = _revision.set(step)
    try:
        yield
    finally:
        _revision.reset(token)


@contextmanager
def watching(connection: Connection) -> Iterator[None]:
    """Judge every statement revision code sends on *connection* until the block ends."""
    watch = _Watch()
    token = _watch.set(watch)
    event.listen(connection, "before_cursor_execute", watch.check)
    try:
        yield
    finally:
        event.remove(connection, "before_cursor_execute", watch.check)
        _watch.reset(token)


class _Watch:
    """The listener of one run: it knows which tables the run created."""

    def __init__(self) -> None:
        self.new_tables: set[tuple[str | None, str]] = set()
        self.refused: StatementRefused | None = None

    def check(self, connection: Connection, cursor: Any, statement: str, parameters: Any, context: Any,
              executemany: bool) -> None:
        step = _revision.get()
        if step is None:
            return
        if self.refused is not None:
            raise self.refused
        for effect in judged(statement, context, connection.dialect):
            schema, _, name = (effect.table or "").rpartition(".")
            table = (schema or None, name)
            if effect.kind == CREATE_TABLE:
                self.new_tables.add(table)
            elif effect.kind == RENAME_TABLE and effect.new_name and table in self.new_tables:
                self.new_tables.add((schema or None, effect.new_name))
            elif effect.kind in DESTRUCTIVE_KINDS:
                if name and table in self.new_tables:
                    if effect.kind == DROP_TABLE:
                        self.new_tables.discard(table)
                    continue
                self.refused = _refusal(step, effect, statement)
                raise self.refused


def judged(statement: str, context: Any, dialect: Dialect) -> list[Effect]:
    """What *statement* does: from the construct it was compiled from when that says it all, else its text."""
    compiled = getattr(context, "compiled", None)
    construct = getattr(compiled, "statement", None)
    if construct is not None:
        found = construct_effects(construct, compiled)
        if found is not None:
            return found
    return list(_read(statement, dialect.paramstyle, dialect.name))


@functools.lru_cache(maxsize=256)
def _read(statement: str, paramstyle: str, dialect: str) -> tuple[Effect, ...]:
    """SQL text read once: the owner ledger's check and ``--no-destructive``'s both judge each statement sent."""
    return tuple(sql_text.classify(without_placeholders(statement, paramstyle), dialect))


def construct_effects(construct: Any, compiled: Any) -> list[Effect] | None:
    """What a construct of SQLAlchemy's or Alembic's does, *compiled* as it is sent; None: read its SQL text.

    Reading the construct is exact and costs nothing; its text is read for
    SQL written as text, for constructs of anyone else, and for DML with a
    ``WITH`` (which may hold a ``DELETE``).
    """
    cls = type(construct)
    if not cls.__module__.startswith(("sqlalchemy.", "alembic.")):
        return None
    name = cls.__name__
    if name in _HARMLESS_DDL:
        return []
    if name in ("CreateTable", "DropTable"):
        table = _table_name(construct.element)
        if name == "DropTable":
            return [Effect(DROP_TABLE, table, None, f"drops table {table}")]
        return [] if getattr(construct, "if_not_exists", False) else [Effect(CREATE_TABLE, table, None, "")]
    if name == "DropColumn":  # alembic.ddl.base
        table = _table_name(construct)
        return [Effect(DROP_COLUMN, table, construct.column.name, f"drops column {table}.{construct.column.name}")]
    if name == "RenameTable":  # alembic.ddl.base
        return [Effect(RENAME_TABLE, _table_name(construct), None, "", construct.new_table_name)]
    if name not in ("Select", "CompoundSelect", "Insert", "Update", "Delete"):
        return None
    if compiled is None or getattr(compiled, "ctes", None) or _fragments_end_statements(construct):
        return None
    if name != "Delete":
        return []
    table = _table_name(construct.table)
    return [Effect(SQL, table, None, f"deletes rows of table {table} (DELETE)")]


def _fragments_end_statements(construct: Any) -> bool:
    """Whether SQL written as text inside a Core statement (``text()``, ``literal_column()``) holds a ``;``.

    Only then can it start another statement; without one it is part of an
    expression, and a data-modifying ``WITH`` must be at the top.
    """
    for element in visitors.iterate(construct):
        if isinstance(element, TextClause):
            fragment = element.text
        elif isinstance(element, ColumnClause) and element.is_literal:
            fragment = element.name
        else:
            continue
        if ";" in fragment:
            return True
    return False


def _table_name(element: Any) -> str:
    """``schema.name`` of a Table, or of an Alembic ALTER TABLE construct."""
    name = getattr(element, "table_name", None) or getattr(element, "name", "?")
    return f"{element.schema}.{name}" if getattr(element, "schema", None) else str(name)


def _refusal(step: Any, effect: Effect, statement: str) -> StatementRefused:
    revision = step.revision
    branch = ", ".join(sorted(revision.branch_labels)) or "no branch"
    text = " ".join(statement.split())
    shown = "" if effect.kind == NOT_CHECKED else f": {text[:120]}{'...' if len(text) > 120 else ''}"
    return StatementRefused(
        f"refusing revision {revision.revision} ({branch}) (--no-destructive, $JANITOO_DB_NO_DESTRUCTIVE): "
        f"it sends SQL that {effect.words}{' (not checked)' if effect.kind == NOT_CHECKED else ''}, which its "
        f"dry run did not show; the statement was not sent{shown}")


_DRIVER_PLACEHOLDERS = re.compile(r"%%|%\(\w+\)s|%s")


def compiled_for(sqltext: Any, dialect: Dialect) -> Any:
    """A construct a revision executes, compiled for *dialect* (values inline where they can be); None if it cannot."""
    for options in ({"compile_kwargs": {"literal_binds": True}}, {}):
        try:
            return sqltext.compile(dialect=dialect, **options)
        except Exception:  # noqa: BLE001, S112 - a value without a literal form, a construct of another dialect
            continue
    return None


def without_placeholders(sql: str, paramstyle: str | None) -> str:
    """*sql* as a driver of *paramstyle* gets it, with NULL for each placeholder, which the parser reads anywhere.

    psycopg and PyMySQL take ``%s`` and ``%(name)s`` (and ``%%`` for ``%``);
    sqlglot's MySQL dialect reads ``%s`` as the modulo operator.
    """
    if paramstyle not in ("format", "pyformat"):
        return sql
    return _DRIVER_PLACEHOLDERS.sub(lambda match: "%" if match.group() == "%%" else "NULL", sql)
