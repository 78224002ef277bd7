"""createdb stamps only what it can vouch for; dropdb is one locked unit that leaves no janitoo table."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Callable

import pytest
from click.testing import Result
from sqlalchemy import create_engine, text

from conftest import jnt_dbman_path, subprocess_env, write_extension
from dbstate import execute, rows, table_names, version_ids
from janitoo_db.runtime.locking import LOCK_KEY

Run = Callable[..., Result]
HEADS = {"5d2f0a8c91e3", "2b3c4d5e6f70", "c3e9b5a1d274"}
MODEL_TABLES = {"core_groups", "core_users", "core_groups_users", "core_settings_group", "core_settings",
                "acme_readings", "template_rooms", "template_sensors"}


def unversion(url: str) -> None:
    """What the original's createdb left: the tables, and no alembic_version."""
    execute(url, "DROP TABLE alembic_version", "DROP TABLE janitoo_db_branches")


def test_createdb_stamps_tables_that_match_the_models(cli: Run, sqlite_url: str) -> None:
    assert cli("initdb", "-q", "-u", sqlite_url).exit_code == 0
    unversion(sqlite_url)
    groups = rows(sqlite_url, "SELECT name FROM core_groups ORDER BY name")
    result = cli("createdb", "-u", sqlite_url)
    assert (result.exit_code, result.stdout) == (0, "The tables already match the models: "
                                                    "stamped the database at heads.\n"), result.stderr
    assert version_ids(sqlite_url) == HEADS
    assert rows(sqlite_url, "SELECT name FROM core_groups ORDER BY name") == groups


def test_createdb_refuses_tables_that_differ_from_the_models(cli: Run, sqlite_url: str) -> None:
    assert cli("initdb", "-q", "-u", sqlite_url).exit_code == 0
    unversion(sqlite_url)
    execute(sqlite_url, "ALTER TABLE core_users ADD COLUMN nickname VARCHAR(20)")
    before = table_names(sqlite_url)
    result = cli("createdb", "-u", sqlite_url)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: the database has no alembic_version and its tables differ "
                                    "from the models (core_users: ")
    assert "nickname" in result.stderr and len(result.stderr.splitlines()) == 1
    assert table_names(sqlite_url) == before and version_ids(sqlite_url) == set()


def test_createdb_refuses_an_original_core_with_pickled_settings(cli: Run, sqlite_url: str) -> None:
    """A core made by the original (at 33b95995b188, no alembic_version) is not stamped at the JSON head."""
    assert cli("upgrade", "-q", "33b95995b188", "-u", sqlite_url).exit_code == 0
    unversion(sqlite_url)
    settings = rows(sqlite_url, "SELECT key, value FROM core_settings ORDER BY key")
    result = cli("createdb", "-u", sqlite_url)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: the database has no alembic_version but already holds core_groups")
    assert " and not " in result.stderr and "acme_readings" in result.stderr
    assert "'jnt_dbman adopt' finds the revision each branch's tables are at" in result.stderr
    assert version_ids(sqlite_url) == set()
    assert rows(sqlite_url, "SELECT key, value FROM core_settings ORDER BY key") == settings
    # The way out the message gives: adopt stamps the revision it is at, then initdb converts the settings.
    assert cli("adopt", "--yes", "-u", sqlite_url).exit_code == 0
    assert version_ids(sqlite_url) == {"33b95995b188"}
    assert cli("initdb", "-q", "-u", sqlite_url).exit_code == 0
    assert version_ids(sqlite_url) == HEADS


def test_createdb_ignores_tables_no_model_declares(cli: Run, sqlite_url: str) -> None:
    execute(sqlite_url, "CREATE TABLE other_app (id INTEGER PRIMARY KEY)")
    result = cli("createdb", "-u", sqlite_url)
    assert result.exit_code == 0, result.stderr
    assert table_names(sqlite_url, bookkeeping=False) == MODEL_TABLES | {"other_app", "alembic_version"}


def test_dropdb_drops_tables_only_revisions_created(
        tmp_path: Path, jnt_dbman: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    """A revision whose downgrade forgets its table: dropdb still removes it, and initdb works again."""
    root = write_extension(tmp_path / "ext", "relay", [
        ("e20000000001", ""),
        ("e20000000002", "op.create_table('relay_log', sa.Column('id', sa.Integer, primary_key=True))", "pass"),
    ])
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    url = f"sqlite:///{tmp_path / 'relay.sqlite'}"
    assert jnt_dbman("initdb", "-q", "-u", url, env=env).returncode == 0
    dropped = jnt_dbman("dropdb", "--yes", "-u", url, env=env)
    assert dropped.returncode == 0, dropped.stderr
    assert dropped.stdout.startswith("Dropped 13 tables: ")  # the twelve of every site, and relay_log
    assert table_names(url) == set()
    again = jnt_dbman("initdb", "-q", "-u", url, env=env)
    assert again.returncode == 0, again.stderr
    assert "relay_log" in table_names(url)


@pytest.mark.server
def test_dropdb_and_initdb_racing_on_postgresql(tmp_path: Path, postgresql_url: str) -> None:
    """dropdb holds the lock from its first downgrade to its last DROP: an initdb waiting for it rebuilds after."""
    barrier, entered = tmp_path / "go", tmp_path / "entered"
    root = write_extension(tmp_path / "ext", "slowdown", [
        ("e30000000001", ""),
        ("e30000000002", "op.create_table('slowdown_log', sa.Column('id', sa.Integer, primary_key=True))",
         f"open({str(entered)!r}, 'w').close()\n"
         f"for _ in range(1200):\n    if os.path.exists({str(barrier)!r}):\n        break\n    time.sleep(0.05)\n"
         "op.drop_table('slowdown_log')"),
    ])
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    script = jnt_dbman_path()
    assert subprocess.run([script, "initdb", "-q", "-u", postgresql_url], env=env, capture_output=True).returncode == 0
    dropping = subprocess.Popen([script, "dropdb", "--yes", "-u", postgresql_url], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(entered.exists, "dropdb to reach the revision's downgrade")
        building_errors = (tmp_path / "building.err").open("w+")
        building = subprocess.Popen([script, "initdb", "-q", "-u", postgresql_url], env=env,
                                    stdout=subprocess.PIPE, stderr=building_errors, text=True)
        wait_for(lambda: "Note: waiting for another migration's lock" in (tmp_path / "building.err").read_text(),
                 "initdb to wait for the migration lock")
        assert waiting_for_advisory_lock(postgresql_url)
        barrier.touch()
        assert dropping.wait(timeout=120) == 0, dropping.stderr.read()
        assert building.wait(timeout=120) == 0, (tmp_path / "building.err").read_text()
    finally:
        barrier.touch()
        for process in (dropping,):
            if process.poll() is None:
                process.kill()
    assert version_ids(postgresql_url) == HEADS | {"e30000000002"}
    again = subprocess.run([script, "initdb", "-u", postgresql_url], env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    dropped = subprocess.run([script, "dropdb", "--yes", "-u", postgresql_url], env=env, capture_output=True, text=True)
    assert dropped.returncode == 0 and table_names(postgresql_url) == set()


def waiting_for_advisory_lock(url: str) -> bool:
    """Another session holds the migration lock (the waiter asks for it between pauses, holding nothing)."""
    engine = create_engine(url)
    with engine.connect() as connection:
        held = connection.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = :key"),
            {"key": LOCK_KEY}).scalar()
    engine.dispose()
    return bool(held)


def wait_for(condition: Callable[[], bool], what: str, limit: float = 60) -> None:
    """Poll *condition*; the limit only stops a broken run from hanging, it is never part of the check."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)
