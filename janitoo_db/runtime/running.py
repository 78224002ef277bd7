"""A command's migration: run under the lock, tried again after a lock timeout, its failure said in one line.

The command hands its :class:`~janitoo_db.site.Site` and what to run;
Alembic then runs our ``env.py`` (:mod:`janitoo_db.runtime.environment`) on
the connection that holds the lock.
"""
from __future__ import annotations

import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Callable, TypeVar, cast

from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationInfo
from alembic.script import Script
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from janitoo_db.errors import JanitooDbError, MigrationError, RefusedError, RevisionError
from janitoo_db.guard import sql_guard
from janitoo_db.guard.registry import owning
from janitoo_db.results import Step
from janitoo_db.runtime import checksums, interrupted, journal, lock_budget, locking, settling
from janitoo_db.runtime.locking import migration_connection
from janitoo_db.site import Site
from janitoo_db.site.alembic_internals import (
    downgrade_steps,
    stamp_steps,
    upgrade_steps,
)
from janitoo_db.site.engine import (
    describe_db_error,
    has_transactional_ddl_dialect,
    hide_password,
)
from janitoo_db.site.reading import read_current, read_database
from janitoo_db.site.revision_files import describe_raised
from janitoo_db.site.revisions import alembic_errors
from janitoo_db.site.timeouts import is_lock_timeout
from janitoo_db.text import first_line

T = TypeVar("T")


def lock_timeout(site: Site | None = None) -> float:
    """Seconds a migration waits for another one's lock: the site's, else ``$JANITOO_DB_LOCK_TIMEOUT``, else 600."""
    return locking.lock_timeout(site.lock_timeout if site is not None else None)


def locked_connection(site: Site) -> AbstractContextManager[Connection]:
    """:func:`janitoo_db.runtime.locking.migration_connection` for the site's database, with its limits and notices."""
    engine = site.engine
    return migration_connection(engine, lock_timeout(site), site.notify, site.limits.settings(engine.dialect.name))


def run_alembic(site: Site, revision: str, *, upgrade: bool, sql: bool = False,
                guard: Callable[[Any], None] | None = None) -> None:
    """Alembic's upgrade or downgrade command, on the revisions janitoo_db already loaded and checked.

    ``alembic.command`` would read every revision file a second time.
    *guard* sees the revision steps once they are known, under the
    migration's lock and before any runs, and may refuse them by raising.
    """
    script = site.script
    run = site.run
    starting_rev = None
    if ":" in revision:
        if not sql:
            raise RevisionError(f"a range such as {revision!r} is only for --sql")
        starting_rev, revision = revision.split(":", 1)
    elif sql and not upgrade:
        raise RevisionError(f"downgrade --sql needs a range FROM:TO, not {revision!r}")

    def steps(current: Any, context: Any) -> Any:
        known, run.known_steps = run.known_steps, None
        if upgrade and known is not None and known[0] == (revision, tuple(current)):
            found = known[1]
        else:
            found = (upgrade_steps if upgrade else downgrade_steps)(script, revision, current)
        if guard is not None:
            guard(found)
        run.planned = len(found)
        if context.as_sql:
            return found
        lock_budget.stop(run.budget)
        run.budget = lock_budget.watching(context.connection, len(found), site.notify)
        found = sql_guard.scoped(journal.scoped(owning(found), context.connection))
        if not has_transactional_ddl_dialect(context.dialect.name):
            return checksums.recording_each(interrupted.marking(found, context.connection, run.own_marks),
                                            context.connection)
        return found

    run.migrate_only, run.steps = True, steps
    try:
        with EnvironmentContext(site.alembic_config, script, fn=steps, as_sql=sql, starting_rev=starting_rev,
                                destination_rev=revision):
            script.run_env()
    finally:
        lock_budget.stop(run.budget)
        run.migrate_only, run.steps, run.budget = False, None, None


def run_stamp(site: Site, revisions: list[str]) -> None:
    """Alembic's stamp command, on the revisions janitoo_db already loaded and checked.

    ``alembic.command.stamp`` would read every revision file again, with its
    own loader (a FIFO named ``x.py`` would block it, a stale ``__pycache__``
    could stand in for a file).
    """
    script = site.script

    def steps(current: Any, context: Any) -> Any:
        return stamp_steps(script, tuple(revisions), current)

    site.run.migrate_only = True
    try:
        with EnvironmentContext(site.alembic_config, script, fn=steps, destination_rev=tuple(revisions)):
            script.run_env()
    finally:
        site.run.migrate_only = False


#: What waits between two tries after a lock timeout (tests replace it to see the pauses).
pause: Callable[[float], None] = time.sleep


