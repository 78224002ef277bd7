"""The rest of Alembic's verbs: stamp, merge, offline --sql, and --json for scripts."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Callable

import pytest
from click.testing import Result

from conftest import subprocess_env, write_extension, write_revision

CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD = "5d2f0a8c91e3", "c3e9b5a1d274", "2b3c4d5e6f70"
Cli = Callable[..., Result]


def test_upgrade_sql_does_not_touch_the_database(cli: Cli, tmp_path: Path) -> None:
    """The script is printed, the SQLite file is never created, and the script builds the database."""
    target = tmp_path / "never.sqlite"
    result = cli("upgrade", "--sql", "-u", f"sqlite:///{target}")
    assert result.exit_code == 0, result.stderr
    assert not target.exists()
    assert "CREATE TABLE core_users" in result.stdout
    assert f"UPDATE alembic_version SET version_num='{CORE_HEAD}'" in result.stdout
    built = tmp_path / "from_script.sqlite"
    with sqlite3.connect(built) as db:
        db.executescript(result.stdout)
        settings = dict(db.execute("SELECT key, value FROM core_settings"))
        version = {row[0] for row in db.execute("SELECT version_num FROM alembic_version")}
    assert settings["posts_per_page"] == "10" and settings["project_title"] == '"Janitoo"'
    assert version == {CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD}


def test_sql_on_servers_needs_no_server(cli: Cli) -> None:
    """Offline mode never connects: an unreachable PostgreSQL or MySQL URL is fine."""
    for url in ("postgresql://u:pw@unreachable.invalid/db", "mysql://u:pw@unreachable.invalid/db"):
        result = cli("upgrade", "--sql", "-u", url)
        assert result.exit_code == 0, result.stderr
        assert "CREATE TABLE core_users" in result.stdout


def test_downgrade_sql_needs_a_range(cli: Cli, sqlite_url: str) -> None:
    result = cli("downgrade", "--sql", "-u", sqlite_url)
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: downgrade --sql needs a range FROM:TO, not 'base'"
    ranged = cli("downgrade", "--sql", f"{TEMPLATE_HEAD}:janitoo_template@base", "-u", sqlite_url)
    assert ranged.exit_code == 0, ranged.stderr
    assert "DROP TABLE template_sensors" in ranged.stdout


def test_stamp(cli: Cli, sqlite_url: str) -> None:
    assert cli("stamp", "heads", "-u", sqlite_url).exit_code == 0
    assert set(cli("versiondb", "-u", sqlite_url).stdout.split()) == {CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD}
    assert cli("checkdb", "-u", sqlite_url).exit_code == 0
    down = cli("stamp", "janitoo_template@base", "-u", sqlite_url)
    assert down.exit_code == 0
    assert TEMPLATE_HEAD not in cli("versiondb", "-u", sqlite_url).stdout
    assert cli("stamp", "nosuch@head", "-u", sqlite_url).exit_code == 1


def test_json_outputs(cli: Cli, sqlite_url: str) -> None:
    assert cli("initdb", "-q", "-u", sqlite_url).exit_code == 0
    heads = json.loads(cli("heads", "--json", "-u", sqlite_url).stdout)
    assert [h["revision"] for h in heads] == [CORE_HEAD, ACME_HEAD, TEMPLATE_HEAD]
    assert heads[0]["branches"] == ["janitoo"] and heads[0]["is_head"] is True
    history = json.loads(cli("history", "--json", "-r", "janitoo_template:", "-u", sqlite_url).stdout)
    assert [h["message"] for h in history] == ["Initial import", "Create janitoo_template branch"]
    current = json.loads(cli("current", "--json", "-u", sqlite_url).stdout)
    assert {c["revision"] for c in current} == {CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD}
    assert set(json.loads(cli("versiondb", "--json", "-u", sqlite_url).stdout)) == {CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD}
    check = json.loads(cli("checkdb", "--json", "-u", sqlite_url).stdout)
    assert check["up_to_date"] is True and check["pending"] == []
    cli("downgrade", "-q", "acme_sensors@base", "-u", sqlite_url)
    behind = cli("checkdb", "--json", "-u", sqlite_url)
    assert behind.exit_code == 3
    assert json.loads(behind.stdout)["pending"] == [ACME_HEAD]


def test_merge_two_heads_of_one_branch(tmp_path: Path,
                                       jnt_dbman: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    """A branch that grew two heads (two authors at once) is merged back into one."""
    root = write_extension(tmp_path / "ext", "forked", [("c10000000001", ""), ("c10000000002", "")])
    versions = root / "forked" / "models" / "forked"
    write_revision(versions, "c10000000003", "c10000000001", "Other head")
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    url = f"sqlite:///{tmp_path / 'fork.sqlite'}"
    assert "c10000000002" in jnt_dbman("heads", "-u", url, env=env).stdout
    merged = jnt_dbman("merge", "-m", "join forked heads", "c10000000002", "c10000000003", "-u", url, env=env)
    assert merged.returncode == 0, merged.stderr
    path = Path(merged.stdout.strip().removeprefix("Generated "))
    assert path.parent == versions
    assert "('c10000000002', 'c10000000003')" in path.read_text()
    heads = jnt_dbman("heads", "-u", url, env=env).stdout
    assert "c10000000002" not in heads and "c10000000003" not in heads
    assert jnt_dbman("initdb", "-q", "-u", url, env=env).returncode == 0
    assert jnt_dbman("checkdb", "-u", url, env=env).returncode == 0


@pytest.mark.parametrize("verb", ["stamp", "merge"])
def test_verbs_need_revisions(cli: Cli, sqlite_url: str, verb: str) -> None:
    assert cli(verb, "-u", sqlite_url).exit_code == 2
