"""What janitoo_db's packaged ``env.py`` does, for jnt_dbman and for plain ``alembic``.

Migrations hold a database lock, so several servers starting at once run them
one after the other.  Where DDL is transactional (PostgreSQL, SQLite) every
revision of a command runs in one transaction; on MySQL/MariaDB, whose DDL
commits by itself, Alembic runs one transaction per revision.
"""
from __future__ import annotations

import configparser
import time
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar, cast

import sqlalchemy as sa
from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationInfo
from alembic.script import Script, ScriptDirectory
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from janitoo_db.defaults import NAMING_CONVENTION
from janitoo_db.errors import JanitooDbError, MigrationError, RefusedError, RevisionError
from janitoo_db.guard import sql_guard
from janitoo_db.guard.registry import owning, record_branches, recorded_branches, recording_tables
from janitoo_db.results import Replaced, Step, first_line
from janitoo_db.runtime import checksums, interrupted, journal, locking, settling
from janitoo_db.runtime.locking import migration_connection, outside_transaction
from janitoo_db.site import MigrationRun, Site, handed_over, squashed
from janitoo_db.site.alembic_internals import (
    downgrade_steps,
    migrate_writing_versions_once,
    replacing_autocommit_block,
    stamp_steps,
    upgrade_steps,
)
from janitoo_db.site.engine import (
    create_db_engine,
    describe_db_error,
    has_transactional_ddl_dialect,
    hide_password,
    parse_url,
)
from janitoo_db.site.reading import current_heads, read_current, read_database
from janitoo_db.site.revision_cache import describe_raised
from janitoo_db.site.revisions import alembic_errors
from janitoo_db.site.timeouts import is_lock_timeout, statement_limits

T = TypeVar("T")

def lock_timeout(site: Site | None = None) -> float:
    """Seconds a migration waits for another one's lock: the site's, else ``$JANITOO_DB_LOCK_TIMEOUT``, else 600."""
    return locking.lock_timeout(site.lock_timeout if site is not None else None)


def locked_connection(site: Site) -> AbstractContextManager[Connection]:
    """:func:`janitoo_db.runtime.locking.migration_connection` for the site's database, with its limits and notices."""
    engine = site.engine
    return migration_connection(engine, lock_timeout(site), site.notify, site.limits.settings(engine.dialect.name))


def _configure_logging(config: Any) -> None:
    """Apply the ini file's logging sections, if it has any (never for jnt_dbman)."""
    if config.config_file_name is None:
        return
    parser = configparser.ConfigParser()
    parser.read(config.config_file_name)
    if parser.has_section("loggers"):
        from logging.config import fileConfig

        fileConfig(config.config_file_name, disable_existing_loggers=False)


#: Plain ``alembic`` commands that only run revisions, never compare models.
MIGRATE_ONLY_COMMANDS = {"upgrade", "downgrade", "stamp", "current", "history", "show", "heads", "branches"}


def _target_metadata(config: Config, run: MigrationRun) -> MetaData:
    """``Base.metadata`` with every extension loaded, when the models are compared.

    Running revisions reads only the naming convention (which names the
    constraints ``op.create_table`` makes); importing every extension's models
    for that would cost more than the migrations themselves on a large site.
    """
    command = getattr(config.cmd_opts, "cmd", None)
    plain_alembic_command = getattr(command[0], "__name__", "") if command else ""
    if run.migrate_only or plain_alembic_command in MIGRATE_ONLY_COMMANDS:
        return MetaData(naming_convention=NAMING_CONVENTION)
    import janitoo_db.models  # noqa: F401  (runs every extension's extend)
    from janitoo_db.base import Base

    return Base.metadata


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
        run.migrate_only, run.steps = False, None


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


def run_environment(context: Any) -> None:
    """Run the migrations Alembic asked for, online or offline (``--sql``)."""
    config = context.config
    _configure_logging(config)
    # The one hand-over: jnt_dbman's Site; plain ``alembic`` on our env.py runs without one.
    site = handed_over(config)
    run = site.run if site is not None else MigrationRun()
    options: dict[str, Any] = {
        "target_metadata": _target_metadata(config, run),
        "compare_type": True,
        "render_as_batch": True,
        "include_object": run.include_object,
        "process_revision_directives": run.process_revision_directives,
        "on_version_apply": (run.on_version_apply,) if run.on_version_apply is not None else (),
    }
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=parse_url(url), literal_binds=True, dialect_opts={"paramstyle": "named"}, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    if run.connection is not None:
        _run_online(context, run.connection, options, site, run)
        return
    engine = create_db_engine(url)
    try:
        settings = statement_limits({}).settings(engine.dialect.name)
        with migration_connection(engine, lock_timeout(), settings=settings) as connection:
            _run_online(context, connection, options, site, run)
    finally:
        engine.dispose()


