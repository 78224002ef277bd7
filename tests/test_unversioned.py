"""initdb and upgrade on a database the original janitoo_db made: the core's tables and rows, no alembic_version.

When the tables match revisions exactly, initdb adopts the database (as
``jnt_dbman adopt --yes`` would) and upgrades it in the same command, its
rows kept; otherwise it refuses before writing anything, naming ``adopt``
and the tables in the way.  A database holding only another program's
tables is initdb'd as any other.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Callable

import pytest
import sqlalchemy as sa
from click.testing import Result

from conftest import revision_lines, subprocess_env, write_extension
from dbstate import rows, table_names, version_ids
from test_adopt import ORIGINAL, add_pickled_setting, execute, legacy_setting, original_metadata

Run = Callable[..., Result]
HEADS = {"5d2f0a8c91e3", "2b3c4d5e6f70", "c3e9b5a1d274"}
CORE_TABLES = ["core_groups", "core_groups_users", "core_settings", "core_settings_group", "core_users"]
ADOPTED = (f"Note: the database had no alembic_version; its tables match janitoo {ORIGINAL}: adopted there "
           "(as 'jnt_dbman adopt' would); upgrading to heads from there.")


def make_original(url: str) -> None:
    """What the original's createdb left: the core's tables, a group, a user and a pickled setting."""
    metadata = original_metadata()
    metadata.remove(metadata.tables["plans_layouts"])
    groups, users = metadata.tables["core_groups"], metadata.tables["core_users"]
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            metadata.create_all(connection)
            connection.execute(groups.insert().values(
                id=1, name="Members", description="the original's group", admin=False, power=False, user=True,
                guest=False, banned=False, mod_edituser=False, mod_banuser=False, editpost=True, deletepost=False,
                deletetopic=False, posttopic=True, postreply=True))
            connection.execute(users.insert().values(id=7, username="bob", email="bob@example.org", password="x",
                                                     primary_group_id=1))
    finally:
        engine.dispose()
    add_pickled_setting(url)


def snapshot(url: str) -> dict[str, int]:
    """Every table and its number of rows: what "nothing changed" is checked against."""
    return {table: rows(url, f"SELECT COUNT(*) FROM {table}")[0][0] for table in sorted(table_names(url))}


@pytest.mark.parametrize("empty_version_table", [False, True])
def test_initdb_adopts_a_database_the_original_made_and_upgrades_it(
        cli: Run, any_url: str, empty_version_table: bool) -> None:
    make_original(any_url)
    if empty_version_table:  # as a downgrade to base leaves it
        execute(any_url, "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")

    done = cli("initdb", "-u", any_url)
    assert done.exit_code == 0, done.stderr
    assert done.stderr.splitlines()[0] == ADOPTED
    assert {line.split(" (")[0] for line in revision_lines(done.stderr)} == {
        "Applied 5d2f0a8c91e3", "Applied 2b3c4d5e6f70", "Applied 8f41c2d7a9b0", "Applied c3e9b5a1d274",
        "Applied 1a2b3c4d5e6f"}
    assert version_ids(any_url) == HEADS
    assert rows(any_url, "SELECT id, username FROM core_users") == [(7, "bob")]
    assert legacy_setting(any_url) == ("10", '{"min": 5}')  # converted, as adopt then initdb converts it
    assert dict(rows(any_url, "SELECT table_name, branch FROM janitoo_db_tables")) == {
        **dict.fromkeys(CORE_TABLES, "janitoo"), "acme_readings": "acme_sensors",
        "template_rooms": "janitoo_template", "template_sensors": "janitoo_template"}
    assert cli("checkdb", "-u", any_url).exit_code == 0


def alter_extra_column(url: str) -> None:
    execute(url, "ALTER TABLE core_users ADD COLUMN nickname VARCHAR(20)")


def alter_missing_table(url: str) -> None:
    execute(url, "DROP TABLE core_groups_users")


@pytest.mark.parametrize("command", ["initdb", "upgrade"])
@pytest.mark.parametrize("alter", [alter_extra_column, alter_missing_table])
def test_an_original_database_that_matches_no_revision_is_refused_and_left_alone(
        cli: Run, any_url: str, alter: Callable[[str], None], command: str) -> None:
    make_original(any_url)
    alter(any_url)
    before = snapshot(any_url)

    refused = cli(command, "-u", any_url)
    assert refused.exit_code == 1
    error, = refused.stderr.splitlines()
    assert error.startswith(f"Error: the database has no alembic_version ({len(before)} tables, none of them "
                            "versioned) and holds tables of the installed branches that cannot be adopted")
    in_the_way = ", ".join(t for t in CORE_TABLES if t in before)
    assert f"tables in the way: {in_the_way}. Nothing was changed." in error
    assert "'jnt_dbman adopt'" in error
    # Nothing written: no alembic_version, no bookkeeping, no in-progress mark, no other branch's tables.
    assert snapshot(any_url) == before
    checked = cli("checkdb", "-u", any_url)
    assert checked.exit_code == 3
    assert "no alembic_version" in checked.stdout and "'jnt_dbman adopt'" in checked.stdout


def test_initdb_no_destructive_refuses_before_adopting(cli: Run, any_url: str) -> None:
    """Adopting would lead to the settings' conversion, which drops columns: refused before the stamp."""
    make_original(any_url)
    before = snapshot(any_url)
    refused = cli("initdb", "--no-destructive", "-u", any_url)
    assert refused.exit_code == 1
    assert "refusing to upgrade (--no-destructive" in refused.stderr
    assert snapshot(any_url) == before


