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


CONCURRENT_INDEX = ("with op.get_context().autocommit_block():\n"
                    "    op.create_index('ix_busy_id', 'busy_items', ['id'], postgresql_concurrently=True)")


@pytest.mark.parametrize("holder", ["table lock", "old snapshot", "reader of the table"])
def test_a_lock_timeout_in_an_autocommit_block_is_undone_and_retried(
        cli: Run, postgresql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, holder: str) -> None:
    """Issue 18, point 8: the retry starts the block's revision afresh instead of stopping on its own mark.

    A session holds what CREATE INDEX CONCURRENTLY waits for: a lock on the
    table (the build never starts), or a snapshot older than the build (the
    index is made, invalid, then the wait gives up).  The pause before the
    retry is where the test lets go: no timing is involved.
    """
    from janitoo_db.runtime import running

    busy(tmp_path, monkeypatch, second=CONCURRENT_INDEX)
    assert cli("upgrade", "busy@b20000000001", "-q", "-u", postgresql_url).exit_code == 0
    engine = create_engine(postgresql_url)
    holding = engine.connect()
    if holder == "table lock":
        holding.execute(text("LOCK TABLE busy_items IN SHARE MODE"))
    else:
        holding.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        # A reader of the table also keeps the invalid index from being dropped until it lets go.
        holding.execute(text("SELECT count(*) FROM busy_items" if holder == "reader of the table" else "SELECT 1"))
    pauses: list[float] = []

    def let_go(seconds: float) -> None:
        pauses.append(seconds)
        holding.rollback()

    monkeypatch.setattr(running, "pause", let_go)
    try:
        result = cli("upgrade", "-u", postgresql_url, "--ddl-lock-timeout", "0.3", "--retries", "2")
    finally:
        holding.rollback()
        holding.close()
        engine.dispose()
    assert result.exit_code == 0, result.stderr
    assert pauses == [1.0]
    assert "Note: revision b20000000002 (busy) waited 0.3 s for a lock" in result.stderr
    # The table lock stopped the build before it began; the old snapshot stopped it with the index made, invalid.
    undone = "it had made nothing" if holder == "table lock" else "dropped index ix_busy_id on busy_items"
    assert f"Note: undid what revision b20000000002 had run before the lock timeout ({undone})" in result.stderr
    assert "b20000000002" in version_ids(postgresql_url)
    assert cli("checkdb", "-u", postgresql_url).exit_code == 0
    engine = create_engine(postgresql_url)
    with engine.connect() as connection:
        assert connection.execute(text(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_busy_id'::regclass")).scalar() is True
    engine.dispose()


def test_a_lock_held_past_every_retry_leaves_nothing_to_repair(
        cli: Run, postgresql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from janitoo_db.runtime import running

    busy(tmp_path, monkeypatch, second=CONCURRENT_INDEX)
    assert cli("upgrade", "busy@b20000000001", "-q", "-u", postgresql_url).exit_code == 0
    engine = create_engine(postgresql_url)
    holding = engine.connect()
    holding.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
    holding.execute(text("SELECT 1")).scalar()
    monkeypatch.setattr(running, "pause", lambda seconds: None)
    try:
        result = cli("upgrade", "-u", postgresql_url, "--ddl-lock-timeout", "0.2", "--retries", "1")
    finally:
        holding.rollback()
        holding.close()
        engine.dispose()
    assert result.exit_code == 1
    assert result.stderr.count("Note: undid what revision b20000000002 had run before the lock timeout") == 2
    check = cli("checkdb", "-u", postgresql_url)
    assert check.exit_code == 3, check.stdout
    assert "b20000000002" not in version_ids(postgresql_url)
    assert cli("upgrade", "-q", "-u", postgresql_url).exit_code == 0


@pytest.mark.parametrize(("options", "expected"), [
    (("--retries", "4"), [1.0, 2.0, 4.0, 8.0]),
    (("--retries", "4", "--retry-wait", "20"), [20.0, 40.0, 60.0, 60.0]),
])
def test_the_pauses_between_retries_double_up_to_a_minute(
        cli: Run, postgresql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        options: tuple[str, ...], expected: list[float]) -> None:
    """Issue 18, point 14: --retries 4 waits 1, 2, 4 then 8 s; no pause is longer than 60 s."""
    from janitoo_db.runtime import running

    busy(tmp_path, monkeypatch)
    assert cli("upgrade", "busy@b20000000001", "-q", "-u", postgresql_url).exit_code == 0
    pauses: list[float] = []
    monkeypatch.setattr(running, "pause", pauses.append)
    engine, reader = reading(postgresql_url)
    try:
        result = cli("upgrade", "-u", postgresql_url, "--ddl-lock-timeout", "0.05", *options)
    finally:
        reader.rollback()
        reader.close()
        engine.dispose()
    assert result.exit_code == 1
    assert pauses == expected
    assert [line.split("trying again in ")[1] for line in result.stderr.splitlines() if "trying again" in line] == [
        f"{wait:g} s (retry {n} of 4, --retries)" for n, wait in enumerate(expected, 1)]
