"""Per-extension check and generate: one extension's revision never carries another's drift."""
from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Callable

import pytest
from click.testing import Result

from conftest import subprocess_env, write_extension

Run = Callable[..., subprocess.CompletedProcess[str]]

GROWER_MODEL = """
class Item(Base):
    __tablename__ = "grower_items"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(50), nullable=False)
"""
GROWER_REVISIONS = [
    ("a10000000001", ""),
    ("a10000000002", "op.create_table('grower_items', sa.Column('id', sa.Integer, primary_key=True),\n"
                     "    sa.Column('name', sa.String(50), nullable=False))"),
]
# bystander's model has a column its revisions never create: drift that is not grower's business.
BYSTANDER_MODEL = """
class Thing(Base):
    __tablename__ = "bystander_things"
    id = sa.Column(sa.Integer, primary_key=True)
    forgotten = sa.Column(sa.Integer)
"""
BYSTANDER_REVISIONS = [
    ("b10000000001", ""),
    ("b10000000002", "op.create_table('bystander_things', sa.Column('id', sa.Integer, primary_key=True))"),
]


@pytest.fixture
def site(tmp_path: Path) -> tuple[dict[str, str], str, Path]:
    """Two extensions of our own installed, and a database at every head with a stray table
    and a hand-added column in a core table."""
    root = tmp_path / "site"
    write_extension(root, "grower", GROWER_REVISIONS, models=GROWER_MODEL)
    write_extension(root, "bystander", BYSTANDER_REVISIONS, models=BYSTANDER_MODEL)
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    database = tmp_path / "drift.sqlite"
    return env, f"sqlite:///{database}", root


def _prepare(site: tuple[dict[str, str], str, Path], jnt_dbman: Run) -> None:
    env, url, _ = site
    assert jnt_dbman("initdb", "-q", "-u", url, env=env).returncode == 0
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        db.execute("CREATE TABLE stray (id INTEGER)")
        db.execute("ALTER TABLE core_users ADD COLUMN hand_added INTEGER")


def test_check_groups_differences_by_extension(site: tuple[dict[str, str], str, Path], jnt_dbman: Run) -> None:
    env, url, _ = site
    _prepare(site, jnt_dbman)
    everything = jnt_dbman("check", "-u", url, env=env)
    assert everything.returncode == 4
    lines = everything.stdout.splitlines()
    assert "janitoo: 1 difference(s)" in lines
    assert "  column core_users.hand_added is in the database but not in the models" in lines
    assert "bystander: 1 difference(s)" in lines
    assert "  column bystander_things.forgotten is in the models but not in the database" in lines
    assert "grower: models and database agree" in lines
    assert lines[lines.index("Tables no model declares:") + 1] == "  table stray is in the database but in no model"

    only_grower = jnt_dbman("check", "grower", "-u", url, env=env)
    assert only_grower.returncode == 0, only_grower.stdout
    assert only_grower.stdout.splitlines()[0] == "grower: models and database agree"
    assert "bystander" not in only_grower.stdout and "hand_added" not in only_grower.stdout
    assert "table stray is in the database but in no model" in only_grower.stdout

    assert jnt_dbman("check", "bystander", "-u", url, env=env).returncode == 4


def test_generate_only_what_belongs_to_the_extension(site: tuple[dict[str, str], str, Path], jnt_dbman: Run) -> None:
    """A column added to grower's model becomes a revision of grower's, and nothing else does."""
    env, url, root = site
    _prepare(site, jnt_dbman)
    init = root / "grower" / "__init__.py"
    init.write_text(init.read_text().replace(
        "name = sa.Column(sa.String(50), nullable=False)",
        "name = sa.Column(sa.String(50), nullable=False)\n    color = sa.Column(sa.String(20))"))

    drifting = jnt_dbman("check", "grower", "-u", url, env=env)
    assert drifting.returncode == 4
    assert "  column grower_items.color is in the models but not in the database" in drifting.stdout

    generated = jnt_dbman("generate", "-m", "Add color", "--head", "grower@head", "-u", url, env=env)
    assert generated.returncode == 0, generated.stderr
    path = Path(generated.stdout.strip().removeprefix("Generated "))
    assert path.parent == root / "grower" / "models" / "grower"
    assert path.name.endswith("_add_color.py")
    source = path.read_text()
    assert "op.add_column" in source or "batch_op.add_column" in source
    assert "'color'" in source
    for foreign in ("stray", "hand_added", "bystander", "forgotten", "core_"):
        assert foreign not in source, foreign
    assert "down_revision = 'a10000000002'" in source

    upgraded = jnt_dbman("upgrade", "-u", url, env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "Add color" in upgraded.stderr
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(grower_items)")]
    assert "color" in columns
    assert jnt_dbman("check", "grower", "-u", url, env=env).returncode == 0


def test_generate_refuses_cleanly(site: tuple[dict[str, str], str, Path], jnt_dbman: Run) -> None:
    env, url, root = site
    behind = jnt_dbman("generate", "-m", "too early", "--head", "grower", "-u", url, env=env)
    assert behind.returncode == 1
    assert behind.stderr.startswith("Error: the database is not at every head")
    unknown = jnt_dbman("generate", "-m", "x", "--head", "nosuch", "-u", url, env=env)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == (
        "Error: unknown extension 'nosuch'; known: janitoo, acme_sensors, bystander, grower, janitoo_template")
    assert list((root / "grower" / "models" / "grower").glob("*too_early*")) == []


def test_generate_refuses_unwritable_version_dir(cli: Callable[..., Result], sqlite_url: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as root here, for whom chmod does not make a directory unwritable.
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if mode == os.W_OK else real_access(path, mode))
    result = cli("generate", "-m", "x", "--head", "acme_sensors", "-u", sqlite_url)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: the version directory of 'acme_sensors' is not writable: ")


def test_empty_revision_with_dependency_is_applied(site: tuple[dict[str, str], str, Path], jnt_dbman: Run) -> None:
    env, url, root = site
    assert jnt_dbman("initdb", "-q", "-u", url, env=env).returncode == 0
    made = jnt_dbman("generate", "--empty", "-m", "Needs settings", "--head", "grower",
                     "--depends-on", "5d2f0a8c91e3", "-u", url, env=env)
    assert made.returncode == 0, made.stderr
    path = Path(made.stdout.strip().removeprefix("Generated "))
    source = path.read_text()
    assert "depends_on = '5d2f0a8c91e3'" in source
    assert "def upgrade() -> None:\n    pass" in source
    revision = path.name.split("_", 1)[0]
    assert jnt_dbman("upgrade", "-q", "-u", url, env=env).returncode == 0
    assert revision in jnt_dbman("versiondb", "-u", url, env=env).stdout.split()
    bad = jnt_dbman("generate", "--empty", "-m", "x", "--head", "grower", "--depends-on", "ffffffffffff",
                    "-u", url, env=env)
    assert bad.returncode == 1 and "ffffffffffff" in bad.stderr
