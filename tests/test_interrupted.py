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
from sqlalchemy import create_engine, inspect, text

from conftest import jnt_dbman_path, subprocess_env, write_extension
from dbstate import rows, table_names, version_ids

pytestmark = pytest.mark.server
HALF = "e50000000002"


def halfway(tmp_path: Path, *, wait_after_index: bool = False) -> tuple[dict[str, str], Path, Path]:
    """An extension whose second revision creates a table and adds two columns, waits for a file, then goes on.

    Its first revision makes halfway_base, with a row; the second adds a
    column to it, so repair must drop a column, not only a table.
    """
    entered, barrier = tmp_path / "entered", tmp_path / "go"
    root = write_extension(tmp_path / "ext", "halfway", [
        ("e50000000001",
         "op.create_table('halfway_base', sa.Column('id', sa.Integer, primary_key=True))\n"
         "op.execute('INSERT INTO halfway_base (id) VALUES (7)')",
         "op.drop_table('halfway_base')"),
        (HALF,
         "op.create_table('halfway_first', sa.Column('id', sa.Integer, primary_key=True))\n"
         "op.add_column('halfway_base', sa.Column('label', sa.String(20)))\n"
         "op.add_column('halfway_first', sa.Column('extra', sa.String(20)))\n"
         + ("op.create_index('ix_halfway_label', 'halfway_base', ['label'])\n" if wait_after_index else "")
         + f"open({str(entered)!r}, 'w').close()\n"
         f"for _ in range(1200):\n    if os.path.exists({str(barrier)!r}):\n        break\n    time.sleep(0.05)\n"
         + ("" if wait_after_index else "op.create_index('ix_halfway_label', 'halfway_base', ['label'])\n")
         + "op.create_table('halfway_second', sa.Column('id', sa.Integer, primary_key=True))",
         "op.drop_table('halfway_second')\nop.drop_index('ix_halfway_label', 'halfway_base')\n"
         "op.drop_column('halfway_base', 'label')\nop.drop_table('halfway_first')"),
    ])
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    return env, entered, barrier


