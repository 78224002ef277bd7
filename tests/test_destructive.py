"""Revisions that can destroy data are named before they run: upgrade --plan marks them,
--no-destructive ($JANITOO_DB_NO_DESTRUCTIVE) refuses them, generate warns about them."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Callable

import pytest
from click.testing import Result

from conftest import subprocess_env, write_extension
from dbstate import is_absent, rows, table_names, version_ids

Run = Callable[..., Result]
Proc = Callable[..., subprocess.CompletedProcess[str]]
CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD = "5d2f0a8c91e3", "c3e9b5a1d274", "2b3c4d5e6f70"
ROOT, PLAIN, DROP_COLUMN, DROP_TABLE, NARROW, REBUILD, INDEX = (
    "e1000000000a", "e1000000000b", "e1000000000c", "e1000000000d", "e1000000000e", "e1000000000f", "e10000000010")

SHRINKER = [
    (ROOT, "op.create_table('shrink_items', sa.Column('id', sa.Integer, primary_key=True),\n"
           "    sa.Column('name', sa.String(100)), sa.Column('extra', sa.Integer))\n"
           "op.create_table('shrink_old', sa.Column('id', sa.Integer, primary_key=True))\n"
           "op.create_table('shrink_log', sa.Column('id', sa.Integer, primary_key=True),\n"
           "    sa.Column('body', sa.String(50)))",
     "op.drop_table('shrink_log')\nop.drop_table('shrink_old')\nop.drop_table('shrink_items')"),
    # Writes rows, and SQL text whose string and comment only look destructive.
    (PLAIN, "op.add_column('shrink_items', sa.Column('color', sa.String(20)))\n"
            "op.execute(\"UPDATE shrink_items SET color = 'red' -- DROP TABLE shrink_items\")\n"
            "op.execute(\"INSERT INTO shrink_log (id, body) VALUES (1, 'drop table shrink_old; truncate x')\")"),
    (DROP_COLUMN, "op.drop_column('shrink_items', 'extra')"),
    (DROP_TABLE, "op.drop_table('shrink_old')"),
    (NARROW, "with op.batch_alter_table('shrink_items') as batch:\n"
             "    batch.alter_column('name', type_=sa.String(20), existing_type=sa.String(100))"),
    (REBUILD, "with op.batch_alter_table('shrink_log') as batch:\n"
              "    batch.alter_column('body', existing_type=sa.String(50), nullable=False)"),
    (INDEX, "op.create_index('ix_shrink_items_color', 'shrink_items', ['color'])"),
]


@pytest.fixture
def shrinker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The extension ``shrinker`` installed: a root that makes three tables, then a plain revision,
    then revisions that drop a column, drop a table, narrow a VARCHAR, and rebuild a table on SQLite."""
    root = write_extension(tmp_path / "ext", "shrinker", SHRINKER)
    monkeypatch.syspath_prepend(str(root))
    return root


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.stderr
    return result


def with_rows(cli: Run, url: str) -> None:
    """shrinker's tables made (its root only) and filled: 3 items, 2 old rows."""
    ok(cli("upgrade", "-q", ROOT, "-u", url))
    rows(url, "INSERT INTO shrink_items (id, name, extra) VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)")
    rows(url, "INSERT INTO shrink_old (id) VALUES (1), (2)")


def state(url: str) -> tuple[set[str], set[str], list[tuple[object, ...]], list[tuple[object, ...]]]:
    return (version_ids(url), table_names(url), rows(url, "SELECT * FROM shrink_items ORDER BY id"),
            rows(url, "SELECT count(*) FROM shrink_old"))


def marks(stdout: str) -> dict[str, list[str]]:
    """The ``  ! ...`` lines of a plan, under the revision id of the line above them."""
    found: dict[str, list[str]] = {}
    current = ""
    for line in stdout.splitlines():
        if line.startswith("  ! "):
            found.setdefault(current, []).append(line[4:])
        elif not line.startswith("  note: "):
            current = line.split()[1]
    return found


