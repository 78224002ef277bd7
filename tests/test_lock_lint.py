"""upgrade --plan --lint: squawk names the statements of pending revisions whose locks can stall a busy table.

``busy`` makes a table, then indexes it without CONCURRENTLY, then sets a
column NOT NULL.  With the table already there, both later revisions lock it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import pytest
from click.testing import Result

from conftest import install_extension, run_in_venv, subprocess_env, throwaway_venv, write_extension
from dbstate import version_ids

Run = Callable[..., Result]
ROOT, TABLE, INDEX, NOT_NULL = "d40000000000", "d40000000001", "d40000000002", "d40000000003"
INDEX_LINE = ("  lock: require-concurrent-index-creation: During normal index creation, table updates are blocked, "
              "but reads are still allowed. Use `concurrently` to avoid blocking writes. "
              "[CREATE INDEX ix_busy_name ON busy_items (name);]")


@pytest.fixture
def busy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = write_extension(tmp_path / "ext", "busy", [
        (ROOT, ""),
        (TABLE, "op.create_table('busy_items', sa.Column('id', sa.Integer, primary_key=True), "
                "sa.Column('name', sa.String(40)))"),
        (INDEX, "op.create_index('ix_busy_name', 'busy_items', ['name'])"),
        (NOT_NULL, "op.alter_column('busy_items', 'name', existing_type=sa.String(40), nullable=False)"),
    ])
    return install_extension(root, "busy", monkeypatch)


def allow(versions: Path, revision: str, line: str) -> None:
    """Add a line to the top of *revision*'s file (after its docstring)."""
    (path,) = versions.glob(f"{revision}_*.py")
    text = path.read_text()
    path.write_text(text.replace('"""\n', f'"""\n{line}\n', 1))


