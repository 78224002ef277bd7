"""What janitoo_db's packaged ``env.py`` does, for jnt_dbman and for plain ``alembic``.

Migrations hold a database lock, so several servers starting at once run them
one after the other.  Where DDL is transactional (PostgreSQL, SQLite) every
revision of a command runs in one transaction; on MySQL/MariaDB, whose DDL
commits by itself, Alembic runs one transaction per revision.
"""
from __future__ import annotations

import configparser
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import sqlalchemy as sa
from alembic.config import Config
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from janitoo_db.defaults import NAMING_CONVENTION
from janitoo_db.guard import sql_guard
from janitoo_db.guard.registry import record_branches, recorded_branches, recording_tables
from janitoo_db.results import Replaced
from janitoo_db.runtime import checksums, interrupted, journal, settling
from janitoo_db.runtime.locking import migration_connection, outside_transaction
from janitoo_db.runtime.running import lock_timeout
from janitoo_db.site import MigrationRun, Site, handed_over, squashed
from janitoo_db.site.alembic_internals import (
    migrate_writing_versions_once,
    replacing_autocommit_block,
)
from janitoo_db.site.engine import (
    create_db_engine,
    has_transactional_ddl_dialect,
    parse_url,
)
from janitoo_db.site.reading import current_heads
from janitoo_db.site.timeouts import is_lock_timeout, statement_limits


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
        if self.run.budget is not None:
            self.run.budget.revision_done()
            self.run.budget.released()
        self.connection.begin()

    def between(self, step: Any, write_versions: Callable[[], None]) -> None:
        """Commit here if the next revision might overflow PostgreSQL's lock table (:mod:`~.lock_budget`)."""
        budget = self.run.budget
        if budget is None or not budget.revision_done():
            return
        write_versions()
        self.settle()
        self.connection.commit()
        self.run.committed_partway = True
        self.run.split_commits += 1
        budget.committed()
        self.connection.begin()


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