def test_checkdb_says_a_database_the_original_made_has_no_version_table(cli: Run, any_url: str) -> None:
    make_original(any_url)
    checked = cli("checkdb", "-u", any_url)
    assert checked.exit_code == 3
    assert checked.stdout.splitlines() == [
        f"The database has no alembic_version but holds tables of the installed branches ({', '.join(CORE_TABLES)}): "
        "it was made without a version table (by the original janitoo's createdb, or by hand). 'jnt_dbman adopt' "
        "finds the revisions they match and stamps them; 'jnt_dbman initdb' adopts it when they match exactly, "
        "and refuses otherwise."]


def test_another_programs_table_is_not_in_the_way(cli: Run, any_url: str) -> None:
    execute(any_url, "CREATE TABLE other_app (id INTEGER PRIMARY KEY, note VARCHAR(20))",
            "INSERT INTO other_app (id, note) VALUES (1, 'kept')")
    checked = cli("checkdb", "-u", any_url)
    assert checked.exit_code == 3 and "no alembic_version" not in checked.stdout

    done = cli("initdb", "-q", "-u", any_url)
    assert done.exit_code == 0, done.stderr
    assert "adopt" not in done.stderr
    assert version_ids(any_url) == HEADS
    assert rows(any_url, "SELECT id, note FROM other_app") == [(1, "kept")]