def test_plan_marks_what_can_destroy_data_and_no_destructive_refuses_it(cli: Run, shrinker: Path,
                                                                         any_url: str) -> None:
    sqlite = any_url.startswith("sqlite")
    with_rows(cli, any_url)
    # Nothing destructive pending: the guard lets it run, and the revision runs through the real op.
    ok(cli("upgrade", "-q", "--no-destructive", "shrinker@+1", "-u", any_url))
    assert rows(any_url, "SELECT color FROM shrink_items") == [("red",)] * 3
    # The core's creation revisions, its 5d2f0a8c91e3 included: what they change they create in the same run.
    ok(cli("upgrade", "-q", "--no-destructive", "janitoo@head", "-u", any_url))
    assert CORE_HEAD in version_ids(any_url)

    planned = ok(cli("upgrade", "--plan", "-u", any_url))
    rebuilt = ["rebuilds table shrink_log, copying its rows into a new one (1 row)"] if sqlite else []
    assert marks(planned.stdout) == {
        DROP_COLUMN: ["drops column shrink_items.extra (3 rows)"],
        DROP_TABLE: ["drops table shrink_old (2 rows)"],
        NARROW: ["narrows column shrink_items.name from VARCHAR(100) to VARCHAR(20) (3 rows)"]
        + (["rebuilds table shrink_items, copying its rows into a new one (3 rows)"] if sqlite else []),
        **({REBUILD: rebuilt} if sqlite else {}),
    }
    assert f"upgrade {INDEX} (shrinker): Step 6 of shrinker" in planned.stdout.splitlines()
    assert f"upgrade {ACME_HEAD} (acme_sensors): Readings" in planned.stdout.splitlines()

    before = state(any_url)
    refused = cli("upgrade", "--no-destructive", "-u", any_url)
    assert refused.exit_code == 1 and len(refused.stderr.splitlines()) == 1
    assert refused.stderr.startswith(
        f"Error: refusing to upgrade (--no-destructive, $JANITOO_DB_NO_DESTRUCTIVE): {4 if sqlite else 3} of the "
        f"{9} revisions to run can destroy data: {DROP_COLUMN} (shrinker): drops column shrink_items.extra (3 rows); "
        f"{DROP_TABLE} (shrinker): drops table shrink_old (2 rows); ")
    assert refused.stderr.endswith("nothing was changed. Read 'jnt_dbman upgrade --plan', back the database up, "
                                   "then upgrade with --allow-destructive\n")
    assert refused.stdout == "" and state(any_url) == before

    from_environment = cli("initdb", "-u", any_url, env={"JANITOO_DB_NO_DESTRUCTIVE": "1"})
    assert from_environment.exit_code == 1 and from_environment.stderr == refused.stderr
    assert state(any_url) == before

    done = ok(cli("upgrade", "-q", "--allow-destructive", "-u", any_url, env={"JANITOO_DB_NO_DESTRUCTIVE": "1"}))
    assert done.stderr == ""
    assert "shrink_old" not in table_names(any_url)
    assert version_ids(any_url) == {INDEX, CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD}
    assert rows(any_url, "SELECT id, name, color FROM shrink_items ORDER BY id") == [
        (1, "a", "red"), (2, "b", "red"), (3, "c", "red")]


def test_plan_as_json_carries_the_marks(cli: Run, shrinker: Path, sqlite_url: str) -> None:
    with_rows(cli, sqlite_url)
    planned = ok(cli("upgrade", "--plan", "--json", "-u", sqlite_url))
    steps = {step["revision"]: step for step in json.loads(planned.stdout)}
    assert steps[DROP_TABLE]["destructive"] == [{
        "kind": "drop table", "table": "shrink_old", "column": None, "description": "drops table shrink_old",
        "rows": 2, "new_table": False, "schema": None}]
    assert [m["kind"] for m in steps[NARROW]["destructive"]] == ["narrow type", "rebuild table"]
    assert steps[PLAIN]["destructive"] == [] and steps[INDEX]["destructive"] == []
    assert {m["new_table"] for m in steps[CORE_HEAD]["destructive"]} == {True}
    assert all(not step["destructive"] for revision, step in steps.items()
               if revision not in (DROP_COLUMN, DROP_TABLE, NARROW, REBUILD, CORE_HEAD))

    downgrade = json.loads(ok(cli("downgrade", "shrinker@base", "--plan", "--json", "-u", sqlite_url)).stdout)
    assert [(m["description"], m["rows"]) for m in downgrade[0]["destructive"]] == [
        ("drops table shrink_log", 0), ("drops table shrink_old", 2), ("drops table shrink_items", 3)]
    assert ok(cli("upgrade", "--plan", "--json", "heads", "-u", sqlite_url)).stdout == planned.stdout
    misused = cli("upgrade", "--json", "-u", sqlite_url)
    assert misused.exit_code == 2 and "--json goes with --plan" in misused.stderr
    assert cli("upgrade", "--plan", "--no-destructive", "-u", sqlite_url).exit_code == 2
    assert version_ids(sqlite_url) == {ROOT}


