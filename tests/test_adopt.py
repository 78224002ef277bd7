"""jnt_dbman adopt: a database without alembic_version stamped at the revisions its tables match.

The databases are made as the original janitoo's createdb made them (the
tables, no alembic_version): either by running our revisions and dropping
the version and bookkeeping tables, or by a ``create_all`` of tables written
here as the original's models declared them, pickled settings included.
"""
from __future__ import annotations

import json
import os
import pickle
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import pytest
import sqlalchemy as sa
from click.testing import Result

import janitoo_db.cli.options
from conftest import revision_lines, subprocess_env, write_extension, write_revision
from dbstate import execute, rows, table_names, version_ids

Run = Callable[..., Result]
ORIGINAL, CORE_HEAD, ACME_HEAD = "33b95995b188", "5d2f0a8c91e3", "2b3c4d5e6f70"
CORE_TABLES = "core_groups, core_groups_users, core_settings, core_settings_group, core_users"
CORE_LINE = f"janitoo: {ORIGINAL} (Initial data) matches its 5 tables: {CORE_TABLES}"
ACME_LINE = f"acme_sensors: {ACME_HEAD} (Readings) matches its 1 table: acme_readings"
TEMPLATE_LINE = "janitoo_template: none of its tables is in the database; left at base (initdb creates them)"
TIERS = ["d50000000001", "d50000000002", "d50000000003"]
FLAGS = ("admin", "power", "user", "guest", "banned", "mod_edituser", "mod_banuser",
         "editpost", "deletepost", "deletetopic", "posttopic", "postreply")