def test_a_failure_on_a_database_with_tables_does_not_call_it_empty(
        cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    # It fails on this database only: adopt's replay on a scratch database has no other_app.
    monkeypatch.syspath_prepend(str(write_extension(tmp_path / "ext", "broken", [
        ("f10000000001", "if sa.inspect(op.get_bind()).has_table('other_app'):\n"
                         "    raise RuntimeError('broken on purpose')")])))
    execute(sqlite_url, "CREATE TABLE other_app (id INTEGER PRIMARY KEY)")
    failed = cli("initdb", "-q", "-u", sqlite_url)
    assert failed.exit_code == 1
    assert "empty" not in failed.stderr
    assert ("rolled back, so nothing this command did was kept: the database is at base: no alembic_version "
            "(1 table, none of them versioned)") in failed.stderr


# -- the original's Python API: servers starting, janitoo_db.migrate.Config -----------------------


def test_a_server_starting_on_a_database_the_original_made_adopts_it(tmp_path: Path, sqlite_url: str) -> None:
    from janitoo_db.server import JNTDBServer
    from test_dbserver import write_conf

    make_original(sqlite_url)
    JNTDBServer({"conf_file": str(write_conf(tmp_path / "server.conf", sqlite_url))})
    assert version_ids(sqlite_url) == HEADS
    assert rows(sqlite_url, "SELECT id, username FROM core_users") == [(7, "bob")]


def test_a_server_that_may_not_migrate_names_adopt(tmp_path: Path, sqlite_url: str) -> None:
    from janitoo_db.server import DatabaseNotMigratedError, JNTDBServer
    from test_dbserver import write_conf

    make_original(sqlite_url)
    expected = (r"no alembic_version, but tables of the installed branches \(core_groups, .*, core_users\): "
                "it was made without a version table; 'jnt_dbman adopt'")
    with pytest.raises(DatabaseNotMigratedError, match=expected):
        JNTDBServer({"conf_file": str(write_conf(tmp_path / "server.conf", sqlite_url, "false"))})
    assert version_ids(sqlite_url) == set()


def test_migrate_config_initdb_refuses_an_altered_original_database(any_url: str) -> None:
    from janitoo_db.errors import RefusedError
    from janitoo_db.migrate import Config

    make_original(any_url)
    alter_extra_column(any_url)
    before = snapshot(any_url)
    with pytest.raises(RefusedError, match="tables in the way: core_groups, .*'jnt_dbman adopt'"):
        Config(url=any_url).initdb()
    assert snapshot(any_url) == before


def test_a_table_only_a_model_declares_is_in_the_way(
        tmp_path: Path, any_url: str, jnt_dbman: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    """adopt accounts for the tables the revisions make: one only a model declares is not adopted, nor ignored."""
    root = write_extension(tmp_path / "ext", "drafts", [("f50000000001", "")], models="""
class Page(Base):
    __tablename__ = "drafts_pages"
    id = sa.Column(sa.Integer, primary_key=True)
""")
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    make_original(any_url)
    execute(any_url, "CREATE TABLE drafts_pages (id INTEGER PRIMARY KEY)")
    before = snapshot(any_url)
    refused = jnt_dbman("initdb", "-u", any_url, env=env)
    assert refused.returncode == 1
    assert ("cannot be adopted as they are: no revision of any branch makes them (only the models declare them); "
            "tables in the way: drafts_pages. Nothing was changed.") in refused.stderr
    assert snapshot(any_url) == before


def test_the_plan_of_an_upgrade_starts_where_it_would_adopt(cli: Run, any_url: str) -> None:
    make_original(any_url)
    before = snapshot(any_url)
    planned = cli("upgrade", "--plan", "-u", any_url)
    assert planned.exit_code == 0, planned.stderr
    assert planned.stderr.splitlines() == [
        f"Note: the database has no alembic_version; its tables match janitoo {ORIGINAL}: an upgrade adopts it "
        "there (as 'jnt_dbman adopt' would) and runs this plan from there."]
    assert [line.split(" (")[0] for line in planned.stdout.splitlines() if line.startswith("upgrade ")] == [
        "upgrade 8f41c2d7a9b0", "upgrade c3e9b5a1d274", "upgrade 1a2b3c4d5e6f", "upgrade 2b3c4d5e6f70",
        "upgrade 5d2f0a8c91e3"]  # from 33b95995b188: the core's own revisions before it are not planned
    assert "! drops column core_settings.value (1 row)" in planned.stdout
    assert snapshot(any_url) == before


def test_when_the_revisions_cannot_be_replayed_every_table_is_in_the_way(
        cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    """Fail closed: without the replay no table can be told to be another program's."""
    monkeypatch.syspath_prepend(str(write_extension(tmp_path / "ext", "scratchless", [
        ("f60000000001", "if not op.get_bind().engine.url.database:  # adopt's scratch database, in memory\n"
                         "    raise RuntimeError('not on a scratch database')")])))
    execute(sqlite_url, "CREATE TABLE other_app (id INTEGER PRIMARY KEY)")
    before = snapshot(sqlite_url)
    refused = cli("initdb", "-u", sqlite_url)
    assert refused.exit_code == 1
    assert ("cannot be adopted as they are: janitoo_db cannot tell which tables are the branches' (cannot run "
            "revision f60000000001 (scratchless)") in refused.stderr
    assert "tables in the way: other_app. Nothing was changed." in refused.stderr
    assert snapshot(sqlite_url) == before
