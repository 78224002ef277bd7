"""Judging what one dry-run revision asked for: each operation and statement, as destructive or not.

What cannot be told is marked "not checked": it counts as destructive (fail closed).
"""
from __future__ import annotations

import functools
import json
import os
from typing import Any, Callable, Iterable

from alembic.operations import MigrateOperation
from alembic.operations import ops as alembic_ops
from sqlalchemy import Computed, DefaultClause
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

from janitoo_db.errors import JanitooDbError
from janitoo_db.guard import narrowing, sql_guard, sql_text
from janitoo_db.guard.dry_run import Batch, DryRunFailed, Runner
from janitoo_db.guard.sql_text import DROP_COLUMN, DROP_TABLE, NARROW_TYPE, NOT_CHECKED
from janitoo_db.results import Destructive
from janitoo_db.text import first_line

REBUILD_TABLE = "rebuild table"


class _Judge:
    """Judges what the revisions of one run record, in order: it knows which tables the run creates."""

    def __init__(self, dialect: Dialect, *, sqlite_only_if: bool | None) -> None:
        self.dialect = dialect
        #: Whether SQLite's rebuilds count: True or False for one database, None for any (then they are named).
        self.sqlite = sqlite_only_if
        self.new_tables: set[tuple[str | None, str]] = set()

    def run(self, run: Runner, load: Callable[[], Callable[[], Any]],
            note: Callable[[], str] = lambda: "") -> tuple[Destructive, ...]:
        """Dry-run the function *load* gives (loading the revision file); what it recorded, judged.

        *note* gives what the revision's notes say this function does (:func:`plan_note`): when there
        is one, a dry run that stops says so instead of the error.
        """
        try:
            function = load()
        except (JanitooDbError, KeyboardInterrupt):
            raise
        except BaseException as error:  # noqa: BLE001 - a revision file that cannot load (SystemExit too) is not checked
            return (self._unchecked(f"cannot load the revision file: {_error(error)}"),)
        try:
            recorded = run(function)
        except DryRunFailed as failed:
            if note():
                return (*self.judge(failed.recorded), self._unchecked(
                    "it needs the database's rows, so a dry run (offline, as --sql runs it) cannot show what it "
                    "does: see its note"))
            return (*self.judge(failed.recorded), self._unchecked(
                f"its dry run (offline, as --sql runs it: it reads nothing from the database) stopped: "
                f"{_error(failed.error)}"))
        return tuple(self.judge(recorded))

    def judge(self, recorded: Iterable[MigrateOperation | Batch]) -> list[Destructive]:
        found: list[Destructive] = []
        for operation in recorded:
            if isinstance(operation, Batch):
                found.extend(self._batch(operation))
            else:
                found.extend(self._operation(operation, None, None))
        return found

    def _mark(self, kind: str, schema: str | None, table: str | None, column: str | None,
              description: str) -> Destructive:
        new = table is not None and (schema, table) in self.new_tables
        return Destructive(kind, table, column, description, new_table=new, schema=schema)

    def _unchecked(self, why: str) -> Destructive:
        return Destructive(NOT_CHECKED, None, None, f"not checked: {why}")

    def _operation(self, operation: MigrateOperation, table: str | None, schema: str | None) -> list[Destructive]:
        """One operation; *table* and *schema* are the batch block's, if it is in one."""
        table = getattr(operation, "table_name", None) or table
        schema = getattr(operation, "schema", None) or schema
        if isinstance(operation, alembic_ops.CreateTableOp):
            if not getattr(operation, "if_not_exists", None):
                self.new_tables.add((schema, operation.table_name))
        elif isinstance(operation, alembic_ops.RenameTableOp):
            if (schema, operation.table_name) in self.new_tables:
                self.new_tables.add((schema, operation.new_table_name))
        elif isinstance(operation, alembic_ops.DropTableOp):
            mark = self._mark(DROP_TABLE, schema, operation.table_name, None,
                              f"drops table {_name(schema, operation.table_name)}")
            self.new_tables.discard((schema, operation.table_name))
            return [mark]
        elif isinstance(operation, alembic_ops.DropColumnOp):
            return [self._mark(DROP_COLUMN, schema, table, operation.column_name,
                               f"drops column {_name(schema, table)}.{operation.column_name}")]
        elif isinstance(operation, alembic_ops.AlterColumnOp):
            return self._type_change(operation, table, schema)
        elif isinstance(operation, alembic_ops.ExecuteSQLOp):
            return self._sql(operation.sqltext)
        elif not type(operation).__module__.startswith("alembic."):
            return [self._mark(NOT_CHECKED, schema, table, None,
                               f"not checked: runs {type(operation).__name__}, an operation janitoo_db cannot judge")]
        return []

    def _type_change(self, operation: alembic_ops.AlterColumnOp, table: str | None,
                     schema: str | None) -> list[Destructive]:
        new = operation.modify_type
        if new is None:
            return []
        column = f"{_name(schema, table)}.{operation.column_name}"
        rendered = narrowing.render(new, self.dialect)
        old = operation.existing_type
        if old is None:
            return [self._mark(NARROW_TYPE, schema, table, operation.column_name,
                               f"changes the type of column {column} to {rendered} without existing_type: "
                               "cannot tell whether it narrows")]
        verdict = narrowing.compare(old, new, self.dialect)
        if verdict == narrowing.FITS:
            return []
        before = narrowing.render(old, self.dialect)
        description = (f"narrows column {column} from {before} to {rendered}" if verdict == narrowing.NARROWS else
                       f"changes column {column} from {before} to {rendered}, which may not hold every value")
        return [self._mark(NARROW_TYPE, schema, table, operation.column_name, description)]

    def _batch(self, batch: Batch) -> list[Destructive]:
        found = [mark for operation in batch.operations
                 for mark in self._operation(operation, batch.table_name, batch.schema)]
        name = _name(batch.schema, batch.table_name)
        if batch.recreate == "always":
            found.append(self._mark(REBUILD_TABLE, batch.schema, batch.table_name, None,
                                    f"rebuilds table {name}, copying its rows into a new one (recreate='always')"))
        elif batch.recreate == "auto" and self.sqlite is not False and _sqlite_rebuilds(batch):
            where = "" if self.sqlite else " on SQLite"
            found.append(self._mark(REBUILD_TABLE, batch.schema, batch.table_name, None,
                                    f"rebuilds table {name}{where}, copying its rows into a new one"))
        return found

    def _sql(self, sqltext: Any) -> list[Destructive]:
        """SQL a revision runs, read by :mod:`janitoo_db.guard.sql_text` for this dialect."""
        found = []
        for effect in self._effects(sqltext):
            schema, _, name = effect.table.rpartition(".") if effect.table else ("", "", "")
            table = (schema or None, name)
            if effect.kind == sql_text.CREATE_TABLE:
                self.new_tables.add(table)
            elif effect.kind == sql_text.RENAME_TABLE:
                if table in self.new_tables and effect.new_name:
                    self.new_tables.add((schema or None, effect.new_name))
            else:
                found.append(self._mark(effect.kind, schema or None, name or None, effect.column,
                                        f"{'not checked: ' if effect.kind == NOT_CHECKED else ''}runs SQL that "
                                        f"{effect.words}"))
                if effect.kind == DROP_TABLE:
                    self.new_tables.discard(table)
        return found


    def _effects(self, sqltext: Any) -> list[sql_text.Effect]:
        """A construct of SQLAlchemy's or Alembic's by what it is (no parsing); SQL text read by sqlglot."""
        if isinstance(sqltext, str):
            return sql_text.classify(sqltext, self.dialect.name)
        compiled = sql_guard.compiled_for(sqltext, self.dialect)
        found = sql_guard.construct_effects(sqltext, compiled)
        if found is not None:
            return found
        text = str(sqltext) if compiled is None else sql_guard.without_placeholders(str(compiled),
                                                                                     self.dialect.paramstyle)
        return sql_text.classify(text, self.dialect.name)


