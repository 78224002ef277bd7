"""The database lock every migration holds, so that servers starting at once migrate one after the other.

PostgreSQL: a session-level advisory lock, taken outside any transaction
and held until the migration ends, across the commits a revision's
``autocommit_block`` needs.  A waiter asks for it with
``pg_try_advisory_lock`` between pauses instead of blocking inside a
statement: a blocked statement holds a snapshot, and ``CREATE INDEX
CONCURRENTLY`` in the running migration would wait for that snapshot, that
is for the waiter, which waits for the migration.

MySQL/MariaDB: a named lock (``GET_LOCK``).  SQLite: the write lock
(``BEGIN IMMEDIATE``), kept across an autocommit block by SQLite's
exclusive locking mode.
"""
from __future__ import annotations

import math
import os
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import cast

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from janitoo_db.errors import ConfigError, LockTimeoutError
from janitoo_db.site.engine import connect, has_transactional_ddl_dialect, hide_password

#: Key of the PostgreSQL advisory lock and prefix of the MySQL named lock.
LOCK_NAME = "janitoo_db.migrate"
LOCK_KEY = zlib.crc32(LOCK_NAME.encode())
#: Seconds a migration waits for another one's lock, unless told otherwise.
DEFAULT_LOCK_TIMEOUT = 600
#: The environment variable that tells otherwise.
LOCK_TIMEOUT_VARIABLE = "JANITOO_DB_LOCK_TIMEOUT"
#: The longest pause between two tries for PostgreSQL's lock.
LONGEST_PAUSE = 0.5
#: Set on a SQLite connection whose locking mode was made exclusive (see :func:`keep_sqlite_lock`).
EXCLUSIVE_KEY = "janitoo_db.sqlite_exclusive"

Notice = Callable[[str], None]


def lock_timeout(value: object = None) -> float:
    """Seconds a migration waits for another one's lock: *value*, else ``$JANITOO_DB_LOCK_TIMEOUT``, else 600."""
    if value is None:
        value = os.environ.get(LOCK_TIMEOUT_VARIABLE) or DEFAULT_LOCK_TIMEOUT
    try:
        seconds = float(cast(str, value))
    except (TypeError, ValueError):
        seconds = -1.0
    if not (seconds >= 0 and math.isfinite(seconds)):
        raise ConfigError(f"the lock timeout must be a number of seconds, not {value!r} ({LOCK_TIMEOUT_VARIABLE})")
    return seconds


@contextmanager
def migration_connection(engine: Engine, timeout: float | None = None, on_wait: Notice | None = None,
                         settings: Mapping[str, str] | None = None) -> Iterator[Connection]:
    """A connection holding the migration lock; its work is committed on success.

    With transactional DDL the connection is inside a transaction that is
    rolled back on any error (a revision's autocommit block may have
    committed what ran before it: that stays); otherwise it is outside any
    transaction so that Alembic can commit after each revision.  Waiting for
    another migration's lock lasts *timeout* seconds at most, then fails with
    :class:`LockTimeoutError`, naming the holder where the database can;
    *on_wait* hears once that the wait began.  PostgreSQL *settings*
    (``lock_timeout``...) hold for the whole migration, and are put back
    before the connection returns to the pool.
    """
    timeout = lock_timeout() if timeout is None else timeout
    with connect(engine) as connection:
        dialect = connection.dialect.name
        if dialect == "postgresql":
            _take_postgresql_lock(connection, engine, timeout, on_wait)
            previous: dict[str, str] = {}
            try:
                previous = _change_settings(connection, settings or {})
                with _in_transaction(connection):
                    yield connection
            finally:
                _release_postgresql_lock(connection, previous)
        elif dialect == "sqlite":
            connection = connection.execution_options(sqlite_begin="IMMEDIATE")
            # On the driver's connection: through SQLAlchemy the PRAGMA would begin (and lock) at once.
            driver_connection = connection.connection.driver_connection
            assert driver_connection is not None  # the connection is open
            driver_connection.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            try:
                with _in_transaction(connection, lambda: LockTimeoutError(
                        _lock_timeout_message(engine, timeout, "another process"))):
                    yield connection
            finally:
                _release_sqlite_lock(connection)
        else:
            with _mysql_lock(connection, engine, timeout, on_wait):
                yield connection