def test_a_fresh_database_has_nothing_at_stake(cli: Run, any_url: str) -> None:
    """No false alarm on the core's, janitoo_template's and acme's revisions: only 5d2f0a8c91e3 changes
    a table, one the same run creates."""
    planned = json.loads(ok(cli("upgrade", "--plan", "--json", "-u", any_url)).stdout)
    assert len(planned) == 8
    marked = {step["revision"]: step["destructive"] for step in planned if step["destructive"]}
    assert list(marked) == [CORE_HEAD]
    assert {(m["kind"], m["table"], m["column"], m["new_table"], m["rows"]) for m in marked[CORE_HEAD]} == {
        ("drop column", "core_settings", "value", True, None), ("drop column", "core_settings", "extra", True, None),
        *([("rebuild table", "core_settings", None, True, None)] if any_url.startswith("sqlite") else [])}
    ok(cli("initdb", "-q", "--no-destructive", "-u", any_url))
    assert version_ids(any_url) == {CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD}


ODDITIES = [
    ("e20000000001", "op.create_table('odd_notes', sa.Column('id', sa.Integer, primary_key=True),\n"
                     "    sa.Column('body', sa.Text), sa.Column('size', sa.Integer))"),
    ("e20000000002", "op.execute('ALTER TABLE odd_notes DROP COLUMN body')\n"
                     "op.execute(sa.text('TRUNCATE TABLE odd_notes'))\n"
                     "op.execute(sa.table('odd_notes', sa.column('id')).delete().where(sa.column('id') > 1))"),
    ("e20000000003", "op.alter_column('odd_notes', 'size', type_=sa.BigInteger)"),
    ("e20000000004", "for row in op.get_bind().execute(sa.text('SELECT id FROM odd_notes')):\n    pass"),
]


def test_what_cannot_be_judged_is_refused_too(cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              sqlite_url: str) -> None:
    monkeypatch.syspath_prepend(str(write_extension(tmp_path / "ext", "oddities", ODDITIES)))
    ok(cli("upgrade", "-q", "e20000000001", "-u", sqlite_url))
    rows(sqlite_url, "INSERT INTO odd_notes (id, body, size) VALUES (1, 'x', 1)")
    planned = ok(cli("upgrade", "--plan", "oddities@head", "-u", sqlite_url))
    assert marks(planned.stdout) == {
        "e20000000002": ["runs SQL that drops column odd_notes.body (1 row)",
                         "runs SQL that empties table odd_notes (TRUNCATE) (1 row)",
                         "runs SQL that deletes rows of table odd_notes (DELETE) (1 row)"],
        "e20000000003": ["changes the type of column odd_notes.size to BIGINT without existing_type: "
                         "cannot tell whether it narrows (1 row)"],
        "e20000000004": ["not checked: its dry run (offline, as --sql runs it: it reads nothing from the database) "
                         "stopped: TypeError: 'NoneType' object is not iterable"],
    }
    refused = cli("upgrade", "--no-destructive", "oddities@head", "-u", sqlite_url)
    assert refused.exit_code == 1
    assert "3 of the 3 revisions to run can destroy data" in refused.stderr
    assert "e20000000004 (oddities): not checked: its dry run" in refused.stderr
    assert "'jnt_dbman upgrade oddities@head --plan'" in refused.stderr
    assert version_ids(sqlite_url) == {"e20000000001"}


