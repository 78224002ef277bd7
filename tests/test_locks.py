"""The migration lock: taken on every database, waited for a bounded time, its holder named."""
from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path
from typing import Callable

import pytest
from click.testing import Result
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from dbstate import table_names, version_ids
from janitoo_db.runtime.locking import LOCK_KEY, LOCK_NAME, migration_connection
from janitoo_db.site.engine import create_db_engine

Run = Callable[..., Result]
RunProcess = Callable[..., subprocess.CompletedProcess[str]]


def one_error(result: Result) -> str:
    assert result.exit_code == 1, result.stdout
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr.strip()


def test_a_sqlite_migration_connection_holds_the_write_lock(tmp_path: Path) -> None:
    """BEGIN IMMEDIATE, not a deferred begin: nobody else may start writing while it is open."""
    path = tmp_path / "locked.sqlite"
    engine = create_db_engine(f"sqlite:///{path}")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with migration_connection(engine, timeout=0):
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()
        engine.dispose()


@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_busy_sqlite_file_is_waited_for_then_refused(cli: Run, sqlite_url: str, how: str) -> None:
    path = make_url(sqlite_url).database
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        if how == "option":
            result = cli("initdb", "--lock-timeout", "0.2", "-u", sqlite_url)
        else:
            result = cli("initdb", "-u", sqlite_url, env={"JANITOO_DB_LOCK_TIMEOUT": "0.2"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert one_error(result) == (f"Error: another migration holds the lock of {sqlite_url} (another process); "
                                 "gave up after 0.2 s (--lock-timeout, $JANITOO_DB_LOCK_TIMEOUT)")
    assert table_names(sqlite_url) == set()
    assert cli("initdb", "-q", "-u", sqlite_url).exit_code == 0


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf"])
def test_an_unusable_lock_timeout_is_refused(cli: Run, sqlite_url: str, value: str) -> None:
    result = cli("initdb", "-u", sqlite_url, env={"JANITOO_DB_LOCK_TIMEOUT": value})
    assert result.exit_code == 2 and "--lock-timeout" in result.stderr


def test_the_python_api_reads_the_environment(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from janitoo_db.errors import ConfigError
    from janitoo_db.migrate import Config

    monkeypatch.setenv("JANITOO_DB_LOCK_TIMEOUT", "later")
    with pytest.raises(ConfigError, match="lock timeout must be a number of seconds, not 'later'"):
        Config(url=sqlite_url).initdb()


@pytest.mark.server
def test_postgresql_names_the_process_holding_the_lock(cli: Run, postgresql_url: str) -> None:
    engine = create_engine(postgresql_url)
    with engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
        pid = holder.execute(text("SELECT pg_backend_pid()")).scalar()
        result = cli("initdb", "--lock-timeout", "0.5", "-u", postgresql_url)
        holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
    engine.dispose()
    note, line = result.stderr.splitlines()
    # The wait is announced once, when it begins: a server's log shows why its start pauses.
    assert note.startswith("Note: waiting for another migration's lock on postgresql+psycopg://postgres@")
    assert f"(PostgreSQL process {pid}, user postgres, from " in note and note.endswith("), for 0.5 s at most")
    assert result.exit_code == 1
    assert line.startswith("Error: another migration holds the lock of postgresql+psycopg://postgres@")
    assert f"(PostgreSQL process {pid}, user postgres, from " in line
    assert line.endswith("gave up after 0.5 s (--lock-timeout, $JANITOO_DB_LOCK_TIMEOUT)")
    assert version_ids(postgresql_url) == set() and table_names(postgresql_url) == set()
    assert cli("initdb", "-q", "-u", postgresql_url).exit_code == 0


@pytest.mark.server
def test_mariadb_checks_get_lock_and_names_the_holder(cli: Run, jnt_dbman: RunProcess, mysql_url: str) -> None:
    """Before, GET_LOCK's answer was ignored: after the wait a second server migrated anyway.

    The waiting command says so once, when the wait begins, as on PostgreSQL (it used to wait silently
    inside GET_LOCK).  The lock is held by the test's own connection for the whole run: no race.
    """
    database = make_url(mysql_url).database
    engine = create_engine(mysql_url)
    with engine.connect() as holder:
        assert holder.execute(text("SELECT GET_LOCK(:name, 0)"), {"name": f"{LOCK_NAME}:{database}"}).scalar() == 1
        connection_id = holder.execute(text("SELECT CONNECTION_ID()")).scalar()
        result = jnt_dbman("initdb", "--lock-timeout", "1", "-u", mysql_url)
        holder.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": f"{LOCK_NAME}:{database}"})
    engine.dispose()
    assert result.returncode == 1, result.stdout
    note, line = result.stderr.splitlines()
    assert note.startswith("Note: waiting for another migration's lock on mysql+pymysql://root@")
    assert f"(MySQL connection {connection_id}, user root, from " in note and note.endswith("), for 1 s at most")
    assert line.startswith("Error: another migration holds the lock of mysql+pymysql://root@")
    assert f"(MySQL connection {connection_id}, user root, from " in line
    assert line.endswith("gave up after 1 s (--lock-timeout, $JANITOO_DB_LOCK_TIMEOUT)")
    assert version_ids(mysql_url) == set() and table_names(mysql_url) == set()
    assert cli("initdb", "-q", "-u", mysql_url).exit_code == 0


@pytest.mark.server
def test_mariadb_lock_not_waited_for_says_no_waiting(cli: Run, mysql_url: str) -> None:
    """With --lock-timeout 0 there is no wait to announce: only the error."""
    database = make_url(mysql_url).database
    engine = create_engine(mysql_url)
    with engine.connect() as holder:
        assert holder.execute(text("SELECT GET_LOCK(:name, 0)"), {"name": f"{LOCK_NAME}:{database}"}).scalar() == 1
        result = cli("initdb", "--lock-timeout", "0", "-u", mysql_url)
        holder.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": f"{LOCK_NAME}:{database}"})
    engine.dispose()
    assert one_error(result).endswith("gave up after 0 s (--lock-timeout, $JANITOO_DB_LOCK_TIMEOUT)")
