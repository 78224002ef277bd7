"""Squashed branches: ``jnt_dbman squash NAME`` and databases that an earlier release of NAME migrated.

The extension ``orchard`` has four revisions: a table (with a PostgreSQL
enum), two columns (a timezone-aware timestamp defaulting to now(), a
boolean defaulting to true), seed rows, and a second table with foreign keys
to the core's ``core_users`` and to the first.  Squashing it writes one
revision; fresh databases built from it must equal those built from the
history, on SQLite, PostgreSQL and MariaDB.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import sqlalchemy as sa
from click.testing import Result

from conftest import install_extension, revision_lines, subprocess_env, write_extension
from dbstate import connected, rows, table_names, version_ids

Run = Callable[..., Result]
CORE_TABLES = "1266567cc97f"
SQUASHED = "5a0000000001"
D1, D2, D3, D4 = "d10000000001", "d10000000002", "d10000000003", "d10000000004"
REVISIONS = [
    (D1, "op.create_table('orchard_trees', sa.Column('id', sa.Integer, primary_key=True),\n"
         "                sa.Column('name', sa.String(50), nullable=False, unique=True),\n"
         "                sa.Column('kind', sa.Enum('apple', 'pear', name='orchard_kind')))",
     "op.drop_table('orchard_trees')\nsa.Enum(name='orchard_kind').drop(op.get_bind(), checkfirst=True)"),
    (D2, "op.add_column('orchard_trees', sa.Column('planted', sa.DateTime(timezone=True),\n"
         "                                             server_default=sa.func.now()))\n"
         "op.add_column('orchard_trees', sa.Column('healthy', sa.Boolean, server_default=sa.true(), nullable=False))",
     "with op.batch_alter_table('orchard_trees') as batch:\n    batch.drop_column('healthy')\n"
     "    batch.drop_column('planted')"),
    (D3, "op.bulk_insert(sa.table('orchard_trees', sa.column('name'), sa.column('kind')),\n"
         "               [{'name': 'Bramley', 'kind': 'apple'}, {'name': 'Conference', 'kind': 'pear'}])",
     "op.execute('DELETE FROM orchard_trees')"),
    (D4, "op.create_table('orchard_pickers', sa.Column('id', sa.Integer, primary_key=True),\n"
         "                sa.Column('user_id', sa.Integer, sa.ForeignKey('core_users.id'), nullable=False),\n"
         "                sa.Column('tree_id', sa.Integer, sa.ForeignKey('orchard_trees.id', ondelete='CASCADE')),\n"
         "                sa.Column('notes', sa.JSON), sa.Index('ix_orchard_pickers_tree_id', 'tree_id'))",
     "op.drop_table('orchard_pickers')"),
]
TABLES = ("orchard_trees", "orchard_pickers")


def installed(root: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Install extension *name* written under *root* (editable: its source tree on sys.path); its version directory.

    Another test's copy, and where it was found, are forgotten before and after.
    """
    from janitoo_db.site.extensions import _version_dir

    yield install_extension(root, name, monkeypatch)
    sys.modules.pop(name, None)
    _version_dir.cache_clear()


@pytest.fixture
def orchard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    yield from installed(write_extension(tmp_path / "ext", "orchard", REVISIONS, depends_on=CORE_TABLES),
                         "orchard", monkeypatch)