@pytest.fixture
def tiers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An extension of three revisions: a table, then a column and a binary table, then a third table."""
    root = write_extension(tmp_path / "ext", "tiers", [
        (TIERS[0], "op.create_table('tiers_a', sa.Column('id', sa.Integer, primary_key=True),\n"
                   "                sa.Column('name', sa.String(50)))"),
        (TIERS[1], "op.add_column('tiers_a', sa.Column('level', sa.Integer))\n"
                   "op.create_table('tiers_b', sa.Column('id', sa.Integer, primary_key=True),\n"
                   "                sa.Column('payload', sa.LargeBinary))"),
        (TIERS[2], "op.create_table('tiers_c', sa.Column('id', sa.Integer, primary_key=True))"),
    ])
    monkeypatch.syspath_prepend(str(root))
    return root


def unversion(url: str) -> None:
    """Drop what the original's createdb never made: alembic_version and janitoo_db's bookkeeping."""
    execute(url, *(f"DROP TABLE {t}" for t in sorted(table_names(url)) if t == "alembic_version"
                   or t.startswith("janitoo_db_")))


def add_pickled_setting(url: str) -> None:
    """A setting group and a setting whose value and extra are pickled, as the original stored them."""
    engine = sa.create_engine(url)
    group = sa.table("core_settings_group", sa.column("key"), sa.column("name"), sa.column("description"))
    setting = sa.table("core_settings", *(sa.column(c) for c in ("key", "settinggroup_key", "name", "description",
                                                                  "value_type")),
                       sa.column("value", sa.LargeBinary), sa.column("extra", sa.LargeBinary))
    try:
        with engine.begin() as connection:
            connection.execute(group.insert().values(key="legacy", name="Legacy", description="made by the original"))
            connection.execute(setting.insert().values(
                key="legacy_count", settinggroup_key="legacy", name="Count", description="a count",
                value_type="integer", value=pickle.dumps(10, protocol=2), extra=pickle.dumps({"min": 5}, protocol=2)))
    finally:
        engine.dispose()


def legacy_setting(url: str) -> tuple[str, str]:
    """The value and extra stored for the setting add_pickled_setting made."""
    setting = sa.table("core_settings", sa.column("key"), sa.column("value"), sa.column("extra"))
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            (value, extra), = connection.execute(sa.select(setting.c.value, setting.c.extra)
                                                 .where(setting.c.key == "legacy_count"))
    finally:
        engine.dispose()
    return value, extra


def original_metadata() -> sa.MetaData:
    """The core tables as the original janitoo's models declared them, and a layouts-like extension's table."""
    metadata = sa.MetaData()
    sa.Table("core_groups", metadata, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("name", sa.String(255), unique=True, nullable=False), sa.Column("description", sa.Text),
             *(sa.Column(flag, sa.Boolean, nullable=False) for flag in FLAGS))
    sa.Table("core_users", metadata, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("username", sa.String(200), unique=True, nullable=False),
             sa.Column("email", sa.String(200), unique=True, nullable=False),
             sa.Column("password", sa.String(120), nullable=False),
             *(sa.Column(name, sa.DateTime) for name in ("date_joined", "lastseen", "birthday")),
             sa.Column("gender", sa.String(10)), sa.Column("website", sa.String(200)),
             sa.Column("location", sa.String(100)), sa.Column("signature", sa.Text),
             sa.Column("avatar", sa.String(200)), sa.Column("notes", sa.Text), sa.Column("theme", sa.String(15)),
             sa.Column("language", sa.String(15)),
             sa.Column("primary_group_id", sa.Integer, sa.ForeignKey("core_groups.id"), nullable=False))
    sa.Table("core_groups_users", metadata,
             sa.Column("user_id", sa.Integer, sa.ForeignKey("core_users.id", ondelete="CASCADE")),
             sa.Column("group_id", sa.Integer, sa.ForeignKey("core_groups.id", ondelete="CASCADE")))
    sa.Table("core_settings_group", metadata, sa.Column("key", sa.String(255), primary_key=True),
             sa.Column("name", sa.String(255), nullable=False), sa.Column("description", sa.Text, nullable=False))
    sa.Table("core_settings", metadata, sa.Column("key", sa.String(255), primary_key=True),
             sa.Column("value", sa.PickleType, nullable=False),
             sa.Column("settinggroup_key", sa.String(255), sa.ForeignKey("core_settings_group.key"), nullable=False),
             sa.Column("name", sa.String(200), nullable=False), sa.Column("description", sa.Text, nullable=False),
             sa.Column("value_type", sa.String(20), nullable=False), sa.Column("extra", sa.PickleType))
    sa.Table("plans_layouts", metadata, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("name", sa.String(50), nullable=False), sa.Column("layout", sa.Text),
             sa.Column("ratio", sa.Float), sa.Column("shown", sa.Boolean), sa.Column("changed", sa.DateTime),
             sa.Column("owner_id", sa.Integer, sa.ForeignKey("core_users.id")))
    return metadata


PLANS_REVISION = ("e60000000001", """op.create_table(
    'plans_layouts', sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False), sa.Column('layout', sa.Text(), nullable=True),
    sa.Column('ratio', sa.Float(), nullable=True), sa.Column('shown', sa.Boolean(), nullable=True),
    sa.Column('changed', sa.DateTime(), nullable=True), sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['core_users.id']), sa.PrimaryKeyConstraint('id'))""")


def create_all_as_the_original(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            original_metadata().create_all(connection)
    finally:
        engine.dispose()


# -- adopting, then initdb --------------------------------------------------------------------


def test_a_database_built_by_revisions_is_stamped_where_each_branch_is(cli: Run, tiers: Path, any_url: str) -> None:
    """The core at 33b95995b188 (pickled settings), acme at its head, tiers at the second of its three revisions."""
    for target in (ORIGINAL, "acme_sensors@head", TIERS[1]):
        assert cli("upgrade", "-q", target, "-u", any_url).exit_code == 0
    unversion(any_url)
    add_pickled_setting(any_url)
    before = table_names(any_url)

    done = cli("adopt", "--yes", "-u", any_url)
    assert done.exit_code == 0, done.stderr
    assert done.stdout.splitlines() == [
        CORE_LINE, ACME_LINE, TEMPLATE_LINE,
        f"tiers: {TIERS[1]} (Step 1 of tiers) matches its 2 tables: tiers_a, tiers_b",
        f"Stamped: the database is at {ACME_HEAD}, {ORIGINAL}, {TIERS[1]}; "
        "'jnt_dbman initdb' brings it to every head."]
    assert version_ids(any_url) == {ORIGINAL, ACME_HEAD, TIERS[1]}
    assert table_names(any_url) - before == {"alembic_version", "janitoo_db_branches", "janitoo_db_checksums",
                                                "janitoo_db_tables"}
    assert dict(rows(any_url, "SELECT table_name, branch FROM janitoo_db_tables")) == {
        **dict.fromkeys(CORE_TABLES.split(", "), "janitoo"), "acme_readings": "acme_sensors",
        "tiers_a": "tiers", "tiers_b": "tiers"}

    initdb = cli("initdb", "-u", any_url)
    assert initdb.exit_code == 0, initdb.stderr
    assert {line.split(" (")[0] for line in revision_lines(initdb.stderr)} == {
        f"Applied {CORE_HEAD}", f"Applied {TIERS[2]}", "Applied 8f41c2d7a9b0", "Applied c3e9b5a1d274"}
    assert legacy_setting(any_url) == ("10", '{"min": 5}')  # the pickles are JSON now
    assert cli("checkdb", "-u", any_url).exit_code == 0


PLANS_LINE = "plans: e60000000001 (Step 0 of plans) matches its 1 table: plans_layouts"


def test_a_database_the_original_createdb_made(cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               any_url: str) -> None:
    """create_all of the original's models: PickleType settings, booleans as the database stores them."""
    monkeypatch.syspath_prepend(str(write_extension(tmp_path / "ext", "plans", [PLANS_REVISION])))
    create_all_as_the_original(any_url)
    execute(any_url, "CREATE TABLE other_app (id INTEGER PRIMARY KEY, note VARCHAR(20))")
    add_pickled_setting(any_url)

    done = cli("adopt", "--yes", "-u", any_url)
    assert done.exit_code == 0, done.stderr
    assert done.stdout.splitlines() == [
        CORE_LINE, "acme_sensors: none of its tables is in the database; left at base (initdb creates them)",
        TEMPLATE_LINE, PLANS_LINE, "Tables of no branch, left alone: other_app",
        f"Stamped: the database is at {ORIGINAL}, e60000000001; 'jnt_dbman initdb' brings it to every head."]
    initdb = cli("initdb", "-q", "-u", any_url)
    assert initdb.exit_code == 0, initdb.stderr
    assert legacy_setting(any_url) == ("10", '{"min": 5}')
    assert cli("checkdb", "-u", any_url).exit_code == 0
    assert "other_app" in table_names(any_url)


