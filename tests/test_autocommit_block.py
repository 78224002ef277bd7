"""Revisions that run statements outside a transaction (op.get_context().autocommit_block())."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Callable

import pytest
from click.testing import Result
from sqlalchemy import create_engine, inspect, text

from conftest import install_extension, jnt_dbman_path, subprocess_env, write_extension
from dbstate import table_names, version_ids
from test_createdb_dropdb import wait_for

Run = Callable[..., Result]
INDEX = ("with op.get_context().autocommit_block():\n"
         "    op.create_index('ix_concur_name', 'concur_items', ['name'], postgresql_concurrently=True)")
UNINDEX = ("with op.get_context().autocommit_block():\n"
           "    op.drop_index('ix_concur_name', 'concur_items', postgresql_concurrently=True)")
ITEMS = ("op.create_table('concur_items', sa.Column('id', sa.Integer, primary_key=True), "
         "sa.Column('name', sa.String(50)))")


def concur(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, index: str = INDEX, last: str = "") -> None:
    """Install extension concur: a table, an index built in an autocommit block, then *last*."""
    root = write_extension(tmp_path / "ext", "concur", [
        ("c10000000001", ITEMS, "op.drop_table('concur_items')"),
        ("c10000000002", index, UNINDEX),
        ("c10000000003", last or "op.create_table('concur_more', sa.Column('id', sa.Integer, primary_key=True))",
         "op.drop_table('concur_more')"),
    ])
    install_extension(root, "concur", monkeypatch)


def concur_at(url: str) -> set[str]:
    """concur's rows in alembic_version."""
    return {revision for revision in version_ids(url) if revision.startswith("c1000000000")}


