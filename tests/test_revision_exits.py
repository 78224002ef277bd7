"""Revision code that raises SystemExit, KeyboardInterrupt or another BaseException, and files Python cannot load.

Whatever a revision raises, in ``upgrade()``, ``downgrade()`` or while its
file is loaded, the command has failed: exit code 1, one line naming the
revision file, and the run rolled back where the database can (SQLite,
PostgreSQL).  Never exit code 0, never a traceback.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Callable

import pytest
from click.testing import Result

from conftest import install_extension, subprocess_env, write_extension
from dbstate import table_names, version_ids

Run = Callable[..., Result]
RUN = Callable[..., subprocess.CompletedProcess[str]]

FIRST = ("e90000000001", "op.create_table('halt_one', sa.Column('id', sa.Integer, primary_key=True))",
         "op.drop_table('halt_one')")
#: What a revision may raise, as written in its code; each stops the program if nobody catches it.
RAISED = {
    "SystemExit(0)": "raise SystemExit(0)",
    "SystemExit()": "raise SystemExit",
    "sys.exit()": "import sys\nsys.exit()",
    "KeyboardInterrupt": "raise KeyboardInterrupt",
    "BaseException": "class Stop(BaseException):\n    pass\nraise Stop('stop here')",
}


def halting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, upgrade: str = "", downgrade: str = "") -> Path:
    """Install extension halt: a table, then a revision whose upgrade (or downgrade) runs the code given."""
    root = write_extension(tmp_path / "ext", "halt", [
        FIRST,
        ("e90000000002", "op.create_table('halt_two', sa.Column('id', sa.Integer, primary_key=True))\n" + upgrade,
         downgrade + "\nop.drop_table('halt_two')"),
    ])
    directory = install_extension(root, "halt", monkeypatch)
    return next(directory.glob("e90000000002_*.py"))


def one_error(result: Result) -> str:
    """The one error line of a failed command (a migration's progress lines may come before it)."""
    assert result.exit_code == 1, (result.stdout, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and result.stderr.splitlines()[-1] == errors[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return errors[0]


@pytest.mark.parametrize("raised", RAISED)
def test_a_revision_stopping_its_upgrade_fails_initdb_and_is_rolled_back(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raised: str) -> None:
    path = halting(tmp_path, monkeypatch, upgrade=RAISED[raised])
    line = one_error(cli("initdb", "-u", any_url))
    assert f"revision e90000000002 (halt, {path}) failed: " in line, line
    assert raised.split("(")[0].replace("sys.exit", "SystemExit") in line or "Stop(stop here)" in line, line
    if any_url.startswith("mysql"):
        # MariaDB commits each DDL statement: the revisions before it stay; the failing one's table is undone.
        assert "; undone: dropped table halt_two; the database is at " in line and "e90000000001" in line, line
        assert line.endswith("(MySQL/MariaDB commit each DDL statement: the revisions before the failing one stay "
                             "applied, and nothing of it stays)"), line
        assert "e90000000002" not in version_ids(any_url) and "halt_two" not in table_names(any_url)
        assert cli("checkdb", "-u", any_url).exit_code == 3  # pending, not interrupted
    else:
        assert "rolled back, so nothing this command did was kept" in line
        assert not {"halt_one", "halt_two", "core_users"} & table_names(any_url)
        assert version_ids(any_url) == set()
    checked = cli("checkdb", "-u", any_url)
    assert checked.exit_code != 0


def test_a_revision_stopping_its_downgrade_fails_downgrade(
        cli: Run, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = halting(tmp_path, monkeypatch, downgrade="raise SystemExit(0)")
    assert cli("initdb", "-u", any_url).exit_code == 0
    line = one_error(cli("downgrade", "halt@base", "-u", any_url))
    assert f"revision e90000000002 (halt, {path}) failed: SystemExit(0)" in line, line
    assert "e90000000002" in version_ids(any_url)
    if not any_url.startswith("mysql"):
        assert {"halt_one", "halt_two"} <= table_names(any_url)


def test_the_installed_jnt_dbman_exits_1_on_a_revision_exiting_0(tmp_path: Path, jnt_dbman: RUN) -> None:
    root = write_extension(tmp_path / "ext", "halt", [FIRST, ("e90000000002", "raise SystemExit(0)")])
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    url = f"sqlite:///{tmp_path / 'halt.sqlite'}"
    done = jnt_dbman("initdb", "-u", url, env=env)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "SystemExit(0)" in done.stderr and "e90000000002_step_1.py" in done.stderr
    assert jnt_dbman("checkdb", "-u", url, env=env).returncode == 3


@pytest.mark.parametrize("raised", RAISED)
@pytest.mark.parametrize("command", ["checkdb", "initdb", "heads"])
def test_a_revision_file_stopping_as_it_loads_fails_every_command(
        cli: Run, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raised: str,
        command: str) -> None:
    path = halting(tmp_path, monkeypatch)
    path.write_text(path.read_text() + "\n" + RAISED[raised] + "\n")
    line = one_error(cli(command, "-u", sqlite_url))
    assert line.startswith(f"Error: revision file {path} failed as it was loaded: "), line
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()


def test_a_library_caller_gets_an_error_not_an_exit(sqlite_url: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from janitoo_db.errors import MigrationError, RevisionError
    from janitoo_db.migrate import Config

    path = halting(tmp_path, monkeypatch, upgrade="raise SystemExit(0)")
    with pytest.raises(MigrationError, match="SystemExit"):
        Config(url=sqlite_url).initdb()
    path.write_text(path.read_text() + "\nraise SystemExit(0)\n")
    with pytest.raises(RevisionError, match="failed as it was loaded"):
        Config(url=sqlite_url).checkdb()


def test_a_dry_run_of_a_revision_exiting_is_not_checked(cli: Run, sqlite_url: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    halting(tmp_path, monkeypatch, upgrade="raise SystemExit(0)")
    planned = cli("upgrade", "--plan", "-u", sqlite_url)
    assert planned.exit_code == 0
    assert "not checked: its dry run" in planned.stdout and "SystemExit" in planned.stdout
    refused = one_error(cli("initdb", "--no-destructive", "-u", sqlite_url))
    assert "e90000000002 (halt): not checked" in refused
    assert "SystemExit(0)" in one_error(cli("upgrade", "--sql", "-u", sqlite_url))


@pytest.mark.parametrize("content, expected", [
    (b"\x00", "source code string cannot contain null bytes"),
    (b"def upgrade(:\n", "syntax error in revision file {path}, line"),
    (b"\xff\xfe not utf-8\n", "syntax error in revision file {path}"),
    (b"# -*- coding: no-such-codec -*-\n", "syntax error in revision file {path}"),
    (b"import janitoo_db_no_such_module\n", "failed as it was loaded: ModuleNotFoundError"),
    (b"\tx = 1\n y = 2\n", "syntax error in revision file {path}"),
])
@pytest.mark.parametrize("cache", ["on", "off"])
def test_every_error_about_a_revision_file_names_it(cli: Run, sqlite_url: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch, content: bytes,
                                                    expected: str, cache: str) -> None:
    if cache == "off":
        monkeypatch.setenv("JANITOO_DB_CACHE_DIR", "")
    path = halting(tmp_path, monkeypatch)
    source = path.read_bytes()
    path.write_bytes(content + source if content.startswith(b"#") else source + b"\n" + content)
    line = one_error(cli("checkdb", "-u", sqlite_url))
    assert str(path) in line, line
    assert expected.format(path=path) in line, line
    assert "None" not in line


def test_a_system_exit_from_anything_a_command_runs_is_a_failure(cli: Run, sqlite_url: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's last line: code outside a migration (a hook, an extension's module) that calls sys.exit(0)."""
    from janitoo_db import commands

    def exits(*args: object, **kwargs: object) -> None:
        raise SystemExit(0)

    monkeypatch.setattr(commands, "heads", exits)
    line = one_error(cli("heads", "-u", sqlite_url))
    assert line.startswith("Error: unexpected SystemExit(0) from code a command ran: the command did not finish")