def columns(url: str, table: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {column["name"] for column in inspect(connection).get_columns(table)}
    finally:
        engine.dispose()


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([jnt_dbman_path(), *args], env=env, capture_output=True, text=True, timeout=120, input="")


def kill_in_the_middle(env: dict[str, str], entered: Path, url: str, *command: str) -> None:
    process = subprocess.Popen([jnt_dbman_path(), *(command or ("initdb", "-q")), "-u", url], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not entered.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"{command or 'initdb'} never reached the middle")
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


@pytest.mark.parametrize("killed", ["after add_column", "after create_index"])
def test_a_killed_revision_is_named_then_undone(tmp_path: Path, mysql_url: str, killed: str) -> None:
    """Issue 18, point 14: killed between an add_column or a create_index and the next step."""
    env, entered, barrier = halfway(tmp_path, wait_after_index=killed == "after create_index")
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

    # The journal, not the revision's file, says what to undo: it works with the extension uninstalled too.
    uninstalled = subprocess_env() if killed == "after create_index" else env
    repaired = run(uninstalled, "repair", "--yes", "-u", mysql_url)
    assert repaired.returncode == 0, repaired.stderr
    lines = repaired.stdout.splitlines()
    # Exactly what the journal shows the killed run did, newest first; the column of its own table goes with it.
    assert lines[1:] == [
        *(["Undone: dropped index ix_halfway_label on halfway_base."] if killed == "after create_index" else []),
        "Undone: dropped column halfway_base.label.",
        "Undone: dropped table halfway_first.",
        "Skipped: ADD COLUMN halfway_first.extra: goes with table halfway_first.",
        f"Undid what {HALF} had done ({3 if killed == 'after create_index' else 2} undone, 1 skipped); "
        "it is not applied: run 'jnt_dbman initdb' to apply it again.",
    ]
    assert "halfway_first" not in table_names(mysql_url)
    assert columns(mysql_url, "halfway_base") == {"id"}
    assert rows(mysql_url, "SELECT id FROM halfway_base") == [(7,)]
    assert run(env, "repair", "-u", mysql_url).stdout == "Nothing to repair: no revision was interrupted.\n"

    barrier.touch()
    again = run(env, "initdb", "-u", mysql_url)
    assert again.returncode == 0, again.stderr
    assert f"Applied {HALF} (halfway)" in again.stderr
    assert {"halfway_first", "halfway_second"} <= table_names(mysql_url)
    assert columns(mysql_url, "halfway_base") == {"id", "label"}
    assert run(env, "checkdb", "-u", mysql_url).returncode == 0


def test_a_revision_that_made_nothing_has_nothing_undone(tmp_path: Path, mysql_url: str) -> None:
    """Another program's table of the same name stops the revision at once: its own undo leaves it, rows and all.

    Issue 18, point 5: repair dropped the original's core tables, which the
    interrupted core revision had found, not made.  The failed run settles
    its own mark with repair's code: nothing is left for repair.
    """
    env, _, barrier = halfway(tmp_path)
    barrier.touch()
    # Versioned first: on a database without alembic_version initdb refuses before writing anything.
    assert run(env, "upgrade", "halfway@e50000000001", "-q", "-u", mysql_url).returncode == 0
    engine = create_engine(mysql_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE halfway_first (id INTEGER NOT NULL PRIMARY KEY, note VARCHAR(20))"))
        connection.execute(text("INSERT INTO halfway_first VALUES (1, 'theirs')"))
    engine.dispose()
    failed = run(env, "initdb", "-q", "-u", mysql_url)
    assert failed.returncode == 1 and "already exists" in failed.stderr
    assert "; undone: nothing, it had made nothing; the database is at " in failed.stderr, failed.stderr
    assert run(env, "checkdb", "-u", mysql_url).returncode == 3
    assert run(env, "repair", "-u", mysql_url).stdout == "Nothing to repair: no revision was interrupted.\n"
    assert {name for name in table_names(mysql_url) if name.startswith("halfway")} == {"halfway_base", "halfway_first"}
    assert rows(mysql_url, "SELECT id, note FROM halfway_first") == [(1, "theirs")]
    assert rows(mysql_url, "SELECT id FROM halfway_base") == [(7,)]


def halfcreate(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    """An extension whose model's table, once createdb made it, makes createdb wait for a file."""
    entered, barrier = tmp_path / "entered", tmp_path / "go"
    root = write_extension(tmp_path / "ext", "halfcreate", [
        ("e60000000001", "op.create_table('halfcreate_items', sa.Column('id', sa.Integer, primary_key=True))",
         "op.drop_table('halfcreate_items')"),
    ], models=(
        "import os\nimport time\n\n\n"
        "class HalfcreateItem(Base):\n    __tablename__ = 'halfcreate_items'\n"
        "    id = sa.Column(sa.Integer, primary_key=True)\n\n\n"
        "@sa.event.listens_for(HalfcreateItem.__table__, 'after_create')\n"
        "def pause(target, connection, **kw):\n"
        f"    open({str(entered)!r}, 'w').close()\n"
        f"    for _ in range(1200):\n        if os.path.exists({str(barrier)!r}):\n            break\n"
        "        time.sleep(0.05)\n"))
    return subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]])), entered, barrier