def test_through_the_real_jnt_dbman(tmp_path: Path, jnt_dbman: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    root = write_extension(tmp_path / "ext", "plans", [PLANS_REVISION])
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    url = f"sqlite:///{tmp_path / 'original.sqlite'}"
    create_all_as_the_original(url)
    add_pickled_setting(url)

    asked = jnt_dbman("adopt", "-u", url, env=env)  # no terminal, no --yes
    assert asked.returncode == 1
    assert asked.stderr == (f"Error: refusing to stamp {url} without --yes when not run from a terminal "
                            "(--dry-run only shows what was found)\n")
    assert PLANS_LINE in asked.stdout.splitlines()
    assert "alembic_version" not in table_names(url)
    done = jnt_dbman("adopt", "--yes", "-u", url, env=env)
    assert done.returncode == 0, done.stderr
    assert version_ids(url) == {ORIGINAL, "e60000000001"}
    assert jnt_dbman("initdb", "-q", "-u", url, env=env).returncode == 0
    assert legacy_setting(url) == ("10", '{"min": 5}')


# -- what is not adopted ------------------------------------------------------------------------


def test_tables_that_match_no_revision_are_listed_and_nothing_is_stamped(cli: Run, tiers: Path,
                                                                          any_url: str) -> None:
    for target in (ORIGINAL, TIERS[1]):
        assert cli("upgrade", "-q", target, "-u", any_url).exit_code == 0
    unversion(any_url)
    execute(any_url, "ALTER TABLE tiers_a ADD extra_note VARCHAR(20)", "ALTER TABLE tiers_b DROP COLUMN payload")
    before = table_names(any_url)

    result = cli("adopt", "--yes", "-u", any_url)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        CORE_LINE, "acme_sensors: none of its tables is in the database; left at base (initdb creates them)",
        TEMPLATE_LINE,
        f"tiers: its tables match none of its revisions; the closest is {TIERS[1]} (Step 1 of tiers), "
        "2 difference(s)",
        f"  column tiers_a.extra_note is in the database, not at {TIERS[1]}",
        "  column tiers_b.payload is missing"]
    assert result.stderr == ("Error: the tables of tiers match none of their revisions (the differences are listed); "
                             "nothing was stamped: make the tables match a revision, or drop them, "
                             "then run adopt again\n")
    assert table_names(any_url) == before and "alembic_version" not in before


