"""What janitoo_db records beside ``alembic_version``: whose each head is, and whose each table is.

``alembic_version`` holds bare revision ids, and only the tips Alembic needs:
once an extension is uninstalled (or the database was migrated by a newer
release), nothing says whose head an unknown id is, nor which revisions of
other branches it implied (Alembic leaves out a head another branch's
revision ``depends_on``).  After every migration janitoo_db records, in the
same transaction, the branch of each head, and the tip every installed
branch is at, so such heads can be reported by name and forgotten cleanly.

It also records the tables each branch's revisions create (and forgets those
they drop), so that ``jnt_dbman forget`` can tell an uninstalled extension's
tables from anyone else's.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterable, Iterator

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateTable

from janitoo_db.defaults import (
    BOOKKEEPING_TABLES,
    REGISTRY_TABLE,
    TABLES_TABLE,
)
from janitoo_db.guard.sql_guard import judged
from janitoo_db.guard.sql_text import DROP_COLUMN, DROP_TABLE, RENAME_TABLE
from janitoo_db.site import graph
from janitoo_db.site.alembic_internals import BATCH_TABLE_PREFIX
from janitoo_db.site.reading import current_heads

_metadata = sa.MetaData()
branches_table = sa.Table(
    REGISTRY_TABLE, _metadata,
    sa.Column("revision", sa.String(32), primary_key=True),
    sa.Column("branch", sa.String(255), nullable=False),
)
tables_table = sa.Table(
    TABLES_TABLE, _metadata,
    sa.Column("table_name", sa.String(255), primary_key=True),
    sa.Column("branch", sa.String(255), nullable=False),
)


def record_branches(connection: Connection, script: ScriptDirectory) -> None:
    """Rewrite the registry: each head's branch, and each installed branch's tip, even one Alembic leaves out."""
    current = current_heads(connection)
    previous = recorded_branches(connection)
    rows = {}
    for revision in current:
        found = graph.find(script, revision)
        labels = sorted(found.branch_labels) if found is not None else []
        # An id no installed branch provides: keep what was recorded of it.
        branch = ", ".join(labels) or previous.get(revision)
        if branch:
            rows[revision] = branch
    held = graph.applied(script, current)
    for branch, members in graph.members_by_branch(script).items():
        for tip in graph.branch_tips([m for m in members if m.revision in held]):
            rows.setdefault(tip, branch)
    branches_table.create(connection, checkfirst=True)
    connection.execute(branches_table.delete())
    if rows:
        connection.execute(branches_table.insert(), [{"revision": r, "branch": b} for r, b in rows.items()])


def recorded_branches(connection: Connection) -> dict[str, str]:
    """Revision id to branch name, as last recorded; empty when nothing was."""
    if not sa.inspect(connection).has_table(REGISTRY_TABLE):
        return {}
    return {row.revision: row.branch for row in connection.execute(sa.select(branches_table))}


# -- which branch made which table --------------------------------------------------

class ForeignTableDrop(Exception):
    """Raised inside a revision that drops another branch's table.

    Not a JanitooDbError on purpose: the migration's failure handling turns
    it into a MigrationError naming the revision and the state it left.
    """


#: What a statement may do to another branch's table that the running revision is refused, in words.
_REMOVING = {DROP_TABLE: "drop", DROP_COLUMN: "drop a column of", RENAME_TABLE: "rename"}

_running_branch: ContextVar[str | None] = ContextVar("janitoo_db_running_branch", default=None)


def owning(steps: Iterable[Any]) -> list[Any]:
    """*steps* (Alembic's revision steps), each naming its branch while it runs, for :func:`recording_tables`."""
    steps = list(steps)
    for step in steps:
        run, branch = step.migration_fn, ", ".join(sorted(step.revision.branch_labels))

        def named(run: Any = run, branch: str = branch, **kw: Any) -> Any:
            token = _running_branch.set(branch)
            try:
                return run(**kw)
            finally:
                _running_branch.reset(token)

        named.__name__ = run.__name__  # Alembic names a step after it
        step.migration_fn = named
    return steps


@contextmanager
def recording_tables(connection: Connection) -> Iterator[Callable[[], None]]:
    """Record in ``janitoo_db_tables`` the tables the revisions run inside create, and forget those they drop.

    Only a table the CREATE made is recorded: ``if_not_exists`` on a table
    that was already there (another branch's, another program's) records
    nothing, so no command of janitoo_db will drop it for this branch.  A
    revision dropping a table recorded for another branch is refused
    (:class:`ForeignTableDrop`) before its ``DROP`` runs.

    Yields a function that records the changes seen so far at once (before
    a commit in the middle of the run).
    """
    changes: dict[str, str | None] = {}

    ledger: list[dict[str, str]] = []  # read at the first drop: most runs drop nothing

    def flush() -> None:
        if changes:
            record_tables(connection, dict(changes))
            for name, branch in changes.items() if ledger else ():
                if branch is None:
                    ledger[0].pop(name, None)
                else:
                    ledger[0][name] = branch
            changes.clear()

    rebuilding: set[str] = set()
    existed: set[str] = set()

    def creating(bind: Connection, create: CreateTable) -> None:
        """CREATE TABLE IF NOT EXISTS on a table that is there creates nothing: whoever made it keeps it.

        Asked only of a CREATE that says IF NOT EXISTS, just before it is sent:
        any other CREATE of a table that is there fails, so what it names is new.
        """
        table = create.element
        if not table.name.startswith(BATCH_TABLE_PREFIX) and sa.inspect(bind).has_table(table.name,
                                                                                         schema=table.schema):
            existed.add(table.name)

    def created(table: sa.Table, *args: Any, **kw: Any) -> None:
        if table.name.startswith(BATCH_TABLE_PREFIX):
            # Alembic's batch mode rebuilding a table (SQLite): the copy takes the table's name and owner.
            rebuilding.add(table.name[len(BATCH_TABLE_PREFIX):])
        elif table.name in existed:
            existed.discard(table.name)
        elif _running_branch.get() and table.name not in BOOKKEEPING_TABLES:
            changes[table.name] = _running_branch.get()

    def refuse_foreign(bind: Connection, name: str, doing: str) -> None:
        """Raise when the running revision would *doing* table *name*, recorded for another branch."""
        branch = _running_branch.get()
        if not branch or name in rebuilding or name.startswith(BATCH_TABLE_PREFIX):
            return
        if not ledger:
            ledger.append(recorded_tables(bind))
        owner = changes[name] if name in changes else ledger[0].get(name)
        if owner and owner != branch:
            raise ForeignTableDrop(f"refused to {doing} the table {name}, which janitoo_db recorded as made "
                                   f"by {owner}'s revisions: a revision of {branch} drops only {branch}'s tables")

    def dropping(table: sa.Table, bind: Connection, *args: Any, **kw: Any) -> None:
        refuse_foreign(bind, table.name, "drop")

    def sending(bind: Connection, cursor: Any, statement: str, parameters: Any, context: Any,
                executemany: bool) -> None:
        """The same refusal for what the Table events do not see: raw SQL (op.execute, exec_driver_sql)."""
        if not _running_branch.get() or executemany:
            return
        construct = getattr(getattr(context, "compiled", None), "statement", None)
        if isinstance(construct, CreateTable) and construct.if_not_exists:
            creating(bind, construct)
        for effect in judged(statement, context, bind.dialect):
            name = (effect.table or "").rpartition(".")[2]
            if name and effect.kind in _REMOVING:
                refuse_foreign(bind, name, _REMOVING[effect.kind])
                if effect.kind == DROP_TABLE and name not in rebuilding:
                    changes[name] = None

    def dropped(table: sa.Table, *args: Any, **kw: Any) -> None:
        if table.name in rebuilding:
            rebuilding.discard(table.name)
        elif _running_branch.get():
            changes[table.name] = None

    event.listen(sa.Table, "after_create", created)
    event.listen(sa.Table, "before_drop", dropping)
    event.listen(sa.Table, "after_drop", dropped)
    event.listen(connection, "before_cursor_execute", sending)
    try:
        yield flush
    finally:
        event.remove(connection, "before_cursor_execute", sending)
        event.remove(sa.Table, "after_create", created)
        event.remove(sa.Table, "before_drop", dropping)
        event.remove(sa.Table, "after_drop", dropped)
    flush()


def record_tables(connection: Connection, owners: dict[str, str | None]) -> None:
    """Set the branch of each table in *owners* (None: the table is gone)."""
    tables_table.create(connection, checkfirst=True)
    connection.execute(tables_table.delete().where(tables_table.c.table_name.in_(sorted(owners))))
    rows = [{"table_name": name, "branch": branch} for name, branch in owners.items() if branch]
    if rows:
        connection.execute(tables_table.insert(), rows)


def recorded_tables(connection: Connection) -> dict[str, str]:
    """Table name to the branch whose revisions created it, as recorded."""
    if not sa.inspect(connection).has_table(TABLES_TABLE):
        return {}
    return {row.table_name: row.branch for row in connection.execute(sa.select(tables_table))}
