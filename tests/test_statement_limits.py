"""PostgreSQL: limits on what a migration's statements wait for, and retries after a lock timeout."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Callable

import pytest
from click.testing import Result
from sqlalchemy import create_engine, text

from conftest import install_extension, jnt_dbman_path, subprocess_env, write_extension
from dbstate import version_ids
from test_createdb_dropdb import wait_for

Run = Callable[..., Result]
pytestmark = pytest.mark.server
ADD_COLUMN = "op.add_column('busy_items', sa.Column('label', sa.String(20)))"


def busy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, second: str = ADD_COLUMN) -> Path:
    """Extension busy: a table, then *second* (by default a column added to it, which needs its lock)."""
    root = write_extension(tmp_path / "ext", "busy", [
        ("b20000000001", "op.create_table('busy_items', sa.Column('id', sa.Integer, primary_key=True))"),
        ("b20000000002", second),
    ])
    install_extension(root, "busy", monkeypatch)
    return root


def reading(url: str):  # noqa: ANN201 - a connection kept open by the test
    """A live server's reader: a transaction that has read busy_items, so holds a lock on it."""
    engine = create_engine(url)
    connection = engine.connect()
    connection.execute(text("SELECT count(*) FROM busy_items")).scalar()
    return engine, connection


def test_a_lock_timeout_is_retried_with_backoff_then_reported(
        cli: Run, postgresql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    busy(tmp_path, monkeypatch)
    assert cli("upgrade", "busy@b20000000001", "-q", "-u", postgresql_url).exit_code == 0
    engine, reader = reading(postgresql_url)
    try:
        result = cli("upgrade", "-u", postgresql_url, "--ddl-lock-timeout", "0.2", "--retries", "2",
                     "--retry-wait", "0.05")
    finally:
        reader.rollback()
        reader.close()
        engine.dispose()
    assert result.exit_code == 1
    notes = [line for line in result.stderr.splitlines() if line.startswith("Note: ")]
    assert notes == [
        "Note: revision b20000000002 (busy) waited 0.2 s for a lock other sessions hold and gave up "
        f"(lock_timeout, --ddl-lock-timeout); rolled back; trying again in {wait} s (retry {n} of 2, --retries)"
        for n, wait in ((1, "0.05"), (2, "0.1"))]
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("Error: revision b20000000002 (busy, ") and "lock timeout" in error
    assert "b20000000001" in version_ids(postgresql_url)
    # Nothing stays behind on the server: the reader gone, the same upgrade goes through.
    assert cli("upgrade", "-q", "-u", postgresql_url, "--ddl-lock-timeout", "0.2").exit_code == 0
    assert "b20000000002" in version_ids(postgresql_url)


def test_the_wait_ends_when_the_reader_goes(jnt_dbman: Callable[..., subprocess.CompletedProcess[str]],
                                            postgresql_url: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A real jnt_dbman, configured by the environment as a server would be."""
    root = busy(tmp_path, monkeypatch)
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]),
                         JANITOO_DB_DDL_LOCK_TIMEOUT="0.1", JANITOO_DB_RETRIES="1000", JANITOO_DB_RETRY_WAIT="0.05")
    assert jnt_dbman("upgrade", "busy@b20000000001", "-q", "-u", postgresql_url, env=env).returncode == 0
    engine, reader = reading(postgresql_url)
    errors = tmp_path / "upgrade.err"
    with errors.open("w") as stderr:
        upgrading = subprocess.Popen([jnt_dbman_path(), "upgrade", "-u", postgresql_url], env=env,
                                     stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        wait_for(lambda: "trying again" in errors.read_text(), "the upgrade to give up waiting once")
    finally:
        reader.rollback()
        reader.close()
        engine.dispose()
    assert upgrading.wait(timeout=120) == 0, errors.read_text()
    assert "Note: revision b20000000002 (busy) waited 0.1 s for a lock" in errors.read_text()
    assert "Done: " in errors.read_text() and "b20000000002" in version_ids(postgresql_url)


def test_the_limits_hold_for_the_migration_only(cli: Run, postgresql_url: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    seen = tmp_path / "seen"
    busy(tmp_path, monkeypatch, second=(
        "bind = op.get_bind()\n"
        f"open({str(seen)!r}, 'w').write(' '.join(bind.execute(sa.text(\"SELECT current_setting('lock_timeout'), "
        "current_setting('statement_timeout')\")).one()))"))
    result = cli("initdb", "-q", "-u", postgresql_url, env={"JANITOO_DB_DDL_LOCK_TIMEOUT": "1.5",
                                                            "JANITOO_DB_STATEMENT_TIMEOUT": "30"})
    assert result.exit_code == 0, result.stderr
    assert seen.read_text() == "1500ms 30s"


def test_a_statement_timeout_is_not_retried(cli: Run, postgresql_url: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    busy(tmp_path, monkeypatch, second="op.execute('SELECT pg_sleep(5)')")
    result = cli("initdb", "-q", "-u", postgresql_url, "--statement-timeout", "0.1", "--retry-wait", "0.01")
    assert result.exit_code == 1
    assert "Note:" not in result.stderr
    assert "canceling statement due to statement timeout" in result.stderr
    assert version_ids(postgresql_url) == set()


@pytest.mark.parametrize(("option", "value"), [("--ddl-lock-timeout", "0"), ("--statement-timeout", "-1"),
                                               ("--retries", "-1"), ("--retry-wait", "nan"),
                                               ("--retries", "two")])
def test_unusable_limits_are_refused(cli: Run, sqlite_url: str, option: str, value: str) -> None:
    result = cli("initdb", option, value, "-u", sqlite_url)
    assert result.exit_code == 2 and option in result.stderr


def test_the_python_api_reads_the_environment(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from janitoo_db.errors import ConfigError
    from janitoo_db.migrate import Config

    monkeypatch.setenv("JANITOO_DB_RETRIES", "many")
    with pytest.raises(ConfigError, match=r"\$JANITOO_DB_RETRIES must be a whole number of retries, 0 or more, "
                                          "not 'many'"):
        Config(url=sqlite_url).initdb()
