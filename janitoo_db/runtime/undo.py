"""Undoing what an interrupted run did, from its journal, and nothing else.

Each statement the journal shows as done is inverted, newest first: a table
it created is dropped, a column it added, an index it created.  A statement
repair cannot invert (a drop, a change of data, SQL it cannot read) stops
the undo before anything runs, unless it only touched a table the same run
created, which goes as a whole.  A statement journaled as started and never
marked done is looked for: made, it is undone; not made, it is skipped; not
something repair can look for, it is reported and left.  A statement that
found its table, column or index already there made nothing: what it found
belongs to someone else and stays.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from janitoo_db.errors import RefusedError
from janitoo_db.guard import ownership
from janitoo_db.guard.statement_kinds import CREATES, WAS_THERE, present
from janitoo_db.runtime.journal import Entry

#: What drops a table takes with it: its rows, columns, indexes; once gone, its drops are moot.
COVERED = {"data", "droptable", "drop_column", "dropindex", "addconstraint", "dropconstraint", "alter_table",
           "create_index", "add_column"}
Present = Callable[[Entry], "bool | None"]


@dataclass
class Undo:
    """What undoing a run's journal does: the statements to invert, newest first, and what it leaves."""

    inverse: list[Entry] = field(default_factory=list)
    #: One line per statement left as it is, and why.
    skipped: list[str] = field(default_factory=list)
    #: The statements that ran and cannot be undone.
    refused: list[Entry] = field(default_factory=list)
    #: Every statement that ran, in order.
    ran: list[Entry] = field(default_factory=list)
    #: Statements started whose effect cannot be told (a failed run settling itself refuses over them).
    unknown: list[Entry] = field(default_factory=list)


def plan(entries: list[Entry], found: Present) -> Undo:
    """What to invert, skip or refuse among *entries*; *found* tells whether a create took effect (None: unknown)."""
    undo = Undo()
    created: set[str] = set()
    for entry in entries:
        if entry.action.startswith(WAS_THERE):
            undo.skipped.append(f"{entry.describe()}: {_what(entry)} was there before it ran, and is not this run's")
            continue
        if not entry.done:
            made = found(entry)
            if made is None:
                undo.unknown.append(entry)
                undo.skipped.append(f"{entry.describe()}: started, and it cannot be told whether it took effect; "
                                    "check it by hand")
                continue
            if not made:
                undo.skipped.append(f"{entry.describe()}: started, never took effect")
                continue
        undo.ran.append(entry)
        if entry.action == "create_table" and entry.table_name:
            created.add(entry.table_name)
    for entry in reversed(undo.ran):
        if entry.action != "create_table" and entry.table_name in created and entry.action in COVERED:
            if entry.action in CREATES:
                undo.skipped.append(f"{entry.describe()}: goes with table {entry.table_name}")
        elif entry.action in CREATES:
            undo.inverse.append(entry)
        else:
            undo.refused.append(entry)
    undo.refused.reverse()
    return undo


def refusal(description: str, undo: Undo) -> RefusedError:
    """The error for a run whose journal holds statements repair cannot undo."""
    ran = "; ".join(entry.describe() for entry in undo.ran)
    cannot = "; ".join(entry.describe() for entry in undo.refused)
    return RefusedError(f"{description}; it ran: {ran}. Repair cannot undo {cannot}, so it undoes nothing. "
                        "Finish the revision by hand, then record it as done with 'jnt_dbman repair --applied'")


def run(connection: Connection, undo: Undo) -> list[str]:
    """Invert *undo*'s statements, newest first; return one line per inverse run (or skipped: already gone)."""
    tables = [e.table_name for e in undo.inverse if e.action == "create_table" and e.table_name]
    # The tables the journal proves the run made: dropped only when nothing outside them points into them.
    ownership.refuse_foreign_references(connection, [t for t in tables if present(connection, "create_table", t, None)],
                                        "undoing the interrupted revision")
    operations = Operations(MigrationContext.configure(connection))
    done = []
    for entry in undo.inverse:
        table, name = entry.table_name, entry.object_name
        assert table is not None
        if not present(connection, entry.action, table, name):
            undo.skipped.append(f"{entry.describe()}: {_what(entry)} was already gone")
            continue
        if entry.action == "create_table":
            operations.drop_table(table)
        elif entry.action == "add_column":
            assert name is not None
            operations.drop_column(table, name)
        else:
            operations.drop_index(name or "", table_name=table)
        done.append(f"dropped {_what(entry)}")
    return done


def _what(entry: Entry) -> str:
    action = entry.action.removeprefix(WAS_THERE)
    if action == "add_column":
        return f"column {entry.table_name}.{entry.object_name}"
    if action == "create_index":
        return f"index {entry.object_name} on {entry.table_name}"
    return f"table {entry.table_name}"
