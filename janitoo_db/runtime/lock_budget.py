"""Split a PostgreSQL migration in several transactions when one cannot hold the locks it takes.

PostgreSQL keeps every table, index and sequence a transaction creates or
alters locked until it commits, in one shared lock table of
``max_locks_per_transaction`` x (``max_connections`` +
``max_prepared_transactions``) entries.  An ``initdb`` of a few thousand
tables fills it and fails on "out of shared memory".  So before the first
revision runs, the migration reads what the lock table has free (less a
margin), and counts the locks of each statement it sends as it goes.  At a
revision boundary, when the next revision might not fit any more, it
commits, with the versions and janitoo_db's bookkeeping
(:mod:`janitoo_db.runtime.environment`), says so on stderr the first time,
and goes on in a new transaction.

The count is an estimate read from the statement's construct: a table is
its relation, its row type, its constraints, its key's index, its sequence
and, when a row can outgrow a page, its TOAST table and index (measured on
PostgreSQL 15).  SQL text that changes anything counts :data:`UNKNOWN`.
Nothing of a revision runs twice: a dry run beforehand would run each
revision's own code once more.

Tests replace :data:`read_capacity` to make a small tree cross the capacity;
nothing else does.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ddl

from janitoo_db.defaults import VERSION_TABLE
from janitoo_db.guard.statement_kinds import classify, ours

#: Locks counted for SQL text that changes something, whose effect is not read.
UNKNOWN = 16
#: Locks counted for a change to an existing table: the table, its TOAST table and index.
ALTER = 3
#: Locks each transaction counts for janitoo_db's own tables, ``alembic_version`` and the catalogs read.
BOOKKEEPING = 64
#: Locks kept free at a revision boundary for the next revision, at least (else: the most one revision took).
NEXT_REVISION = 64
#: The part of the lock table left free for other sessions and for the estimate's errors.
MARGIN = 0.10
#: The part of the lock table a migration may always take, whatever other sessions hold when it starts.
FLOOR = 0.5
#: Bytes of a row beyond which PostgreSQL gives a table a TOAST table (about TOAST_TUPLE_THRESHOLD).
TOAST_ROW = 2000
#: Fixed-width types: a row of only these never needs TOAST.
_FIXED = (sa.Integer, sa.Float, sa.Boolean, sa.Date, sa.DateTime, sa.Time, sa.Interval, sa.Uuid)


@dataclass(frozen=True)
class Capacity:
    """The server's lock table: its settings and the entries other sessions hold now."""

    max_locks_per_transaction: int
    max_connections: int
    max_prepared_transactions: int
    held: int

    @property
    def size(self) -> int:
        """Entries of the shared lock table, by PostgreSQL's documented formula."""
        return self.max_locks_per_transaction * (self.max_connections + self.max_prepared_transactions)

    @property
    def budget(self) -> int:
        """Locks one transaction of the migration may take: what is free, less :data:`MARGIN` of the table.

        Never less than :data:`FLOOR` of the table: what other sessions hold
        is mostly short-lived, and a busy moment should not cut a small
        migration into many transactions.
        """
        return max(self.size - self.held - int(self.size * MARGIN), int(self.size * FLOOR))

    def describe(self) -> str:
        return (f"max_locks_per_transaction {self.max_locks_per_transaction} x (max_connections "
                f"{self.max_connections} + max_prepared_transactions {self.max_prepared_transactions}) = "
                f"{self.size}, {self.held} held by other sessions, {int(self.size * MARGIN)} kept free")


def _read_capacity(connection: Connection) -> Capacity:
    """One query: the three settings, and the entries other sessions hold now (fast-path locks take none).

    An entry is one object locked by one session (or prepared transaction),
    whatever the modes it holds it in: pg_locks shows a row per mode.
    """
    row = connection.execute(sa.text(
        "SELECT current_setting('max_locks_per_transaction')::int, current_setting('max_connections')::int, "
        "current_setting('max_prepared_transactions')::int, (SELECT count(*) FROM (SELECT DISTINCT locktype, "
        "database, relation, page, tuple, virtualxid, transactionid, classid, objid, objsubid, pid, "
        "virtualtransaction FROM pg_locks WHERE NOT fastpath AND pid IS DISTINCT FROM pg_backend_pid()) AS held)"
    )).one()
    return Capacity(*(int(value) for value in row))


#: What reads the server's capacity: tests replace it to make a small tree cross it.
read_capacity: Callable[[Connection], Capacity] = _read_capacity


