"""What janitoo_db's packaged ``env.py`` does, for jnt_dbman and for plain ``alembic``.

Migrations hold a database lock, so several servers starting at once run them
one after the other.  Where DDL is transactional (PostgreSQL, SQLite) every
revision of a command runs in one transaction; on MySQL/MariaDB, whose DDL
commits by itself, Alembic runs one transaction per revision.
"""
from __future__ import annotations

import configparser
import math
import os
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar, cast

from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, MigrationInfo
from alembic.script import Script
from alembic.script.revision import RevisionError as AlembicRevisionError
from alembic.util import CommandError
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from janitoo_db import interrupted, squashed
from janitoo_db.alembic_internals import downgrade_steps, migrate_writing_versions_once, stamp_steps, upgrade_steps
from janitoo_db.config import script_for
from janitoo_db.defaults import NAMING_CONVENTION
from janitoo_db.engine import (
    connect,
    create_db_engine,
    describe_db_error,
    hide_password,
    is_missing_sqlite_file,
    parse_url,
)
from janitoo_db.errors import (
    ConfigError,
    DatabaseError,
    JanitooDbError,
    LockTimeoutError,
    MigrationError,
    RevisionError,
)
from janitoo_db.registry import owning, record_branches, recorded_branches, recording_tables
from janitoo_db.results import Step, first_line

T = TypeVar("T")

#: Key of the PostgreSQL advisory lock and prefix of the MySQL named lock.
LOCK_NAME = "janitoo_db.migrate"
LOCK_KEY = zlib.crc32(LOCK_NAME.encode())
#: Seconds a migration waits for another one's lock, unless told otherwise.
DEFAULT_LOCK_TIMEOUT = 600
#: The environment variable that tells otherwise.
LOCK_TIMEOUT_VARIABLE = "JANITOO_DB_LOCK_TIMEOUT"


def has_transactional_ddl_dialect(name: str) -> bool:
    """False for MySQL and MariaDB, whose DDL statements commit by themselves."""
    return name not in ("mysql", "mariadb")


def lock_timeout(config: Config | None = None) -> float:
    """Seconds a migration waits for another one's lock: the config's, else ``$JANITOO_DB_LOCK_TIMEOUT``, else 600."""
    value = config.attributes.get("lock_timeout") if config is not None else None
    if value is None:
        value = os.environ.get(LOCK_TIMEOUT_VARIABLE) or DEFAULT_LOCK_TIMEOUT
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not (seconds >= 0 and math.isfinite(seconds)):
        raise ConfigError(f"the lock timeout must be a number of seconds, not {value!r} ({LOCK_TIMEOUT_VARIABLE})")
    return seconds


@contextmanager
def migration_connection(engine: Engine, timeout: float | None = None) -> Iterator[Connection]:
    """A connection holding the migration lock; its work is committed on success.

    With transactional DDL the connection is inside one transaction that is
    rolled back on any error; otherwise it is outside any transaction so that
    Alembic can commit after each revision.  Waiting for another migration's
    lock lasts *timeout* seconds at most (:func:`lock_timeout`), then fails
    with :class:`LockTimeoutError`, naming the holder where the database can.
    """
    timeout = lock_timeout() if timeout is None else timeout
    with connect(engine) as connection:
        dialect = connection.dialect.name
        if dialect == "sqlite":
            connection = connection.execution_options(sqlite_begin="IMMEDIATE")
            # On the driver's connection: through SQLAlchemy the PRAGMA would begin (and lock) at once.
            driver_connection = connection.connection.driver_connection
            assert driver_connection is not None  # the connection is open
            driver_connection.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        if has_transactional_ddl_dialect(dialect):
            try:
                transaction = connection.begin()
            except OperationalError as error:
                if "locked" not in str(error.orig):
                    raise
                raise LockTimeoutError(_lock_timeout_message(engine, timeout, "another process")) from None
            with transaction:
                if dialect == "postgresql":
                    _take_postgresql_lock(connection, engine, timeout)
                yield connection
            return
        name = cast(str, connection.execute(text("SELECT CONCAT(:prefix, DATABASE())"),
                                            {"prefix": LOCK_NAME + ":"}).scalar())[:64]
        # GET_LOCK takes whole seconds; 1 means taken, 0 a timeout, NULL an error.
        taken = connection.execute(text("SELECT GET_LOCK(:name, :timeout)"),
                                   {"name": name, "timeout": math.ceil(timeout)}).scalar()
        if taken != 1:
            holder = connection.execute(text(
                "SELECT CONCAT('MySQL connection ', ID, ', user ', USER, ', from ', HOST, ', for ', TIME, ' s') "
                "FROM information_schema.PROCESSLIST WHERE ID = IS_USED_LOCK(:name)"), {"name": name}).scalar()
            connection.rollback()
            raise LockTimeoutError(_lock_timeout_message(engine, timeout, holder or "another migration"))
        connection.commit()
        try:
            yield connection
            if connection.in_transaction():
                connection.commit()
        finally:
            if connection.in_transaction():
                connection.rollback()
            connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})
            connection.commit()