def lines_under(output: str, revision: str) -> list[str]:
    """The lines --plan prints under *revision*'s line."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"upgrade {revision} "))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("  ")), len(lines))
    return lines[start + 1:end]


@pytest.mark.server
def test_an_index_without_concurrently_on_a_busy_table_on_postgresql(cli: Run, busy: Path,
                                                                      postgresql_url: str) -> None:
    assert cli("upgrade", "-q", f"busy@{TABLE}", "-u", postgresql_url).exit_code == 0
    before = version_ids(postgresql_url)
    result = cli("upgrade", "--plan", "--lint", "-u", postgresql_url)
    assert result.exit_code == 7, result.stderr
    assert INDEX_LINE in lines_under(result.stdout, INDEX)
    assert any(line.startswith("  lock: adding-not-nullable-field: ") and
               line.endswith("[ALTER TABLE busy_items ALTER COLUMN name SET NOT NULL;]")
               for line in lines_under(result.stdout, NOT_NULL))
    # Without --ddl-lock-timeout the run sets no lock_timeout, and squawk says so once for the script.
    assert sum("  lock: require-lock-timeout: " in line for line in result.stdout.splitlines()) == 1
    assert version_ids(postgresql_url) == before  # a plan changes nothing

    limited = cli("upgrade", "--plan", "--lint", "--ddl-lock-timeout", "5", "-u", postgresql_url)
    assert "require-lock-timeout" not in limited.stdout and limited.exit_code == 7

    as_json = cli("upgrade", "--plan", "--lint", "--json", "-u", postgresql_url)
    assert as_json.exit_code == 7
    (step,) = [step for step in json.loads(as_json.stdout) if step["revision"] == INDEX]
    assert [(f["rule"], f["branch"], f["statement"]) for f in step["lint"]] == [
        ("require-concurrent-index-creation", "busy", "CREATE INDEX ix_busy_name ON busy_items (name);")]


@pytest.mark.server
def test_a_revision_file_allows_a_finding_with_a_reason_on_postgresql(cli: Run, busy: Path,
                                                                      postgresql_url: str) -> None:
    assert cli("upgrade", "-q", f"busy@{TABLE}", "-u", postgresql_url).exit_code == 0
    allow(busy, INDEX, "# janitoo_db lint: allow require-concurrent-index-creation -- busy_items is read-only")
    allow(busy, NOT_NULL, "# janitoo_db lint: allow adding-not-nullable-field")
    result = cli("upgrade", "--plan", "--lint", "--ddl-lock-timeout", "5", "-u", postgresql_url)
    assert result.exit_code == 7
    assert lines_under(result.stdout, INDEX) == [
        "  lock: allowed require-concurrent-index-creation: busy_items is read-only"]
    (not_null,) = lines_under(result.stdout, NOT_NULL)
    assert not_null.endswith(" (the file allows it without a reason: give one after '--')")

    allow(busy, NOT_NULL, "# janitoo_db lint: allow adding-not-nullable-field -- filled by the revision before")
    result = cli("upgrade", "--plan", "--lint", "--ddl-lock-timeout", "5", "-u", postgresql_url)
    assert result.exit_code == 0, result.stdout
    assert lines_under(result.stdout, NOT_NULL) == [
        "  lock: allowed adding-not-nullable-field: filled by the revision before"]


@pytest.mark.server
def test_an_index_on_a_table_the_same_plan_makes_is_not_flagged_on_postgresql(cli: Run, busy: Path,
                                                                             postgresql_url: str) -> None:
    result = cli("upgrade", "--plan", "--lint", "--ddl-lock-timeout", "5", "busy@head", "-u", postgresql_url)
    assert lines_under(result.stdout, INDEX) == []
    assert result.exit_code == 7  # SET NOT NULL still scans the table; squawk cannot know it is empty


def test_lint_goes_with_plan(cli: Run, busy: Path, sqlite_url: str) -> None:
    result = cli("upgrade", "--lint", "-u", sqlite_url)
    assert result.exit_code == 2 and "--lint goes with --plan" in result.stderr
    assert version_ids(sqlite_url) == set()


@pytest.mark.parametrize("database", ["sqlite", "mysql"])
def test_lint_elsewhere_than_postgresql_says_what_can_be_known(cli: Run, busy: Path, database: str,
                                                               request: pytest.FixtureRequest,
                                                               sqlite_url: str) -> None:
    url = sqlite_url if database == "sqlite" else request.getfixturevalue("mysql_url")
    result = cli("upgrade", "--plan", "--lint", "-u", url)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("Error: --lint checks the locks PostgreSQL takes; ")
    assert len(result.stderr.splitlines()) == 1
    assert ("only running it shows" if database == "mysql" else "locks the whole database file") in result.stderr


def test_without_squawk_lint_says_how_to_install_it(tmp_path: Path) -> None:
    python = throwaway_venv(tmp_path / "venv")  # its bin holds no squawk
    env = subprocess_env(PATH=os.pathsep.join(["/usr/bin", "/bin"]))
    done = run_in_venv(python, "upgrade", "--plan", "--lint", "-u", "postgresql://nobody@127.0.0.1:1/none",
                       env=env)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == "Error: --lint needs squawk, which is not installed: pip install 'janitoo_db[lint]'\n"


@pytest.mark.server
def test_an_index_built_concurrently_in_an_autocommit_block_is_not_flagged_on_postgresql(
        cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgresql_url: str) -> None:
    root = write_extension(tmp_path / "ext", "calm", [
        ("d50000000000", ""),
        ("d50000000001", "op.create_table('calm_items', sa.Column('id', sa.Integer, primary_key=True), "
                         "sa.Column('name', sa.String(40)))"),
        ("d50000000002", "with op.get_context().autocommit_block():\n"
                         "    op.create_index('ix_calm_name', 'calm_items', ['name'], postgresql_concurrently=True)"),
        ("d50000000003", "op.create_index('ix_calm_id_name', 'calm_items', ['id', 'name'])"),
    ])
    install_extension(root, "calm", monkeypatch)
    assert cli("upgrade", "-q", "calm@d50000000001", "-u", postgresql_url).exit_code == 0
    result = cli("upgrade", "--plan", "--lint", "--ddl-lock-timeout", "5", "calm@head", "-u", postgresql_url)
    assert lines_under(result.stdout, "d50000000002") == []
    # After the block, the plan is in a transaction again, on a table that was there before it.
    assert [line.split(":")[1].strip() for line in lines_under(result.stdout, "d50000000003")] == [
        "require-concurrent-index-creation"]
    assert result.exit_code == 7
