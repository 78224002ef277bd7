"""A migration that fails, short of a kill, leaves no state that only 'jnt_dbman repair' gets out of.

MariaDB commits each DDL statement, and an ``autocommit_block()`` commits
elsewhere: a revision failing after some of them used to leave its mark
(checkdb exit 5) for repair.  Now the failed run undoes, with repair's code,
what its own failing revision ran, and says so; only what cannot be undone
(a change of data) keeps the mark, and the error says why repair is needed.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Callable

import pytest
from click.testing import Result
from sqlalchemy import inspect

from conftest import install_extension, subprocess_env, write_extension
from dbstate import connected, rows, table_names, version_ids

Run = Callable[..., Result]
BASE, FAILING, LAST = "f5000000000a", "f5000000000b", "f5000000000c"
#: The failing revision's work before it fails: a table of its own, a column added to an older table.
WORK = ("op.create_table('settle_new', sa.Column('id', sa.Integer, primary_key=True))\n"
        "op.add_column('settle_base', sa.Column('label', sa.String(20)))\n")
FAILURES = {
    "a SQL error": "op.add_column('settle_base', sa.Column('label', sa.String(20)))",
    "a failing INSERT": "op.execute('INSERT INTO settle_base (id) VALUES (7)')",
    "a Python exception": "raise RuntimeError('broken on purpose')",
    "SystemExit": "raise SystemExit(0)",
    "an Alembic error": "op.alter_column('settle_base', 'label', comment='named')",
}
REASONS = {
    "a SQL error": "Duplicate column name 'label'",
    "a failing INSERT": "Duplicate entry '7'",
    "a Python exception": "RuntimeError: broken on purpose",
    "SystemExit": "SystemExit",
    "an Alembic error": "All MySQL CHANGE/MODIFY COLUMN operations require the existing type",
}
#: Only the connection sees what follows (the --no-destructive dry run runs the revision offline).
HIDDEN = "from alembic import context\nif context.is_offline_mode():\n    return\n"
UNDONE = "undone: dropped column settle_base.label, dropped table settle_new; "


def settle_ext(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str) -> Path:
    """Extension settle: a table with a row, then *failing*, then one more table; returns the failing file."""
    root = write_extension(tmp_path / "ext", "settle", [
        (BASE, "op.create_table('settle_base', sa.Column('id', sa.Integer, primary_key=True))\n"
               "op.execute('INSERT INTO settle_base (id) VALUES (7)')"),
        (FAILING, failing),
        (LAST, "op.create_table('settle_last', sa.Column('id', sa.Integer, primary_key=True))"),
    ])
    install_extension(root, "settle", monkeypatch)
    return root / "settle" / "models" / "settle" / f"{FAILING}_step_1.py"


def fix(path: Path, broken: str) -> None:
    """The operator mends the revision file: the failing line goes."""
    before, line, after = path.read_text().rpartition(f"    {broken}\n")
    assert line
    path.write_text(before + after)


def columns(url: str, table: str) -> set[str]:
    with connected(url) as connection:
        return {column["name"] for column in inspect(connection).get_columns(table)}


def in_progress(url: str) -> list[tuple[object, ...]]:
    with connected(url) as connection:
        if not inspect(connection).has_table("janitoo_db_in_progress"):
            return []
    return rows(url, "SELECT revision, direction FROM janitoo_db_in_progress")


def error_line(result: Result) -> str:
    return result.stderr.strip().splitlines()[-1]


def assert_undone(cli: Run, url: str) -> None:
    """The database is at BASE, whole: the failing revision's table and column are gone, nothing is marked."""
    assert "settle_new" not in table_names(url)
    assert columns(url, "settle_base") == {"id"}
    assert rows(url, "SELECT id FROM settle_base") == [(7,)]
    assert BASE in version_ids(url) and FAILING not in version_ids(url)
    assert in_progress(url) == []
    check = cli("checkdb", "-u", url)
    assert check.exit_code == 3, check.stdout
    assert cli("repair", "-u", url).stdout == "Nothing to repair: no revision was interrupted.\n"


