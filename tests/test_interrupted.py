"""A MariaDB migration killed in the middle of a revision: named on the next run, and repaired.

MariaDB commits each DDL statement, so the killed revision's first table stays
while alembic_version says the revision never ran; before janitoo_db kept a
record of revisions in progress, every later initdb failed on "Table ...
already exists" and no command could repair the database.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from conftest import jnt_dbman_path, subprocess_env, write_extension
from dbstate import table_names, version_ids

pytestmark = pytest.mark.server
HALF = "e50000000002"


def halfway(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    """An extension whose second revision creates one table, waits for a file, then creates another."""
    entered, barrier = tmp_path / "entered", tmp_path / "go"
    root = write_extension(tmp_path / "ext", "halfway", [
        ("e50000000001", ""),
        (HALF,
         "op.create_table('halfway_first', sa.Column('id', sa.Integer, primary_key=True))\n"
         f"open({str(entered)!r}, 'w').close()\n"
         f"for _ in range(1200):\n    if os.path.exists({str(barrier)!r}):\n        break\n    time.sleep(0.05)\n"
         "op.create_table('halfway_second', sa.Column('id', sa.Integer, primary_key=True))",
         "op.drop_table('halfway_second')\nop.drop_table('halfway_first')"),
    ])
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    return env, entered, barrier


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([jnt_dbman_path(), *args], env=env, capture_output=True, text=True, timeout=120, input="")


def kill_in_the_middle(env: dict[str, str], entered: Path, url: str) -> None:
    process = subprocess.Popen([jnt_dbman_path(), "initdb", "-q", "-u", url], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not entered.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("initdb never reached the middle of the revision")
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def test_a_killed_revision_is_named_then_undone(tmp_path: Path, mysql_url: str) -> None:
    env, entered, barrier = halfway(tmp_path)
    kill_in_the_middle(env, entered, mysql_url)
    assert "halfway_first" in table_names(mysql_url) and "halfway_second" not in table_names(mysql_url)
    assert HALF not in version_ids(mysql_url)

    refused = run(env, "initdb", "-u", mysql_url)
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"Error: revision {HALF} (halfway) was interrupted while it ran its upgrade "
                                     "(started ")
    assert "Run 'jnt_dbman repair' to undo them, then migrate again" in refused.stderr
    assert len(refused.stderr.splitlines()) == 1
    check = run(env, "checkdb", "-u", mysql_url)
    assert check.returncode == 5 and f"The revision {HALF} (halfway) was interrupted" in check.stdout

    before = table_names(mysql_url)
    asked = run(env, "repair", "-u", mysql_url)
    assert asked.returncode == 1 and "without --yes" in asked.stderr
    assert table_names(mysql_url) == before

    repaired = run(env, "repair", "--yes", "-u", mysql_url)
    assert repaired.returncode == 0, repaired.stderr
    assert f"Undid what {HALF} had done (1 statements skipped: what they remove was not there)" in repaired.stdout
    assert "halfway_first" not in table_names(mysql_url)
    assert run(env, "repair", "-u", mysql_url).stdout == "Nothing to repair: no revision was interrupted.\n"

    barrier.touch()
    again = run(env, "initdb", "-u", mysql_url)
    assert again.returncode == 0, again.stderr
    assert f"Applied {HALF} (halfway)" in again.stderr
    assert {"halfway_first", "halfway_second"} <= table_names(mysql_url)
    assert run(env, "checkdb", "-u", mysql_url).returncode == 0


def test_a_revision_finished_by_hand_is_recorded_as_applied(tmp_path: Path, mysql_url: str) -> None:
    env, entered, _ = halfway(tmp_path)
    kill_in_the_middle(env, entered, mysql_url)
    engine = create_engine(mysql_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE halfway_second (id INTEGER NOT NULL PRIMARY KEY)"))
    engine.dispose()
    repaired = run(env, "repair", "--applied", "-u", mysql_url)
    assert repaired.returncode == 0, repaired.stderr
    assert f"Recorded the upgrade of {HALF} as done." in repaired.stdout
    assert HALF in version_ids(mysql_url)
    rest = run(env, "initdb", "-u", mysql_url)  # the branches the kill never reached
    assert rest.returncode == 0 and f"Applied {HALF}" not in rest.stderr, rest.stderr
    assert run(env, "checkdb", "-u", mysql_url).returncode == 0


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_transactional_databases_need_no_repair(tmp_path: Path, database: str,
                                                request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'half.sqlite'}" if database == "sqlite" else request.getfixturevalue("postgresql_url")
    env, entered, barrier = halfway(tmp_path)
    kill_in_the_middle(env, entered, url)
    assert "halfway_first" not in table_names(url)
    assert not {"janitoo_db_in_progress"} & table_names(url)
    barrier.touch()
    assert run(env, "initdb", "-q", "-u", url).returncode == 0
    assert run(env, "repair", "-u", url).stdout == "Nothing to repair: no revision was interrupted.\n"