def test_a_new_database_is_left_untouched_by_a_refusal(cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        any_url: str) -> None:
    """On a new database only the revision that cannot be checked is at stake; refused before Alembic
    starts, so not even alembic_version is made (MariaDB would commit it)."""
    from janitoo_db.errors import RefusedError
    from janitoo_db.migrate import Config

    monkeypatch.syspath_prepend(str(write_extension(tmp_path / "ext", "oddities", ODDITIES)))
    refused = cli("initdb", "--no-destructive", "-u", any_url)
    assert refused.exit_code == 1
    assert "1 of the 12 revisions to run can destroy data: e20000000004 (oddities): not checked" in refused.stderr
    assert table_names(any_url) == set()
    assert is_absent(any_url) == any_url.startswith("sqlite")  # a new SQLite file is not even created
    monkeypatch.setenv("JANITOO_DB_NO_DESTRUCTIVE", "1")
    with pytest.raises(RefusedError, match="e20000000004 .oddities.: not checked"):
        Config(any_url).initdb()
    assert table_names(any_url) == set()


GROWER_MODEL = """
class Item(Base):
    __tablename__ = "grower_items"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(50), nullable=False)
"""


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_generate_warns_about_what_it_wrote(jnt_dbman: Proc, tmp_path: Path, request: pytest.FixtureRequest,
                                            database: str) -> None:
    """On any database, since the revision will run on every site's: a rebuild is named as SQLite's."""
    url = f"sqlite:///{tmp_path / 'g.sqlite'}" if database == "sqlite" else request.getfixturevalue("postgresql_url")
    root = write_extension(tmp_path / "ext", "grower", [
        ("a10000000001", "op.create_table('grower_items', sa.Column('id', sa.Integer, primary_key=True),\n"
                         "    sa.Column('name', sa.String(50), nullable=False), sa.Column('color', sa.String(20)))"),
    ], models=GROWER_MODEL)
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    assert jnt_dbman("initdb", "-q", "-u", url, env=env).returncode == 0
    rows(url, "INSERT INTO grower_items (id, name, color) VALUES (1, 'a', 'red'), (2, 'b', 'blue')")
    generated = jnt_dbman("generate", "-m", "No color", "--head", "grower", "-u", url, env=env)
    assert generated.returncode == 0, generated.stderr
    assert generated.stdout.startswith("Generated ")
    assert generated.stderr.splitlines() == [
        "Warning: it can destroy data: drops column grower_items.color (2 rows).",
        "Warning: it can destroy data: rebuilds table grower_items on SQLite, copying its rows into a new one "
        "(2 rows)."]

    Path(generated.stdout.split(" ", 1)[1].strip()).unlink()
    init = root / "grower" / "__init__.py"
    init.write_text(init.read_text().replace("nullable=False)", "nullable=False)\n    color = sa.Column(sa.String(20))"
                                                                "\n    size = sa.Column(sa.Integer)"))
    added = jnt_dbman("generate", "-m", "Size", "--head", "grower", "-u", url, env=env)
    assert added.returncode == 0, added.stderr
    assert "add_column(sa.Column('size'" in Path(added.stdout.split(" ", 1)[1].strip()).read_text()
    assert added.stderr == ""


def test_through_the_real_command(jnt_dbman: Proc, tmp_path: Path) -> None:
    root = write_extension(tmp_path / "ext", "shrinker", SHRINKER)
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    url = f"sqlite:///{tmp_path / 'real.sqlite'}"
    assert jnt_dbman("upgrade", "-q", ROOT, "-u", url, env=env).returncode == 0
    rows(url, "INSERT INTO shrink_old (id) VALUES (1)")
    refusing = dict(env, JANITOO_DB_NO_DESTRUCTIVE="yes")
    refused = jnt_dbman("initdb", "-u", url, env=refusing)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("Error: refusing to upgrade (--no-destructive, $JANITOO_DB_NO_DESTRUCTIVE): ")
    assert f"{DROP_TABLE} (shrinker): drops table shrink_old (1 row)" in refused.stderr
    assert version_ids(url) == {ROOT}
    wrong = jnt_dbman("initdb", "-u", url, env=dict(env, JANITOO_DB_NO_DESTRUCTIVE="maybe"))
    assert (wrong.returncode, wrong.stderr) == (
        1, "Error: $JANITOO_DB_NO_DESTRUCTIVE must be 1 or 0 (true/false, yes/no, on/off), not 'maybe'\n")
    allowed = jnt_dbman("initdb", "-q", "--allow-destructive", "-u", url, env=refusing)
    assert allowed.returncode == 0, allowed.stderr
    assert version_ids(url) == {INDEX, CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD}
    assert "shrink_old" not in table_names(url)