@pytest.mark.server
@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_failing_revision_undoes_what_it_ran_on_mariadb(
        cli: Run, mysql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    path = settle_ext(tmp_path, monkeypatch, WORK + FAILURES[failure])
    failed = cli("initdb", "-u", mysql_url)
    assert failed.exit_code == 1
    error = error_line(failed)
    assert error.startswith(f"Error: revision {FAILING} (settle, {path}) failed: "), error
    assert REASONS[failure] in error
    # Newest first, as repair does; the database is where the last whole revision left it.
    assert error.endswith(f"; {UNDONE}the database is at {BASE} (MySQL/MariaDB commit each DDL statement: the "
                          "revisions before the failing one stay applied, and nothing of it stays)"), error
    assert "repair" not in error
    assert "(MySQL/MariaDB); the failing one was not recorded, and nothing of it stays." in failed.stderr
    assert_undone(cli, mysql_url)

    fix(path, FAILURES[failure])
    again = cli("initdb", "-u", mysql_url)
    assert again.exit_code == 0, again.stderr
    assert columns(mysql_url, "settle_base") == {"id", "label"} and "settle_last" in table_names(mysql_url)
    assert cli("checkdb", "-u", mysql_url).exit_code == 0


@pytest.mark.server
def test_a_refusal_of_no_destructive_after_some_ddl_is_undone_on_mariadb(
        cli: Run, mysql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard refuses at the connection, after the revision made a table and a column: both go."""
    settle_ext(tmp_path, monkeypatch, HIDDEN + WORK + "op.execute('DELETE FROM settle_base')")
    assert cli("upgrade", "settle@" + BASE, "-q", "-u", mysql_url).exit_code == 0
    refused = cli("upgrade", "--no-destructive", "-u", mysql_url)
    assert refused.exit_code == 1
    error = error_line(refused)
    assert error.startswith(f"Error: refusing revision {FAILING} (settle) (--no-destructive"), error
    assert f"; {UNDONE}the database is at {BASE} (MySQL/MariaDB" in error
    assert_undone(cli, mysql_url)


@pytest.mark.server
def test_a_failure_after_an_autocommit_block_is_undone_on_postgresql(
        cli: Run, postgresql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What ran before the block and in it was committed: the failed run undoes it, newest first."""
    path = settle_ext(tmp_path, monkeypatch, WORK + (
        "with op.get_context().autocommit_block():\n"
        "    op.create_index('ix_settle_label', 'settle_base', ['label'], postgresql_concurrently=True)\n"
        "raise RuntimeError('broken after the block')"))
    failed = cli("initdb", "-u", postgresql_url)
    assert failed.exit_code == 1
    error = error_line(failed)
    assert error.startswith(f"Error: revision {FAILING} (settle, {path}) failed: RuntimeError: broken after the "
                            "block; undone: dropped index ix_settle_label on settle_base, dropped column "
                            "settle_base.label, dropped table settle_new; the database is at "), error
    assert error.endswith("(an autocommit block committed the revisions before it; the failing one's work was "
                          "undone; the rest was rolled back)"), error
    assert "Partly kept: an autocommit block committed the revisions before it (and its own, once finished); " \
           "the rest was rolled back or undone." in failed.stderr
    assert "MySQL" not in failed.stderr
    assert_undone(cli, postgresql_url)

    fix(path, "raise RuntimeError('broken after the block')")
    assert cli("initdb", "-q", "-u", postgresql_url).exit_code == 0
    assert cli("checkdb", "-u", postgresql_url).exit_code == 0


DATA = ("op.create_table('settle_new', sa.Column('id', sa.Integer, primary_key=True))\n"
        "op.execute('INSERT INTO settle_base (id) VALUES (8)')\n")
#: After the INSERT: what commits it (a DDL statement on MariaDB, the block elsewhere), then the failure.
COMMITS = {
    "mysql": "op.add_column('settle_base', sa.Column('label', sa.String(20)))\n",
    "postgresql": "with op.get_context().autocommit_block():\n"
                  "    op.create_index('ix_settle_id', 'settle_base', ['id'], postgresql_concurrently=True)\n",
}


@pytest.mark.server
@pytest.mark.parametrize("database", ["mysql", "postgresql"])
def test_a_change_of_data_cannot_be_undone_and_the_error_names_repair(
        cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
        database: str) -> None:
    """Fail closed: a row the revision inserted into an older table is not guessed away; the mark stays."""
    url = request.getfixturevalue(f"{database}_url")
    settle_ext(tmp_path, monkeypatch, DATA + COMMITS[database] + "raise RuntimeError('broken on purpose')")
    failed = cli("initdb", "-u", url)
    assert failed.exit_code == 1
    error = error_line(failed)
    assert (f"failed: RuntimeError: broken on purpose; revision {FAILING} stays marked as interrupted (checkdb exits "
            "5) and only 'jnt_dbman repair' gets out, because it ran INSERT INTO settle_base (id) VALUES (8), which "
            "cannot be undone: finish the revision by hand, then record it as done with 'jnt_dbman repair "
            "--applied'; the database is at ") in error, error
    kept = ("what the failing one ran stays, marked for 'jnt_dbman repair'" if database == "mysql" else
            "part of the failing one stays, marked for 'jnt_dbman repair'")
    assert kept in failed.stderr
    assert "settle_new" in table_names(url) and rows(url, "SELECT id FROM settle_base ORDER BY id") == [(7,), (8,)]
    assert in_progress(url) == [(FAILING, "upgrade")]
    assert cli("checkdb", "-u", url).exit_code == 5

    # A later run is another run: it refuses before anything runs, and leaves the dead run's mark and work.
    before = table_names(url)
    refused = cli("initdb", "-u", url)
    assert refused.exit_code == 1
    assert f"revision {FAILING} (settle) was interrupted" in refused.stderr and "jnt_dbman repair" in refused.stderr
    assert table_names(url) == before and in_progress(url) == [(FAILING, "upgrade")]
    assert rows(url, "SELECT id FROM settle_base ORDER BY id") == [(7,), (8,)]


@pytest.mark.server
def test_a_lock_timeout_over_what_cannot_be_undone_is_not_retried(
        cli: Run, postgresql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The retry would only stop on its own mark: the error says repair is needed, the summary what was kept."""
    from sqlalchemy import create_engine, text

    from janitoo_db.runtime import running

    settle_ext(tmp_path, monkeypatch, DATA + COMMITS["postgresql"])
    engine = create_engine(postgresql_url)
    holding = engine.connect()
    # An old snapshot: CREATE INDEX CONCURRENTLY waits for it (the INSERT before the block does not).
    holding.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
    holding.execute(text("SELECT 1")).scalar()
    pauses: list[float] = []
    monkeypatch.setattr(running, "pause", pauses.append)
    try:
        failed = cli("initdb", "-u", postgresql_url, "--ddl-lock-timeout", "0.3", "--retries", "2")
    finally:
        holding.rollback()
        holding.close()
        engine.dispose()
    assert failed.exit_code == 1
    assert pauses == []
    assert "only 'jnt_dbman repair' gets out, because it ran INSERT INTO settle_base" in error_line(failed)
    assert "Partly kept: " in failed.stderr and "one by one" not in failed.stderr, failed.stderr
    assert cli("checkdb", "-u", postgresql_url).exit_code == 5


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_without_an_autocommit_block_a_failure_rolls_back_as_before(
        cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
        database: str) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}" if database == "sqlite" else request.getfixturevalue("postgresql_url")
    settle_ext(tmp_path, monkeypatch, WORK + FAILURES["a Python exception"])
    failed = cli("initdb", "-u", url)
    assert failed.exit_code == 1
    assert "RuntimeError: broken on purpose; rolled back, so nothing this command did was kept: the database is " \
           "at " in error_line(failed), error_line(failed)
    assert "Rolled back: none of the" in failed.stderr
    assert table_names(url, bookkeeping=False) == set() and in_progress(url) == []
    assert cli("checkdb", "-u", url).exit_code == 3


@pytest.mark.server
def test_a_failing_createdb_drops_what_it_made_on_mariadb(
        jnt_dbman: Callable[..., subprocess.CompletedProcess[str]], mysql_url: str, tmp_path: Path) -> None:
    """createdb stopped by an error after one of its tables: that table goes, and createdb can run again.

    A process of its own: models are loaded once per process.
    """
    flag = tmp_path / "broken"
    flag.touch()
    root = write_extension(tmp_path / "ext", "settlecreate", [
        ("f6000000000a", "op.create_table('settlecreate_items', sa.Column('id', sa.Integer, primary_key=True))"),
    ], models=(
        "import os\n\n\n"
        "class SettlecreateItem(Base):\n    __tablename__ = 'settlecreate_items'\n"
        "    id = sa.Column(sa.Integer, primary_key=True)\n\n\n"
        "@sa.event.listens_for(SettlecreateItem.__table__, 'after_create')\n"
        "def broken(target, connection, **kw):\n"
        f"    if os.path.exists({str(flag)!r}):\n"
        "        connection.execute(sa.text('SELECT * FROM settlecreate_missing'))\n"))
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    before = table_names(mysql_url)
    failed = jnt_dbman("createdb", "-u", mysql_url, env=env)
    assert failed.returncode == 1, failed.stderr
    error = failed.stderr.strip().splitlines()[-1]
    assert error.startswith("Error: createdb failed: ") and "settlecreate_missing" in error, error
    assert "; undone: " in error and "dropped table settlecreate_items" in error, error
    assert "repair" not in error
    assert table_names(mysql_url, bookkeeping=False) == {name for name in before if not name.startswith("janitoo_db")}
    assert in_progress(mysql_url) == []
    assert jnt_dbman("checkdb", "-u", mysql_url, env=env).returncode == 3

    flag.unlink()
    again = jnt_dbman("createdb", "-u", mysql_url, env=env)
    assert again.returncode == 0, again.stderr
    assert jnt_dbman("checkdb", "-u", mysql_url, env=env).returncode == 0


@pytest.mark.server
def test_a_statement_whose_effect_cannot_be_told_keeps_the_mark(
        cli: Run, mysql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail closed: MariaDB marks a statement done by the next one; after the last, an ALTER is not guessed."""
    settle_ext(tmp_path, monkeypatch, WORK + "op.alter_column('settle_base', 'label', existing_type=sa.String(20), "
                                             "comment='named')\n"
                                             "raise RuntimeError('broken on purpose')")
    failed = cli("initdb", "-u", mysql_url)
    assert failed.exit_code == 1
    error = error_line(failed)
    assert f"revision {FAILING} stays marked as interrupted (checkdb exits 5) and only 'jnt_dbman repair' gets " \
           "out, because it cannot be told whether " in error, error
    assert "took effect: check it by hand, then run 'jnt_dbman repair'; the database is at " in error, error
    assert in_progress(mysql_url) == [(FAILING, "upgrade")]
    assert cli("checkdb", "-u", mysql_url).exit_code == 5
