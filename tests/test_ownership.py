"""forget and dropdb drop exactly what the owner ledger proves janitoo_db made, never what a foreign key points at.

Each test reproduces a way issue 18 found of removing data janitoo_db does not
own: a foreign key followed by reflection (points 1 and 2), a model imported
from another extension at createdb (point 3), ``if_not_exists`` on a table
that was there (point 4), a forget killed between two drops (point 13).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
import sqlalchemy as sa
from click.testing import Result

from conftest import install_extension, subprocess_env, write_extension
from dbstate import connected, rows, table_names, version_ids

Run = Callable[..., Result]
CORE_HEAD = "5d2f0a8c91e3"


def uninstall(root: Path) -> None:
    sys.path[:] = [entry for entry in sys.path if entry != str(root)]


def ledger(url: str) -> dict[str, str]:
    return {name: branch for name, branch in rows(url, "SELECT table_name, branch FROM janitoo_db_tables")}


def count(url: str, table: str) -> int:
    return int(rows(url, f"SELECT count(*) FROM {table}")[0][0])


def add_user(url: str) -> None:
    """A group and a user in the core's tables, through their models' defaults."""
    import janitoo_db.models  # noqa: F401
    from janitoo_db.base import Base

    groups, users = Base.metadata.tables["core_groups"], Base.metadata.tables["core_users"]
    with connected(url) as connection:
        connection.execute(groups.insert().values(id=100, name="ann's"))
        connection.execute(users.insert().values(id=1, username="ann", email="a@x", password="h",
                                                 primary_group_id=100))


def execute(url: str, *statements: str) -> None:
    with connected(url) as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)


def keeper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed extension with a table of its own."""
    install_extension(write_extension(tmp_path / "keeper", "keeper", [
        ("a10000000001", ""),
        ("a10000000002", "op.create_table('keeper_items', sa.Column('id', sa.Integer, primary_key=True))",
         "op.drop_table('keeper_items')"),
    ], depends_on=CORE_HEAD), "keeper", monkeypatch)