def files(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


def squash(cli: Run, *args: str) -> Result:
    done = cli("squash", "orchard", "--rev-id", SQUASHED, *args)
    assert done.exit_code == 0, done.output
    return done


def schema(url: str) -> dict[str, Any]:
    """orchard's tables as the database describes them, and their rows (without the time they were planted)."""
    found: dict[str, Any] = {}
    with connected(url) as connection:
        inspector = sa.inspect(connection)
        for table in TABLES:
            found[table] = {
                "columns": [(c["name"], str(c["type"].compile(connection.dialect)), c["nullable"],
                             c.get("default") is not None) for c in inspector.get_columns(table)],
                "key": inspector.get_pk_constraint(table)["constrained_columns"],
                "foreign keys": sorted((f["name"], f["constrained_columns"], f["referred_table"],
                                        f.get("options", {}).get("ondelete"))
                                       for f in inspector.get_foreign_keys(table)),
                "indexes": sorted((i["name"], i["column_names"]) for i in inspector.get_indexes(table)
                                  if i["name"].startswith("ix_")),
                "unique": sorted(u["column_names"] for u in inspector.get_unique_constraints(table)),
            }
        found["rows"] = [tuple(r) for r in connection.execute(sa.text(
            "SELECT id, name, kind, healthy FROM orchard_trees ORDER BY id"))]
    return found


def test_squash_writes_one_revision_in_place_of_the_branch(cli: Run, orchard: Path, sqlite_url: str) -> None:
    history = files(orchard)
    done = squash(cli, "-u", sqlite_url)
    path = orchard / f"{SQUASHED}_squashed_orchard.py"
    assert done.stdout == f"Generated {path}\n"
    assert done.stderr.splitlines() == [
        f"It replaces 4 revisions of orchard ({D1} to {D4}), whose files were deleted: {', '.join(sorted(history))}.",
        f"A database at {D4} is re-stamped to {SQUASHED}; one at an earlier revision must be upgraded with "
        "orchard 1.0 first.",
        "It creates orchard_trees (2 rows), orchard_pickers.",
        f"It depends on {CORE_TABLES}.",
    ]
    assert files(orchard) == {path.name}
    source = path.read_text()
    compile(source, str(path), "exec")
    for line in ("down_revision = None", "branch_labels = ('orchard',)", f"depends_on = ('{CORE_TABLES}',)",
                 f"replaces = (\n    '{D1}',\n    '{D2}',\n    '{D3}',\n    '{D4}',\n)",
                 "replaced_release = 'orchard 1.0'",
                 "sa.Column('kind', sa.Enum('apple', 'pear', name='orchard_kind'), nullable=True)",
                 "sa.Column('planted', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True)",
                 "sa.Column('healthy', sa.Boolean(), server_default=sa.true(), nullable=False)",
                 "op.drop_table('orchard_pickers')\n    op.drop_table('orchard_trees')"):
        assert line in source
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()  # the database is not read
    branches = cli("branches", "-u", sqlite_url).stdout.splitlines()
    assert f"orchard: root {SQUASHED}, head {SQUASHED}, 1 revisions" in branches


def test_a_fresh_database_runs_only_the_squashed_revision(cli: Run, orchard: Path, any_url: str,
                                                          tmp_path: Path) -> None:
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    history = schema(any_url)
    assert history["rows"] == [(1, "Bramley", "apple", True), (2, "Conference", "pear", True)]
    assert cli("dropdb", "--yes", "-u", any_url).exit_code == 0
    squash(cli, "-u", f"sqlite:///{tmp_path / 'unused.sqlite'}")

    done = cli("initdb", "-u", any_url)
    assert done.exit_code == 0, done.output
    assert [line for line in revision_lines(done.stderr) if "(orchard)" in line] == [
        f"Applied {SQUASHED} (orchard): Squashed orchard"]
    assert schema(any_url) == history
    assert SQUASHED in version_ids(any_url) and not {D1, D2, D3, D4} & version_ids(any_url)
    assert cli("checkdb", "-u", any_url).exit_code == 0
    # The seed rows came with their ids, and the next row still gets its own (PostgreSQL's sequence follows).
    with connected(any_url) as connection:
        connection.execute(sa.text("INSERT INTO orchard_trees (name) VALUES ('Doyenne')"))
    assert rows(any_url, "SELECT id FROM orchard_trees WHERE name = 'Doyenne'") == [(3,)]

    removed = cli("downgrade", "orchard@base", "-u", any_url)
    assert removed.exit_code == 0, removed.output
    assert not set(TABLES) & table_names(any_url) and "core_users" in table_names(any_url)
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0  # and back: the enum type went too
    assert schema(any_url)["rows"] == history["rows"]


def test_a_database_at_the_replaced_head_is_restamped(cli: Run, orchard: Path, any_url: str, tmp_path: Path) -> None:
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    with connected(any_url) as connection:
        connection.execute(sa.text("INSERT INTO orchard_trees (name, kind) VALUES ('Cox', 'apple')"))
    before = schema(any_url)
    squash(cli, "-u", f"sqlite:///{tmp_path / 'unused.sqlite'}")

    check = cli("checkdb", "-u", any_url)
    assert check.exit_code == 3
    assert check.stdout.splitlines()[-1] == (f"Revision {D4} (orchard) is replaced by the squashed revision "
                                             f"{SQUASHED}: the next migration re-stamps it, running nothing.")
    assert "Orphaned" not in check.stdout
    assert f"{D4} (orchard) (replaced): replaced by the squashed revision {SQUASHED}" in cli(
        "current", "-u", any_url).stdout
    planned = cli("upgrade", "--plan", "-u", any_url).stdout
    assert planned.startswith("Nothing to do: every branch is at its head: ")
    assert f"{D4} (orchard), which the next migration re-stamps as {SQUASHED}" in planned
    assert D4 in version_ids(any_url)  # planning changed nothing

    # A server refusing destructive revisions checks from the squashed revision, as the run goes.
    done = cli("initdb", "-u", any_url, env={"JANITOO_DB_NO_DESTRUCTIVE": "1"})
    assert done.exit_code == 0, done.output
    assert done.stderr.splitlines() == [
        f"Re-stamped {D4} (orchard) as {SQUASHED}, the squashed revision that replaces it: nothing to run for it.",
        "Nothing to do: every branch is at its head: 5d2f0a8c91e3 (janitoo), 2b3c4d5e6f70 (acme_sensors), "
        f"c3e9b5a1d274 (janitoo_template), {SQUASHED} (orchard)."]
    assert SQUASHED in version_ids(any_url) and D4 not in version_ids(any_url)
    assert schema(any_url) == before  # the data is kept: no table was made again
    assert rows(any_url, "SELECT branch FROM janitoo_db_branches WHERE revision = :r".replace(
        ":r", f"'{SQUASHED}'")) == [("orchard",)]
    assert cli("checkdb", "-u", any_url).exit_code == 0


def test_a_database_at_an_earlier_replaced_revision_is_refused(cli: Run, orchard: Path, any_url: str,
                                                               tmp_path: Path) -> None:
    assert cli("upgrade", "-q", D2, "-u", any_url).exit_code == 0
    versions, tables = version_ids(any_url), table_names(any_url)
    squash(cli, "-u", f"sqlite:///{tmp_path / 'unused.sqlite'}")
    refusal = (f"Error: the database is at {D2} (orchard), which the squashed revision {SQUASHED} replaces: "
               f"upgrade it to {D4} with orchard 1.0 first (that release still has the revisions after {D2}), then "
               "install this release of orchard again\n")

    check = cli("checkdb", "-u", any_url)
    assert check.exit_code == 5
    assert (f"Revision {D2} (orchard) is replaced by the squashed revision {SQUASHED}, which cannot upgrade it: "
            f"upgrade it to {D4} with orchard 1.0 first, then install this release again.") in check.stdout
    json_check = cli("checkdb", "--json", "-u", any_url)
    assert json_check.exit_code == 5 and '"restamp": false' in json_check.stdout
    for command in (["initdb"], ["upgrade", "--plan"], ["stamp", "heads"]):
        done = cli(*command, "-u", any_url)
        assert (done.exit_code, done.stderr) == (1, refusal), command
    assert version_ids(any_url) == versions and table_names(any_url) == tables


def test_refused_squashes(cli: Run, orchard: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    before = files(orchard)

    def refused(*args: str) -> str:
        done = cli("squash", *args, "-u", url)
        assert done.exit_code == 1 and done.stdout == ""
        assert files(orchard) == before
        return done.stderr

    assert refused("nowhere").startswith("Error: unknown extension 'nowhere'; known: janitoo, ")
    assert refused("janitoo") == ("Error: janitoo is janitoo_db's own branch: its revisions are the original "
                                  "janitoo's, which upgrade the databases it made; only an extension's branch is "
                                  "squashed\n")
    assert refused("orchard", "--rev-id", D2).startswith(f"Error: revision id {D2} exists already")
    assert refused("orchard", "--replaced-release", "two\nlines") == (
        "Error: 'two\\nlines' cannot name a release: give one line, such as 'acme 1.4'\n")

    (orchard / "d10000000005_fork.py").write_text(
        f'"""Fork"""\nrevision = "d10000000005"\ndown_revision = "{D3}"\nbranch_labels = None\n'
        "depends_on = None\n\n\ndef upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n")
    before = files(orchard)
    assert refused("orchard") == ("Error: branch orchard has several heads (d10000000005, d10000000004): merge them "
                                  "first ('jnt_dbman merge d10000000005 d10000000004'), then squash\n")
    (orchard / "d10000000005_fork.py").unlink()
    before = files(orchard)

    monkeypatch.syspath_prepend(str(write_extension(tmp_path / "one", "sapling", [("e00000000001", "")])))
    assert refused("sapling") == "Error: branch sapling has one revision (e00000000001): there is nothing to squash\n"

    root = write_extension(tmp_path / "other", "grove", [
        ("e10000000001", ""), ("e10000000002", "pass")], depends_on=D1)
    monkeypatch.syspath_prepend(str(root))
    assert refused("orchard") == (f"Error: revision e10000000002 (grove) depends on {D1} of orchard: squashing "
                                  "orchard would remove what it names; that extension must first depend on a "
                                  "release of it that has the squashed revision\n")


def test_squash_refuses_an_installed_distribution(tmp_path: Path, jnt_dbman: Callable[..., Any]) -> None:
    site = tmp_path / "venv" / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    write_extension(site, "orchard", REVISIONS, depends_on=CORE_TABLES)
    version_dir = site / "orchard" / "models" / "orchard"
    env = subprocess_env(PYTHONPATH=f"{site}:{subprocess_env()['PYTHONPATH']}")
    before = files(version_dir)
    done = jnt_dbman("squash", "orchard", "-u", f"sqlite:///{tmp_path / 'db.sqlite'}", env=env)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (f"Error: refusing to write into {version_dir}: it is part of the installed distribution "
                           f"orchard, in {site}; revisions are written in the extension's source checkout "
                           "(installed with 'pip install -e')\n")
    assert files(version_dir) == before


def test_through_the_real_jnt_dbman(tmp_path: Path, jnt_dbman: Callable[..., Any]) -> None:
    root = write_extension(tmp_path / "ext", "orchard", REVISIONS, depends_on=CORE_TABLES)
    env = subprocess_env(PYTHONPATH=f"{root}:{subprocess_env()['PYTHONPATH']}")
    old, new = f"sqlite:///{tmp_path / 'old.sqlite'}", f"sqlite:///{tmp_path / 'new.sqlite'}"
    assert jnt_dbman("initdb", "-q", "-u", old, env=env).returncode == 0
    done = jnt_dbman("squash", "orchard", "--json", "--rev-id", SQUASHED, "-u", old, env=env)
    assert done.returncode == 0, done.stderr
    import json

    report = json.loads(done.stdout)
    assert report["replaces"] == [D1, D2, D3, D4] and report["revision"] == SQUASHED
    assert report["tables"] == [{"table": "orchard_trees", "rows": 2}, {"table": "orchard_pickers", "rows": 0}]
    assert report["depends_on"] == [CORE_TABLES] and report["warnings"] == []
    assert jnt_dbman("checkdb", "-u", old, env=env).returncode == 3
    assert jnt_dbman("initdb", "-q", "-u", old, env=env).returncode == 0
    assert jnt_dbman("initdb", "-q", "-u", new, env=env).returncode == 0
    assert schema(old) == schema(new)
    assert version_ids(old) == version_ids(new)

    # A replaced file put back beside the squashed revision stops every command, naming it.
    shutil.copy(root / "orchard" / "models" / "orchard" / f"{SQUASHED}_squashed_orchard.py", tmp_path / "keep.py")
    write_extension(tmp_path / "again", "orchard", REVISIONS[:1])
    (back,) = (tmp_path / "again" / "orchard" / "models" / "orchard").glob("*.py")
    shutil.copy(back, root / "orchard" / "models" / "orchard" / back.name)
    done = jnt_dbman("heads", "-u", new, env=env)
    assert done.returncode == 1
    assert done.stderr == (f"Error: the squashed revision {SQUASHED} ({root / 'orchard' / 'models' / 'orchard'}/"
                           f"{SQUASHED}_squashed_orchard.py) replaces {D1}, {D2}, {D3}, {D4}, but {back.name} is "
                           "still in the version directories: delete it; the release that ships a squashed "
                           "revision ships none of the revisions it replaces\n")


GROVE = [
    ("f10000000001", "op.execute(\"CREATE TABLE grove_log (id INTEGER NOT NULL PRIMARY KEY, at DATETIME, \"\n"
                     "           \"note VARCHAR(20) DEFAULT 'none')\")\n"
                     "op.execute(\"INSERT INTO grove_log (id, at) VALUES (1, '2024-05-01 10:00:00')\")"),
    ("f10000000002", "op.execute(\"INSERT INTO core_settings_group (key, name, description) \"\n"
                     "           \"VALUES ('grove', 'Grove', 'Its settings')\")\n"
                     "op.execute('CREATE VIEW grove_recent AS SELECT * FROM grove_log')\n"
                     "op.execute('CREATE INDEX ix_grove_lower ON grove_log (lower(note))')\n"
                     "op.execute('CREATE TRIGGER grove_stamp AFTER INSERT ON grove_log BEGIN SELECT 1; END')\n"
                     "op.add_column('core_users', sa.Column('grove_tag', sa.String(10)))\n"
                     "if op.get_bind().dialect.name == 'sqlite':\n"
                     "    data = op.create_table('grove_data', sa.Column('id', sa.Integer, primary_key=True),\n"
                     "                           sa.Column('doc', sa.JSON))\n"
                     "    op.bulk_insert(data, [{'id': 1, 'doc': None}])\n"
                     "    op.bulk_insert(data, [{'id': 2}])"),
]


@pytest.fixture
def grove(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An extension whose revisions write raw SQL, touch the core's rows, make a view and look at the dialect."""
    yield from installed(write_extension(tmp_path / "grove-ext", "grove", GROVE, depends_on=CORE_TABLES),
                         "grove", monkeypatch)


def test_what_cannot_be_carried_over_is_named(cli: Run, grove: Path, any_url: str, tmp_path: Path) -> None:
    done = cli("squash", "grove", "--rev-id", SQUASHED, "-u", f"sqlite:///{tmp_path / 'unused.sqlite'}")
    assert done.exit_code == 0, done.output
    assert done.stderr.splitlines()[-3:] == [
        "Warning: revision f10000000002 changes the rows of core_settings_group, the table core_users, "
        "the trigger grove_stamp, the view grove_recent, which the squashed revision does not do.",
        "Warning: revision f10000000002 looks at the database's dialect: the squashed revision does what it did "
        "on SQLite.",
        "Warning: the index ix_grove_lower on grove_log is on an expression, which the squashed revision does not "
        "create.",
    ]
    # What it does carry over runs everywhere: a table made by raw SQL gets generic types.
    source = (grove / f"{SQUASHED}_squashed_grove.py").read_text()
    assert "sa.Column('at', sa.DateTime(), nullable=True)" in source
    assert "sa.Column('note', sa.String(length=20), server_default=sa.text(\"'none'\"), nullable=True)" in source
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    assert rows(any_url, "SELECT id, note FROM grove_log") == [(1, "none")]
    # JSON null stays JSON null, SQL NULL stays NULL.
    assert rows(any_url, "SELECT id FROM grove_data WHERE doc IS NULL") == [(2,)]
    assert rows(any_url, "SELECT count(*) FROM grove_data") == [(2,)]


HOOK = """\
import sys
path = sys.argv[2]
text = open(path).read()
if sys.argv[1] == "break":
    text = text.replace("sa.Column('name', sa.String(length=50), nullable=False)",
                        "sa.Column('name', sa.String(length=50), nullable=True)")
open(path, "w").write(text + "# formatted\\n")
"""


@pytest.mark.parametrize("mode", ["format", "break"])
def test_the_hooks_run_and_the_file_must_rebuild_the_branch(cli: Run, orchard: Path, tmp_path: Path,
                                                            mode: str) -> None:
    (tmp_path / "hook.py").write_text(HOOK)
    conf = tmp_path / "janitoo.conf"
    conf.write_text(f"[database]\nsqlalchemy.url = sqlite:///%(here)s/db.sqlite\nhooks = fmt\nfmt.type = exec\n"
                    f"fmt.executable = {sys.executable}\nfmt.options = {tmp_path / 'hook.py'} {mode} "
                    "REVISION_SCRIPT_FILENAME\n")
    before = files(orchard)
    done = cli("squash", "orchard", "--rev-id", SQUASHED, "-c", str(conf))
    if mode == "format":
        assert done.exit_code == 0, done.output
        assert "Ran the post-write hooks fmt on it." in done.stderr.splitlines()
        assert (orchard / f"{SQUASHED}_squashed_orchard.py").read_text().endswith("# formatted\n")
        return
    assert done.exit_code == 1 and done.stdout == ""
    assert done.stderr.startswith("Error: the squashed revision janitoo_db rendered does not rebuild the branch "
                                  "(table orchard_trees is ")
    assert files(orchard) == before  # nothing written, nothing deleted


def test_a_squashed_branch_squashed_again(cli: Run, orchard: Path, sqlite_url: str, tmp_path: Path) -> None:
    at_d4, at_d5 = f"sqlite:///{tmp_path / 'd4.sqlite'}", sqlite_url
    assert cli("initdb", "-q", "-u", at_d4).exit_code == 0
    squash(cli, "-u", sqlite_url)
    (orchard / "d10000000005_more.py").write_text(
        f'"""More"""\nimport sqlalchemy as sa\nfrom alembic import op\n\nrevision = "d10000000005"\n'
        f'down_revision = "{SQUASHED}"\nbranch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n'
        "    op.add_column('orchard_trees', sa.Column('height', sa.Float))\n\n\ndef downgrade():\n"
        "    with op.batch_alter_table('orchard_trees') as batch:\n        batch.drop_column('height')\n")
    assert cli("initdb", "-q", "-u", at_d5).exit_code == 0
    done = cli("squash", "orchard", "--rev-id", "5a0000000002", "--replaced-release", "orchard 2.0", "-u", sqlite_url)
    assert done.exit_code == 0, done.output
    source = (orchard / "5a0000000002_squashed_orchard.py").read_text()
    assert f"replaces = (\n    '{D1}',\n    '{D2}',\n    '{D3}',\n    '{D4}',\n    '{SQUASHED}',\n" in source
    assert "replaced_release = 'orchard 2.0'" in source and "sa.Column('height', sa.Float()" in source

    assert cli("initdb", "-q", "-u", at_d5).exit_code == 0
    assert "5a0000000002" in version_ids(at_d5)
    refused = cli("initdb", "-u", at_d4)
    assert refused.exit_code == 1
    assert refused.stderr.startswith(f"Error: the database is at {D4} (orchard), which the squashed revision "
                                     f"5a0000000002 replaces: upgrade it to d10000000005 with orchard 2.0 first")


HEDGE = [
    ("c10000000001", "op.create_table('hedge_nodes', sa.Column('id', sa.Integer, primary_key=True),\n"
                     "                sa.Column('parent_id', sa.Integer, sa.ForeignKey('hedge_nodes.id')),\n"
                     "                sa.Column('label', sa.Unicode(20)), sa.Column('bits', sa.LargeBinary),\n"
                     "                sa.Column('amount', sa.Numeric(8, 3)), sa.Column('day', sa.Date))"),
    ("c10000000002", "nodes = sa.table('hedge_nodes', sa.column('id'), sa.column('parent_id'), sa.column('label'),\n"
                     "                 sa.column('bits', sa.LargeBinary), sa.column('amount'),\n"
                     "                 sa.column('day', sa.Date))\n"
                     "op.bulk_insert(nodes, [\n"
                     "    {'id': 1, 'parent_id': 2, 'label': 'caf\\u00e9 \"\\'\\\\', 'bits': b'\\x00\\xff',\n"
                     "     'amount': 1.5, 'day': __import__('datetime').date(2024, 2, 29)},\n"
                     "    {'id': 2, 'parent_id': None, 'label': None, 'bits': None, 'amount': None, 'day': None}])"),
]


def test_rows_of_every_kind_and_in_the_order_their_keys_need(cli: Run, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch, any_url: str) -> None:
    from decimal import Decimal

    for _ in installed(write_extension(tmp_path / "ext", "hedge", HEDGE), "hedge", monkeypatch):
        done = cli("squash", "hedge", "-u", f"sqlite:///{tmp_path / 'unused.sqlite'}")
        assert done.exit_code == 0, done.output
        assert cli("initdb", "-q", "-u", any_url).exit_code == 0  # the parent (id 2) goes in first
        found = rows(any_url, "SELECT id, parent_id, label, bits, amount, day FROM hedge_nodes ORDER BY id")
        assert [(i, p, label, bytes(blob) if blob is not None else None, amount, str(day) if day else None)
                for i, p, label, blob, amount, day in found] == [
            (1, 2, 'café "\'\\', b"\x00\xff", Decimal("1.500"), "2024-02-29"),
            (2, None, None, None, None, None)]


def test_a_variable_named_replaces_alone_is_no_squashed_revision(cli: Run, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    root = write_extension(tmp_path / "ext", "meadow", [("b10000000001", ""), ("b10000000002", "pass")])
    second = root / "meadow" / "models" / "meadow" / "b10000000002_step_1.py"
    log = tmp_path / "executed.log"
    second.write_text(second.read_text() + "\nreplaces = {'old': 'new'}  # a data migration's own table\n"
                      f"open({str(log)!r}, 'a').write('x')\n")
    for _ in installed(root, "meadow", monkeypatch):
        for cache in ({"JANITOO_DB_CACHE_DIR": ""}, {}, {}):  # without the revision cache, then with it
            assert cli("initdb", "-q", "-u", url, env=cache).exit_code == 0
            assert cli("checkdb", "-u", url, env=cache).exit_code == 0
        log.unlink()
        assert cli("checkdb", "-u", url).exit_code == 0
        assert not log.exists()  # its header is cached all the same
        with connected(url) as connection:  # a head nobody provides: what replaces it is looked for
            connection.execute(sa.text("INSERT INTO alembic_version VALUES ('ab0000000001')"))
        for cache in ({"JANITOO_DB_CACHE_DIR": ""}, {}):
            orphaned = cli("checkdb", "-u", url, env=cache)
            assert orphaned.exit_code == 5 and "Orphaned head ab0000000001" in orphaned.stdout
        second.write_text(second.read_text() + "replaced_release = 'meadow 1.0'\n")
        done = cli("heads", "-u", url)
        assert done.exit_code == 1
        assert done.stderr == (f"Error: revision file {second}: a squashed revision needs replaces, a tuple of the "
                               "revision ids it replaces, and replaced_release, a release; not {'old': 'new'} and "
                               "'meadow 1.0'\n")
