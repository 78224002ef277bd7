"""Orphaned and foreign heads, refusing to remove a branch others need, --plan, exit codes and
inferred dependencies."""
from __future__ import annotations

import ast
import json
import os
import subprocess
from pathlib import Path
from typing import Callable

from click.testing import Result

from conftest import subprocess_env, write_extension, write_revision
from dbstate import version_ids

Run = Callable[..., subprocess.CompletedProcess[str]]
CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD = "5d2f0a8c91e3", "c3e9b5a1d274", "2b3c4d5e6f70"


def env_with(*roots: Path) -> dict[str, str]:
    return subprocess_env(PYTHONPATH=os.pathsep.join([*map(str, roots), subprocess_env()["PYTHONPATH"]]))


def test_uninstalled_extension_is_reported_by_name(tmp_path: Path, jnt_dbman: Run) -> None:
    root = write_extension(tmp_path / "ext", "gone", [("f10000000001", ""), ("f10000000002", "")])
    url = f"sqlite:///{tmp_path / 'orphan.sqlite'}"
    assert jnt_dbman("initdb", "-q", "-u", url, env=env_with(root)).returncode == 0
    # Uninstalled: the same machine without the extension on the path.
    check = jnt_dbman("checkdb", "-u", url)
    assert check.returncode == 5
    assert "Orphaned head f10000000002 (gone): the extension gone is not installed." in check.stdout.splitlines()
    current = jnt_dbman("current", "-u", url)
    assert current.returncode == 0
    assert "f10000000002 (gone) (orphaned): the extension gone is not installed" in current.stdout.splitlines()
    as_json = json.loads(jnt_dbman("checkdb", "--json", "-u", url).stdout)
    assert as_json["orphans"] == [{"revision": "f10000000002", "branch": "gone", "installed": False}]
    assert as_json["pending"] == []
    start = jnt_dbman("initdb", "-u", url)
    assert start.returncode == 1
    assert start.stderr.strip() == (
        "Error: the database holds f10000000002 (gone): the extension gone is not installed; "
        "install gone again and run 'jnt_dbman downgrade gone@base', or forget it ('jnt_dbman forget gone')")


def test_database_from_a_newer_release(tmp_path: Path, jnt_dbman: Run) -> None:
    newer = write_extension(tmp_path / "newer", "evolving", [("f20000000001", ""), ("f20000000002", "")])
    older = write_extension(tmp_path / "older", "evolving", [("f20000000001", "")])
    url = f"sqlite:///{tmp_path / 'newer.sqlite'}"
    assert jnt_dbman("initdb", "-q", "-u", url, env=env_with(newer)).returncode == 0
    check = jnt_dbman("checkdb", "-u", url, env=env_with(older))
    assert check.returncode == 5
    assert ("Orphaned head f20000000002 (evolving): the installed evolving does not have it; "
            "the database was migrated by a newer release.") in check.stdout.splitlines()
    assert "missing heads" not in check.stdout


def test_branch_with_two_heads_exits_5(tmp_path: Path, jnt_dbman: Run) -> None:
    root = write_extension(tmp_path / "ext", "split", [("f30000000001", ""), ("f30000000002", "")])
    write_revision(root / "split" / "models" / "split", "f30000000003", "f30000000001", "Other")
    url = f"sqlite:///{tmp_path / 'split.sqlite'}"
    assert jnt_dbman("initdb", "-q", "-u", url, env=env_with(root)).returncode == 0
    check = jnt_dbman("checkdb", "-u", url, env=env_with(root))
    assert check.returncode == 5
    assert "Branch split has more than one head: merge them with 'jnt_dbman merge'." in check.stdout