def _run_online(context: Any, connection: Connection, options: dict[str, Any], site: Site | None,
                run: MigrationRun) -> None:
    interrupted.refuse_if_any(connection)
    restamp(connection, context.script, site.restamped if site is not None else None)
    context.configure(connection=connection, **options)
    migration_context = context.get_context()
    before = migration_context.get_current_heads()
    steps = run.steps
    notify = site.notify if site is not None else None
    with recording_tables(connection) as record_tables_so_far, journal.recording(connection):

        def settle() -> None:
            """Make janitoo_db's bookkeeping true of what ran so far."""
            record_tables_so_far()
            after = migration_context.get_current_heads()
            if after != before or (after and not recorded_branches(connection)):
                record_branches(connection, context.script)
            # With nothing changed, only a database migrated before janitoo_db kept checksums needs them.
            if after != before or (after and not checksums.kept(connection)):
                checksums.announce(site.notices if site is not None else [],
                                   checksums.record(connection, context.script, before))

        autocommit = _Autocommit(run, connection, settle)
        try:
            if steps is not None and connection.in_transaction() and \
                    has_transactional_ddl_dialect(connection.dialect.name):
                with Operations.context(migration_context):
                    migrate_writing_versions_once(migration_context, before, steps, autocommit)
            else:
                # Alembic's own loop writes the versions (and MySQL's progress marks) after each revision.
                with replacing_autocommit_block(migration_context, lambda: autocommit.block(None, lambda: None)):
                    with context.begin_transaction():
                        context.run_migrations()
        except BaseException as error:
            # Whatever stopped it short of a kill, the run undoes what its failing revision left committed.
            settling.settle_own_marks(run, connection, notify if is_lock_timeout(error) else None)
            raise
    settle()


#: What waits between two tries after a lock timeout (tests replace it to see the pauses).
pause: Callable[[float], None] = time.sleep


class _Autocommit:
    """What a revision's ``autocommit_block()`` does: commit what ran before it, then run it outside a transaction.

    The versions and bookkeeping of the revisions already run are written and
    committed first, with a mark saying that the running revision is under
    way (see :mod:`janitoo_db.runtime.interrupted`), so the database is true to
    itself if the rest fails; once that revision is done its version is
    committed with the mark taken away.  The migration lock stays held:
    PostgreSQL's is a session lock, MySQL's a named lock, SQLite's kept by
    its exclusive locking mode.
    """

    def __init__(self, run: MigrationRun, connection: Connection, settle: Callable[[], None]) -> None:
        self.run, self.connection, self.settle = run, connection, settle
        self.dialect = connection.dialect.name
        self.marked: set[str] = set()

    @contextmanager
    def block(self, step: Any, write_versions: Callable[[], None]) -> Iterator[None]:
        # Inside the revision's code: what is not the block's body is janitoo_db's bookkeeping.
        with sql_guard.bookkeeping() as revision_code:
            with journal.paused(self.connection):
                write_versions()
                self.settle()
                if has_transactional_ddl_dialect(self.dialect) and step.revision.revision not in self.marked:
                    interrupted.mark_started(self.connection, step)
                    self.marked.add(step.revision.revision)
                    self.run.own_marks.add(step.revision.revision)
                    self.run.committed_partway = True
            if has_transactional_ddl_dialect(self.dialect):
                # What the revision ran before the block is committed with the mark: journal it.
                journal.flush(self.connection)
            with outside_transaction(self.connection), revision_code():
                yield

    def revision_done(self, step: Any, write_versions: Callable[[], None]) -> None:
        write_versions()
        interrupted.mark_done(self.connection, step)
        self.run.own_marks.discard(step.revision.revision)
        self.settle()
        self.connection.commit()
        self.connection.begin()


# -- running Alembic commands for jnt_dbman ---------------------------------

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
    if rolled_back:
        left_at = f"rolled back, so nothing this command did was kept: the database is at {left_at}"
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
                              committed_partway=partway, needs_repair=settled.needs_repair)
    branch = ", ".join(sorted(failing.branch_labels)) or "no branch"
    return MigrationError(f"revision {failing.revision} ({branch}, {failing.path}) failed: {reason}; {left_at}",
                          rolled_back=rolled_back, lock_timed_out=timed_out, committed_partway=partway,
                          failing=f"revision {failing.revision} ({branch})", needs_repair=settled.needs_repair)


def restamp(connection: Connection, script: ScriptDirectory, restamped: list[Replaced] | None = None) -> None:
    """Re-stamp replaced heads to their squashed revision, or refuse an earlier replaced revision.

    Called under the migration lock before the steps are computed, on the
    migration's connection: in its transaction where DDL is transactional,
    so a migration that fails takes the re-stamp back too.  Nothing is
    written unless every replaced id can be re-stamped.  What was re-stamped
    is appended to *restamped* for the caller to report.
    """
    was_in_transaction = connection.in_transaction()
    current = current_heads(connection)
    found = squashed.find_replaced(script, current)
    for replaced in found:
        if not replaced.restamp:
            raise squashed.refusal(replaced)
    if found:
        version = sa.table("alembic_version", sa.column("version_num"))
        for replaced in found:
            if replaced.squashed in current:
                connection.execute(version.delete().where(version.c.version_num == replaced.revision))
            else:
                connection.execute(version.update().where(version.c.version_num == replaced.revision)
                                   .values(version_num=replaced.squashed))
        record_branches(connection, script)
        if restamped is not None:
            restamped.extend(found)
    if not was_in_transaction and connection.in_transaction():
        connection.commit()  # MySQL/MariaDB: the connection was outside any transaction, leave it so