def indexes(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {index["name"] for index in inspect(connection).get_indexes("concur_items")}
    finally:
        engine.dispose()


def in_progress(url: str) -> list[tuple[str, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("janitoo_db_in_progress"):
                return []
            return [tuple(row) for row in connection.execute(text(
                "SELECT revision, direction FROM janitoo_db_in_progress"))]
    finally:
        engine.dispose()


def test_a_revision_with_an_autocommit_block_runs_and_the_run_goes_on(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    concur(tmp_path, monkeypatch)
    result = cli("initdb", "-u", any_url)
    assert result.exit_code == 0, result.stderr
    assert "Applied c10000000002 (concur)" in result.stderr and "Applied c10000000003 (concur)" in result.stderr
    assert concur_at(any_url) == {"c10000000003"}
    assert "ix_concur_name" in indexes(any_url) and "concur_more" in table_names(any_url)
    assert in_progress(any_url) == []
    assert cli("checkdb", "-u", any_url).exit_code == 0
    # The way back runs its block too.
    assert cli("downgrade", "concur@-2", "-q", "-u", any_url).exit_code == 0
    assert "ix_concur_name" not in indexes(any_url) and "concur_more" not in table_names(any_url)
    assert concur_at(any_url) == {"c10000000001"}
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    assert "ix_concur_name" in indexes(any_url)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_what_ran_before_the_block_is_committed_and_recorded(
        cli: Run, database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest) -> None:
    """A later revision fails: the transaction rolls back to the last commit, not to where the run began."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}" if database == "sqlite" else request.getfixturevalue("postgresql_url")
    concur(tmp_path, monkeypatch, last="raise RuntimeError('broken on purpose')")
    result = cli("initdb", "-u", url)
    assert result.exit_code == 1
    # The block's revision was committed once done; the failing one was rolled back.
    assert "c10000000002" in version_ids(url) and "c10000000003" not in version_ids(url)
    assert "ix_concur_name" in indexes(url) and in_progress(url) == []
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("Error: revision c10000000003 (concur, ")
    assert "(an autocommit block committed what ran before it; the rest was rolled back)" in error
    assert "Partly kept: an autocommit block committed the revisions before it" in result.stderr
    assert "Rolled back: none of" not in result.stderr
    assert cli("checkdb", "-u", url).exit_code == 3


@pytest.mark.parametrize("database", ["sqlite", "postgresql", "mysql"])
def test_a_revision_failing_after_its_block_undoes_what_the_block_did(
        cli: Run, database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest) -> None:
    """The block committed and the revision was marked as under way: the failed run undoes it, nothing for repair."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}" if database == "sqlite" else request.getfixturevalue(f"{database}_url")
    flag = tmp_path / "broken"
    flag.touch()
    concur(tmp_path, monkeypatch, index=INDEX + f"\nif os.path.exists({str(flag)!r}):\n"
                                                "    raise RuntimeError('broken after the block')")
    failed = cli("initdb", "-q", "-u", url)
    assert failed.exit_code == 1
    assert "RuntimeError: broken after the block; undone: dropped index ix_concur_name on concur_items; the " \
           "database is at " in failed.stderr, failed.stderr
    assert "ix_concur_name" not in indexes(url)
    assert in_progress(url) == []
    assert concur_at(url) == {"c10000000001"}
    assert cli("checkdb", "-u", url).exit_code == 3
    assert cli("repair", "-u", url).stdout == "Nothing to repair: no revision was interrupted.\n"
    flag.unlink()
    assert cli("initdb", "-q", "-u", url).exit_code == 0
    assert concur_at(url) == {"c10000000003"}
    assert "ix_concur_name" in indexes(url)


@pytest.mark.server
def test_two_overlapping_initdb_runs_with_create_index_concurrently(
        tmp_path: Path, postgresql_url: str) -> None:
    """The waiter holds no snapshot: the index build does not wait for it, and the revision runs once.

    With a waiter blocked inside ``SELECT pg_advisory_lock()`` (or inside a
    transaction), CREATE INDEX CONCURRENTLY waits for the waiter's snapshot
    while the waiter waits for the lock: the waiter then gives up after its
    --lock-timeout, and this test fails.
    """
    entered, barrier, runs = tmp_path / "entered", tmp_path / "go", tmp_path / "runs"
    build = (f"open({str(entered)!r}, 'w').close()\n"
             f"for _ in range(2400):\n    if os.path.exists({str(barrier)!r}):\n        break\n    time.sleep(0.05)\n"
             f"with open({str(runs)!r}, 'a') as runs:\n    runs.write('built\\n')\n" + INDEX)
    root = write_extension(tmp_path / "ext", "concur", [
        ("c10000000001", ITEMS + "\nop.execute(\"INSERT INTO concur_items (id, name) VALUES (1, 'one')\")"),
        ("c10000000002", build),
    ])
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    script = jnt_dbman_path()
    first = subprocess.Popen([script, "initdb", "-q", "-u", postgresql_url], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second_errors = tmp_path / "second.err"
    try:
        wait_for(entered.exists, "the first initdb to reach the index build")
        with second_errors.open("w") as errors:
            second = subprocess.Popen([script, "initdb", "--lock-timeout", "60", "-u", postgresql_url], env=env,
                                      stdout=subprocess.PIPE, stderr=errors, text=True)
        wait_for(lambda: "Note: waiting for another migration's lock" in second_errors.read_text(),
                 "the second initdb to wait for the lock")
        barrier.touch()
        assert first.wait(timeout=180) == 0, first.stderr.read() if first.stderr else ""
        assert second.wait(timeout=180) == 0, second_errors.read_text()
    finally:
        barrier.touch()
        for process in (first,):
            if process.poll() is None:
                process.kill()
    assert runs.read_text() == "built\n"
    assert "Nothing to do: every branch is at its head: " in second_errors.read_text()
    assert "c10000000002" in version_ids(postgresql_url)
    engine = create_engine(postgresql_url)
    with engine.connect() as connection:
        valid = connection.execute(text(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_concur_name'::regclass")).scalar()
    engine.dispose()
    assert valid is True


def test_the_python_api_runs_them_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """janitoo_db.migrate.Config, as the original's programs call it."""
    from janitoo_db.migrate import Config

    concur(tmp_path, monkeypatch)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    Config(url=url).initdb()
    assert "ix_concur_name" in indexes(url)


def test_the_lock_is_held_while_the_block_runs(any_url: str, tmp_path: Path) -> None:
    """Between the commit before the block and the end of the run, no other migration gets in.

    SQLite's write lock would be gone after that commit without its exclusive
    locking mode; PostgreSQL's transaction-level lock would be too.  The
    second initdb would then find revision c10000000002 under way and stop
    on it (or run it again) instead of waiting.
    """
    entered, barrier = tmp_path / "entered", tmp_path / "go"
    inside = ("with op.get_context().autocommit_block():\n"
              f"    open({str(entered)!r}, 'w').close()\n"
              f"    for _ in range(2400):\n        if os.path.exists({str(barrier)!r}):\n            break\n"
              "        time.sleep(0.05)\n"
              "    op.create_index('ix_concur_name', 'concur_items', ['name'], postgresql_concurrently=True)")
    root = write_extension(tmp_path / "ext", "concur", [("c10000000001", ITEMS), ("c10000000002", inside)])
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    script = jnt_dbman_path()
    first = subprocess.Popen([script, "initdb", "-q", "-u", any_url], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(entered.exists, "the first initdb to run its autocommit block")
        second = subprocess.run([script, "initdb", "-q", "--lock-timeout", "0.5", "-u", any_url], env=env,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 1
        assert "Error: another migration holds the lock of " in second.stderr, second.stderr
        barrier.touch()
        assert first.wait(timeout=120) == 0, first.stderr.read() if first.stderr else ""
    finally:
        barrier.touch()
        if first.poll() is None:
            first.kill()
    assert concur_at(any_url) == {"c10000000002"} and in_progress(any_url) == []
    assert subprocess.run([script, "initdb", "-q", "-u", any_url], env=env).returncode == 0