def _loader(step: Any) -> Callable[[], Callable[[], Any]]:
    """Loading the step's revision file (the revision cache checks its header then) gives its function."""
    return lambda: step.migration_fn


def _note_of(step: Any) -> Callable[[], str]:
    """The step's note (see :func:`plan_note`), read only when asked for."""
    return lambda: plan_note(step.revision, step.is_upgrade)


def _name(schema: str | None, table: str | None) -> str:
    return f"{schema}.{table}" if schema else str(table)


def _error(error: BaseException) -> str:
    text = first_line(str(error))
    return f"{type(error).__name__}: {text[:200]}" if text else type(error).__name__


def _sqlite_rebuilds(batch: Batch) -> bool:
    """Whether Alembic's SQLite batch mode copies the table (``SQLiteImpl.requires_recreate_in_batch``).

    Only adding a column without a SQL-expression or stored computed default,
    and creating or dropping an index, are done in place.
    """
    for operation in batch.operations:
        if isinstance(operation, (alembic_ops.CreateIndexOp, alembic_ops.DropIndexOp)):
            continue
        if not isinstance(operation, alembic_ops.AddColumnOp):
            return True
        default = operation.column.server_default
        if isinstance(default, DefaultClause) and isinstance(default.arg, ClauseElement):
            return True
        if isinstance(default, Computed) and default.persisted:
            return True
    return False


#: The file, in a version directory, that says in words what its revisions do (those a dry run cannot show).
PLAN_NOTES = "plan_notes.json"


def plan_note(revision: Any, is_upgrade: bool) -> str:
    """What :data:`PLAN_NOTES` beside the revision *revision* (a Script) says its upgrade (or downgrade) does; or "".

    A notes file that cannot be read, or holds no such note, gives "": the
    plan is then as it would be without it.
    """
    path = os.path.join(os.path.dirname(revision.path), PLAN_NOTES)
    try:
        notes = _read_notes(path, os.stat(path).st_mtime_ns)
    except OSError:
        return ""
    entry = notes.get(revision.revision) if isinstance(notes, dict) else None
    note = entry.get("upgrade" if is_upgrade else "downgrade") if isinstance(entry, dict) else None
    return " ".join(note.split()) if isinstance(note, str) else ""


@functools.lru_cache(maxsize=64)
def _read_notes(path: str, mtime_ns: int) -> Any:
    """The notes file at *path*, read once per version (*mtime_ns*); None when it is not JSON."""
    try:
        with open(path, encoding="utf-8") as notes:
            return json.load(notes)
    except (OSError, ValueError):
        return None
