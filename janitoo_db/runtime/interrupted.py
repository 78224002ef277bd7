"""Revisions a migration was running when it stopped half-way, and the way back to a known state.

MySQL and MariaDB commit every DDL statement by itself: a migration killed
half-way through a revision leaves the statements it ran, while
``alembic_version`` still says the revision was never applied, and the next
run fails on "Table ... already exists".  So on those databases janitoo_db
writes a row to ``janitoo_db_in_progress`` as a revision starts (the
revision's first DDL statement commits it) and deletes it in the transaction
that records the revision's version; a ``createdb`` is marked the same way.
Each statement the revision runs is journaled (:mod:`janitoo_db.runtime.journal`).
A row found later names a revision that was interrupted: migrations refuse
to run over it, ``checkdb`` reports it, and :func:`repair` undoes exactly
what its journal shows it did (:mod:`janitoo_db.runtime.undo`), never more.

On PostgreSQL and SQLite a killed migration rolls back whole, except around
a revision's ``autocommit_block()``: what ran before the block is committed,
so the row (and the journal so far) is written in that commit and deleted in
the one that records the revision.
"""
from __future__ import annotations

import functools
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext, RevisionStep
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from janitoo_db.defaults import NAMING_CONVENTION, PROGRESS_TABLE
from janitoo_db.errors import MigrationError, RefusedError, RevisionError
from janitoo_db.guard.statement_kinds import present
from janitoo_db.runtime import journal, undo
from janitoo_db.site.alembic_internals import record_step

_metadata = sa.MetaData()
progress_table = sa.Table(
    PROGRESS_TABLE, _metadata,
    sa.Column("revision", sa.String(32), primary_key=True),
    sa.Column("branch", sa.String(255), nullable=False),
    sa.Column("direction", sa.String(10), nullable=False),
    sa.Column("started", sa.String(32), nullable=False),
    sa.Column("process", sa.String(255), nullable=False),
)


@dataclass(frozen=True)
class Interrupted:
    """A revision started and never finished."""

    revision: str
    branch: str
    direction: str
    started: str
    process: str

    @property
    def is_createdb(self) -> bool:
        return self.direction == journal.CREATEDB

    def describe(self) -> str:
        if self.is_createdb:
            return f"createdb was interrupted while it created the tables (started {self.started} by {self.process})"
        return (f"revision {self.revision} ({self.branch}) was interrupted while it ran its {self.direction} "
                f"(started {self.started} by {self.process})")


def find(connection: Connection) -> list[Interrupted]:
    """The revisions interrupted in this database, if any."""
    if not sa.inspect(connection).has_table(PROGRESS_TABLE):
        return []
    return [Interrupted(**row._mapping) for row in connection.execute(sa.select(progress_table))]


def refuse_if_any(connection: Connection) -> None:
    """Stop a migration from running over a half-done revision."""
    found = find(connection)
    if found:
        kept = ("MySQL/MariaDB kept the statements it had run" if connection.dialect.name in ("mysql", "mariadb")
                else "its autocommit block committed what it had run")
        raise MigrationError(f"{found[0].describe()}; {kept}. Run 'jnt_dbman repair' to undo them, "
                             "then migrate again")


def mark_started(connection: Connection, step: RevisionStep, *, table_made: bool = False) -> None:
    """Record that *step*'s revision is under way (committed with the next commit).

    *table_made*: the caller made the progress table on this connection
    already, so it is not asked about again (on MariaDB, a round trip per revision).
    """
    revision = step.revision
    _mark(connection, revision.revision, ", ".join(sorted(revision.branch_labels)) or "no branch",
          "upgrade" if step.is_upgrade else "downgrade", table_made=table_made)


def mark_createdb(connection: Connection) -> None:
    """Record that createdb is under way (MySQL/MariaDB: its first CREATE TABLE commits this)."""
    journal.ensure_table(connection)
    _mark(connection, journal.CREATEDB, "every branch", journal.CREATEDB)


def _mark(connection: Connection, revision: str, branch: str, direction: str, *, table_made: bool = False) -> None:
    if not table_made:
        progress_table.create(connection, checkfirst=True)
    connection.execute(progress_table.insert().values(
        revision=revision, branch=branch, direction=direction,
        started=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        process=f"{socket.gethostname()} pid {os.getpid()}"))


def mark_done(connection: Connection, step: RevisionStep | None) -> None:
    """Record that *step*'s revision (None: createdb) finished: in the transaction that records its version."""
    revision = journal.CREATEDB if step is None else step.revision.revision
    connection.execute(progress_table.delete().where(progress_table.c.revision == revision))
    journal.forget(connection, revision, known_to_exist=True)


def marking(steps: Iterable[Any], connection: Connection, own: set[str] | None = None) -> list[Any]:
    """*steps*, each recording that its revision is under way before it runs, and done after (MySQL/MariaDB).

    *own* holds the revisions marked and not done yet: a failing run settles those (:func:`settle_own`).
    """
    steps = list(steps)
    if steps:
        progress_table.create(connection, checkfirst=True)
        journal.ensure_table(connection)
    for step in steps:
        step.migration_fn = _marked(step, connection, set() if own is None else own)
    return steps


