"""Which revisions can destroy data, known before they run.

``upgrade --plan`` and ``downgrade --plan`` mark them, ``upgrade`` and
``initdb`` refuse them with ``--no-destructive`` (or
``$JANITOO_DB_NO_DESTRUCTIVE``, for servers), and ``generate`` warns about a
revision it wrote.  Each revision is dry-run (:mod:`janitoo_db.guard.dry_run`) and
what it asked for is judged.  It can destroy data when it:

* drops a table or a column;
* changes a column's type to one that may not hold every value
  (:mod:`janitoo_db.guard.narrowing`), or without saying what the type was
  (``existing_type``), so that nobody can tell;
* has Alembic rebuild a table (copy its rows into a new table, then drop the
  old one) in a ``batch_alter_table`` block: always with
  ``recreate="always"``, and on SQLite for anything but adding a plain column
  or an index, as ``alembic.ddl.sqlite`` decides;
* runs SQL that drops, empties, deletes or changes a type, or that cannot be
  read (:mod:`janitoo_db.guard.sql_text` reads it with a SQL parser for the
  database's dialect), through ``op.execute``, ``op.get_context().execute``,
  ``alembic.context.execute`` or ``op.get_bind().execute``;
* runs an operation of someone else's, whose effect janitoo_db cannot know,
  or cannot be dry-run at all (most often: it reads the database through
  ``op.get_bind()``, and a dry run reads nothing): "not checked".

A revision that reads the database can be described in words, for
``--plan`` to show: the file :data:`PLAN_NOTES` beside it in its version
directory maps its id to ``{"upgrade": "...", "downgrade": "..."}``.  Not
in the revision file: a released revision's file must not change (its
checksum, :mod:`janitoo_db.runtime.checksums`), and a note may be worded better
later.  The note replaces the error of a dry run that stopped in the
direction it describes; the revision stays "not checked", and
``--no-destructive`` still refuses it: a note is the author's word, which
no dry run vouched for.

Writing rows (``bulk_insert``, ``INSERT``, ``UPDATE``: how data migrations
move values), creating and renaming tables and columns, and dropping an index
or a constraint are not destructive.
What happens to a table an earlier revision of the same run creates is
marked, but not refused: it held no data before the run.  What the dry run
cannot see, :mod:`janitoo_db.guard.sql_guard` judges at the connection as it is sent.
"""
from __future__ import annotations

import functools
import importlib.util
import json
import os
from dataclasses import replace
from typing import Any, Callable, Iterable, Sequence

from alembic.operations import MigrateOperation
from alembic.operations import ops as alembic_ops
from sqlalchemy import Computed, DefaultClause, func, inspect, select
from sqlalchemy import table as sa_table
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql import ClauseElement

from janitoo_db.errors import ConfigError, DatabaseError, JanitooDbError, RefusedError
from janitoo_db.guard import narrowing, sql_guard, sql_text
from janitoo_db.guard.dry_run import Batch, DryRunFailed, Runner, dry_runs
from janitoo_db.guard.sql_text import DROP_COLUMN, DROP_TABLE, NARROW_TYPE, NOT_CHECKED, SQL
from janitoo_db.results import Destructive, first_line, some
from janitoo_db.site import Site, squashed
from janitoo_db.site.alembic_internals import upgrade_steps
from janitoo_db.site.engine import is_missing_sqlite_file
from janitoo_db.site.reading import current_heads, read_database
from janitoo_db.site.revisions import alembic_errors

REBUILD_TABLE = "rebuild table"
#: Every kind of :class:`Destructive`.
KINDS = (DROP_TABLE, DROP_COLUMN, NARROW_TYPE, REBUILD_TABLE, SQL, NOT_CHECKED)
#: The environment variable that refuses destructive revisions where no option is given (servers).
NO_DESTRUCTIVE_VARIABLE = "JANITOO_DB_NO_DESTRUCTIVE"
_YES, _NO = {"1", "true", "yes", "on"}, {"", "0", "false", "no", "off"}

Marks = list[tuple[Destructive, ...]]

#: The file, in a version directory, that says in words what its revisions do (those a dry run cannot show).
PLAN_NOTES = "plan_notes.json"


def refusing(no_destructive: bool | None = None) -> bool:
    """Whether to refuse destructive revisions: *no_destructive* if given, else ``$JANITOO_DB_NO_DESTRUCTIVE``."""
    if no_destructive is not None:
        return no_destructive
    value = os.environ.get(NO_DESTRUCTIVE_VARIABLE, "").strip().lower()
    if value in _YES | _NO:
        return value in _YES
    raise ConfigError(f"${NO_DESTRUCTIVE_VARIABLE} must be 1 or 0 (true/false, yes/no, on/off), "
                      f"not {os.environ[NO_DESTRUCTIVE_VARIABLE]!r}")