def run_locked(site: Site, action: Callable[[Connection], Any],
               on_step: Callable[[Step], None] | None = None) -> list[Step]:
    """Run *action* on the connection holding the migration lock; return (and report) each revision it ran.

    Any failure becomes one of our errors, naming the revision that failed and
    the version the database is left at.
    """
    steps: list[Step] = []

    def record(ctx: Any, step: MigrationInfo, heads: Any, run_args: Any) -> None:
        # Alembic passes these by keyword: the names matter.
        if step.is_stamp:
            return
        revision = cast("Script | None", step.up_revision)  # the Scripts of janitoo_db's ScriptDirectory
        steps.append(Step(
            revision=step.up_revision_id or "",
            branches=tuple(sorted(revision.branch_labels)) if revision is not None else (),
            message=first_line(revision.doc) if revision is not None else "",
            is_upgrade=step.is_upgrade,
            number=len(steps) + 1,
            total=run.planned,
        ))
        if on_step is not None:
            on_step(steps[-1])

    site.script  # noqa: B018 - loaded and checked before the lock is taken
    waits = site.limits.waits()
    run = site.new_run()
    run.on_version_apply = record
    try:
        while True:
            try:
                with alembic_errors(lambda error: _migration_error(site, error),
                                    raised_by_revision=lambda error: failing_revision(site, error) is not None):
                    with locked_connection(site) as connection:
                        run.connection = connection
                        # A retry first settles what its own earlier try left under way (the undo may have
                        # met the lock too), before anything refuses to run over that mark.
                        settling.settle_own_marks(run, connection, site.notify, raising=True)
                        action(connection)
                return steps
            except MigrationError as error:
                settled = run.settled
                # A mark that cannot be undone is not run over: the error says repair is needed, no retry.
                kept = settled is not None and bool(settled.kept)
                wait = next(waits, None) if error.lock_timed_out and not kept else None
                if wait is None:
                    # The summary speaks for the whole command (an earlier try may have committed part of it).
                    error.rolled_back, error.committed_partway = _kept(site)
                    raise
                _retrying(site, error, wait)
                steps.clear()
                pause(wait)
            finally:
                run.connection, run.settled, run.known_steps = None, None, None
    finally:
        site.new_run()


def _kept(site: Site) -> tuple[bool, bool]:
    """(rolled back, committed part-way) for the command so far: what a failure's summary says."""
    partway = site.run.committed_partway
    return has_transactional_ddl_dialect(site.engine.dialect.name) and not partway, partway


def _retrying(site: Site, error: MigrationError, wait: float) -> None:
    """Say that a statement gave up waiting for a lock, what was undone, and when the next try is."""
    limits = site.limits
    site.run.retried += 1
    tries = site.run.retried
    waited = f" {limits.lock_timeout:g} s" if limits.lock_timeout is not None else ""
    undone = ("rolled back" if error.rolled_back else
              "the transactions of the split run before its own stay" if error.split_commits else
              "what ran before its autocommit block stays" if has_transactional_ddl_dialect(
                  site.engine.dialect.name) else "what it ran stays")
    site.notify(f"{error.failing or 'a statement'} waited{waited} for a lock other sessions hold and gave up "
                   f"(lock_timeout, --ddl-lock-timeout); {undone}; trying again in {wait:g} s "
                   f"(retry {tries} of {limits.retries}, --retries)")


def failing_revision(site: Site, error: BaseException) -> Script | None:
    """The revision whose file raised *error*, found from the traceback."""
    by_path = {str(Path(s.path).resolve()): s for s in site.script.walk_revisions()}
    tb, found = error.__traceback__, None
    while tb is not None:
        found = by_path.get(str(Path(tb.tb_frame.f_code.co_filename).resolve()), found)
        tb = tb.tb_next
    return found


def _at_base(site: Site) -> str:
    """What a database without a version holds: it is not called empty when it has tables."""
    from janitoo_db.site.reading import describe_base

    return read_database(site, describe_base, "base (no tables)", "list the tables")


def _migration_error(site: Site, error: BaseException) -> JanitooDbError:
    failing = failing_revision(site, error)
    engine = site.engine
    if isinstance(error, SQLAlchemyError):
        reason = describe_db_error(error, engine.url)
    else:  # a revision's own error may quote the URL it was given: hidden for library callers too
        reason = hide_password(describe_raised(error), engine.url)
    try:
        left_at = ", ".join(read_current(site)) or _at_base(site)
    except JanitooDbError:
        left_at = "unknown"
    rolled_back, partway = _kept(site)
    settled = site.run.settled or settling.Settled()
    commits = site.run.split_commits
    if rolled_back:
        left_at = f"rolled back, so nothing this command did was kept: the database is at {left_at}"
    elif commits and not settled.needs_repair:
        left_at = (f"{settled.describe()}the database is at {left_at} (the run was split for PostgreSQL's lock "
                   f"table: the {commits} transaction(s) before the failing revision's were committed, the rest "
                   "was rolled back)")
    elif has_transactional_ddl_dialect(engine.dialect.name):
        committed = ("what ran before it and in it" if settled.needs_repair else
                     "the revisions before it; the failing one's work was undone" if settled.undone else
                     "what ran before it")
        left_at = (f"{settled.describe()}the database is at {left_at} (an autocommit block committed {committed}; "
                   "the rest was rolled back)")
    else:
        stays = ("what the failing revision did before the error stays" if settled.needs_repair else
                 "the revisions before the failing one stay applied, and nothing of it stays")
        left_at = f"{settled.describe()}the database is at {left_at} (MySQL/MariaDB commit each DDL statement: {stays})"
    if isinstance(error, sql_guard.StatementRefused):
        return RefusedError(f"{error}; {left_at}. {error.advice}")
    timed_out = is_lock_timeout(error)
    if failing is None:
        return MigrationError(f"{reason}; {left_at}", rolled_back=rolled_back, lock_timed_out=timed_out,
                              committed_partway=partway, needs_repair=settled.needs_repair, split_commits=commits)
    branch = ", ".join(sorted(failing.branch_labels)) or "no branch"
    return MigrationError(f"revision {failing.revision} ({branch}, {failing.path}) failed: {reason}; {left_at}",
                          rolled_back=rolled_back, lock_timed_out=timed_out, committed_partway=partway,
                          failing=f"revision {failing.revision} ({branch})", needs_repair=settled.needs_repair,
                          split_commits=commits)