def _types() -> list[tuple[str, object, object, str]]:
    """(dialect, old type, new type, verdict): MySQL's types tell most apart."""
    import sqlalchemy as sa
    from sqlalchemy.dialects import mysql

    on_mysql = [
        (sa.String(100), sa.String(20), "narrows"), (sa.String(20), sa.String(100), "fits"),
        (sa.String(20), sa.Text(), "fits"), (sa.Text(), sa.String(255), "narrows"),
        (sa.String(20), sa.VARCHAR(20), "fits"), (sa.Unicode(30), sa.String(10), "narrows"),
        (sa.Integer(), sa.BigInteger(), "fits"), (sa.BigInteger(), sa.Integer(), "narrows"),
        (sa.Integer(), sa.SmallInteger(), "narrows"), (sa.Boolean(), sa.Integer(), "fits"),
        (sa.Integer(), sa.Boolean(), "narrows"), (mysql.TINYINT(), sa.Integer(), "fits"),
        (sa.Integer(), mysql.TINYINT(), "narrows"),
        (sa.Numeric(10, 2), sa.Numeric(12, 2), "fits"), (sa.Numeric(10, 2), sa.Numeric(10, 4), "narrows"),
        (sa.Numeric(10, 2), sa.Numeric(10, 1), "narrows"), (sa.Numeric(10, 2), sa.Integer(), "narrows"),
        (sa.Numeric(9, 0), sa.Integer(), "fits"), (sa.Integer(), sa.Numeric(10, 0), "fits"),
        (sa.Integer(), sa.Numeric(5, 0), "narrows"), (sa.Float(), sa.Double(), "fits"),
        (sa.Double(), sa.Float(), "narrows"), (sa.BigInteger(), sa.Float(), "narrows"),
        (sa.Integer(), sa.Float(53), "fits"), (sa.Numeric(20, 2), sa.Float(), "narrows"),
        (sa.Enum("a", "b"), sa.Enum("a", "b", "c"), "fits"), (sa.Enum("a", "b", "c"), sa.Enum("a", "b"), "narrows"),
        (sa.String(10), sa.Enum("a"), "narrows"), (sa.Enum("abc"), sa.String(2), "narrows"),
        (sa.Date(), sa.DateTime(), "fits"), (sa.DateTime(), sa.Date(), "narrows"),
        (sa.Integer(), sa.String(5), "unknown"), (sa.Integer(), sa.Text(), "fits"),
        (sa.LargeBinary(), sa.Text(), "unknown"), (sa.LargeBinary(100), sa.LargeBinary(10), "narrows"),
        (sa.String, sa.String(10), "narrows"),
    ]
    return [("mysql", *case) for case in on_mysql] + [
        ("postgresql", sa.DateTime(timezone=True), sa.DateTime(), "narrows"),
        ("postgresql", sa.DateTime(), sa.DateTime(timezone=True), "fits"),
        ("postgresql", sa.Integer(), sa.Numeric(), "unknown"),
        # The database's type does not change: nothing can be lost.
        ("postgresql", sa.Enum("a", "b", "c", name="e"), sa.Enum("a", name="e"), "fits"),
        ("sqlite", sa.LargeBinary(100), sa.LargeBinary(10), "fits"),
    ]


@pytest.mark.parametrize(("dialect", "old", "new", "verdict"), _types(), ids=repr)
def test_a_type_change_fits_only_when_every_value_does(dialect: str, old: object, new: object, verdict: str) -> None:
    from sqlalchemy.engine import make_url

    from janitoo_db.guard.narrowing import compare

    assert compare(old, new, make_url(f"{dialect}://").get_dialect()()) == verdict