def test_a_killed_createdb_is_named_and_undone(tmp_path: Path, mysql_url: str) -> None:
    """Issue 18, point 12: createdb killed after some of its tables; repair drops exactly those."""
    env, entered, barrier = halfcreate(tmp_path)
    engine = create_engine(mysql_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE other_program (id INTEGER NOT NULL PRIMARY KEY)"))
        connection.execute(text("INSERT INTO other_program VALUES (3)"))
    engine.dispose()
    before = table_names(mysql_url, bookkeeping=False)
    kill_in_the_middle(env, entered, mysql_url, "createdb")
    made = table_names(mysql_url, bookkeeping=False) - before
    assert "halfcreate_items" in made and "alembic_version" not in made

    check = run(env, "checkdb", "-u", mysql_url)
    assert check.returncode == 5
    assert "The createdb was interrupted while it created the tables (started " in check.stdout
    refused = run(env, "initdb", "-q", "-u", mysql_url)
    assert refused.returncode == 1 and "createdb was interrupted" in refused.stderr
    assert run(env, "createdb", "-u", mysql_url).returncode == 1
    adopting = run(env, "adopt", "--yes", "-u", mysql_url)
    assert adopting.returncode == 1 and "createdb was interrupted" in adopting.stderr, adopting.stderr
    assert version_ids(mysql_url) == set()
    assert table_names(mysql_url, bookkeeping=False) - before == made
    assert run(env, "repair", "--applied", "-u", mysql_url).returncode == 1

    repaired = run(env, "repair", "--yes", "-u", mysql_url)
    assert repaired.returncode == 0, repaired.stderr
    assert sorted(line for line in repaired.stdout.splitlines() if line.startswith("Undone: ")) == sorted(
        f"Undone: dropped table {name}." for name in made)
    assert "Undid what createdb had done: run 'jnt_dbman createdb' or 'jnt_dbman initdb' again." in repaired.stdout
    assert table_names(mysql_url, bookkeeping=False) == before
    assert rows(mysql_url, "SELECT id FROM other_program") == [(3,)]

    barrier.touch()
    again = run(env, "initdb", "-q", "-u", mysql_url)
    assert again.returncode == 0, again.stderr
    assert run(env, "checkdb", "-u", mysql_url).returncode == 0
    assert rows(mysql_url, "SELECT id FROM other_program") == [(3,)]


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


def test_a_revision_that_ran_what_cannot_be_undone_is_refused_whole(tmp_path: Path, mysql_url: str) -> None:
    """Rows deleted from a table the run did not create: repair undoes nothing and points at --applied."""
    entered, barrier = tmp_path / "entered", tmp_path / "go"
    root = write_extension(tmp_path / "ext", "lossy", [
        ("e70000000001", "op.create_table('lossy_base', sa.Column('id', sa.Integer, primary_key=True))\n"
                         "op.execute('INSERT INTO lossy_base (id) VALUES (1), (2)')"),
        ("e70000000002",
         "op.execute('DELETE FROM lossy_base WHERE id = 2')\n"
         # MariaDB commits the DELETE before this DDL statement runs.
         "op.create_table('lossy_new', sa.Column('id', sa.Integer, primary_key=True))\n"
         f"open({str(entered)!r}, 'w').close()\n"
         f"for _ in range(1200):\n    if os.path.exists({str(barrier)!r}):\n        break\n    time.sleep(0.05)\n"),
    ])
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    kill_in_the_middle(env, entered, mysql_url)
    before = table_names(mysql_url)
    assert "lossy_new" in before and rows(mysql_url, "SELECT id FROM lossy_base") == [(1,)]

    refused = run(env, "repair", "--yes", "-u", mysql_url)
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[-1] == (
        "Error: revision e70000000002 (lossy) was interrupted while it ran its upgrade (started "
        + refused.stderr.split("(started ", 1)[1].split(")", 1)[0]
        + "); it ran: DELETE FROM lossy_base WHERE id = 2; CREATE TABLE lossy_new. Repair cannot undo DELETE FROM "
          "lossy_base WHERE id = 2, so it undoes nothing. Finish the revision by hand, then record it as done with "
          "'jnt_dbman repair --applied'")
    assert table_names(mysql_url) == before
    assert run(env, "checkdb", "-u", mysql_url).returncode == 5

    applied = run(env, "repair", "--applied", "-u", mysql_url)
    assert applied.returncode == 0, applied.stderr
    assert "e70000000002" in version_ids(mysql_url)
    assert run(env, "checkdb", "-u", mysql_url).returncode in (0, 3)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_killed_createdb_leaves_nothing_on_transactional_databases(tmp_path: Path, database: str,
                                                                    request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'half.sqlite'}" if database == "sqlite" else request.getfixturevalue("postgresql_url")
    env, entered, barrier = halfcreate(tmp_path)
    before = table_names(url)
    kill_in_the_middle(env, entered, url, "createdb")
    assert table_names(url) == before
    assert run(env, "checkdb", "-u", url).returncode == 3
    assert run(env, "repair", "-u", url).stdout == "Nothing to repair: no revision was interrupted.\n"
    barrier.touch()
    assert run(env, "createdb", "-u", url).returncode == 0
    assert run(env, "checkdb", "-u", url).returncode == 0


def test_repair_drops_no_table_another_table_points_into(tmp_path: Path, mysql_url: str) -> None:
    """The tables the journal proves the killed run made go only when nothing outside them has a key into them."""
    env, entered, _ = halfway(tmp_path)
    kill_in_the_middle(env, entered, mysql_url)
    engine = create_engine(mysql_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE their_links (id INTEGER PRIMARY KEY, first_id INTEGER, "
                                       "FOREIGN KEY (first_id) REFERENCES halfway_first (id))")
    finally:
        engine.dispose()
    before = table_names(mysql_url)
    refused = run(env, "repair", "--yes", "-u", mysql_url)
    assert refused.returncode == 1
    assert "their_links.first_id" in refused.stderr and "halfway_first" in refused.stderr
    assert table_names(mysql_url) == before
    assert columns(mysql_url, "halfway_base") == {"id", "label"}  # nothing of the undo ran
    assert run(env, "checkdb", "-u", mysql_url).returncode == 5
