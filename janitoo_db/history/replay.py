"""Every revision run on a scratch SQLite database in memory, to learn the schema each one leaves.

``jnt_dbman adopt`` compares a database that has no ``alembic_version``
with the schema at each revision, and ``jnt_dbman squash`` writes the schema
at a branch's head as one revision.  Neither can read that schema from the
models (they may be ahead of the revisions) nor from the offline SQL (a
revision that reads the database has none): running the revisions
themselves, on an empty database nobody else sees, gives it exactly.
Revisions written for janitoo run on SQLite, the embedded default.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from alembic.runtime.migration import MigrationInfo
from alembic.script import Script
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.pool import StaticPool

from janitoo_db.defaults import BOOKKEEPING_TABLES
from janitoo_db.errors import JanitooDbError, RevisionError
from janitoo_db.runtime.running import failing_revision, run_alembic
from janitoo_db.site import Site

#: Tables that are not any branch's schema.
NOT_SCHEMA = BOOKKEEPING_TABLES | {"alembic_version"}


@dataclass(frozen=True)
class Applied:
    """One revision just run on the scratch database."""

    revision: Script
    #: The tables the revision created (they are its branch's).
    created: frozenset[str]
    #: The tables it dropped.
    dropped: frozenset[str]


def replay(site: Site, after_each: Callable[[Applied, Connection], None], destination: str = "heads") -> None:
    """Upgrade an empty scratch database from base to *destination*, calling *after_each* after every revision.

    *after_each* gets the connection inside the replay's transaction, so it
    can read (or copy) what the revision left.  A revision that fails stops
    the replay with a :class:`RevisionError` naming it.
    """
    site.script  # noqa: B018 - loaded and checked before the scratch database is made
    engine = create_engine("sqlite://", poolclass=StaticPool)
    # The replay is a migration of its own: the command's run (when it is inside one) is put back after.
    outer = site.run
    tables: set[str] = set()
    running: list[Script] = []

    def applied(ctx: Any, step: MigrationInfo, heads: Any, run_args: Any) -> None:
        # Alembic passes these by keyword: the names matter.
        revision = cast("Script | None", step.up_revision)  # the Scripts of janitoo_db's ScriptDirectory
        if step.is_stamp or revision is None:
            return
        running.append(revision)
        now = set(inspect(connection).get_table_names()) - NOT_SCHEMA
        after_each(Applied(revision, frozenset(now - tables), frozenset(tables - now)), connection)
        tables.clear()
        tables.update(now)

    try:
        with engine.begin() as connection:
            site.new_run()
            site.run.connection = connection
            site.run.on_version_apply = applied
            try:
                run_alembic(site, destination, upgrade=True)
            except JanitooDbError:
                raise
            except BaseException as error:  # SystemExit and KeyboardInterrupt too: the replay failed
                raise RevisionError(_failure(site, running, error)) from None
            connection.rollback()
    finally:
        site.run = outer
        engine.dispose()


def _failure(site: Site, running: list[Script], error: BaseException) -> str:
    """Which revision could not be replayed, and why."""
    failing = failing_revision(site, error)
    where = (f"revision {failing.revision} ({', '.join(sorted(failing.branch_labels)) or 'no branch'})"
             if failing is not None else
             f"the revision after {running[-1].revision}" if running else "the first revision")
    return (f"cannot run {where} on a scratch SQLite database to learn its schema: "
            f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