@pytest.mark.parametrize(("sql", "found"), [
    ("UPDATE t SET a = 'DROP TABLE x'", []),
    ("INSERT INTO t VALUES ('it''s; DROP TABLE t; --')", []),
    ("/* DROP TABLE x */ SELECT 1 -- TRUNCATE y", []),
    ("CREATE TABLE dropped_items (id int); SELECT * FROM drop_table_log", []),
    ("DROP INDEX ix_a; ALTER TABLE t DROP CONSTRAINT fk, ALTER COLUMN c DROP DEFAULT, ALTER c DROP NOT NULL", []),
    ("ALTER TABLE `t` DROP FOREIGN KEY fk_a, DROP PRIMARY KEY, DROP KEY ix", []),
    ('drop table if exists "Mixed", plain', ["drops table Mixed", "drops table plain"]),
    ("ALTER TABLE s.t DROP CONSTRAINT fk, DROP COLUMN IF EXISTS c; ALTER TABLE u DROP d",
     ["drops column s.t.c", "drops column u.d"]),
    ("truncate logs", ["empties table logs (TRUNCATE)"]),
    ("DELETE FROM s.t WHERE id > 1", ["deletes rows of table s.t (DELETE)"]),
    ("DROP SCHEMA legacy CASCADE", ["drops schema legacy"]),
])
def test_sql_text_that_destroys_data(sql: str, found: list[str]) -> None:
    from janitoo_db.guard.sql_text import effects

    for dialect in ("postgresql", "mysql", "sqlite"):
        if "`" in sql and dialect != "mysql" or '"' in sql and dialect == "mysql":
            continue  # quoting of another database
        if "DROP CONSTRAINT" in sql and dialect == "sqlite":
            continue  # SQLite has no such ALTER TABLE: not checked

        assert [effect.words for effect in effects(sql, dialect)] == found, dialect


def test_a_dry_run_leaves_alembic_op_as_it_was(shrinker: Path, sqlite_url: str) -> None:
    """A recorder left behind would swallow the operations of whatever calls alembic.op next."""
    from alembic import context, op
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    from janitoo_db import commands
    from janitoo_db.config import alembic_config

    environment = vars(context).get("_proxy")
    with Operations.context(MigrationContext.configure(dialect_name="sqlite")) as running:
        planned = commands.plan(alembic_config(sqlite_url), "heads")
        assert [step.revision for step in planned if step.destructive] == [DROP_COLUMN, DROP_TABLE, NARROW, REBUILD,
                                                                          CORE_HEAD]
        assert vars(op)["_proxy"] is running and vars(context).get("_proxy") is environment


# -- what a revision says of itself (plan_notes), and each step's place in the plan ------------------------

CORE_DOWNGRADE_NOTE = ("  note: reads every row of core_settings and rewrites its JSON value and extra as pickled "
                       "bytes, then drops the JSON columns; it cannot be written as SQL (--sql)")
NEEDS_ROWS = ("  ! not checked: it needs the database's rows, so a dry run (offline, as --sql runs it) cannot show "
              "what it does: see its note")


def test_the_core_revision_says_what_its_downgrade_does_instead_of_an_error(cli: Run, sqlite_url: str) -> None:
    """5d2f0a8c91e3's downgrade pickles the JSON it reads: no dry run can, and the plan says so calmly.

    The note comes from plan_notes.json beside it: its file, applied on every site, stays as released."""
    ok(cli("initdb", "-q", "-u", sqlite_url))
    planned = ok(cli("downgrade", "33b95995b188", "--plan", "-u", sqlite_url))
    assert planned.stdout.splitlines() == [
        f"downgrade {CORE_HEAD} (janitoo): Store setting values as JSON", CORE_DOWNGRADE_NOTE, NEEDS_ROWS]
    with_sql = ok(cli("downgrade", "33b95995b188", "--plan", "--sql", "-u", sqlite_url)).stdout
    assert with_sql.splitlines()[3] == "-- no SQL script: it needs the database's rows (see its note)"
    assert "RuntimeError" not in planned.stdout + with_sql
    [step] = json.loads(ok(cli("downgrade", "33b95995b188", "--plan", "--json", "-u", sqlite_url)).stdout)
    assert step["note"] == CORE_DOWNGRADE_NOTE.removeprefix("  note: ")
    assert [mark["kind"] for mark in step["destructive"]] == ["not checked"]  # still counted as destructive

    # Its upgrade dry-runs: the note comes with the columns it drops, as the dry run saw them.
    ok(cli("downgrade", "33b95995b188", "-q", "-u", sqlite_url))
    upgrade = ok(cli("upgrade", "--plan", "-u", sqlite_url)).stdout.splitlines()
    assert upgrade[:3] == [
        f"upgrade {CORE_HEAD} (janitoo): Store setting values as JSON",
        "  note: reads every row of core_settings and rewrites its pickled value and extra as JSON text, then drops "
        "the pickled columns; as SQL (--sql) only from before revision 33b95995b188",
        "  ! drops column core_settings.value (7 rows)"]