def table_locks(table: sa.Table) -> int:
    """The lock table entries ``CREATE TABLE`` takes for *table* (its indexes are statements of their own)."""
    locks = 2  # the relation and its row type
    for constraint in table.constraints:
        if isinstance(constraint, (sa.PrimaryKeyConstraint, sa.UniqueConstraint)):
            locks += 2 if constraint.columns else 0  # its catalog entry and its index
        else:
            locks += 2 if isinstance(constraint, sa.ForeignKeyConstraint) else 1  # ... and the table it names
    key = table.primary_key.columns
    only = next(iter(key)) if len(key) == 1 else None
    serial = only is not None and isinstance(only.type, sa.Integer) and only.autoincrement in (True, "auto") \
        and only.server_default is None and not only.foreign_keys
    width = 0  # the widest row, in bytes: a row that can outgrow a page gets a TOAST table and index
    for column in table.columns:
        kind = column.type
        if column.identity is not None and not serial:
            locks += 1  # its sequence
        if isinstance(kind, _FIXED):
            width += 8
        elif isinstance(kind, sa.String) and kind.length is not None:
            width += 4 * kind.length + 4  # four bytes a character at most, in UTF-8
        else:
            width += TOAST_ROW + 1
    return locks + serial + 2 * (width > TOAST_ROW)


#: The table a statement of SQL text writes rows to: its locks are the table's, taken once.
_WRITES_ROWS = re.compile(r"\s*(?:insert\s+into|update|delete\s+from)\s+([\w\".]+)", re.IGNORECASE)


def statement_locks(construct: Any, statement: str) -> tuple[object, int]:
    """The lock table entries one statement a revision sends takes, estimated, and what they are the locks of.

    A statement on a table whose locks the transaction holds already (rows
    written again, a second change) takes no more: the caller counts each
    key once per transaction.
    """
    if isinstance(construct, ddl.CreateTable):
        return ("new", construct.element.name), table_locks(construct.element)
    if isinstance(construct, (ddl.CreateIndex, ddl.CreateSequence, ddl.DropIndex)):
        return ("new", construct.element.name), 1
    if ours(construct):
        return None, 0
    found = classify(construct, statement)
    if found is None:
        return None, 0  # a read: the catalogs' locks are few, and counted in BOOKKEEPING
    action, table, _ = found
    if table == VERSION_TABLE:
        return None, 0  # counted in BOOKKEEPING, like janitoo_db's own tables
    if action == "other":
        written = _WRITES_ROWS.match(statement)
        if written is None:
            return statement, UNKNOWN
        table = written.group(1).strip('"').lower()
    # Rows written, or a table altered or dropped: the table, its TOAST table, its indexes.
    return ("table", table) if table else statement, ALTER


class Budget:
    """The locks the open transaction of a migration holds, counted as its statements are sent."""

    def __init__(self, connection: Connection, capacity: Capacity, planned: int,
                 notify: Callable[[str], None]) -> None:
        self.connection, self.capacity, self.planned, self.notify = connection, capacity, planned, notify
        self.held = self.revision_started = BOOKKEEPING
        self.counted: set[object] = set()  # what the open transaction holds the locks of
        self.largest = 0  # the most locks one revision took so far: room kept for the next
        self.done = self.commits = 0

    def sent(self, conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any,
             executemany: bool) -> None:
        compiled = getattr(context, "compiled", None)
        key, locks = statement_locks(getattr(compiled, "statement", None), statement)
        if isinstance(key, tuple) and key[0] == "table" and ("new", key[1]) in self.counted:
            return  # a table this transaction created: its locks are counted
        if key is not None and key not in self.counted:
            self.counted.add(key)
            self.held += locks

    def revision_done(self) -> bool:
        """A revision has finished: True when the next might not fit, so the transaction commits here."""
        self.done += 1
        self.largest = max(self.largest, self.held - self.revision_started)
        self.revision_started = self.held
        return self.done < self.planned and self.held + max(self.largest, NEXT_REVISION) > self.capacity.budget

    def committed(self) -> None:
        """The transaction committed here: its locks are released; say so the first time."""
        if not self.commits:
            self.notify(
                f"after {self.done} of the {self.planned} revisions to run, the migration holds about {self.held} "
                f"locks, near what one PostgreSQL transaction can hold here ({self.capacity.describe()}): it "
                "commits them with their versions and goes on in a new transaction, and does so again at a "
                "revision boundary whenever needed; if a later transaction fails, the committed ones stay. "
                "Raise max_locks_per_transaction to run in one transaction")
        self.commits += 1
        self.released()

    def released(self) -> None:
        """The transaction ended (committed here or by an autocommit block): nothing is held."""
        self.held = self.revision_started = BOOKKEEPING
        self.counted.clear()


def watching(connection: Connection, planned: int, notify: Callable[[str], None]) -> Budget | None:
    """On PostgreSQL, count the locks of what is sent on *connection* from now on; None elsewhere.

    :func:`stop` ends the count.
    """
    if connection.dialect.name != "postgresql" or planned < 2:
        return None
    budget = Budget(connection, read_capacity(connection), planned, notify)
    event.listen(connection, "before_cursor_execute", budget.sent)
    return budget


def stop(budget: Budget | None) -> None:
    """Stop counting *budget*."""
    if budget is not None and event.contains(budget.connection, "before_cursor_execute", budget.sent):
        event.remove(budget.connection, "before_cursor_execute", budget.sent)
