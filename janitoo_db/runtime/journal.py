"""The statements a revision ran where each commits by itself, so that repair undoes exactly those.

MySQL and MariaDB commit every DDL statement on its own, and so does every
statement of an ``autocommit_block()`` elsewhere.  A migration stopped in
such a revision leaves what it ran; a row of ``janitoo_db_journal`` for
each statement says what that is.  The row is written before the statement
is sent: on MySQL the statement's own implicit commit commits its row, and
the row of the next statement says it finished; inside an autocommit block
each row commits at once, and is marked done once its statement returns.  On PostgreSQL and SQLite the
statements a revision ran in its transaction are kept in memory and
written, done, in the commit that opens its autocommit block.

What each statement does is read by :mod:`janitoo_db.guard.statement_kinds`;
reads are not journaled.  :mod:`janitoo_db.runtime.undo` undoes what a journal shows.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection

from janitoo_db.defaults import JOURNAL_TABLE
from janitoo_db.guard.statement_kinds import CREATES, WAS_THERE, classify, ours, present, tidy
from janitoo_db.runtime.locking import in_autocommit
from janitoo_db.site.engine import has_transactional_ddl_dialect

#: The "revision" of the statements a ``createdb`` runs.
CREATEDB = "createdb"
_KEY = "janitoo_db.runtime.journal"

_metadata = sa.MetaData()
journal_table = sa.Table(
    JOURNAL_TABLE, _metadata,
    sa.Column("revision", sa.String(32), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("table_name", sa.String(255)),
    sa.Column("object_name", sa.String(255)),
    sa.Column("statement", sa.Text, nullable=False),
    sa.Column("done", sa.Boolean, nullable=False),
)


@dataclass(frozen=True)
class Entry:
    """One statement of a revision: what it does, to which table and object, and whether it finished."""

    revision: str
    seq: int
    action: str
    table_name: str | None
    object_name: str | None
    statement: str
    done: bool = False

    def describe(self) -> str:
        """The statement as a person reads it: what it makes, or its SQL."""
        action = self.action.removeprefix(WAS_THERE)
        if action == "create_table":
            return f"CREATE TABLE {self.table_name}"
        if action == "add_column":
            return f"ADD COLUMN {self.table_name}.{self.object_name}"
        if action == "create_index":
            return f"CREATE INDEX {self.object_name} ON {self.table_name}"
        return self.statement if len(self.statement) <= 120 else self.statement[:117] + "..."

    def row(self) -> dict[str, Any]:
        return {"revision": self.revision, "seq": self.seq, "action": self.action, "table_name": self.table_name,
                "object_name": self.object_name, "statement": self.statement, "done": self.done}


class Journal:
    """The journal of one connection: which revision runs, and each of its statements."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.transactional = has_transactional_ddl_dialect(connection.dialect.name)
        self.revision: str | None = None
        self.seq = 0
        self.pending: list[Entry] = []  # run in the open transaction, not written yet
        self.open: Entry | None = None  # the statement being sent
        self.written = False
        self.busy = False

    def start(self, revision: str) -> None:
        self.revision, self.seq, self.pending, self.open = revision, 0, [], None

    def stop(self) -> None:
        self.revision, self.pending, self.open = None, [], None

    def live(self) -> bool:
        return not self.transactional or in_autocommit(self.connection)

    def before(self, conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
        if self.busy or self.revision is None:
            return
        compiled = getattr(context, "compiled", None)
        construct = getattr(compiled, "statement", None)
        if ours(construct):
            return
        found = classify(construct, statement)
        if found is None:
            return
        action, table, name = found
        live = self.live()
        self.busy = True
        try:
            if action in CREATES and (live or getattr(construct, "if_not_exists", False)) \
                    and present(self.connection, action, table, name):
                action = WAS_THERE + action
            self.seq += 1
            # Kept as sent while it waits in memory: most never need the tidy form.
            self.open = Entry(self.revision, self.seq, action, table, name, tidy(statement) if live else statement)
            if live:
                self._write([self.open])
        finally:
            self.busy = False

    def after(self, conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any,
              executemany: bool) -> None:
        if self.busy or self.open is None:
            return
        entry, self.open = replace(self.open, done=True), None
        if entry.revision != self.revision:
            return
        if not self.live():
            self.pending.append(entry)
        elif self.transactional:
            # In an autocommit block: marked at once.  On MySQL the next row says it (see :func:`entries`).
            self.busy = True
            try:
                self.connection.execute(journal_table.update().where(
                    journal_table.c.revision == entry.revision, journal_table.c.seq == entry.seq).values(done=True))
            finally:
                self.busy = False

    def flush(self) -> None:
        """Write the statements run in the open transaction, committed with it (before an autocommit block)."""
        self.busy = True
        try:
            self._write([replace(entry, statement=tidy(entry.statement)) for entry in self.pending])
            self.pending = []
        finally:
            self.busy = False

    def _write(self, entries: list[Entry]) -> None:
        if not self.written:
            journal_table.create(self.connection, checkfirst=True)
            self.written = True
        if entries:
            self.connection.execute(journal_table.insert(), [entry.row() for entry in entries])


@contextmanager
def recording(connection: Connection) -> Iterator[Journal]:
    """Journal the statements of the revisions run on *connection* inside (see :func:`scoped`)."""
    journal = Journal(connection)
    connection.info[_KEY] = journal
    event.listen(connection, "before_cursor_execute", journal.before)
    event.listen(connection, "after_cursor_execute", journal.after)
    try:
        yield journal
    finally:
        event.remove(connection, "before_cursor_execute", journal.before)
        event.remove(connection, "after_cursor_execute", journal.after)
        connection.info.pop(_KEY, None)


def of(connection: Connection) -> Journal | None:
    """The journal recording on *connection*, if any."""
    return connection.info.get(_KEY)


@contextmanager
def running(connection: Connection, revision: str) -> Iterator[None]:
    """Journal the statements sent inside as *revision*'s."""
    journal = of(connection)
    if journal is None:
        yield
        return
    journal.start(revision)
    try:
        yield
    finally:
        journal.stop()


def scoped(steps: Iterable[Any], connection: Connection) -> list[Any]:
    """*steps* (Alembic's revision steps), each journaling its statements as its revision's while it runs."""
    steps = list(steps)
    if of(connection) is None:
        return steps
    for step in steps:
        run, revision = step.migration_fn, step.revision.revision

        def journaled(run: Any = run, revision: str = revision, **kw: Any) -> Any:
            with running(connection, revision):
                return run(**kw)

        journaled.__name__ = run.__name__  # Alembic names a step after it
        step.migration_fn = journaled
    return steps


@contextmanager
def paused(connection: Connection) -> Iterator[None]:
    """Journal nothing inside: janitoo_db's own writes in the middle of a revision (before an autocommit block)."""
    journal = of(connection)
    if journal is None or journal.busy:
        yield
        return
    journal.busy = True
    try:
        yield
    finally:
        journal.busy = False


def flush(connection: Connection) -> None:
    """Write what the running revision ran in the open transaction, to be committed with it."""
    journal = of(connection)
    if journal is not None and journal.revision is not None:
        journal.flush()


def ensure_table(connection: Connection) -> None:
    journal_table.create(connection, checkfirst=True)
    journal = of(connection)
    if journal is not None:
        journal.written = True


def entries(connection: Connection, revision: str) -> list[Entry] | None:
    """*revision*'s journal, in the order it ran; None when there is no journal at all (an older janitoo_db)."""
    if not sa.inspect(connection).has_table(JOURNAL_TABLE):
        return None
    rows = list(connection.execute(sa.select(journal_table).where(journal_table.c.revision == revision)
                                   .order_by(journal_table.c.seq)))
    # A statement is written before it is sent, so one followed by another had finished: MySQL needs no
    # second write per statement to mark it done (it would cost a commit per DDL statement).
    return [Entry(**{**row._mapping, "done": bool(row.done) or index < len(rows) - 1})
            for index, row in enumerate(rows)]


def forget(connection: Connection, revision: str, *, known_to_exist: bool = False) -> None:
    """Remove *revision*'s journal (with the mark that it is under way)."""
    if known_to_exist or sa.inspect(connection).has_table(JOURNAL_TABLE):
        connection.execute(journal_table.delete().where(journal_table.c.revision == revision))
