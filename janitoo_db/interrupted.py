"""Revisions a migration was running when it stopped half-way, and the way back to a known state.

MySQL and MariaDB commit every DDL statement by itself: a migration killed
half-way through a revision leaves the statements it ran, while
``alembic_version`` still says the revision was never applied, and the next
run fails on "Table ... already exists".  So on those databases janitoo_db
writes a row to ``janitoo_db_in_progress`` as a revision starts (the
revision's first DDL statement commits it) and deletes it in the transaction
that records the revision's version.  A row found later names a revision that
was interrupted: migrations refuse to run over it, ``checkdb`` reports it, and
:func:`repair` brings the database back to where it was before that revision.

On PostgreSQL and SQLite a killed migration rolls back whole, except around
a revision's ``autocommit_block()``: what ran before the block is committed,
so the row is written in that commit and deleted in the one that records
the revision.
"""
from __future__ import annotations

import functools
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext, RevisionStep
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from janitoo_db.alembic_internals import ddl_executed_by, record_step, replacing_autocommit_block
from janitoo_db.defaults import NAMING_CONVENTION
from janitoo_db.errors import MigrationError, RevisionError
from janitoo_db.locking import has_transactional_ddl_dialect, in_autocommit, outside_transaction
from janitoo_db.registry import PROGRESS_TABLE

#: MySQL errors that mean "that is not there": the undo of a half-done revision skips those statements.
ALREADY_GONE = {1051, 1091, 1146}  # unknown table; can't drop column or key; table doesn't exist
#: The same, as PostgreSQL's SQLSTATEs: undefined table, column, object (an index).
ALREADY_GONE_SQLSTATES = {"42P01", "42703", "42704"}
#: And as SQLite says it.
ALREADY_GONE_SQLITE = ("no such table", "no such column", "no such index")

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

    def describe(self) -> str:
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


def mark_started(connection: Connection, step: RevisionStep) -> None:
    """Record that *step*'s revision is under way (committed with the next commit)."""
    progress_table.create(connection, checkfirst=True)
    revision = step.revision
    connection.execute(progress_table.insert().values(
        revision=revision.revision, branch=", ".join(sorted(revision.branch_labels)) or "no branch",
        direction="upgrade" if step.is_upgrade else "downgrade",
        started=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        process=f"{socket.gethostname()} pid {os.getpid()}"))


def mark_done(connection: Connection, step: RevisionStep) -> None:
    """Record that *step*'s revision finished: in the transaction that records its version."""
    connection.execute(progress_table.delete().where(progress_table.c.revision == step.revision.revision))


def marking(steps: Iterable[Any], connection: Connection) -> list[Any]:
    """*steps*, each recording that its revision is under way before it runs, and done after (MySQL/MariaDB)."""
    steps = list(steps)
    if steps:
        progress_table.create(connection, checkfirst=True)
    for step in steps:
        step.migration_fn = _marked(step, connection)
    return steps


def _marked(step: RevisionStep, connection: Connection) -> Any:
    run = step.migration_fn

    @functools.wraps(run)
    def marked(**kw: Any) -> Any:
        # Committed by the revision's first DDL statement at the latest, as MySQL commits before any DDL.
        mark_started(connection, step)
        result = run(**kw)
        # In the transaction Alembic commits with the revision's version.
        mark_done(connection, step)
        return result

    return marked


@dataclass(frozen=True)
class Repaired:
    """What repair did to one interrupted revision."""

    interrupted: Interrupted
    #: True: recorded as done (it was finished by hand); False: its work undone.
    marked_applied: bool
    #: Statements of the undo skipped because what they remove was not there.
    skipped: tuple[str, ...] = ()


def repair(connection: Connection, script: ScriptDirectory, *, applied: bool = False) -> list[Repaired]:
    """Bring every interrupted revision to a known state, and forget that it was interrupted.

    By default the revision's ``downgrade`` runs, skipping what is not there
    (what the interruption never created), and the revision is recorded as
    not applied: the database is as before it started, and the next upgrade
    runs it again.  With *applied*, someone finished it by hand: its step is
    recorded as done, and nothing runs.
    """
    done = []
    for found in find(connection):
        revision = _known(script, found)
        context = MigrationContext.configure(connection, opts={
            "target_metadata": sa.MetaData(naming_convention=NAMING_CONVENTION)})
        current = context.get_current_heads()
        skipped: list[str] = []
        if applied:
            record_step(context, script, revision, current, upgrade=found.direction == "upgrade")
        else:
            _undo(context, revision, skipped)
            if revision.revision in current:
                record_step(context, script, revision, current, upgrade=False)
        connection.execute(progress_table.delete().where(progress_table.c.revision == found.revision))
        connection.commit()
        done.append(Repaired(found, applied, tuple(skipped)))
    return done


def _known(script: ScriptDirectory, found: Interrupted) -> Any:
    try:
        return script.get_revision(found.revision)
    except Exception:  # noqa: BLE001 - Alembic raises several kinds for an unknown id
        raise RevisionError(f"{found.describe()}, and no installed extension provides it: "
                            f"install {found.branch} again, then run 'jnt_dbman repair'") from None


def _undo(context: MigrationContext, revision: Any, skipped: list[str]) -> None:
    """Run *revision*'s downgrade, skipping the statements that remove what is not there."""
    connection = context.connection
    assert connection is not None
    # Where DDL is transactional a failed statement spoils the transaction: each runs in a savepoint.
    transactional = has_transactional_ddl_dialect(connection.dialect.name)

    def tolerant(execute: Callable[..., Any]) -> Callable[..., Any]:
        def run(construct: Any, *args: Any, **kwargs: Any) -> Any:
            savepoint = connection.begin_nested() if transactional and not in_autocommit(connection) else None
            try:
                result = execute(construct, *args, **kwargs)
            except DBAPIError as error:
                if savepoint is not None:
                    savepoint.rollback()
                if not _already_gone(error):
                    raise
                skipped.append(" ".join(str(construct).split()))
                return None
            if savepoint is not None:
                savepoint.commit()
            return result

        return run

    with ddl_executed_by(context, tolerant), Operations.context(context), \
            replacing_autocommit_block(context, lambda: outside_transaction(connection)):
        revision.module.downgrade()


def _already_gone(error: DBAPIError) -> bool:
    """True when *error* says that what a statement removes is not there."""
    original = error.orig
    if getattr(original, "sqlstate", None) in ALREADY_GONE_SQLSTATES:
        return True
    if getattr(original, "args", (None,))[0] in ALREADY_GONE:
        return True
    return str(original).startswith(ALREADY_GONE_SQLITE)
