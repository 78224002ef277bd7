"""The pytest plugin (janitoo_db.testing) inside an extension's own test suite: it passes a healthy
branch and fails each kind of broken one, saying why."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import EXTENSIONS_DIR, write_extension, write_revision

CREATE = "op.create_table('{table}', sa.Column('id', sa.Integer, primary_key=True))"
DROP = "op.drop_table('{table}')"
MODEL = """
class Row(Base):
    __tablename__ = "{table}"
    id = sa.Column(sa.Integer, primary_key=True)
"""


def run_plugin(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, root: Path, branch: str,
               *args: str) -> pytest.RunResult:
    """Run the ready-made checks for *branch* in a separate pytest, as the extension's suite would."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(root), str(EXTENSIONS_DIR)]))
    pytester.makeconftest(f"import pytest\n\n@pytest.fixture\ndef janitoo_branch():\n    return {branch!r}\n")
    pytester.makepyfile(test_migrations="from janitoo_db.testing import *  # noqa\n")
    return pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", *args)


def healthy(root: Path, name: str = "healthy") -> Path:
    table = f"{name}_rows"
    return write_extension(root, name, [
        ("e10000000001", ""),
        ("e10000000002", CREATE.format(table=table), DROP.format(table=table)),
    ], models=MODEL.format(table=table))


def test_healthy_branch_passes(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    result = run_plugin(pytester, monkeypatch, healthy(tmp_path / "ext"), "healthy")
    result.assert_outcomes(passed=6)


def test_a_given_database_url_is_used_and_left_empty(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    database = tmp_path / "given.sqlite"
    result = run_plugin(pytester, monkeypatch, healthy(tmp_path / "ext"), "healthy",
                        f"--janitoo-db-url=sqlite:///{database}")
    result.assert_outcomes(passed=6)
    import sqlite3

    with sqlite3.connect(database) as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall() == []


def test_two_heads_fail(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = healthy(tmp_path / "ext", "forked")
    write_revision(root / "forked" / "models" / "forked", "e10000000003", "e10000000001", "Fork")
    result = run_plugin(pytester, monkeypatch, root, "forked", "-k", "one_root_and_one_head")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*branch forked has 2 heads*"])


def test_downgrade_that_leaves_a_table_fails(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    root = write_extension(tmp_path / "ext", "sticky", [
        ("e20000000001", ""), ("e20000000002", CREATE.format(table="sticky_rows"))],  # downgrade forgets the table
        models=MODEL.format(table="sticky_rows"))
    result = run_plugin(pytester, monkeypatch, root, "sticky", "-k", "upgrades_downgrades")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*at base, sticky left tables behind: ?'sticky_rows'?*"])


def test_model_without_revision_fails(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                      tmp_path: Path) -> None:
    root = write_extension(tmp_path / "ext", "lagging", [("e30000000001", "")],
                           models=MODEL.format(table="lagging_rows"))
    result = run_plugin(pytester, monkeypatch, root, "lagging", "-k", "models_match")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*table lagging_rows is in the models but not in the database*"])


def test_table_imported_by_another_extension_first_stays_its_own(pytester: pytest.Pytester,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    """A model module another extension imports before zeta's own extend() runs is still zeta's (issue 18, point 3).

    It used to be filed under the extension that imported it, and this check failed.
    """
    root = healthy(tmp_path / "ext", "zeta")
    (root / "zeta" / "tables.py").write_text(
        "import sqlalchemy as sa\nfrom janitoo_db.base import Base\n\n" + MODEL.format(table="zeta_late")
        .replace("class Row", "class Late"))
    write_extension(root, "alpha", [("e40000000001", "")], models="import zeta.tables  # noqa: F401\n")
    result = run_plugin(pytester, monkeypatch, root, "zeta", "-k", "registered_by_extend")
    result.assert_outcomes(passed=1)


def test_a_lock_squawk_flags_fails_until_the_file_allows_it(pytester: pytest.Pytester,
                                                            monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = write_extension(tmp_path / "ext", "stiff", [
        ("e20000000001", ""),
        ("e20000000002", "op.create_table('stiff_rows', sa.Column('id', sa.Integer, primary_key=True), "
                         "sa.Column('name', sa.String(20)))", "op.drop_table('stiff_rows')"),
        ("e20000000003", "op.alter_column('stiff_rows', 'name', existing_type=sa.String(20), nullable=False)",
         "op.alter_column('stiff_rows', 'name', existing_type=sa.String(20), nullable=True)"),
    ])
    result = run_plugin(pytester, monkeypatch, root, "stiff", "-k", "lock")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*stiff's revisions take locks that can stall a busy PostgreSQL table: "
                                 "e20000000003: adding-not-nullable-field: *"
                                 "[[]ALTER TABLE stiff_rows ALTER COLUMN name SET NOT NULL;[]]*"])
    (path,) = (root / "stiff" / "models" / "stiff").glob("e20000000003_*.py")
    path.write_text(path.read_text().replace(
        '"""\n', '"""\n# janitoo_db lint: allow adding-not-nullable-field -- stiff_rows is empty then\n', 1))
    result = run_plugin(pytester, monkeypatch, root, "stiff", "-k", "lock")
    result.assert_outcomes(passed=1)