def test_a_json_setting_is_not_taken_for_a_pickled_one(cli: Run, sqlite_url: str) -> None:
    """Same column names at 33b95995b188 and 5d2f0a8c91e3: the value's type class tells them apart."""
    assert cli("upgrade", "-q", "janitoo@head", "-u", sqlite_url).exit_code == 0
    unversion(sqlite_url)
    result = cli("adopt", "--dry-run", "-u", sqlite_url)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == (f"janitoo: {CORE_HEAD} (Store setting values as JSON) "
                                             f"matches its 5 tables: {CORE_TABLES}")

    execute(sqlite_url, "DROP TABLE core_settings", "CREATE TABLE core_settings (key VARCHAR(255) PRIMARY KEY, "
            "value TEXT NOT NULL, settinggroup_key VARCHAR(255) NOT NULL, name VARCHAR(200) NOT NULL, "
            "description TEXT NOT NULL, value_type VARCHAR(20) NOT NULL, extra BLOB)")
    mixed = cli("adopt", "--dry-run", "-u", sqlite_url)
    assert mixed.exit_code == 1
    assert (f"  column core_settings.extra is binary in the database, text at {CORE_HEAD}"
            in mixed.stdout.splitlines())


def test_a_dependency_the_other_branch_does_not_have_is_not_stamped(cli: Run, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    sqlite_url: str) -> None:
    """notes' second revision (rows only) needs the core's JSON head: notes is stamped at its first, before it."""
    root = write_extension(tmp_path / "ext", "notes", [
        ("f70000000001", "op.create_table('notes', sa.Column('id', sa.Integer, primary_key=True))"),
        ("f70000000002", "op.execute('INSERT INTO notes (id) VALUES (1)')"),
    ], depends_on=CORE_HEAD)
    monkeypatch.syspath_prepend(str(root))
    assert cli("upgrade", "-q", ORIGINAL, "-u", sqlite_url).exit_code == 0
    execute(sqlite_url, "CREATE TABLE notes (id INTEGER NOT NULL PRIMARY KEY)")
    unversion(sqlite_url)
    done = cli("adopt", "--yes", "-u", sqlite_url)
    assert done.exit_code == 0, done.stderr
    assert "notes: f70000000001 (Step 0 of notes) matches its 1 table: notes" in done.stdout.splitlines()
    assert version_ids(sqlite_url) == {ORIGINAL, "f70000000001"}
    applied = revision_lines(cli("initdb", "-u", sqlite_url).stderr)
    assert "Applied f70000000001 (notes): Step 0 of notes" not in applied
    assert applied.index("Applied f70000000002 (notes): Step 1 of notes") > applied.index(
        f"Applied {CORE_HEAD} (janitoo): Store setting values as JSON")


def test_a_column_an_extension_adds_to_a_core_table_is_the_extension_s(cli: Run, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       sqlite_url: str) -> None:
    root = write_extension(tmp_path / "ext", "tagger", [
        ("a80000000001", ""), ("a80000000002", "op.add_column('core_users', sa.Column('tag', sa.String(20)))"),
    ], depends_on="1266567cc97f")
    monkeypatch.syspath_prepend(str(root))
    for target in (ORIGINAL, "tagger@head"):
        assert cli("upgrade", "-q", target, "-u", sqlite_url).exit_code == 0
    unversion(sqlite_url)
    done = cli("adopt", "--dry-run", "-u", sqlite_url)
    assert done.exit_code == 0, done.stderr
    assert CORE_LINE in done.stdout.splitlines()
    assert ("tagger: a80000000002 (Step 1 of tagger) matches its columns core_users.tag"
            in done.stdout.splitlines())


def test_a_versioned_database_is_refused(cli: Run, sqlite_url: str) -> None:
    assert cli("upgrade", "-q", ORIGINAL, "-u", sqlite_url).exit_code == 0
    result = cli("adopt", "--yes", "-u", sqlite_url)
    assert result.exit_code == 1
    assert result.stderr == (f"Error: the database is already versioned (alembic_version holds {ORIGINAL}); "
                             "adopt is for a database without it: 'jnt_dbman checkdb' says where it stands "
                             "and 'jnt_dbman initdb' upgrades it\n")
    assert version_ids(sqlite_url) == {ORIGINAL}


