"""The installed ``jnt_dbman`` console script, run as a real process.

CliRunner cannot show what the console script does about exit codes, a real
terminal (dropdb's confirmation) or a driver missing from the interpreter.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from conftest import EXTENSIONS_DIR, jnt_dbman_path, revision_lines, subprocess_env
from dbstate import table_names, version_ids

Jnt = Callable[..., subprocess.CompletedProcess]
HEADS = {"janitoo": "5d2f0a8c91e3", "acme_sensors": "2b3c4d5e6f70", "janitoo_template": "c3e9b5a1d274"}
ALL_TABLES = {"core_groups", "core_users", "core_groups_users", "core_settings_group", "core_settings",
              "acme_readings", "template_rooms", "template_sensors"}


def test_a_start_script_passing_lock_timeout_to_every_command_keeps_working(tmp_path: Path, jnt_dbman: Jnt) -> None:
    """--lock-timeout on checkdb, which takes no lock: same answer and exit code, a note on stderr, and the
    initdb that takes the lock still honours it and says where the database is when it has nothing to do."""
    url = f"sqlite:///{tmp_path / 'janitoo.sqlite'}"
    assert jnt_dbman("initdb", "-q", "--lock-timeout", "30", "-u", url).returncode == 0
    again = jnt_dbman("initdb", "--lock-timeout", "30", "-u", url)
    assert (again.returncode, again.stderr) == (0, "Nothing to do: every branch is at its head: 5d2f0a8c91e3 "
                                                "(janitoo), 2b3c4d5e6f70 (acme_sensors), c3e9b5a1d274 "
                                                "(janitoo_template).\n")
    checked = jnt_dbman("checkdb", "--lock-timeout", "30", "-u", url)
    assert (checked.returncode, checked.stdout) == (0, f"The database is up to date: "
                                                       f"{', '.join(sorted(HEADS.values()))}.\n")
    assert checked.stderr == ("Note: --lock-timeout is ignored: checkdb takes no lock, so it never waits for one "
                              "(the option is deprecated here and a later release will refuse it).\n")


def test_initdb_heads_checkdb_dropdb(tmp_path: Path, jnt_dbman: Jnt) -> None:
    """The README's quick start, then dropdb, through the real console script."""
    db = tmp_path / "janitoo.sqlite"
    url = f"sqlite:///{db}"

    done = jnt_dbman("initdb", "-u", url)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    err = revision_lines(done.stderr)
    assert len(err) == 8 and all(line.startswith("Applied ") for line in err), done.stderr
    assert len(done.stderr.splitlines()) == 9 and done.stderr.splitlines()[-1].startswith("Done: 8 revisions applied")
    assert "Applied 5d2f0a8c91e3 (janitoo): Store setting values as JSON" in err
    assert table_names(db, bookkeeping=False, sqlite_internal=True) == ALL_TABLES | {"alembic_version"}
    assert version_ids(db) == set(HEADS.values())

    done = jnt_dbman("heads", "-u", url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"{rev} ({branch}) (head)" for branch, rev in HEADS.items()]

    done = jnt_dbman("checkdb", "-u", url)
    assert done.returncode == 0
    assert done.stdout == f"The database is up to date: {', '.join(sorted(HEADS.values()))}.\n"

    dropped = sorted(table_names(db, sqlite_internal=True))
    done = jnt_dbman("dropdb", "--yes", "-u", url)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Dropped {len(dropped)} tables: {', '.join(dropped)}.\n"
    assert table_names(db, sqlite_internal=True) == set()

    done = jnt_dbman("checkdb", "-u", url)
    assert done.returncode not in (0, 2)  # not up to date (issue 2 said 1; see test_cli)
    assert done.stdout.startswith("The database is not up to date: it is at base; ")


def test_the_url_from_the_environment(tmp_path: Path, jnt_dbman: Jnt) -> None:
    db = tmp_path / "from env.sqlite"
    done = jnt_dbman("initdb", "-q", env=subprocess_env(JANITOO_DB_URL=f"sqlite:///{db}"))
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert version_ids(db) == set(HEADS.values())