@contextmanager
def _in_transaction(connection: Connection, when_locked: Callable[[], Exception] | None = None) -> Iterator[None]:
    """Begin; commit whatever transaction is open at the end (an autocommit block begins a new one)."""
    try:
        connection.begin()
    except OperationalError as error:
        if when_locked is None or "locked" not in str(error.orig):
            raise
        raise when_locked() from None
    try:
        yield
    except BaseException:
        if connection.in_transaction():
            connection.rollback()
        raise
    if connection.in_transaction():
        connection.commit()


def _take_postgresql_lock(connection: Connection, engine: Engine, timeout: float, on_wait: Notice | None) -> None:
    """Take the session-level advisory lock, trying again after short pauses for *timeout* seconds at most.

    Each try is one short statement, committed at once: between tries the
    waiter has no transaction, hence no snapshot anyone could wait for.
    """
    deadline = time.monotonic() + timeout
    pause = 0.01
    announced = False
    while True:
        taken = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}).scalar()
        if taken:
            connection.commit()
            return
        holder = _postgresql_holder(connection)
        connection.commit()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LockTimeoutError(_lock_timeout_message(engine, timeout, holder or "another migration"))
        if not announced and on_wait is not None:
            on_wait(_waiting_note(engine, timeout, holder))
            announced = True
        time.sleep(min(pause, remaining))
        pause = min(pause * 2, LONGEST_PAUSE)