def test_forget_drops_only_its_table_not_the_tables_its_keys_point_at(cli: Run, any_url: str, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Point 1: reflection used to load core_users and keeper_items through stray_items' keys, and drop them."""
    keeper(tmp_path, monkeypatch)
    stray = write_extension(tmp_path / "stray", "stray", [
        ("a20000000001", ""),
        ("a20000000002", "op.create_table('stray_items', sa.Column('id', sa.Integer, primary_key=True),\n"
                         "    sa.Column('user_id', sa.Integer, sa.ForeignKey('core_users.id')),\n"
                         "    sa.Column('keeper_id', sa.Integer, sa.ForeignKey('keeper_items.id')))",
         "op.drop_table('stray_items')"),
    ], depends_on="a10000000002")
    install_extension(stray, "stray", monkeypatch)
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    add_user(any_url)
    execute(any_url, "INSERT INTO keeper_items (id) VALUES (7)",
            "INSERT INTO stray_items (id, user_id, keeper_id) VALUES (1, 1, 7)")
    groups = count(any_url, "core_groups")
    uninstall(stray)

    done = cli("forget", "stray", "--drop-tables", "--yes", "-u", any_url)
    assert done.exit_code == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "Dropped its tables: stray_items."
    assert "stray_items" not in table_names(any_url)
    kept = (count(any_url, "core_users"), count(any_url, "core_groups"), count(any_url, "keeper_items"))
    assert kept == (1, groups, 1)
    assert cli("checkdb", "-u", any_url).exit_code == 0


def test_forget_refuses_when_a_table_it_does_not_own_points_into_its_tables(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keeper(tmp_path, monkeypatch)
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    execute(any_url, "CREATE TABLE their_notes (id INTEGER PRIMARY KEY, item_id INTEGER, "
                     "CONSTRAINT their_notes_item FOREIGN KEY (item_id) REFERENCES keeper_items (id))")
    before, versions = table_names(any_url), version_ids(any_url)
    uninstall(tmp_path / "keeper")

    refused = cli("forget", "keeper", "--drop-tables", "--yes", "-u", any_url)
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: forget keeper --drop-tables refused, nothing was dropped: a table "
                                     "it keeps has a foreign key into one it would drop "
                                     "(their_notes.item_id (their_notes_item) -> keeper_items.id)")
    assert table_names(any_url) == before and version_ids(any_url) == versions
    assert ledger(any_url)["keeper_items"] == "keeper"


def test_forget_of_an_installed_extension_is_refused_and_drops_nothing(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point 14."""
    keeper(tmp_path, monkeypatch)
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    execute(any_url, "INSERT INTO keeper_items (id) VALUES (7)")
    before, versions, owners = table_names(any_url), version_ids(any_url), ledger(any_url)

    refused = cli("forget", "keeper", "--drop-tables", "--yes", "-u", any_url)
    assert refused.exit_code == 1
    assert refused.stderr == ("Error: keeper is installed: remove its branch with "
                              "'jnt_dbman downgrade keeper@base', then uninstall it\n")
    assert (table_names(any_url), version_ids(any_url), ledger(any_url)) == (before, versions, owners)
    assert count(any_url, "keeper_items") == 1


def test_dropdb_keeps_another_programs_table_an_extension_points_at(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point 2: the table a foreign key of ours points at is not ours, whatever the downgrade left."""
    execute(any_url, "CREATE TABLE their_owners (id INTEGER PRIMARY KEY)", "INSERT INTO their_owners (id) VALUES (3)")
    install_extension(write_extension(tmp_path / "chainer", "chainer", [
        ("a30000000001", ""),
        # Its downgrade forgets the table: dropdb's own drop, not the revision, removes it.
        ("a30000000002", "op.create_table('chainer_items', sa.Column('id', sa.Integer, primary_key=True),\n"
                         "    sa.Column('owner_id', sa.Integer, sa.ForeignKey('their_owners.id')))", "pass"),
    ]), "chainer", monkeypatch)
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    execute(any_url, "INSERT INTO chainer_items (id, owner_id) VALUES (1, 3)")

    dropped = cli("dropdb", "--yes", "-u", any_url)
    assert dropped.exit_code == 0, dropped.stderr
    assert dropped.stdout.startswith("Dropped ")
    assert table_names(any_url) == {"their_owners"}
    assert count(any_url, "their_owners") == 1


def test_dropdb_refuses_when_another_programs_table_points_at_ours(cli: Run, any_url: str) -> None:
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    add_user(any_url)
    execute(any_url, "CREATE TABLE their_audit (id INTEGER PRIMARY KEY, user_id INTEGER, "
                     "CONSTRAINT their_audit_user FOREIGN KEY (user_id) REFERENCES core_users (id))",
            "INSERT INTO their_audit (id, user_id) VALUES (1, 1)")
    before, versions = table_names(any_url), version_ids(any_url)

    refused = cli("dropdb", "--yes", "-u", any_url)
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: dropdb refused, nothing was dropped: a table it keeps "
                                     "has a foreign key into one it would drop "
                                     "(their_audit.user_id (their_audit_user) -> core_users.id)")
    assert table_names(any_url) == before and version_ids(any_url) == versions
    assert (count(any_url, "core_users"), count(any_url, "their_audit")) == (1, 1)


def test_createdb_records_each_table_for_the_extension_whose_module_declares_it(
        tmp_path: Path, any_url: str, jnt_dbman: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    """Point 3: aaa_user's models import zzz_base's; aaa_user loads first, yet zzz_things stays zzz_base's."""
    write_extension(tmp_path / "zzz", "zzz_base", [("a40000000001", "")], models=(
        "class Thing(Base):\n    __tablename__ = 'zzz_things'\n    id = sa.Column(sa.Integer, primary_key=True)\n"))
    write_extension(tmp_path / "aaa", "aaa_user", [("a50000000001", "")], models=(
        "from zzz_base import Thing\n\n\n"
        "class Use(Base):\n    __tablename__ = 'aaa_uses'\n    id = sa.Column(sa.Integer, primary_key=True)\n"
        "    thing_id = sa.Column(sa.Integer, sa.ForeignKey(Thing.id))\n"))
    both = subprocess_env(PYTHONPATH=os.pathsep.join([str(tmp_path / "aaa"), str(tmp_path / "zzz"),
                                                      subprocess_env()["PYTHONPATH"]]))
    created = jnt_dbman("createdb", "-u", any_url, env=both)
    assert created.returncode == 0, created.stderr
    owners = ledger(any_url)
    assert (owners["zzz_things"], owners["aaa_uses"]) == ("zzz_base", "aaa_user")
    execute(any_url, "INSERT INTO zzz_things (id) VALUES (1)", "INSERT INTO aaa_uses (id, thing_id) VALUES (1, 1)")

    only_zzz = subprocess_env(PYTHONPATH=os.pathsep.join([str(tmp_path / "zzz"), subprocess_env()["PYTHONPATH"]]))
    done = jnt_dbman("forget", "aaa_user", "--drop-tables", "--yes", "-u", any_url, env=only_zzz)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "Dropped its tables: aaa_uses."
    assert "aaa_uses" not in table_names(any_url) and count(any_url, "zzz_things") == 1


def test_if_not_exists_on_a_table_that_was_there_records_nothing(cli: Run, any_url: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Point 4: neither the core's core_settings nor another program's table becomes the squatter's."""
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    execute(any_url, "CREATE TABLE their_data (id INTEGER PRIMARY KEY)", "INSERT INTO their_data (id) VALUES (5)")
    squatter = write_extension(tmp_path / "squatter", "squatter", [
        ("a60000000001", ""),
        ("a60000000002", "op.create_table('core_settings', sa.Column('id', sa.Integer, primary_key=True),\n"
                         "    if_not_exists=True)\n"
                         "op.create_table('their_data', sa.Column('id', sa.Integer, primary_key=True),\n"
                         "    if_not_exists=True)\n"
                         "op.create_table('squatter_log', sa.Column('id', sa.Integer, primary_key=True),\n"
                         "    if_not_exists=True)"),
    ], depends_on=CORE_HEAD)
    install_extension(squatter, "squatter", monkeypatch)
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    owners = ledger(any_url)
    assert (owners["core_settings"], owners["squatter_log"], "their_data" in owners) == ("janitoo", "squatter", False)
    settings = count(any_url, "core_settings")
    uninstall(squatter)

    done = cli("forget", "squatter", "--drop-tables", "--yes", "-u", any_url)
    assert done.exit_code == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "Dropped its tables: squatter_log."
    assert count(any_url, "core_settings") == settings and count(any_url, "their_data") == 1
    assert cli("dropdb", "--yes", "-u", any_url).exit_code == 0
    assert table_names(any_url) == {"their_data"} and count(any_url, "their_data") == 1


#: Runs jnt_dbman, killed (os._exit) as the second table's drop begins: between two drops.
KILLING = """\
import os, sys
from janitoo_db.guard import ownership
from janitoo_db.cli import main

real, done = ownership._drop_one, []

def dying(connection, table):
    if done:
        os._exit(9)
    real(connection, table)
    done.append(table.name)

ownership._drop_one = dying
main(sys.argv[1:], prog_name="jnt_dbman")
"""


def test_a_forget_killed_between_two_drops_leaves_no_record_that_claims_a_newer_table(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point 13: on MariaDB each DROP commits; the record of a dropped table went with it, so a table of the
    same name made since by another program is never taken for it.  Elsewhere the kill rolls everything back."""
    twins = write_extension(tmp_path / "twins", "twins", [
        ("a70000000001", ""),
        ("a70000000002", "op.create_table('twins_a', sa.Column('id', sa.Integer, primary_key=True))\n"
                         "op.create_table('twins_b', sa.Column('id', sa.Integer, primary_key=True))"),
    ], depends_on=CORE_HEAD)
    install_extension(twins, "twins", monkeypatch)
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    uninstall(twins)
    script = tmp_path / "killing.py"
    script.write_text(KILLING)
    killed = subprocess.run([sys.executable, str(script), "forget", "twins", "--drop-tables", "--yes", "-u", any_url],
                            capture_output=True, text=True, env=subprocess_env(), timeout=120)
    assert killed.returncode == 9, killed.stderr
    left = {"twins_a", "twins_b"} & table_names(any_url)
    assert {name for name, branch in ledger(any_url).items() if branch == "twins"} == left
    if any_url.startswith("mysql"):
        assert len(left) == 1, "MariaDB committed the first drop"
        assert "a70000000002" not in version_ids(any_url)
    else:
        assert left == {"twins_a", "twins_b"} and "a70000000002" in version_ids(any_url)
    # Another program makes a table under the name that is free now.
    taken = ({"twins_a", "twins_b"} - left) or {"their_twin"}
    for name in taken:
        execute(any_url, f"CREATE TABLE {name} (id INTEGER PRIMARY KEY)", f"INSERT INTO {name} (id) VALUES (1)")

    again = cli("forget", "twins", "--drop-tables", "--yes", "-u", any_url)
    assert again.exit_code == 0, again.stderr
    assert again.stdout.splitlines()[-1] == f"Dropped its tables: {', '.join(sorted(left))}."
    assert all(count(any_url, name) == 1 for name in taken)
    assert not left & table_names(any_url)
    assert "twins" not in ledger(any_url).values()
    assert cli("checkdb", "-u", any_url).exit_code == 0
    nothing = cli("forget", "twins", "--drop-tables", "--yes", "-u", any_url)
    assert nothing.exit_code == 1 and "holds nothing janitoo_db recorded as twins's" in nothing.stderr


def test_forget_removes_records_of_tables_no_longer_there(cli: Run, sqlite_url: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A table dropped by hand: its record could otherwise claim a table someone makes under that name later."""
    keeper(tmp_path, monkeypatch)
    assert cli("initdb", "-q", "-u", sqlite_url).exit_code == 0
    execute(sqlite_url, "DROP TABLE keeper_items")
    uninstall(tmp_path / "keeper")
    done = cli("forget", "keeper", "-u", sqlite_url)
    assert done.exit_code == 0, done.stderr
    assert "No longer in the database, so no longer recorded as keeper's: keeper_items." in done.stdout
    assert "keeper_items" not in ledger(sqlite_url)
    execute(sqlite_url, "CREATE TABLE keeper_items (id INTEGER PRIMARY KEY)")
    later = cli("forget", "keeper", "--drop-tables", "--yes", "-u", sqlite_url)
    assert later.exit_code == 1 and "keeper_items" in table_names(sqlite_url)


def test_drop_refuses_before_dropping_anything(sqlite_url: str) -> None:
    """The authority itself: a set with a foreign table pointing into it drops nothing."""
    from janitoo_db.errors import RefusedError
    from janitoo_db.guard import ownership

    execute(sqlite_url, "CREATE TABLE ours (id INTEGER PRIMARY KEY)",
            "CREATE TABLE theirs (id INTEGER PRIMARY KEY, o INTEGER REFERENCES ours (id))")
    engine = sa.create_engine(sqlite_url)
    try:
        with engine.begin() as connection, pytest.raises(RefusedError, match=r"theirs\.o -> ours\.id"):
            ownership.drop(connection, ["ours"], "test")
    finally:
        engine.dispose()
    assert table_names(sqlite_url) == {"ours", "theirs"}


def test_a_revision_dropping_another_branchs_table_is_refused(cli: Run, any_url: str, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    keeper(tmp_path, monkeypatch)
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    execute(any_url, "INSERT INTO keeper_items (id) VALUES (7)")
    install_extension(write_extension(tmp_path / "thief", "thief", [
        ("a80000000001", ""),
        ("a80000000002", "op.drop_table('keeper_items')"),
    ], depends_on="a10000000002"), "thief", monkeypatch)

    refused = cli("initdb", "-q", "-u", any_url)
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: revision a80000000002 (thief, ")
    assert ("failed: ForeignTableDrop: refused to drop the table keeper_items, which janitoo_db recorded as made by "
            "keeper's revisions: a revision of thief drops only thief's tables; ") in refused.stderr
    assert count(any_url, "keeper_items") == 1 and ledger(any_url)["keeper_items"] == "keeper"
    assert cli("checkdb", "-u", any_url).exit_code == 3  # thief's revision is pending, nothing to repair


def test_forget_drops_tables_whose_keys_point_at_each_other(cli: Run, any_url: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    loops = write_extension(tmp_path / "loops", "loops", [
        ("a90000000001", ""),
        ("a90000000002",
         "op.create_table('loops_a', sa.Column('id', sa.Integer, primary_key=True), sa.Column('b_id', sa.Integer))\n"
         "op.create_table('loops_b', sa.Column('id', sa.Integer, primary_key=True),\n"
         "    sa.Column('a_id', sa.Integer, sa.ForeignKey('loops_a.id')))\n"
         "if op.get_context().dialect.name != 'sqlite':\n"
         "    op.create_foreign_key('loops_a_b', 'loops_a', 'loops_b', ['b_id'], ['id'])"),
    ])
    install_extension(loops, "loops", monkeypatch)
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    execute(any_url, "INSERT INTO loops_a (id) VALUES (1)", "INSERT INTO loops_b (id, a_id) VALUES (2, 1)",
            "UPDATE loops_a SET b_id = 2")
    uninstall(loops)
    done = cli("forget", "loops", "--drop-tables", "--yes", "-u", any_url)
    assert done.exit_code == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "Dropped its tables: loops_a, loops_b."
    assert not {"loops_a", "loops_b"} & table_names(any_url) and "core_users" in table_names(any_url)