def test_a_missing_sqlite_file_is_not_created(cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "none.sqlite"
    result = cli("adopt", "--yes", "-u", f"sqlite:///{path}")
    assert (result.exit_code, result.stderr) == (1, f"Error: nothing to adopt: {path} does not exist\n")
    assert not path.exists()


def test_an_empty_database_has_nothing_to_stamp(cli: Run, sqlite_url: str) -> None:
    execute(sqlite_url, "CREATE TABLE other_app (id INTEGER PRIMARY KEY)")
    result = cli("adopt", "-u", sqlite_url)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[-2:] == [
        "Tables of no branch, left alone: other_app",
        "Nothing to stamp: no branch's tables are in the database; 'jnt_dbman initdb' creates them."]
    assert table_names(sqlite_url) == {"other_app"}


def test_a_revision_that_cannot_be_replayed_changes_nothing(cli: Run, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    assert cli("upgrade", "-q", ORIGINAL, "-u", sqlite_url).exit_code == 0
    unversion(sqlite_url)
    monkeypatch.syspath_prepend(str(write_extension(tmp_path / "ext", "pgonly", [
        ("b10000000001", "op.execute('CREATE EXTENSION hstore')")])))
    before = table_names(sqlite_url)
    result = cli("adopt", "--yes", "-u", sqlite_url)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot run revision b10000000001 (pgonly) on a scratch SQLite database")
    assert len(result.stderr.splitlines()) == 1 and result.stdout == ""
    assert table_names(sqlite_url) == before


# -- asking, and --json ----------------------------------------------------------------------------


def test_without_yes_it_asks_on_a_terminal(cli: Run, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("upgrade", "-q", ORIGINAL, "-u", sqlite_url).exit_code == 0
    unversion(sqlite_url)
    # CliRunner's stdin is no terminal: make jnt_dbman believe it is one.
    monkeypatch.setattr(janitoo_db.cli.options, "sys", SimpleNamespace(stdin=SimpleNamespace(isatty=lambda: True)))
    declined = cli("adopt", "-u", sqlite_url, input="n\n")
    assert declined.exit_code == 1 and version_ids(sqlite_url) == set()
    accepted = cli("adopt", "-u", sqlite_url, input="y\n")
    assert accepted.exit_code == 0, accepted.stderr
    assert f"Stamp {sqlite_url} at these revisions? [y/N]: y" in accepted.stdout
    assert version_ids(sqlite_url) == {ORIGINAL}


def test_json(cli: Run, tiers: Path, sqlite_url: str) -> None:
    for target in (ORIGINAL, TIERS[0]):
        assert cli("upgrade", "-q", target, "-u", sqlite_url).exit_code == 0
    unversion(sqlite_url)

    refused = cli("adopt", "--json", "-u", sqlite_url)  # no terminal, no --yes
    assert refused.exit_code == 1 and refused.stderr == ""
    found = json.loads(refused.stdout)
    assert found["error"].startswith("refusing to stamp") and found["exit_code"] == 1
    assert found["adoptable"] is True and found["stamped"] == []
    assert [(f["branch"], f["state"], f["revision"]) for f in found["findings"]] == [
        ("janitoo", "matched", ORIGINAL), ("acme_sensors", "absent", None), ("janitoo_template", "absent", None),
        ("tiers", "matched", TIERS[0])]
    assert found["findings"][3]["tables"] == ["tiers_a"]

    done = json.loads(cli("adopt", "--json", "--yes", "-u", sqlite_url).stdout)
    assert done["stamped"] == [ORIGINAL, TIERS[0]] and "error" not in done
    again = cli("adopt", "--json", "-u", sqlite_url)
    assert again.exit_code == 1 and json.loads(again.stdout)["error"].startswith("the database is already versioned")


def test_json_lists_the_differences(cli: Run, tiers: Path, sqlite_url: str) -> None:
    assert cli("upgrade", "-q", TIERS[2], "-u", sqlite_url).exit_code == 0
    unversion(sqlite_url)
    execute(sqlite_url, "DROP TABLE tiers_b")
    result = cli("adopt", "--json", "--yes", "-u", sqlite_url)
    assert result.exit_code == 1
    found = json.loads(result.stdout)
    assert found["adoptable"] is False and found["error"].startswith("the tables of tiers match none")
    tiers_found = found["findings"][3]
    assert tiers_found["state"] == "unmatched" and tiers_found["revision"] == TIERS[2]
    assert tiers_found["differences"] == ["table tiers_b is missing"]
    assert version_ids(sqlite_url) == set() and "alembic_version" not in table_names(sqlite_url)


def test_tables_that_changed_since_they_were_shown_are_not_stamped(cli: Run, tiers: Path, sqlite_url: str) -> None:
    """What the user agreed to is what is stamped: the tables are examined again under the lock."""
    from janitoo_db import commands
    from janitoo_db.config import alembic_config
    from janitoo_db.errors import RefusedError
    from janitoo_db.site import Site
    from janitoo_db.site.extensions import discover

    for target in (ORIGINAL, TIERS[0]):
        assert cli("upgrade", "-q", target, "-u", sqlite_url).exit_code == 0
    unversion(sqlite_url)
    config = alembic_config(sqlite_url, discover())
    try:
        shown = commands.adopt(config)
        assert shown.revisions == (ORIGINAL, TIERS[0])
        # Meanwhile someone applies tiers' second revision by hand.
        execute(sqlite_url, "ALTER TABLE tiers_a ADD COLUMN level INTEGER",
                "CREATE TABLE tiers_b (id INTEGER PRIMARY KEY, payload BLOB)")
        with pytest.raises(RefusedError, match="changed while adopt looked at them; nothing was stamped"):
            commands.adopt(config, stamp=True, expected=shown)
        assert "alembic_version" not in table_names(sqlite_url)
        assert commands.adopt(config, stamp=True).stamped == (ORIGINAL, TIERS[1])
    finally:
        Site.of(config).dispose()


def test_a_branch_with_two_lines_of_revisions(cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              sqlite_url: str) -> None:
    """Two heads: neither one's schema holds the other's table, so adopt refuses; once merged, the merge matches."""
    root = write_extension(tmp_path / "ext", "forked", [
        ("c90000000001", "op.create_table('forked_a', sa.Column('id', sa.Integer, primary_key=True))"),
        ("c90000000002", "op.create_table('forked_b', sa.Column('id', sa.Integer, primary_key=True))"),
    ])
    versions = root / "forked" / "models" / "forked"
    (versions / "c90000000003_other_line.py").write_text(
        '"""Other line"""\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        'revision = "c90000000003"\ndown_revision = "c90000000001"\nbranch_labels = None\ndepends_on = None\n\n\n'
        "def upgrade():\n    op.create_table('forked_c', sa.Column('id', sa.Integer, primary_key=True))\n\n\n"
        "def downgrade():\n    op.drop_table('forked_c')\n")
    monkeypatch.syspath_prepend(str(root))
    assert cli("upgrade", "-q", "heads", "-u", sqlite_url).exit_code == 0
    unversion(sqlite_url)
    refused = cli("adopt", "--dry-run", "-u", sqlite_url)
    assert refused.exit_code == 1
    assert "forked: its tables match none of its revisions" in refused.stdout

    write_revision(versions, "c90000000004", "c90000000002", doc="Merge", filename="c90000000004_merge.py")
    (versions / "c90000000004_merge.py").write_text(
        (versions / "c90000000004_merge.py").read_text().replace('"c90000000002"', '("c90000000002", "c90000000003")'))
    done = cli("adopt", "--yes", "-u", sqlite_url)
    assert done.exit_code == 0, done.stderr
    assert "forked: c90000000004 (Merge) matches its 3 tables: forked_a, forked_b, forked_c" in done.stdout
    assert cli("checkdb", "-u", sqlite_url).exit_code == 0


def test_a_match_that_needs_what_another_branch_lacks_is_refused(cli: Run, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  sqlite_url: str) -> None:
    """late's table comes with a revision that needs the core's JSON head; the core's tables are older."""
    monkeypatch.syspath_prepend(str(write_extension(tmp_path / "ext", "late", [
        ("ab0000000001", ""),
        ("ab0000000002", "op.create_table('late_t', sa.Column('id', sa.Integer, primary_key=True))"),
    ], depends_on=CORE_HEAD)))
    assert cli("upgrade", "-q", ORIGINAL, "-u", sqlite_url).exit_code == 0
    execute(sqlite_url, "CREATE TABLE late_t (id INTEGER NOT NULL PRIMARY KEY)")
    unversion(sqlite_url)
    result = cli("adopt", "--yes", "-u", sqlite_url)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-2:] == [
        "late: its tables match ab0000000002 (Step 1 of late), which needs revisions of other branches "
        "that are not applied",
        f"  ab0000000002 needs {CORE_HEAD} of janitoo, which the tables of janitoo show is not applied"]
    assert result.stderr == ("Error: the tables of late match only revisions that need revisions of other branches "
                             "that are not applied (listed); nothing was stamped\n")
    assert "alembic_version" not in table_names(sqlite_url)
