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

import importlib.util
from dataclasses import replace
from typing import Any, Callable, Sequence

from sqlalchemy import func, inspect, select
from sqlalchemy import table as sa_table
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from janitoo_db.errors import DatabaseError, RefusedError
from janitoo_db.guard.dry_run import dry_runs
from janitoo_db.guard.judging import REBUILD_TABLE, _Judge, _loader, _note_of
from janitoo_db.guard.sql_text import DROP_COLUMN, DROP_TABLE, NARROW_TYPE, NOT_CHECKED, SQL
from janitoo_db.results import Destructive
from janitoo_db.site import Site, squashed
from janitoo_db.site.alembic_internals import upgrade_steps
from janitoo_db.site.engine import is_missing_sqlite_file
from janitoo_db.site.reading import current_heads, read_database
from janitoo_db.site.revisions import alembic_errors
from janitoo_db.site.switches import NO_DESTRUCTIVE_VARIABLE
from janitoo_db.text import some

#: Every kind of :class:`Destructive`.
KINDS = (DROP_TABLE, DROP_COLUMN, NARROW_TYPE, REBUILD_TABLE, SQL, NOT_CHECKED)


Marks = list[tuple[Destructive, ...]]


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