def _take_postgresql_lock(connection: Connection, engine: Engine, timeout: float) -> None:
    """The transaction-level advisory lock, waiting *timeout* seconds at most."""
    configured = connection.execute(text("SELECT current_setting('lock_timeout')")).scalar()
    # lock_timeout 0 would mean no limit at all: the shortest wait is a millisecond.
    wait = f"{max(1, int(timeout * 1000))}ms"
    connection.execute(text("SELECT set_config('lock_timeout', :wait, true)"), {"wait": wait})
    savepoint = connection.begin_nested()
    try:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    except OperationalError as error:
        if getattr(error.orig, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        savepoint.rollback()
        holder = connection.execute(text(
            "SELECT format('PostgreSQL process %s, user %s, from %s, since %s', a.pid, a.usename, "
            "coalesce(host(a.client_addr), 'local socket'), to_char(a.xact_start, 'YYYY-MM-DD HH24:MI:SS')) "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = :key AND l.objsubid = 1"),
            {"key": LOCK_KEY}).scalar()
        raise LockTimeoutError(_lock_timeout_message(engine, timeout, holder or "another migration")) from None
    savepoint.commit()
    # The migration's own statements wait as the server is configured to.
    connection.execute(text("SELECT set_config('lock_timeout', :wait, true)"), {"wait": configured})


def _lock_timeout_message(engine: Engine, timeout: float, holder: str) -> str:
    return (f"another migration holds the lock of {hide_password(engine.url)} ({holder}); gave up after "
            f"{timeout:g} s (--lock-timeout, ${LOCK_TIMEOUT_VARIABLE})")


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


def _target_metadata(config: Config) -> MetaData:
    """``Base.metadata`` with every extension loaded, when the models are compared.

    Running revisions reads only the naming convention (which names the
    constraints ``op.create_table`` makes); importing every extension's models
    for that would cost more than the migrations themselves on a large site.
    """
    command = getattr(config.cmd_opts, "cmd", None)
    plain_alembic_command = getattr(command[0], "__name__", "") if command else ""
    if config.attributes.get("migrate_only") or plain_alembic_command in MIGRATE_ONLY_COMMANDS:
        return MetaData(naming_convention=NAMING_CONVENTION)
    import janitoo_db.models  # noqa: F401  (runs every extension's extend)
    from janitoo_db.base import Base

    return Base.metadata


def run_alembic(config: Config, revision: str, *, upgrade: bool, sql: bool = False,
                guard: Callable[[Any], None] | None = None) -> None:
    """Alembic's upgrade or downgrade command, on the revisions janitoo_db already loaded and checked.

    ``alembic.command`` would read every revision file a second time.
    *guard* sees the revision steps once they are known, under the
    migration's lock and before any runs, and may refuse them by raising.
    """
    script = script_for(config)
    starting_rev = None
    if ":" in revision:
        if not sql:
            raise RevisionError(f"a range such as {revision!r} is only for --sql")
        starting_rev, revision = revision.split(":", 1)
    elif sql and not upgrade:
        raise RevisionError(f"downgrade --sql needs a range FROM:TO, not {revision!r}")

    def steps(current: Any, context: Any) -> Any:
        found = (upgrade_steps if upgrade else downgrade_steps)(script, revision, current)
        if guard is not None:
            guard(found)
        config.attributes["planned"] = len(found)
        if context.as_sql:
            return found
        found = owning(found)
        if not has_transactional_ddl_dialect(context.dialect.name):
            return interrupted.marking(found, context.connection)
        return found

    config.attributes["migrate_only"] = True
    config.attributes["steps"] = steps
    try:
        with EnvironmentContext(config, script, fn=steps, as_sql=sql, starting_rev=starting_rev,
                                destination_rev=revision):
            script.run_env()
    finally:
        config.attributes.pop("migrate_only", None)
        config.attributes.pop("steps", None)


def run_stamp(config: Config, revisions: list[str]) -> None:
    """Alembic's stamp command, on the revisions janitoo_db already loaded and checked.

    ``alembic.command.stamp`` would read every revision file again, with its
    own loader (a FIFO named ``x.py`` would block it, a stale ``__pycache__``
    could stand in for a file).
    """
    script = script_for(config)

    def steps(current: Any, context: Any) -> Any:
        return stamp_steps(script, tuple(revisions), current)

    config.attributes["migrate_only"] = True
    try:
        with EnvironmentContext(config, script, fn=steps, destination_rev=tuple(revisions)):
            script.run_env()
    finally:
        config.attributes.pop("migrate_only", None)


def run_environment(context: Any) -> None:
    """Run the migrations Alembic asked for, online or offline (``--sql``)."""
    config = context.config
    _configure_logging(config)
    options: dict[str, Any] = {
        "target_metadata": _target_metadata(config),
        "compare_type": True,
        "render_as_batch": True,
        "include_object": config.attributes.get("include_object"),
        "process_revision_directives": config.attributes.get("process_revision_directives"),
        "on_version_apply": config.attributes.get("on_version_apply", ()),
    }
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=parse_url(url), literal_binds=True, dialect_opts={"paramstyle": "named"}, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_online(context, connection, options)
        return
    engine = create_db_engine(url)
    try:
        with migration_connection(engine) as connection:
            _run_online(context, connection, options)
    finally:
        engine.dispose()


def _run_online(context: Any, connection: Connection, options: dict[str, Any]) -> None:
    if not has_transactional_ddl_dialect(connection.dialect.name):
        interrupted.refuse_if_any(connection)
    squashed.restamp(connection, context.script, context.config.attributes)
    context.configure(connection=connection, **options)
    migration_context = context.get_context()
    before = migration_context.get_current_heads()
    steps = context.config.attributes.get("steps")
    with recording_tables(connection):
        if steps is not None and connection.in_transaction() and has_transactional_ddl_dialect(connection.dialect.name):
            with Operations.context(migration_context):
                migrate_writing_versions_once(migration_context, before, steps)
        else:
            with context.begin_transaction():
                context.run_migrations()
    after = migration_context.get_current_heads()
    if after != before or (after and not recorded_branches(connection)):
        record_branches(connection, context.script)


# -- running Alembic commands for jnt_dbman ---------------------------------

def engine_for(config: Config) -> Engine:
    """The engine of *config*'s database, created once per Config."""
    if "engine" not in config.attributes:
        config.attributes["engine"] = create_db_engine(config.attributes["url"])
    return config.attributes["engine"]


def read_database(config: Config, read: Callable[[Connection], T], missing: T, what: str) -> T:
    """*read* on a connection of its own; *missing* for a SQLite file that does not exist, which is not created.

    A failure is a :class:`DatabaseError` saying "cannot *what*".
    """
    engine = engine_for(config)
    if is_missing_sqlite_file(engine):
        return missing
    try:
        with connect(engine) as connection:
            return read(connection)
    except SQLAlchemyError as error:
        raise DatabaseError(f"cannot {what}: {describe_db_error(error, engine.url)}") from None


def read_current(config: Config) -> tuple[str, ...]:
    """The revision ids in the database's ``alembic_version`` table."""
    return read_database(config, lambda connection: tuple(MigrationContext.configure(connection).get_current_heads()),
                         (), "read the database version")


def run_locked(config: Config, action: Callable[[], Any], on_step: Callable[[Step], None] | None = None) -> list[Step]:
    """Run an Alembic command under the migration lock; return (and report) each revision it ran.

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
            total=config.attributes.get("planned", 0),
        ))
        if on_step is not None:
            on_step(steps[-1])

    script_for(config)
    config.attributes["on_version_apply"] = record
    try:
        with alembic_errors(lambda error: _migration_error(config, error)):
            with migration_connection(engine_for(config), lock_timeout(config)) as connection:
                config.attributes["connection"] = connection
                action()
    finally:
        config.attributes.pop("connection", None)
        config.attributes.pop("on_version_apply", None)
        config.attributes.pop("planned", None)
    return steps


@contextmanager
def alembic_errors(otherwise: Callable[[Exception], JanitooDbError] | None = None) -> Iterator[None]:
    """Turn what an Alembic command raises into one of our errors.

    Ours pass through, Alembic's revision errors become :class:`RevisionError`,
    anything else becomes ``otherwise(error)``, or passes through without *otherwise*.
    """
    try:
        yield
    except JanitooDbError:
        raise
    except (CommandError, AlembicRevisionError) as error:
        raise RevisionError(str(error)) from None
    except Exception as error:
        if otherwise is None:
            raise
        raise otherwise(error) from None


def failing_revision(config: Config, error: BaseException) -> Script | None:
    """The revision whose file raised *error*, found from the traceback."""
    by_path = {str(Path(s.path).resolve()): s for s in script_for(config).walk_revisions()}
    tb, found = error.__traceback__, None
    while tb is not None:
        found = by_path.get(str(Path(tb.tb_frame.f_code.co_filename).resolve()), found)
        tb = tb.tb_next
    return found


def _migration_error(config: Config, error: Exception) -> MigrationError:
    failing = failing_revision(config, error)
    engine = engine_for(config)
    if isinstance(error, SQLAlchemyError):
        reason = describe_db_error(error, engine.url)
    else:
        reason = f"{type(error).__name__}: {error}"
    try:
        left_at = ", ".join(read_current(config)) or "base (empty)"
    except JanitooDbError:
        left_at = "unknown"
    if has_transactional_ddl_dialect(engine.dialect.name):
        left_at = f"rolled back, so nothing this command did was kept: the database is at {left_at}"
    else:
        left_at = (f"the database is at {left_at} (MySQL/MariaDB commit each DDL statement: "
                   "what the failing revision did before the error stays)")
    rolled_back = has_transactional_ddl_dialect(engine.dialect.name)
    if failing is None:
        return MigrationError(f"{reason}; {left_at}", rolled_back=rolled_back)
    branch = ", ".join(sorted(failing.branch_labels)) or "no branch"
    return MigrationError(f"revision {failing.revision} ({branch}, {failing.path}) failed: {reason}; {left_at}",
                          rolled_back=rolled_back)