def _postgresql_holder(connection: Connection) -> str | None:
    return cast("str | None", connection.execute(text(
        "SELECT format('PostgreSQL process %s, user %s, from %s, since %s', a.pid, a.usename, "
        "coalesce(host(a.client_addr), 'local socket'), "
        "to_char(coalesce(a.xact_start, a.backend_start), 'YYYY-MM-DD HH24:MI:SS')) "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = :key AND l.objsubid = 1 "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
        {"key": LOCK_KEY}).scalar())


def _change_settings(connection: Connection, settings: Mapping[str, str]) -> dict[str, str]:
    """Set *settings* for the session (past commits); return what they were."""
    previous = {}
    for name, value in settings.items():
        previous[name] = cast(str, connection.execute(text("SELECT current_setting(:name)"), {"name": name}).scalar())
        connection.execute(text("SELECT set_config(:name, :value, false)"), {"name": name, "value": value})
    connection.commit()
    return previous


def _release_postgresql_lock(connection: Connection, settings: Mapping[str, str]) -> None:
    """Put *settings* back and unlock.

    A connection that cannot do so (the server went away, which is often
    why the migration failed) is closed instead of going back to the pool:
    its session ends, and the lock and settings with it.  The migration's
    own error, if any, is the one the caller sees.
    """
    try:
        if connection.in_transaction():
            connection.rollback()
        for name, value in settings.items():
            connection.execute(text("SELECT set_config(:name, :value, false)"), {"name": name, "value": value})
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
        connection.commit()
    except Exception:  # noqa: BLE001 - whatever failed, closing the session releases everything
        connection.invalidate()


@contextmanager
def outside_transaction(connection: Connection) -> Iterator[None]:
    """Commit, run the body with each statement on its own, then go on in a new transaction; the lock stays.

    For a revision's ``autocommit_block()`` (``CREATE INDEX CONCURRENTLY``).
    On MySQL/MariaDB, whose migrations run outside any transaction, no new
    one begins.
    """
    dialect = connection.dialect.name
    if dialect == "sqlite":
        keep_sqlite_lock(connection)
    if connection.in_transaction():
        connection.commit()
    if dialect == "sqlite":
        # No BEGIN at all: the sqlite3 module, told nothing, runs each statement on its own.
        connection.execution_options(sqlite_begin=None)
    else:
        connection.execution_options(isolation_level="AUTOCOMMIT")
    try:
        with connection.begin():  # stands for the statements' own transactions: commits nothing more
            yield
    finally:
        if dialect == "sqlite":
            connection.execution_options(sqlite_begin="IMMEDIATE")
        else:
            connection.execution_options(isolation_level=connection.default_isolation_level)
        if has_transactional_ddl_dialect(dialect):
            connection.begin()


def in_autocommit(connection: Connection) -> bool:
    """True inside :func:`outside_transaction`: a failed statement spoils nothing there."""
    options = connection.get_execution_options()
    return options.get("isolation_level") == "AUTOCOMMIT" or ("sqlite_begin" in options
                                                              and options["sqlite_begin"] is None)


def keep_sqlite_lock(connection: Connection) -> None:
    """Keep SQLite's write lock past the next commit, until the migration ends (before an autocommit block)."""
    connection.exec_driver_sql("PRAGMA locking_mode = EXCLUSIVE")
    connection.info[EXCLUSIVE_KEY] = True


def _release_sqlite_lock(connection: Connection) -> None:
    """Give back a lock :func:`keep_sqlite_lock` kept: SQLite lets it go at the next read in normal mode."""
    if not connection.info.pop(EXCLUSIVE_KEY, False):
        return
    try:
        if connection.in_transaction():
            connection.rollback()
        connection.exec_driver_sql("PRAGMA locking_mode = NORMAL")
        connection.exec_driver_sql("SELECT count(*) FROM sqlite_master")
        connection.rollback()
    except Exception:  # noqa: BLE001 - closing the file's connection releases its lock
        connection.invalidate()


@contextmanager
def _mysql_lock(connection: Connection, engine: Engine, timeout: float, on_wait: Notice | None) -> Iterator[None]:
    """Take the named lock; a command that has to wait says so first, as on PostgreSQL.

    GET_LOCK blocks inside its statement, so it is first asked not to wait at
    all: only when that fails is there a wait to announce before waiting.
    """
    name = cast(str, connection.execute(text("SELECT CONCAT(:prefix, DATABASE())"),
                                        {"prefix": LOCK_NAME + ":"}).scalar())[:64]
    # GET_LOCK takes whole seconds; 1 means taken, 0 a timeout, NULL an error.
    taken = _get_lock(connection, name, 0)
    if taken != 1 and timeout > 0:
        if on_wait is not None:
            on_wait(_waiting_note(engine, timeout, _mysql_holder(connection, name)))
        taken = _get_lock(connection, name, math.ceil(timeout))
    if taken != 1:
        holder = _mysql_holder(connection, name)
        connection.rollback()
        raise LockTimeoutError(_lock_timeout_message(engine, timeout, holder or "another migration"))
    connection.commit()
    try:
        yield
        if connection.in_transaction():
            connection.commit()
    finally:
        if connection.in_transaction():
            connection.rollback()
        connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})
        connection.commit()


def _get_lock(connection: Connection, name: str, seconds: int) -> object:
    return connection.execute(text("SELECT GET_LOCK(:name, :timeout)"), {"name": name, "timeout": seconds}).scalar()


def _mysql_holder(connection: Connection, name: str) -> str | None:
    return cast("str | None", connection.execute(text(
        "SELECT CONCAT('MySQL connection ', ID, ', user ', USER, ', from ', HOST, ', for ', TIME, ' s') "
        "FROM information_schema.PROCESSLIST WHERE ID = IS_USED_LOCK(:name)"), {"name": name}).scalar())


def _waiting_note(engine: Engine, timeout: float, holder: str | None) -> str:
    return (f"waiting for another migration's lock on {hide_password(engine.url)} "
            f"({holder or 'another migration'}), for {timeout:g} s at most")


def _lock_timeout_message(engine: Engine, timeout: float, holder: str) -> str:
    return (f"another migration holds the lock of {hide_password(engine.url)} ({holder}); gave up after "
            f"{timeout:g} s (--lock-timeout, ${LOCK_TIMEOUT_VARIABLE})")
