"""Issue 18's attack list: what a hurried or hostile operator, or a badly written extension, tries.

Each test drives the real CLI at a command that removes or rewrites (forget,
dropdb, repair, adopt, squash, downgrade, stamp, accept, createdb, initdb
--no-destructive) and asserts the safe outcome a user can see: which tables
and rows are left, the exit code, a one-line message without a traceback or
a password.  The ones still broken are ``xfail(strict=True)`` with the reason.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
from click.testing import Result

from conftest import MYSQL_ADMIN_URL, _throwaway_database, install_extension, subprocess_env, write_extension
from dbstate import connected, rows, table_names, version_ids

Run = Callable[..., Result]
Proc = Callable[..., subprocess.CompletedProcess[str]]
CORE_HEAD = "5d2f0a8c91e3"
CORE_TABLES = {"core_groups", "core_users", "core_settings"}


def uninstall(root: Path) -> None:
    sys.path[:] = [entry for entry in sys.path if entry != str(root)]


def execute(url: str, *statements: str) -> None:
    with connected(url) as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)


def count(url: str, table: str) -> int:
    return int(rows(url, f"SELECT count(*) FROM {table}")[0][0])


def ledger(url: str) -> dict[str, str]:
    return {name: branch for name, branch in rows(url, "SELECT table_name, branch FROM janitoo_db_tables")}


def one_line_error(result: Result) -> None:
    """A refusal a user can read: exit 1 or 2, no traceback."""
    assert result.exit_code in (1, 2), (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout


def extension(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, prefix: str,
              body: str = "", down: str = "", *, table: str | None = None) -> Path:
    """Install NAME, whose second revision makes *table* (default NAME_items) with a row-holding column."""
    table = table or f"{name}_items"
    create = (f"op.create_table({table!r}, sa.Column('id', sa.Integer, primary_key=True))\n" + body)
    root = write_extension(tmp_path / name, name, [
        (f"{prefix}00000001", ""),
        (f"{prefix}00000002", create, down or f"op.drop_table({table!r})"),
    ], depends_on=CORE_HEAD)
    install_extension(root, name, monkeypatch)
    return root


def snapshot(url: str) -> tuple[set[str], set[str]]:
    return table_names(url), version_ids(url)


# -- forget ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["janitoo", "JANITOO", " janitoo", "janitoo ", "janitoo@base"])
def test_01_forget_of_the_core_in_any_spelling_drops_nothing(cli: Run, any_url: str, name: str) -> None:
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    before = snapshot(any_url)
    done = cli("forget", name, "--drop-tables", "--yes", "-u", any_url)
    one_line_error(done)
    assert snapshot(any_url) == before


@pytest.mark.parametrize("name", ["x'; DROP TABLE core_users; --", 'a"b', "--", "garden%", "garden_",
                                  "g\u00e4rden", "garden\nbeds"])
def test_02_forget_of_a_name_with_quotes_or_wildcards_drops_nothing(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    root = extension(tmp_path, monkeypatch, "garden_beds", "b1")
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    execute(any_url, "INSERT INTO garden_beds_items (id) VALUES (1)")
    uninstall(root)
    before = snapshot(any_url)
    done = cli("forget", "--drop-tables", "--yes", "-u", any_url, "--", name)
    assert "Traceback" not in done.stderr
    assert snapshot(any_url) == before
    assert count(any_url, "garden_beds_items") == 1


def test_03_forget_of_a_prefix_of_another_branch_drops_nothing_of_it(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """garden was never installed; garden_beds was, and is uninstalled."""
    root = extension(tmp_path, monkeypatch, "garden_beds", "b2")
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    uninstall(root)
    before = snapshot(any_url)
    done = cli("forget", "garden", "--drop-tables", "--yes", "-u", any_url)
    one_line_error(done)
    assert "garden" in done.stderr
    assert snapshot(any_url) == before and ledger(any_url)["garden_beds_items"] == "garden_beds"


def test_04_forget_twice_drops_once_and_then_says_there_is_nothing(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = extension(tmp_path, monkeypatch, "twice", "c1")
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    uninstall(root)
    assert cli("forget", "twice", "--drop-tables", "--yes", "-u", any_url).exit_code == 0
    before = snapshot(any_url)
    again = cli("forget", "twice", "--drop-tables", "--yes", "-u", any_url)
    one_line_error(again)
    assert "twice" in again.stderr
    assert snapshot(any_url) == before and "twice_items" not in before[0]
    assert cli("checkdb", "-u", any_url).exit_code == 0


def test_05_forget_without_yes_and_no_terminal_drops_nothing(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = extension(tmp_path, monkeypatch, "noyes", "c2")
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    uninstall(root)
    before = snapshot(any_url)
    done = cli("forget", "noyes", "--drop-tables", "-u", any_url, input="")
    assert done.exit_code != 0
    assert "noyes_items" in table_names(any_url) and snapshot(any_url) == before


def test_06_forget_keeps_a_table_one_branch_dropped_and_another_made_again(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A name in two branches' histories: first's revision 3 drops shared_log, second's makes it again."""
    first = write_extension(tmp_path / "first", "first", [
        ("d100000001", ""),
        ("d100000002", "op.create_table('shared_log', sa.Column('id', sa.Integer, primary_key=True))",
         "op.drop_table('shared_log')"),
        ("d100000003", "op.drop_table('shared_log')",
         "op.create_table('shared_log', sa.Column('id', sa.Integer, primary_key=True))"),
    ], depends_on=CORE_HEAD)
    install_extension(first, "first", monkeypatch)
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    extension(tmp_path, monkeypatch, "second", "d2", table="shared_log")
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    execute(any_url, "INSERT INTO shared_log (id) VALUES (1)")
    assert ledger(any_url)["shared_log"] == "second"
    uninstall(first)
    done = cli("forget", "first", "--drop-tables", "--yes", "-u", any_url)
    assert done.exit_code == 0, done.stderr
    assert count(any_url, "shared_log") == 1