NOTED_ROOT, NOTED = "e30000000001", "e30000000002"


def test_a_noted_revision_that_reads_rows_is_explained_and_still_refused(
        cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    """A note is its author's word: the plan shows it, and --no-destructive still refuses what no dry run checked."""
    root = write_extension(tmp_path / "ext", "noted", [
        (NOTED_ROOT, "op.create_table('noted_items', sa.Column('id', sa.Integer, primary_key=True),\n"
                     "    sa.Column('unit', sa.String(10)))"),
        (NOTED, "for (key,) in op.get_bind().execute(sa.text('SELECT id FROM noted_items')).all():\n"
                "    op.execute(sa.text(f\"UPDATE noted_items SET unit = 'm' WHERE id = {key}\"))"),
    ])
    (root / "noted" / "models" / "noted" / "plan_notes.json").write_text(json.dumps(
        {NOTED: {"upgrade": "reads every row of noted_items and rewrites its unit in metres"}}))
    monkeypatch.syspath_prepend(str(root))
    ok(cli("upgrade", "-q", NOTED_ROOT, "-u", sqlite_url))
    rows(sqlite_url, "INSERT INTO noted_items (id, unit) VALUES (1, 'ft')")

    planned = ok(cli("upgrade", "--plan", "noted@head", "-u", sqlite_url))
    assert planned.stdout.splitlines() == [
        f"upgrade {NOTED} (noted): Step 1 of noted",
        "  note: reads every row of noted_items and rewrites its unit in metres", NEEDS_ROWS]
    refused = cli("upgrade", "--no-destructive", "noted@head", "-u", sqlite_url)
    assert refused.exit_code == 1
    assert f"{NOTED} (noted): {NEEDS_ROWS.removeprefix('  ! ')}" in refused.stderr
    assert version_ids(sqlite_url) == {NOTED_ROOT}

    # Without --no-destructive it runs, as it says.
    ok(cli("upgrade", "-q", "noted@head", "-u", sqlite_url))
    assert rows(sqlite_url, "SELECT unit FROM noted_items") == [("m",)]


def test_plan_steps_carry_their_place_and_the_plans_size(cli: Run, sqlite_url: str) -> None:
    """--plan --json numbers its steps as the migration's progress does ([3/8]), not 0 of 0."""
    planned = json.loads(ok(cli("upgrade", "--plan", "--json", "-u", sqlite_url)).stdout)
    assert [(step["number"], step["total"]) for step in planned] == [(n, 8) for n in range(1, 9)]
    ok(cli("initdb", "-q", "-u", sqlite_url))
    down = json.loads(ok(cli("downgrade", "janitoo_template@base", "--plan", "--json", "-u", sqlite_url)).stdout)
    assert [(step["revision"], step["number"], step["total"]) for step in down] == [
        (TEMPLATE_HEAD, 1, 2), ("8f41c2d7a9b0", 2, 2)]


#: The checksum janitoo_db 1.0.0 recorded for 5d2f0a8c91e3 on every site that ran it.
RELEASED_CORE_CHECKSUM = "6e7484862a228cdd1d76b40f463266350250b18cd876e4ce3c06731c0a7e3c92"


def test_the_core_revision_file_is_as_released() -> None:
    """Its notes live beside it: an edit of the file would make checkdb exit 6 on every site that ran it."""
    from janitoo_db.runtime.checksums import file_checksum

    path = Path(__file__).resolve().parents[1] / "janitoo_db" / "models" / "janitoo" / \
        "5d2f0a8c91e3_store_settings_as_json.py"
    assert file_checksum(str(path)) == RELEASED_CORE_CHECKSUM
