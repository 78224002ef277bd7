"""The rest of Alembic's verbs: stamp, merge, offline --sql, and --json for scripts; Alembic's habits."""
from __future__ import annotations

import json
import os
import re
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


# -- Alembic's habits: what its users type -------------------------------------------------------

GENERATE = "jnt_dbman generate -m MESSAGE --head NAME"


@pytest.mark.parametrize("verb, hint", [
    ("revision", f"Did you mean 'generate'? It writes a revision for one extension: {GENERATE}."),
    ("migrate", f"Did you mean 'generate'? It writes a revision for one extension: {GENERATE} "
                "('upgrade' or 'initdb' applies revisions)."),
    ("init", f"janitoo_db needs no migration directory: '{GENERATE}' starts an extension's branch, "
             "'jnt_dbman initdb' builds the database."),
    ("edit", "Open the file 'jnt_dbman show REVISION' names on its Path: line."),
    ("ensure_version", "'jnt_dbman initdb' creates alembic_version along with the tables; 'jnt_dbman stamp' "
                       "records revisions without running them."),
    ("list-templates", "jnt_dbman writes revisions with janitoo_db's own template; there is none to choose."),
])
def test_alembic_verbs_that_are_not_ours_name_the_command_to_run(cli: Cli, verb: str, hint: str) -> None:
    result = cli(verb, "--autogenerate", "-m", "x")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.splitlines()[-1] == f"Error: No such command {verb!r}. {hint}"


def test_revision_names_generate_from_the_console_script(
        jnt_dbman: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    done = jnt_dbman("revision", "--autogenerate", "-m", "add rooms")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines()[-1] == ("Error: No such command 'revision'. Did you mean 'generate'? It writes a "
                                            f"revision for one extension: {GENERATE}.")


def test_downgrade_minus_one_steps_back_from_a_single_head(
        jnt_dbman: Callable[..., subprocess.CompletedProcess[str]], sqlite_url: str) -> None:
    """downgrade -1 (and -- -1) as Alembic reads it; from several heads, which branch is meant is asked for."""
    assert jnt_dbman("initdb", "-q", "-u", sqlite_url).returncode == 0
    for args in (["-1"], ["--", "-1"], ["--plan", "-1"]):
        refused = jnt_dbman("downgrade", "-u", sqlite_url, *args)
        assert (refused.returncode, refused.stdout) == (1, "")
        assert refused.stderr == ("Error: -1 is ambiguous: the database is at the heads of several branches "
                                  "(janitoo, acme_sensors, janitoo_template); name one, as in "
                                  "'jnt_dbman downgrade janitoo@-1'\n")
    assert set(jnt_dbman("versiondb", "-u", sqlite_url).stdout.split()) == {CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD}

    for branch in ("acme_sensors", "janitoo_template"):
        assert jnt_dbman("downgrade", "-q", f"{branch}@base", "-u", sqlite_url).returncode == 0
    stepped = jnt_dbman("downgrade", "-1", "-u", sqlite_url)
    assert stepped.returncode == 0, stepped.stderr
    assert stepped.stderr.splitlines()[0] == "[1/1] Reverted 5d2f0a8c91e3 (janitoo): Store setting values as JSON"
    after_dashes = jnt_dbman("downgrade", "-q", "-u", sqlite_url, "--", "-1")
    assert (after_dashes.returncode, after_dashes.stderr) == (0, "")
    assert jnt_dbman("versiondb", "-u", sqlite_url).stdout == "1266567cc97f\n"


def test_downgrade_minus_one_leaves_other_options_alone(cli: Cli, sqlite_url: str) -> None:
    """A number that is an option's value stays one; an unknown option is still refused."""
    timeout = cli("downgrade", "--lock-timeout", "-1", "-u", sqlite_url)
    assert timeout.exit_code == 2
    assert timeout.stderr.splitlines()[-1] == ("Error: Invalid value for '--lock-timeout': "
                                               "-1.0 is not in the range x>=0.")
    unknown = cli("downgrade", "-1", "--bogus", "-u", sqlite_url)
    assert unknown.exit_code == 2
    # click 8.2 says "No such option: --bogus"; later releases "No such option '--bogus'."
    assert re.fullmatch(r"Error: No such option(: --bogus| '--bogus'\.)", unknown.stderr.splitlines()[-1])


def test_current_in_history_ranges_and_show(cli: Cli, sqlite_url: str, tmp_path: Path) -> None:
    """current is the revisions the database is at, as in Alembic: current: starts from them, :current ends there."""
    assert cli("upgrade", "-q", "1266567cc97f", "-u", sqlite_url).exit_code == 0
    assert cli("upgrade", "-q", "8f41c2d7a9b0", "-u", sqlite_url).exit_code == 0
    ahead = cli("history", "-r", "current:", "-u", sqlite_url)
    assert ahead.exit_code == 0, ahead.stderr
    assert ahead.stdout.splitlines() == [
        "33b95995b188 -> 5d2f0a8c91e3 (janitoo) (head), Store setting values as JSON",
        "1266567cc97f -> 33b95995b188 (janitoo), Initial data",
        "3b5854d25914 -> 1266567cc97f (janitoo), Initial import",
        "8f41c2d7a9b0 -> c3e9b5a1d274 (janitoo_template) (head), Initial import",
        "<base> -> 8f41c2d7a9b0 (janitoo_template), Create janitoo_template branch",
    ]
    behind = cli("history", "-r", ":current", "-u", sqlite_url)
    assert behind.exit_code == 0, behind.stderr
    assert behind.stdout.splitlines() == [
        "3b5854d25914 -> 1266567cc97f (janitoo), Initial import",
        "<base> -> 3b5854d25914 (janitoo), Create janitoo main branch",
        "<base> -> 8f41c2d7a9b0 (janitoo_template), Create janitoo_template branch",
    ]
    shown = cli("show", "current", "-u", sqlite_url)
    assert shown.exit_code == 0, shown.stderr
    assert [line for line in shown.stdout.splitlines() if line.startswith("Rev: ")] == [
        "Rev: 1266567cc97f (janitoo)", "Rev: 8f41c2d7a9b0 (janitoo_template)"]

    empty = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    for args, asked, otherwise in ((["history", "-r", "current:"], "history -r current:", " (or base in its place)"),
                                   (["show", "current"], "show current", "")):
        refused = cli(*args, "-u", empty)
        assert (refused.exit_code, refused.stdout) == (1, "")
        assert refused.stderr == (f"Error: the database has no revision yet (base), so 'current' in '{asked}' "
                                  f"denotes nothing; run 'jnt_dbman initdb' first{otherwise}\n")
    assert not (tmp_path / "empty.sqlite").exists()