def _marked(step: RevisionStep, connection: Connection, own: set[str]) -> Any:
    run = step.migration_fn

    @functools.wraps(run)
    def marked(**kw: Any) -> Any:
        # Alembic takes the lock's open transaction for the caller's and never commits between revisions:
        # the version row and done mark of the revision before are committed here, or a revision failing
        # before its first DDL statement would roll them back while that revision's statements stay.
        if connection.in_transaction():
            connection.commit()
        # Committed by the revision's first DDL statement at the latest, as MySQL commits before any DDL.
        mark_started(connection, step, table_made=True)  # marking() made the table before the first revision
        own.add(step.revision.revision)
        result = run(**kw)
        # In the transaction Alembic commits with the revision's version.
        mark_done(connection, step)
        own.discard(step.revision.revision)
        return result

    return marked


@dataclass(frozen=True)
class Repaired:
    """What repair did to one interrupted revision."""

    interrupted: Interrupted
    #: True: recorded as done (it was finished by hand); False: its work undone.
    marked_applied: bool
    #: What was undone, one line each ("dropped table x").
    undone: tuple[str, ...] = ()
    #: Statements of the journal left as they are, one line each with the reason.
    skipped: tuple[str, ...] = ()


def repair(connection: Connection, script: ScriptDirectory, *, applied: bool = False) -> list[Repaired]:
    """Bring every interrupted revision to a known state, and forget that it was interrupted.

    By default what its journal shows it did is undone (:mod:`janitoo_db.runtime.undo`),
    and nothing else: the revision stays as ``alembic_version`` says (not
    applied, for an interrupted upgrade), and the next upgrade runs it again.
    A statement that cannot be undone refuses the whole repair, naming it.
    With *applied*, someone finished it by hand: its step is recorded as
    done, and nothing runs.
    """
    done = []
    for found in find(connection):
        if found.is_createdb and applied:
            raise RefusedError(f"{found.describe()}; a createdb cannot be recorded as done: run 'jnt_dbman repair' "
                               "to drop the tables it created, then createdb again")
        if applied:
            # Only --applied needs the revision itself: the journal says what to undo, installed or not.
            revision = _known(script, found)
            context = MigrationContext.configure(connection, opts={
                "target_metadata": sa.MetaData(naming_convention=NAMING_CONVENTION)})
            record_step(context, script, revision, context.get_current_heads(),
                        upgrade=found.direction == "upgrade")
            _forget(connection, found)
            done.append(Repaired(found, True))
        else:
            plan = _plan(connection, found)
            if plan is None:
                raise RefusedError(f"{found.describe()}, and an older janitoo_db ran it, which kept no journal of "
                                   "its statements: repair cannot tell what it did. Finish the revision by hand, "
                                   "then record it as done with 'jnt_dbman repair --applied'")
            if plan.refused:
                raise undo.refusal(found.describe(), plan)
            done.append(_undo(connection, found, plan))
    return done


def _plan(connection: Connection, found: Interrupted) -> undo.Undo | None:
    """What undoing *found* does, from its journal; None without a journal (an older janitoo_db ran it)."""
    entries = journal.entries(connection, found.revision)
    if entries is None:
        return None
    return undo.plan(entries, lambda entry: present(connection, entry.action, entry.table_name, entry.object_name))


def _undo(connection: Connection, found: Interrupted, plan: undo.Undo) -> Repaired:
    """Run *plan*, then forget that *found* was interrupted."""
    undone = undo.run(connection, plan)
    _forget(connection, found)
    return Repaired(found, False, tuple(undone), tuple(plan.skipped))


def _forget(connection: Connection, found: Interrupted) -> None:
    connection.execute(progress_table.delete().where(progress_table.c.revision == found.revision))
    journal.forget(connection, found.revision)
    connection.commit()


@dataclass(frozen=True)
class Kept:
    """A revision this run marked, left under way because its work cannot be undone at once."""

    interrupted: Interrupted
    #: Why, for the error: "it ran DELETE FROM t, which repair cannot undo".
    why: str
    #: What gets out: "finish the revision by hand, then record it as done with 'jnt_dbman repair --applied'".
    way_out: str


def settle_own(connection: Connection, revisions: Iterable[str]) -> tuple[list[Repaired], list[Kept]]:
    """Undo, as repair would, what the revisions among *revisions* this very run marked and left under way ran.

    After a failure or a lock timeout: the marks were written by this run,
    which still holds the migration lock, so nobody else can have run in
    between.  A revision whose journal holds what cannot be undone, or a
    statement whose effect cannot be told, keeps its mark (the second list),
    for ``jnt_dbman repair``.  An error of the undo itself is raised: the
    mark stays, and repair finds the journal as it was.
    """
    settled, kept = [], []
    for found in find(connection):
        if found.revision not in revisions:
            continue
        plan = _plan(connection, found)
        if plan is None or plan.refused:
            cannot = "; ".join(entry.describe() for entry in plan.refused) if plan else "statements of no journal"
            kept.append(Kept(found, f"it ran {cannot}, which cannot be undone",
                             "finish the revision by hand, then record it as done with 'jnt_dbman repair --applied'"))
            continue
        if plan.unknown:
            started = "; ".join(entry.describe() for entry in plan.unknown)
            kept.append(Kept(found, f"it cannot be told whether {started} took effect",
                             "check it by hand, then run 'jnt_dbman repair'"))
            continue
        settled.append(_undo(connection, found, plan))
    return settled, kept


def _known(script: ScriptDirectory, found: Interrupted) -> Any:
    try:
        return script.get_revision(found.revision)
    except Exception:  # noqa: BLE001 - Alembic raises several kinds for an unknown id
        raise RevisionError(f"{found.describe()}, and no installed extension provides it: "
                            f"install {found.branch} again, then run 'jnt_dbman repair'") from None