# -- dropdb ---------------------------------------------------------------------------------------

def test_07_dropdb_without_yes_and_no_terminal_drops_nothing(cli: Run, any_url: str) -> None:
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    before = snapshot(any_url)
    done = cli("dropdb", "-u", any_url, input="")
    assert done.exit_code != 0 and "Traceback" not in done.stderr
    assert snapshot(any_url) == before


def test_08_dropdb_answered_no_drops_nothing(cli: Run, any_url: str) -> None:
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    before = snapshot(any_url)
    done = cli("dropdb", "-u", any_url, input="n\n")
    assert done.exit_code != 0
    assert snapshot(any_url) == before


def test_09_dropdb_on_a_database_of_another_program_drops_nothing(cli: Run, any_url: str) -> None:
    execute(any_url, "CREATE TABLE core_users (id INTEGER PRIMARY KEY)", "INSERT INTO core_users (id) VALUES (1)",
            "CREATE TABLE their_data (id INTEGER PRIMARY KEY)", "INSERT INTO their_data (id) VALUES (1)")
    done = cli("dropdb", "--yes", "-u", any_url)
    assert "Traceback" not in done.stderr
    assert table_names(any_url) == {"core_users", "their_data"}
    assert count(any_url, "core_users") == 1 and count(any_url, "their_data") == 1


def test_10_dropdb_keeps_another_programs_table_named_like_bookkeeping(cli: Run, any_url: str) -> None:
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    execute(any_url, "CREATE TABLE janitoo_db_reports (id INTEGER PRIMARY KEY)",
            "INSERT INTO janitoo_db_reports (id) VALUES (1)")
    done = cli("dropdb", "--yes", "-u", any_url)
    assert done.exit_code == 0, done.stderr
    assert table_names(any_url) == {"janitoo_db_reports"}


def test_11_dropdb_keeps_a_view_over_our_tables_or_refuses(cli: Run, any_url: str) -> None:
    """A view of another program reads core_users: drop nothing of it silently."""
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    execute(any_url, "CREATE VIEW their_view AS SELECT id FROM core_users")
    done = cli("dropdb", "--yes", "-u", any_url)
    assert "Traceback" not in done.stderr + done.stdout
    if done.exit_code == 0:
        assert table_names(any_url) == set()
    else:
        assert "core_users" in table_names(any_url)


def test_12_dropdb_twice_is_a_quiet_no_op(cli: Run, any_url: str) -> None:
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    assert cli("dropdb", "--yes", "-u", any_url).exit_code == 0
    again = cli("dropdb", "--yes", "-u", any_url)
    assert again.exit_code == 0, again.stderr
    assert table_names(any_url) == set()


# -- an extension that drops what it does not own -----------------------------------------------