def test_version_and_usage_error(jnt_dbman: Jnt) -> None:
    import janitoo_db

    done = jnt_dbman("--version")
    assert (done.returncode, done.stdout) == (0, f"jnt_dbman, version {janitoo_db.__version__}\n")
    done = jnt_dbman("initdb", "--no-such-option")
    assert done.returncode == 2
    assert done.stderr.startswith("Usage: jnt_dbman initdb [OPTIONS]")
    last = done.stderr.splitlines()[-1]
    assert last.startswith("Error: No such option") and "--no-such-option" in last


def test_dropdb_without_a_terminal_refuses(tmp_path: Path, jnt_dbman: Jnt, cli: Callable[..., Any]) -> None:
    db = tmp_path / "janitoo.sqlite"
    assert cli("initdb", "-q", "-u", f"sqlite:///{db}").exit_code == 0  # in-process: faster
    done = jnt_dbman("dropdb", "-u", f"sqlite:///{db}", input="y\n")  # stdin is a pipe, not a terminal
    assert done.returncode == 1
    assert done.stderr == f"Error: refusing to drop sqlite:///{db} without --yes when not run from a terminal\n"
    assert table_names(db, bookkeeping=False, sqlite_internal=True) == ALL_TABLES | {"alembic_version"}


def _dropdb_in_a_terminal(url: str, answer: bytes) -> subprocess.CompletedProcess[str]:
    """Run ``jnt_dbman dropdb`` with a pseudo-terminal as stdin and type *answer*."""
    import pty

    main_fd, terminal_fd = pty.openpty()
    try:
        process = subprocess.Popen([jnt_dbman_path(), "dropdb", "-u", url], stdin=terminal_fd,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env())
        os.close(terminal_fd)
        os.write(main_fd, answer)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        os.close(main_fd)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_dropdb_in_a_terminal_asks_first(tmp_path: Path, cli: Callable[..., Any]) -> None:
    db = tmp_path / "janitoo.sqlite"
    url = f"sqlite:///{db}"
    assert cli("initdb", "-q", "-u", url).exit_code == 0  # in-process: faster

    done = _dropdb_in_a_terminal(url, b"n\n")
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith(f"Drop every janitoo table of {url}? [y/N]: ")
    assert "Aborted" in done.stderr and "Traceback" not in done.stderr
    assert table_names(db, bookkeeping=False, sqlite_internal=True) == ALL_TABLES | {"alembic_version"}

    done = _dropdb_in_a_terminal(url, b"y\n")
    assert done.returncode == 0, done.stderr
    assert "Dropped " in done.stdout and " tables: " in done.stdout
    assert table_names(db, sqlite_internal=True) == set()


@pytest.mark.parametrize("module, url, extra", [
    ("psycopg", "postgresql://janitoo:s3cr3t@127.0.0.1:1/janitoo", "postgresql"),
    ("pymysql", "mysql://janitoo:s3cr3t@127.0.0.1:1/janitoo", "mysql"),
])
def test_a_missing_driver_names_the_extra(tmp_path: Path, jnt_dbman: Jnt, module: str, url: str, extra: str) -> None:
    """With the driver hidden from the interpreter, the error says what to pip install."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(f"import sys\nsys.modules[{module!r}] = None\n")
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(hide), str(EXTENSIONS_DIR)]))
    done = jnt_dbman("initdb", "-u", url, env=env)
    assert done.returncode == 1
    err = done.stderr.splitlines()
    assert len(err) == 1 and err[0].startswith("Error: "), done.stderr
    assert f"'{module}'" in err[0]
    assert err[0].endswith(f"pip install 'janitoo_db[{extra}]'")
    assert "s3cr3t" not in done.stderr and "Traceback" not in done.stderr


def test_a_reader_that_goes_away_ends_it_quietly(tmp_path: Path) -> None:
    """jnt_dbman history | head: no traceback, no error line, exit status 1 as Python tools do."""
    process = subprocess.Popen([jnt_dbman_path(), "history"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=subprocess_env())
    assert process.stdout is not None
    process.stdout.close()  # before jnt_dbman has written anything
    _, err = process.communicate(timeout=60)
    assert (process.returncode, err) == (1, b"")