def test_downgrade_refuses_while_others_depend(cli: Callable[..., Result], sqlite_url: str) -> None:
    assert cli("initdb", "-q", "-u", sqlite_url).exit_code == 0
    refused = cli("downgrade", "janitoo@base", "-u", sqlite_url)
    assert refused.exit_code == 1
    assert refused.stderr.strip() == (
        "Error: downgrading to janitoo@base would also undo revisions of other branches that depend on it, "
        "and drop what they hold: acme_sensors (2b3c4d5e6f70); downgrade those first (for example: "
        "jnt_dbman downgrade acme_sensors@base), or give --cascade to undo them too")
    assert version_ids(sqlite_url) == {CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD}
    assert cli("downgrade", "-q", "acme_sensors@base", "-u", sqlite_url).exit_code == 0
    assert cli("downgrade", "-q", "janitoo@base", "-u", sqlite_url).exit_code == 0
    assert version_ids(sqlite_url) == {TEMPLATE_HEAD}


def test_plan_changes_nothing(cli: Callable[..., Result], tmp_path: Path) -> None:
    target = tmp_path / "planned.sqlite"
    url = f"sqlite:///{target}"
    planned = cli("upgrade", "--plan", "-u", url)
    assert planned.exit_code == 0
    lines = [line for line in planned.stdout.splitlines() if not line.startswith("  ")]
    assert len(lines) == 8
    assert "upgrade 1266567cc97f (janitoo): Initial import" in lines
    assert lines.index("upgrade 1266567cc97f (janitoo): Initial import") < lines.index(
        "upgrade 2b3c4d5e6f70 (acme_sensors): Readings")
    assert not target.exists()

    assert cli("initdb", "-q", "-u", url).exit_code == 0
    assert cli("upgrade", "--plan", "-u", url).stdout.startswith("Nothing to do: every branch is at its head: ")
    with_sql = cli("downgrade", "--plan", "--sql", "acme_sensors@base", "-u", url)
    assert with_sql.exit_code == 0
    assert with_sql.stdout.startswith("downgrade 2b3c4d5e6f70 (acme_sensors): Readings\n")
    assert "DROP TABLE acme_readings;" in with_sql.stdout
    assert version_ids(url) == {CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD}


def test_exit_codes_are_documented(cli: Callable[..., Result]) -> None:
    text = cli("--help").stdout
    for line in ("0  success, or already up to date", "1  error (one line on stderr says what)", "2  usage error",
                 "3  checkdb: revisions are pending", "4  check: models and database differ",
                 "5  checkdb: orphaned head, a branch with more than one head,"):
        assert line in text
    assert cli("upgrade", "--no-such-option").exit_code == 2


def test_foreign_key_to_another_extension_infers_dependency(tmp_path: Path, jnt_dbman: Run) -> None:
    root = write_extension(tmp_path / "ext", "linker", [("f40000000001", "")], models="""
class Note(Base):
    __tablename__ = "linker_notes"
    id = sa.Column(sa.Integer, primary_key=True)
    user_id = sa.Column(sa.Integer, sa.ForeignKey("core_users.id"))
    room_id = sa.Column(sa.Integer, sa.ForeignKey("template_rooms.id"))
""")
    env = env_with(root)
    url = f"sqlite:///{tmp_path / 'fk.sqlite'}"
    assert jnt_dbman("initdb", "-q", "-u", url, env=env).returncode == 0
    made = jnt_dbman("generate", "-m", "Notes", "--head", "linker", "-u", url, env=env)
    assert made.returncode == 0, made.stderr
    # The revision that created core_users, not the core's newest head.
    assert "It depends on 1266567cc97f (janitoo): a new foreign key points at core_users." in made.stderr
    assert f"It depends on {TEMPLATE_HEAD} (janitoo_template): a new foreign key points at template_rooms." \
        in made.stderr
    source = Path(made.stdout.strip().removeprefix("Generated ")).read_text()
    recorded = next(line for line in source.splitlines() if line.startswith("depends_on = "))
    assert set(ast.literal_eval(recorded.removeprefix("depends_on = "))) == {"1266567cc97f", TEMPLATE_HEAD}
    assert jnt_dbman("upgrade", "-q", "-u", url, env=env).returncode == 0
    assert jnt_dbman("checkdb", "-u", url, env=env).returncode == 0
    assert jnt_dbman("check", "linker", "-u", url, env=env).returncode == 0