@pytest.mark.parametrize("how", [
    "op.drop_table('core_settings')",
    "op.execute('DROP TABLE core_settings')",
    "op.get_bind().exec_driver_sql('DROP TABLE core_settings')",
    "op.execute(sa.text('DROP TABLE core_settings'))",
])
def test_13_a_revision_dropping_the_cores_table_is_refused(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    settings = count(any_url, "core_settings")
    extension(tmp_path, monkeypatch, "vandal", "e1", body=how)
    done = cli("initdb", "-q", "-u", any_url)
    assert done.exit_code == 1 and "Traceback" not in done.stderr
    assert "core_settings" in table_names(any_url) and count(any_url, "core_settings") == settings


@pytest.mark.parametrize("how", [
    "op.drop_table('keeper_items')",
    "op.execute('DROP TABLE keeper_items')",
    "op.get_bind().exec_driver_sql('DROP TABLE keeper_items')",
])
def test_14_a_downgrade_dropping_another_branchs_table_is_refused(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    extension(tmp_path, monkeypatch, "keeper", "e2")
    extension(tmp_path, monkeypatch, "vandal", "e3", down=f"op.drop_table('vandal_items')\n{how}")
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    execute(any_url, "INSERT INTO keeper_items (id) VALUES (1)")
    done = cli("downgrade", "vandal@base", "-u", any_url)
    assert done.exit_code == 1 and "Traceback" not in done.stderr
    assert count(any_url, "keeper_items") == 1


# -- downgrade ------------------------------------------------------------------------------------

def test_15_downgrade_minus_99_stays_inside_the_branch(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    extension(tmp_path, monkeypatch, "far", "f1")
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    before = snapshot(any_url)
    done = cli("downgrade", "far@-99", "-u", any_url)
    assert "Traceback" not in done.stderr
    assert CORE_TABLES <= table_names(any_url)
    if done.exit_code != 0:
        assert snapshot(any_url) == before


def test_16_downgrade_base_without_a_terminal_drops_nothing(cli: Run, any_url: str) -> None:
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    before = snapshot(any_url)
    done = cli("downgrade", "base", "-u", any_url, input="")
    assert done.exit_code != 0 and snapshot(any_url) == before


@pytest.mark.parametrize("target", ["janitoo@-1", "1266567cc97f", "janitoo@base", "3b5854d25914"])
def test_17_downgrade_to_a_core_revision_is_refused_without_cascade(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str) -> None:
    """The extension's revision 2 depends on the core's head: going below it would undo the extension."""
    extension(tmp_path, monkeypatch, "leaf", "f2")
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    execute(any_url, "INSERT INTO leaf_items (id) VALUES (1)")
    core_first = sorted(rows(any_url, "SELECT version_num FROM alembic_version"))
    before = snapshot(any_url)
    done = cli("downgrade", target, "-u", any_url)
    one_line_error(done)
    assert "--cascade" in done.stderr
    assert snapshot(any_url) == before and core_first


@pytest.mark.parametrize("target", ["a:b", "heads", "janitoo@+1", "nosuchrev", "'; DROP TABLE core_users; --",
                                    "acme_sensors@3b5854d25914", "acme_sensors@1266567cc97f", "janitoo_template@-5",
                                    "acme_sensors@base ", "ACME_SENSORS@base"])
def test_18_downgrade_to_nonsense_is_refused(cli: Run, any_url: str, target: str) -> None:
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    before = snapshot(any_url)
    done = cli("downgrade", "-u", any_url, "--", target)
    one_line_error(done)
    assert snapshot(any_url) == before


def test_19_cascade_where_nothing_depends_removes_only_the_branch(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    extension(tmp_path, monkeypatch, "alone", "f3")
    extension(tmp_path, monkeypatch, "other", "f4")
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    execute(any_url, "INSERT INTO other_items (id) VALUES (1)")
    done = cli("downgrade", "alone@base", "--cascade", "-u", any_url)
    assert done.exit_code == 0, done.stderr
    assert "alone_items" not in table_names(any_url) and count(any_url, "other_items") == 1
    assert CORE_TABLES <= table_names(any_url)


# -- repair ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [("repair", "--yes"), ("repair", "--applied", "--yes"), ("repair",)])
def test_20_repair_with_no_mark_changes_nothing(cli: Run, any_url: str, args: tuple[str, ...]) -> None:
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    before = snapshot(any_url)
    done = cli(*args, "-u", any_url, input="")
    assert "Traceback" not in done.stderr
    assert snapshot(any_url) == before
    assert cli("checkdb", "-u", any_url).exit_code == 0


def test_21_repair_on_an_empty_database_creates_nothing(cli: Run, any_url: str) -> None:
    done = cli("repair", "--yes", "-u", any_url)
    assert "Traceback" not in done.stderr
    assert table_names(any_url) == set()


def _mark(url: str, revision: str, branch: str) -> None:
    """An interrupted-revision mark as a killed run leaves it, with an empty journal."""
    execute(url, "INSERT INTO janitoo_db_in_progress (revision, branch, direction, started, process) VALUES "
                 f"('{revision}', '{branch}', 'upgrade', '2026-01-01T00:00:00', 'host:1')")


def test_22_repair_of_an_uninstalled_extensions_mark_drops_nothing(
        cli: Run, mysql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A mark with an empty journal (killed before its first statement), its extension uninstalled since."""
    any_url = mysql_url
    root = extension(tmp_path, monkeypatch, "gone", "g1")
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    execute(any_url, "INSERT INTO gone_items (id) VALUES (1)")
    _mark(any_url, "g100000002", "gone")
    uninstall(root)
    done = cli("repair", "--yes", "-u", any_url)
    assert "Traceback" not in done.stderr
    assert count(any_url, "gone_items") == 1 and CORE_TABLES <= table_names(any_url)


# -- adopt ----------------------------------------------------------------------------------------

def test_23_adopt_on_a_versioned_database_is_refused(cli: Run, any_url: str) -> None:
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    before = snapshot(any_url)
    done = cli("adopt", "--yes", "-u", any_url)
    one_line_error(done)
    assert snapshot(any_url) == before


def test_24_adopt_of_same_names_other_columns_stamps_nothing(cli: Run, any_url: str) -> None:
    execute(any_url, "CREATE TABLE core_groups (gid INTEGER PRIMARY KEY, label VARCHAR(10))",
            "CREATE TABLE core_users (uid INTEGER PRIMARY KEY)",
            "CREATE TABLE core_settings (k VARCHAR(10) PRIMARY KEY)")
    done = cli("adopt", "--yes", "-u", any_url)
    assert done.exit_code == 1 and "Traceback" not in done.stderr
    assert version_ids(any_url) == set()
    init = cli("initdb", "-q", "-u", any_url)
    assert init.exit_code == 1 and "adopt" in init.stderr
    assert "alembic_version" not in table_names(any_url) or version_ids(any_url) == set()


def test_25_adopt_with_views_named_like_our_tables_stamps_nothing(cli: Run, any_url: str) -> None:
    execute(any_url, "CREATE TABLE their_source (id INTEGER PRIMARY KEY)",
            "CREATE VIEW core_groups AS SELECT id FROM their_source")
    done = cli("adopt", "--yes", "-u", any_url)
    assert "Traceback" not in done.stderr
    assert version_ids(any_url) == set()
    assert cli("initdb", "-q", "-u", any_url).exit_code == 1
    assert "their_source" in table_names(any_url)


def test_26_adopt_dry_run_json_of_an_empty_database_writes_nothing(cli: Run, any_url: str) -> None:
    done = cli("adopt", "--dry-run", "--json", "-u", any_url)
    assert "Traceback" not in done.stdout + done.stderr
    assert table_names(any_url) == set()


# -- squash, stamp, accept, createdb ------------------------------------------------------------

@pytest.mark.parametrize("name", ["janitoo", "nosuch", "../etc", "acme_sensors'--"])
def test_27_squash_of_the_core_or_an_unknown_name_writes_nothing(
        cli: Run, sqlite_url: str, name: str) -> None:
    versions = Path(__file__).parent.parent / "janitoo_db" / "models"
    before = sorted(p.name for p in versions.rglob("*.py"))
    done = cli("squash", name, "-u", sqlite_url)
    one_line_error(done)
    assert sorted(p.name for p in versions.rglob("*.py")) == before


@pytest.mark.parametrize("revision", ["nosuch", "janitoo@base", "'; DROP TABLE core_users; --"])
def test_28_stamp_of_nonsense_changes_nothing(cli: Run, any_url: str, revision: str) -> None:
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    before = snapshot(any_url)
    done = cli("stamp", "-u", any_url, "--", revision)
    assert "Traceback" not in done.stderr
    if revision != "janitoo@base":
        one_line_error(done)
        assert snapshot(any_url) == before
    assert CORE_TABLES <= table_names(any_url)


@pytest.mark.parametrize("revision", ["nosuch", "5d", "'"])
def test_29_accept_of_nonsense_is_refused(cli: Run, any_url: str, revision: str) -> None:
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    before = snapshot(any_url)
    done = cli("accept", "--json", "-u", any_url, "--", revision)
    assert done.exit_code != 0 and "Traceback" not in done.stdout + done.stderr
    assert snapshot(any_url) == before


def test_30_createdb_on_another_programs_tables_claims_none(cli: Run, any_url: str) -> None:
    execute(any_url, "CREATE TABLE their_data (id INTEGER PRIMARY KEY)", "INSERT INTO their_data (id) VALUES (1)")
    assert cli("createdb", "-u", any_url).exit_code == 0
    assert "their_data" not in ledger(any_url)
    again = cli("createdb", "-u", any_url)
    assert "Traceback" not in again.stderr
    assert cli("dropdb", "--yes", "-u", any_url).exit_code == 0
    assert table_names(any_url) == {"their_data"} and count(any_url, "their_data") == 1


@pytest.mark.parametrize("how", [
    "op.execute('DROP TABLE their_data')",
    "op.get_bind().exec_driver_sql('DELETE FROM their_data')",
    "op.execute(\"/* harmless */ DROP TABLE their_data\")",
    "op.execute('SELECT 1; DROP TABLE their_data')",
])
def test_31_no_destructive_refuses_raw_drops_of_another_programs_table(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    execute(any_url, "CREATE TABLE their_data (id INTEGER PRIMARY KEY)", "INSERT INTO their_data (id) VALUES (1)")
    extension(tmp_path, monkeypatch, "sneaky", "h1", body=how)
    done = cli("upgrade", "--no-destructive", "-q", "-u", any_url)
    assert done.exit_code == 1 and "Traceback" not in done.stderr
    assert count(any_url, "their_data") == 1


# -- secrets --------------------------------------------------------------------------------------

SECRET = "Pa@ss:w%rd s\u00e9cr"


def _bad_urls() -> list[str]:
    from urllib.parse import quote
    return [f"postgresql+psycopg://u:{quote(SECRET, safe='')}@127.0.0.1:1/db",
            "postgresql+psycopg://u:pa@ss@127.0.0.1:1/db",
            "mysql+pymysql://u:sec:ret@@127.0.0.1:1/db"]


SECRET_PIECES = ("Pa@ss", "w%rd", "s\u00e9cr", "w%25rd", "Pa%40ss", "pa@ss", "ss@127", "sec:ret", "ret@")

COMMANDS = [("forget", "x", "--drop-tables", "--yes"), ("dropdb", "--yes"), ("repair", "--yes"),
            ("adopt", "--yes", "--json"), ("downgrade", "x@base"), ("createdb",), ("stamp", "heads"),
            ("accept", "--json"), ("initdb", "--no-destructive")]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("how", ["-u", "-c", "env"])
def test_32_no_password_piece_in_any_output(cli: Run, tmp_path: Path, command: tuple[str, ...], how: str) -> None:
    for url in _bad_urls():
        if how == "-u":
            done = cli(*command, "-u", url)
        elif how == "-c":
            conf = tmp_path / "janitoo.conf"
            conf.write_text(f"[database]\nsqlalchemy.url = {url.replace('%', '%%')}\n")
            done = cli(*command, "-c", str(conf))
        else:
            done = cli(*command, env={"JANITOO_DB_URL": url})
        shown = done.stdout + done.stderr
        assert "Traceback" not in shown
        for piece in SECRET_PIECES:
            assert piece not in shown, (url, shown)


# -- revision files ---------------------------------------------------------------------------------

def test_33_a_fifo_in_a_version_directory_does_not_hang(tmp_path: Path, jnt_dbman: Proc) -> None:
    root = write_extension(tmp_path / "fifo", "fifo_ext", [("i100000001", "")], depends_on=None)
    os.mkfifo(root / "fifo_ext" / "models" / "fifo_ext" / "zz_fifo.py")
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    url = f"sqlite:///{tmp_path / 'f.sqlite'}"
    try:
        done = jnt_dbman("checkdb", "-u", url, env=env, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("jnt_dbman hung on a FIFO named like a revision file")
    assert "Traceback" not in done.stderr


def test_34_a_symlinked_revision_file_into_another_branch_is_refused_or_harmless(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keeper = extension(tmp_path, monkeypatch, "keeper", "j1")
    linker = write_extension(tmp_path / "linker", "linker", [("j200000001", "")])
    (linker / "linker" / "models" / "linker" / "zz_link.py").symlink_to(
        next((keeper / "keeper" / "models" / "keeper").glob("j100000002*.py")))
    install_extension(linker, "linker", monkeypatch)
    done = cli("initdb", "-q", "-u", any_url)
    assert "Traceback" not in done.stderr
    if done.exit_code == 0:
        execute(any_url, "INSERT INTO keeper_items (id) VALUES (1)")
        uninstall(linker)
        cli("forget", "linker", "--drop-tables", "--yes", "-u", any_url)
        assert count(any_url, "keeper_items") == 1


def test_35_an_applied_revision_edited_to_drop_the_core_then_dropdb_keeps_nothing_foreign(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = extension(tmp_path, monkeypatch, "edited", "k1")
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    execute(any_url, "CREATE TABLE their_data (id INTEGER PRIMARY KEY)", "INSERT INTO their_data (id) VALUES (1)")
    path = next((root / "edited" / "models" / "edited").glob("k100000002*.py"))
    path.write_text(path.read_text().replace("op.drop_table('edited_items')",
                                             "op.drop_table('edited_items')\n    op.execute('DROP TABLE their_data')"))
    done = cli("dropdb", "--yes", "-u", any_url)
    assert "Traceback" not in done.stderr
    assert count(any_url, "their_data") == 1
    assert done.exit_code == 1 and "k100000002 (edited)" in done.stderr and "jnt_dbman accept" in done.stderr
    assert "edited_items" in table_names(any_url)  # nothing was dropped


# -- repair after a real kill, the extension since uninstalled (MariaDB keeps each DDL) ------------

def _dying_extension(tmp_path: Path) -> Path:
    """An extension whose revision 2 makes dying_items, then dies (os._exit) when DIE is set."""
    return write_extension(tmp_path / "dying", "dying", [
        ("m100000001", ""),
        ("m100000002", "op.create_table('dying_items', sa.Column('id', sa.Integer, primary_key=True))\n"
                       "if os.environ.get('DIE'):\n    os._exit(9)", "op.drop_table('dying_items')"),
    ], depends_on=CORE_HEAD)


def _with(*roots: Path, **extra: str) -> dict[str, str]:
    return subprocess_env(PYTHONPATH=os.pathsep.join([*map(str, roots), subprocess_env()["PYTHONPATH"]]), **extra)


def test_36_repair_twice_with_the_extension_uninstalled_drops_only_what_the_run_made(
        mysql_url: str, tmp_path: Path, jnt_dbman: Proc) -> None:
    root = _dying_extension(tmp_path)
    assert jnt_dbman("initdb", "-q", "-u", mysql_url).returncode == 0
    execute(mysql_url, "CREATE TABLE their_data (id INTEGER PRIMARY KEY)", "INSERT INTO their_data (id) VALUES (1)")
    killed = jnt_dbman("initdb", "-q", "-u", mysql_url, env=_with(root, DIE="1"))
    assert killed.returncode == 9
    assert jnt_dbman("checkdb", "-u", mysql_url).returncode == 5
    first = jnt_dbman("repair", "--yes", "-u", mysql_url)  # dying is no longer on the path
    assert first.returncode == 0, first.stderr
    assert "dying_items" not in table_names(mysql_url)
    assert CORE_TABLES <= table_names(mysql_url) and count(mysql_url, "their_data") == 1
    second = jnt_dbman("repair", "--yes", "-u", mysql_url)
    assert second.returncode == 0 and "Nothing to repair" in second.stdout
    assert CORE_TABLES <= table_names(mysql_url) and count(mysql_url, "their_data") == 1


@pytest.mark.parametrize("die", ["kill", "raise"])
def test_37b_a_half_installed_extension_uninstalled_is_named_and_can_be_forgotten(
        mysql_url: str, tmp_path: Path, jnt_dbman: Proc, die: str) -> None:
    root = _dying_extension(tmp_path)
    assert jnt_dbman("initdb", "-q", "-u", mysql_url).returncode == 0
    if die == "raise":
        path = next((root / "dying" / "models" / "dying").glob("m100000002*.py"))
        path.write_text(path.read_text().replace("os._exit(9)", "raise RuntimeError('boom')"))
    assert jnt_dbman("initdb", "-q", "-u", mysql_url, env=_with(root, DIE="1")).returncode != 0
    assert jnt_dbman("repair", "--yes", "-u", mysql_url).returncode == 0  # dying is no longer on the path
    # janitoo_db_branches is written only when a migration succeeds: the branch of m100000001 is unknown.
    orphaned = jnt_dbman("checkdb", "-u", mysql_url)
    assert orphaned.returncode == 5
    assert orphaned.stdout == ("Orphaned head m100000001 (branch unknown): no installed extension provides it "
                               "(install it again, or 'jnt_dbman forget m100000001').\n")
    forgotten = jnt_dbman("forget", "m100000001", "-u", mysql_url)
    assert forgotten.returncode == 0, forgotten.stderr
    assert jnt_dbman("checkdb", "-u", mysql_url).returncode == 0
    assert CORE_TABLES <= table_names(mysql_url)


def test_37_repair_applied_of_a_half_done_revision_then_checkdb(
        mysql_url: str, tmp_path: Path, jnt_dbman: Proc) -> None:
    """--applied on a revision that did not finish: it records it; the table it made stays, nothing else goes."""
    root = _dying_extension(tmp_path)
    assert jnt_dbman("initdb", "-q", "-u", mysql_url).returncode == 0
    assert jnt_dbman("initdb", "-q", "-u", mysql_url, env=_with(root, DIE="1")).returncode == 9
    done = jnt_dbman("repair", "--applied", "--yes", "-u", mysql_url, env=_with(root))
    assert done.returncode == 0, done.stderr
    assert {"dying_items"} | CORE_TABLES <= table_names(mysql_url)
    assert jnt_dbman("checkdb", "-u", mysql_url, env=_with(root)).returncode == 0


# -- stamp backwards ----------------------------------------------------------------------------------

def test_38_stamp_of_the_cores_base_leaves_a_state_initdb_cannot_leave(cli: Run, any_url: str) -> None:
    """stamp janitoo@base also unstamps acme_sensors (it depends on the core), without --cascade or a question."""
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    before = snapshot(any_url)
    done = cli("stamp", "janitoo@base", "-u", any_url)
    assert done.exit_code == 1 and "Traceback" not in done.stderr
    assert snapshot(any_url) == before


# -- other schemas, other cases -----------------------------------------------------------------------

def test_39_postgresql_tables_of_our_names_in_another_schema_survive(
        cli: Run, postgresql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = extension(tmp_path, monkeypatch, "schemed", "n1")
    execute(postgresql_url, "CREATE SCHEMA other_schema",
            "CREATE TABLE other_schema.core_users (id INTEGER PRIMARY KEY)",
            "INSERT INTO other_schema.core_users (id) VALUES (1)",
            "CREATE TABLE other_schema.schemed_items (id INTEGER PRIMARY KEY)",
            "INSERT INTO other_schema.schemed_items (id) VALUES (1)")
    assert cli("initdb", "-q", "-u", postgresql_url).exit_code == 0
    uninstall(root)
    assert cli("forget", "schemed", "--drop-tables", "--yes", "-u", postgresql_url).exit_code == 0
    assert cli("forget", "other_schema.schemed_items", "--drop-tables", "--yes", "-u", postgresql_url).exit_code == 1
    assert cli("dropdb", "--yes", "-u", postgresql_url).exit_code == 0
    assert count(postgresql_url, "other_schema.core_users") == 1
    assert count(postgresql_url, "other_schema.schemed_items") == 1


def test_40_postgresql_search_path_to_another_schema_first(postgresql_url: str, jnt_dbman: Proc) -> None:
    """A URL whose search_path puts another program's schema first: dropdb drops nothing of it."""
    execute(postgresql_url, "CREATE SCHEMA theirs", "CREATE TABLE theirs.core_users (id INTEGER PRIMARY KEY)",
            "INSERT INTO theirs.core_users (id) VALUES (1)")
    assert jnt_dbman("initdb", "-q", "-u", postgresql_url).returncode == 0
    shifted = postgresql_url + "?options=-csearch_path%3Dtheirs,public"
    done = jnt_dbman("dropdb", "--yes", "-u", shifted)
    assert "Traceback" not in done.stderr
    assert count(postgresql_url, "theirs.core_users") == 1


def test_41_mariadb_a_table_differing_only_in_case_survives(cli: Run, mysql_url: str) -> None:
    lower = int(rows(mysql_url, "SELECT @@lower_case_table_names")[0][0])
    if lower:
        pytest.skip("this server folds table names: Core_Users is core_users")
    execute(mysql_url, "CREATE TABLE Core_Users (id INTEGER PRIMARY KEY)", "INSERT INTO Core_Users (id) VALUES (1)")
    assert cli("initdb", "-q", "-u", mysql_url).exit_code == 0
    assert cli("dropdb", "--yes", "-u", mysql_url).exit_code == 0
    assert table_names(mysql_url) == {"Core_Users"} and count(mysql_url, "Core_Users") == 1


def test_42_a_view_of_another_program_in_place_of_a_forgotten_table_survives(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = extension(tmp_path, monkeypatch, "replaced", "p1")
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    execute(any_url, "CREATE TABLE their_data (id INTEGER PRIMARY KEY)", "INSERT INTO their_data (id) VALUES (1)",
            "DROP TABLE replaced_items", "CREATE VIEW replaced_items AS SELECT id FROM their_data")
    uninstall(root)
    done = cli("forget", "replaced", "--drop-tables", "--yes", "-u", any_url)
    assert "Traceback" not in done.stderr
    assert cli("dropdb", "--yes", "-u", any_url).exit_code == 0
    assert count(any_url, "replaced_items") == 1 and count(any_url, "their_data") == 1


@pytest.mark.parametrize("rev_id", [CORE_HEAD, "x'; --", "a" * 40, "q100000001", ""])
def test_43_squash_with_a_hostile_rev_id_writes_nothing(
        cli: Run, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rev_id: str) -> None:
    root = write_extension(tmp_path / "sq", "sq_ext", [
        ("q100000001", "op.create_table('sq_items', sa.Column('id', sa.Integer, primary_key=True))"),
        ("q100000002", "op.add_column('sq_items', sa.Column('n', sa.Integer))")])
    versions = install_extension(root, "sq_ext", monkeypatch)
    before = sorted(p.name for p in versions.iterdir())
    done = cli("squash", "sq_ext", "--rev-id", rev_id, "-u", sqlite_url)
    one_line_error(done)
    assert sorted(p.name for p in versions.iterdir()) == before


def test_44_createdb_on_a_database_versioned_behind_the_heads_changes_nothing(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    extension(tmp_path, monkeypatch, "later", "r1")
    before = snapshot(any_url)
    done = cli("createdb", "-u", any_url)
    one_line_error(done)
    assert snapshot(any_url) == before


def test_45_initdb_no_destructive_on_an_original_database_with_an_extra_column_writes_nothing(
        cli: Run, any_url: str) -> None:
    """Made by the original janitoo, then altered by hand: neither adopted silently nor called empty."""
    assert cli("createdb", "-u", any_url).exit_code == 0
    execute(any_url, "DROP TABLE alembic_version", "ALTER TABLE core_settings ADD their_extra INTEGER")
    for table in sorted(t for t in table_names(any_url) if t.startswith("janitoo_db_")):
        execute(any_url, f"DROP TABLE {table}")
    before = snapshot(any_url)
    done = cli("initdb", "--no-destructive", "-u", any_url)
    one_line_error(done)
    assert "adopt" in done.stderr and "empty" not in done.stderr
    assert snapshot(any_url) == before


@pytest.mark.parametrize("password", ["Pa%40ss", "Pa%ss", "Pa%(ss", "Pa%(user)s"])
@pytest.mark.parametrize("command", [("forget", "x"), ("dropdb", "--yes"), ("adopt", "--json"), ("repair", "--yes")],
                         ids=lambda c: c[0])
def test_46_a_conf_file_password_with_a_bare_percent_is_not_echoed(
        cli: Run, tmp_path: Path, password: str, command: tuple[str, ...]) -> None:
    """configparser's interpolation error quoted the value from its '%' on: the password's tail."""
    conf = tmp_path / "janitoo.conf"
    conf.write_text(f"[database]\nsqlalchemy.url = postgresql+psycopg://u:{password}@127.0.0.1:1/db\n")
    done = cli(*command, "-c", str(conf))
    shown = done.stdout + done.stderr
    assert done.exit_code == 1 and "Traceback" not in shown
    assert "sqlalchemy.url" in shown and "%%" in shown
    for piece in ("40ss", "%ss", "(ss", "user)s", "ss@127"):
        assert piece not in shown, shown


def test_47_forget_of_a_branch_an_installed_one_depends_on_keeps_the_installed_ones_tables(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = extension(tmp_path, monkeypatch, "base_ext", "s1")
    user = write_extension(tmp_path / "user_ext", "user_ext", [
        ("s200000001", ""),
        ("s200000002", "op.create_table('user_ext_items', sa.Column('id', sa.Integer, primary_key=True))",
         "op.drop_table('user_ext_items')"),
    ], depends_on="s100000002")
    install_extension(user, "user_ext", monkeypatch)
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    execute(any_url, "INSERT INTO user_ext_items (id) VALUES (1)")
    uninstall(base)
    done = cli("forget", "base_ext", "--drop-tables", "--yes", "-u", any_url)
    one_line_error(done)
    assert done.stderr == ("Error: revision s200000002 names s100000002 in its depends_on, and no installed branch "
                           "provides it: install the extension whose revision s100000002 is again\n")
    assert count(any_url, "user_ext_items") == 1 and CORE_TABLES <= table_names(any_url)


def test_48_createdb_with_a_view_named_like_a_model_table_creates_nothing(cli: Run, any_url: str) -> None:
    execute(any_url, "CREATE TABLE their_source (id INTEGER PRIMARY KEY)",
            "CREATE VIEW core_settings AS SELECT id FROM their_source")
    done = cli("createdb", "-u", any_url)
    one_line_error(done)
    assert done.stderr.startswith("Error: createdb refused, nothing was created: the database has views named "
                                  "like the models' tables (core_settings)")
    assert table_names(any_url) == {"their_source"}
    assert cli("checkdb", "-u", any_url).exit_code == 3


@pytest.mark.parametrize("server", ["postgresql", "mysql"])
def test_49_a_key_from_another_schema_into_ours_refuses_dropdb_and_forget_before_any_drop(
        cli: Run, request: pytest.FixtureRequest, server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On MariaDB dropdb dropped core_users and more, then failed on core_groups, leaving a repair state."""
    url = request.getfixturevalue(f"{server}_url")
    other = None
    if server == "mysql":  # another database on the same server: MySQL's schemas
        second = _throwaway_database(MYSQL_ADMIN_URL, "MariaDB at 127.0.0.1:3306")
        other = next(second)
        request.addfinalizer(lambda: next(second, None))
    root = extension(tmp_path, monkeypatch, "pointed", "t1")
    assert cli("initdb", "-q", "-u", url).exit_code == 0
    if other is None:
        execute(url, "CREATE SCHEMA theirs")
        schema = "theirs"
    else:
        schema = other.rsplit("/", 1)[1]
    ours = "" if other is None else url.rsplit("/", 1)[1] + "."
    execute(url, f"CREATE TABLE {schema}.audit (id INTEGER PRIMARY KEY, group_id INTEGER, item_id INTEGER, "
                 f"CONSTRAINT audit_group FOREIGN KEY (group_id) REFERENCES {ours}core_groups (id), "
                 f"CONSTRAINT audit_item FOREIGN KEY (item_id) REFERENCES {ours}pointed_items (id))")
    before = snapshot(url)
    refused = cli("dropdb", "--yes", "-u", url)
    one_line_error(refused)
    assert f"{schema}.audit (audit_group) -> core_groups" in refused.stderr
    assert snapshot(url) == before
    uninstall(root)
    forget = cli("forget", "pointed", "--drop-tables", "--yes", "-u", url)
    one_line_error(forget)
    assert f"{schema}.audit (audit_item) -> pointed_items" in forget.stderr
    assert snapshot(url) == before
    assert cli("forget", "pointed", "-u", url).exit_code == 0
    assert cli("checkdb", "-u", url).exit_code == 0


def test_50_dropdb_with_an_uninstalled_extensions_head_drops_nothing_or_only_ours(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The orphaned head's revisions cannot run: dropdb must not half-drop, and must say what to do."""
    root = extension(tmp_path, monkeypatch, "orphan", "u1")
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    execute(any_url, "CREATE TABLE their_data (id INTEGER PRIMARY KEY)", "INSERT INTO their_data (id) VALUES (1)")
    uninstall(root)
    before = snapshot(any_url)
    done = cli("dropdb", "--yes", "-u", any_url)
    assert "Traceback" not in done.stderr
    assert done.exit_code == 1 and snapshot(any_url) == before
    assert done.stderr == ("Error: the database holds u100000002 (orphan): the extension orphan is not installed; "
                           "install orphan again and run 'jnt_dbman downgrade orphan@base', or forget it "
                           "('jnt_dbman forget orphan')\n")
    assert cli("forget", "orphan", "-u", any_url).exit_code == 0
    assert cli("dropdb", "--yes", "-u", any_url).exit_code == 0
    assert table_names(any_url) == {"their_data"} and count(any_url, "their_data") == 1  # the ledger had orphan_items


@pytest.mark.parametrize("table", ["Odd Items", "it's", "semi;colon", "dash--dash"])
def test_51_forget_drops_an_oddly_named_table_of_its_own_and_nothing_else(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str) -> None:
    root = extension(tmp_path, monkeypatch, "oddly", "v1", table=table)
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    execute(any_url, "CREATE TABLE their_data (id INTEGER PRIMARY KEY)", "INSERT INTO their_data (id) VALUES (1)")
    assert ledger(any_url)[table] == "oddly"
    uninstall(root)
    done = cli("forget", "oddly", "--drop-tables", "--yes", "-u", any_url)
    assert done.exit_code == 0, done.stderr
    assert table not in table_names(any_url) and CORE_TABLES <= table_names(any_url)
    assert count(any_url, "their_data") == 1
    assert cli("checkdb", "-u", any_url).exit_code == 0


def test_52_postgresql_a_quoted_table_differing_only_in_case_survives(cli: Run, postgresql_url: str) -> None:
    execute(postgresql_url, 'CREATE TABLE "Core_Users" (id INTEGER PRIMARY KEY)',
            'INSERT INTO "Core_Users" (id) VALUES (1)')
    assert cli("initdb", "-q", "-u", postgresql_url).exit_code == 0
    assert cli("dropdb", "--yes", "-u", postgresql_url).exit_code == 0
    assert table_names(postgresql_url) == {"Core_Users"} and count(postgresql_url, '"Core_Users"') == 1


def test_53_accept_after_a_revision_was_edited_then_forget_keeps_the_others(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An edited revision (checkdb 6) of an extension then uninstalled: forget runs no revision code."""
    root = extension(tmp_path, monkeypatch, "edited2", "w1")
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    path = next((root / "edited2" / "models" / "edited2").glob("w100000002*.py"))
    path.write_text(path.read_text() + "\n# edited\n")
    assert cli("checkdb", "-u", any_url).exit_code == 6
    uninstall(root)
    done = cli("forget", "edited2", "--drop-tables", "--yes", "-u", any_url)
    assert done.exit_code == 0, done.stderr
    assert "edited2_items" not in table_names(any_url) and CORE_TABLES <= table_names(any_url)
    assert cli("checkdb", "-u", any_url).exit_code == 0


def test_54_a_head_written_by_hand_into_alembic_version_can_be_forgotten_by_its_id(cli: Run, any_url: str) -> None:
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    execute(any_url, "INSERT INTO alembic_version (version_num) VALUES ('zz''; --')")
    before = snapshot(any_url)
    refused = cli("dropdb", "--yes", "-u", any_url)
    one_line_error(refused)
    assert "jnt_dbman forget zz'; --" in refused.stderr and snapshot(any_url) == before
    assert cli("forget", "zz'", "-u", any_url).exit_code == 1  # a prefix is not the id
    done = cli("forget", "zz'; --", "-u", any_url)
    assert done.exit_code == 0, done.stderr
    assert cli("checkdb", "-u", any_url).exit_code == 0
    assert table_names(any_url) == before[0]