def examine(site: Site, steps: Sequence[Any]) -> Marks:
    """What each of Alembic's revision *steps* can destroy, in order, from dry runs; rows not counted."""
    if not steps:
        return []
    judge = _Judge(site.engine.dialect, sqlite_only_if=site.engine.dialect.name == "sqlite")
    with dry_runs(site) as run:
        return [judge.run(run, _loader(step), _note_of(step)) for step in steps]


def marks(site: Site, steps: Sequence[Any]) -> Marks:
    """:func:`examine`, with the rows each table at stake holds now, read on a connection of its own."""
    found = examine(site, steps)
    if not any(found):
        return found
    return read_database(site, lambda connection: counted(connection, found), found,
                         "count the rows of the tables at stake")


def guard(site: Site, revision: str) -> Callable[[Connection], None]:
    """The check an upgrade to *revision* runs under the migration lock, before Alembic starts.

    It raises :class:`RefusedError` when a revision to run can destroy data.
    Before Alembic starts, because on MySQL/MariaDB even creating
    ``alembic_version`` would commit.  A SQLite file that does not exist is
    checked at once, from base: connecting would create it.
    """
    from_base = is_missing_sqlite_file(site.engine)
    checked = _refuse(site, revision, (), None) if from_base else None

    def under_lock(connection: Connection) -> None:
        # A head a squashed revision replaces is re-stamped before anything runs: check from there.
        current = squashed.as_if_restamped(site.script, current_heads(connection))
        steps = checked if checked is not None and not current else _refuse(site, revision, current, connection)
        site.run.known_steps = ((revision, current), steps)  # Alembic need not work them out again

    return under_lock


def refuse_from(site: Site, revision: str, current: Sequence[str], connection: Connection) -> None:
    """Raise RefusedError when an upgrade from *current* to *revision* would run a revision that can destroy data.

    For a database about to be stamped at *current* (initdb adopting it): on
    MySQL/MariaDB the stamp commits, so the check must come first.
    """
    _refuse(site, revision, tuple(current), connection)


def _refuse(site: Site, revision: str, current: tuple[str, ...], connection: Connection | None) -> list[Any]:
    """The steps from *current* to *revision*; raise RefusedError when one can destroy data."""
    with alembic_errors():
        steps = upgrade_steps(site.script, revision, current)
    found = examine(site, steps)
    if not any(not mark.new_table for step_marks in found for mark in step_marks):
        return steps
    if connection is not None:
        found = counted(connection, found)
    at_stake = [(step.revision, mark) for step, step_marks in zip(steps, found, strict=True) for mark in step_marks
                if not mark.new_table]
    listed = [f"{r.revision} ({', '.join(sorted(r.branch_labels)) or 'no branch'}): {mark.describe()}"
              for r, mark in at_stake]
    revisions = len({r.revision for r, _ in at_stake})
    plan = "jnt_dbman upgrade --plan" if revision == "heads" else f"jnt_dbman upgrade {revision} --plan"
    raise RefusedError(
        f"refusing to upgrade (--no-destructive, ${NO_DESTRUCTIVE_VARIABLE}): {revisions} of the {len(steps)} "
        f"revisions to run can destroy data: {some(listed, separator='; ')}; nothing was changed. "
        f"Read '{plan}', back the database up, then upgrade with --allow-destructive")


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


def examine_file(site: Site, path: str) -> tuple[Destructive, ...]:
    """What the ``upgrade()`` of the revision file at *path* can destroy, on any database; rows counted."""
    judge = _Judge(site.engine.dialect, sqlite_only_if=None)

    def load() -> Callable[[], Any]:
        spec = importlib.util.spec_from_file_location(f"janitoo_db_examined_{abs(hash(path))}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.upgrade

    with dry_runs(site) as run:
        found = judge.run(run, load)
    if not found:
        return found
    try:
        return read_database(site, lambda connection: counted(connection, [found])[0], found,
                             "count the rows of the tables at stake")
    except DatabaseError:  # the file is written: say what it does, if not how many rows
        return found


def counted(connection: Connection, found: Marks) -> Marks:
    """*found* with the rows of each table at stake that exists; counting is a courtesy, and stops at an error."""
    tables = {(mark.schema, mark.table) for step_marks in found for mark in step_marks
              if mark.table is not None and not mark.new_table}
    rows: dict[tuple[str | None, str], int] = {}
    try:
        inspector = inspect(connection)
        for schema in {schema for schema, _ in tables}:
            existing = set(inspector.get_table_names(schema=schema))
            for _, name in sorted(t for t in tables if t[0] == schema and t[1] in existing):
                rows[(schema, name)] = connection.execute(
                    select(func.count()).select_from(sa_table(name, schema=schema))).scalar_one()
    except SQLAlchemyError:
        pass
    return [tuple(replace(mark, rows=rows.get((mark.schema, mark.table or ""))) for mark in step_marks)
            for step_marks in found]


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
        compiled = sql_text.compiled_for(sqltext, self.dialect)
        found = sql_guard.construct_effects(sqltext, compiled)
        if found is not None:
            return found
        text = str(sqltext) if compiled is None else sql_text.without_placeholders(str(compiled),
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
