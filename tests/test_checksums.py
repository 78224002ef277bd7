"""Applied revisions cannot be edited silently: checkdb reports a changed file (exit 6) until it is accepted."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest
from click.testing import Result

from conftest import install_extension, jnt_dbman_path, subprocess_env, write_extension, write_revision
from dbstate import connected, rows, table_names, version_ids

Run = Callable[..., Result]
CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD = "5d2f0a8c91e3", "c3e9b5a1d274", "2b3c4d5e6f70"
#: Every revision installed with the tests' extensions, and its branch.
BRANCHES = {**dict.fromkeys(["3b5854d25914", "1266567cc97f", "33b95995b188", CORE_HEAD], "janitoo"),
            **dict.fromkeys(["8f41c2d7a9b0", TEMPLATE_HEAD], "janitoo_template"),
            **dict.fromkeys(["1a2b3c4d5e6f", ACME_HEAD], "acme_sensors")}
BUILTIN = set(BRANCHES)
ROOT, FIRST, SECOND = "e1a000000000", "e1b000000000", "e1c000000000"
REVIEW = "Review the changes, then record the files as they are now with 'jnt_dbman accept'."
NOTICE = ("Recorded the checksums of {} applied revisions that had none (migrated before janitoo_db kept them), "
          "from their files as they are now: 'jnt_dbman checkdb' reports any later edit.")


@pytest.fixture
def edits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed extension 'edits' of three revisions; returns its version directory."""
    root = write_extension(tmp_path / "ext", "edits", [
        (ROOT, ""),
        (FIRST, "op.create_table('edits_items', sa.Column('id', sa.Integer, primary_key=True))",
         "op.drop_table('edits_items')"),
        (SECOND, ""),
    ])
    return install_extension(root, "edits", monkeypatch)


def file_of(versions: Path, revision: str) -> Path:
    return next(versions.glob(f"{revision}_*.py"))


def edit(path: Path, line: str = "# edited after it was applied") -> str:
    """Append a line to a revision file; return its path as checkdb names it."""
    path.write_text(path.read_text() + line + "\n")
    return os.path.realpath(path)


def recorded(url: str) -> dict[str, str]:
    return {revision: branch for revision, branch in rows(url, "SELECT revision, branch FROM janitoo_db_checksums")}


def drop_checksums(url: str) -> None:
    """What a database migrated by janitoo_db before it kept checksums looks like."""
    with connected(url) as connection:
        connection.exec_driver_sql("DROP TABLE janitoo_db_checksums")


def test_an_edited_revision_is_reported_until_accepted(cli: Run, any_url: str, edits: Path) -> None:
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    assert recorded(any_url) == {**BRANCHES, ROOT: "edits", FIRST: "edits", SECOND: "edits"}
    assert cli("checkdb", "-u", any_url).exit_code == 0

    # Line endings do not count: CRLF, or CR alone, is the same file.
    second = file_of(edits, SECOND)
    second.write_bytes(second.read_bytes().replace(b"\n", b"\r\n"))
    root = file_of(edits, ROOT)
    root.write_bytes(root.read_bytes().replace(b"\n", b"\r"))
    assert cli("checkdb", "-u", any_url).exit_code == 0

    path = edit(file_of(edits, FIRST))
    check = cli("checkdb", "-u", any_url)
    assert check.exit_code == 6
    # Exit 6 is not "up to date": the first line already says what the next ones list.
    assert check.stdout.splitlines() == [
        f"The database is at the head of every branch ({ACME_HEAD}, {CORE_HEAD}, {TEMPLATE_HEAD}, {SECOND}), "
        "but revisions it ran were edited since:",
        f"Edited since it was applied: {FIRST} (edits): {path}.",
        REVIEW]
    as_json = json.loads(cli("checkdb", "--json", "-u", any_url).stdout)
    assert as_json["edited"] == [{"revision": FIRST, "branch": "edits", "path": path}]
    assert as_json["up_to_date"] is True and as_json["pending"] == []

    accepted = cli("accept", "-u", any_url)
    assert (accepted.exit_code, accepted.stdout) == (0, f"Accepted {FIRST} (edits): {path}.\n"), accepted.stderr
    assert cli("checkdb", "-u", any_url).exit_code == 0
    again = cli("accept", "--json", "-u", any_url)
    assert (again.exit_code, json.loads(again.stdout)) == (0, [])
    assert cli("accept", "-u", any_url).stdout == (
        "Nothing to accept: no applied revision's file changed since it was applied.\n")


def test_accept_only_the_revisions_named(cli: Run, any_url: str, edits: Path) -> None:
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    first, second = edit(file_of(edits, FIRST)), edit(file_of(edits, SECOND))
    assert cli("checkdb", "-u", any_url).stdout.splitlines()[1:] == [
        f"Edited since it was applied: {FIRST} (edits): {first}.",
        f"Edited since it was applied: {SECOND} (edits): {second}.", REVIEW]

    # A prefix of the id is enough; the answer names the whole id.
    accepted = cli("accept", "--json", SECOND[:8], "-u", any_url)
    assert accepted.exit_code == 0, accepted.stdout
    assert json.loads(accepted.stdout) == [{"revision": SECOND, "branch": "edits", "path": second}]
    check = cli("checkdb", "-u", any_url)
    assert check.exit_code == 6
    assert check.stdout.splitlines()[1:] == [f"Edited since it was applied: {FIRST} (edits): {first}.", REVIEW]

    unchanged = cli("accept", SECOND, FIRST, "-u", any_url)
    assert unchanged.exit_code == 1
    assert unchanged.stderr == (f"Error: revision {SECOND} (edits) has not changed since it was applied: "
                                f"there is nothing to accept; edited: {FIRST}\n")
    unknown = cli("accept", "0badc0ffee00", "-u", any_url)
    assert unknown.exit_code == 1 and unknown.stderr.startswith("Error: ") and "0badc0ffee00" in unknown.stderr
    label = cli("accept", "edits", "-u", any_url)
    assert label.exit_code == 1
    assert label.stderr == ("Error: 'edits' is not the id of an installed revision; 'jnt_dbman checkdb' lists "
                            "the edited ones\n")
    assert cli("checkdb", "-u", any_url).exit_code == 6  # nothing was recorded by the refusals

    assert cli("downgrade", "-q", f"{FIRST}", "-u", any_url).exit_code == 0
    edit(file_of(edits, SECOND), "# edited again")
    not_applied = cli("accept", SECOND, "-u", any_url)
    assert not_applied.exit_code == 1
    assert not_applied.stderr == f"Error: revision {SECOND} (edits) is not applied: there is nothing to accept\n"


def test_a_revision_is_recorded_as_it_ran(cli: Run, any_url: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that changes while its revision runs is recorded as it ran: checkdb then sees the change."""
    root = write_extension(tmp_path / "ext", "selfish", [
        ("e2000000000a", ""),
        ("e2000000000b", "with open(__file__, 'a') as own:\n    own.write('# written while it ran\\n')"),
    ])
    install_extension(root, "selfish", monkeypatch)
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    path = os.path.realpath(next((root / "selfish" / "models" / "selfish").glob("e2000000000b_*.py")))
    check = cli("checkdb", "-u", any_url)
    assert check.exit_code == 6
    assert f"Edited since it was applied: e2000000000b (selfish): {path}." in check.stdout.splitlines()


def test_downgrade_forgets_and_upgrade_records_again(cli: Run, any_url: str, edits: Path) -> None:
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    edit(file_of(edits, SECOND))
    assert cli("checkdb", "-u", any_url).exit_code == 6
    assert cli("downgrade", "-q", "edits@base", "-u", any_url).exit_code == 0
    assert set(recorded(any_url)) == BUILTIN
    assert cli("checkdb", "-u", any_url).exit_code == 3
    # Applied again, the edited file is what ran: nothing to report.
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    assert set(recorded(any_url)) == BUILTIN | {ROOT, FIRST, SECOND}
    assert cli("checkdb", "-u", any_url).exit_code == 0


def test_a_database_migrated_before_checksums_gets_them_once(cli: Run, any_url: str, edits: Path) -> None:
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    drop_checksums(any_url)
    edit(file_of(edits, FIRST))  # before janitoo_db knew the file: it cannot tell
    assert cli("checkdb", "-u", any_url).exit_code == 0
    assert "janitoo_db_checksums" not in table_names(any_url)

    # A start that has nothing to migrate records them, and says so, even with -q.
    start = cli("initdb", "-q", "-u", any_url)
    assert (start.exit_code, start.stderr) == (0, NOTICE.format(11) + "\n")
    assert set(recorded(any_url)) == BUILTIN | {ROOT, FIRST, SECOND}
    again = cli("initdb", "-u", any_url)
    assert again.exit_code == 0 and again.stderr.startswith("Nothing to do: every branch is at its head: ")
    assert cli("checkdb", "-u", any_url).exit_code == 0
    edit(file_of(edits, FIRST), "# and after")
    assert cli("checkdb", "-u", any_url).exit_code == 6


def test_a_migration_that_applies_revisions_counts_only_the_earlier_ones(cli: Run, any_url: str,
                                                                        edits: Path) -> None:
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    assert cli("downgrade", "-q", "edits@-1", "-u", any_url).exit_code == 0
    drop_checksums(any_url)
    upgrade = cli("upgrade", "-u", any_url)
    assert upgrade.exit_code == 0
    assert upgrade.stderr.splitlines()[0] == f"[1/1] Applied {SECOND} (edits): Step 2 of edits"
    assert upgrade.stderr.splitlines()[-1] == NOTICE.format(10)
    assert set(recorded(any_url)) == BUILTIN | {ROOT, FIRST, SECOND}


def test_exit_codes_3_and_5_come_before_6(cli: Run, sqlite_url: str, edits: Path) -> None:
    assert cli("initdb", "-q", "-u", sqlite_url).exit_code == 0
    path = edit(file_of(edits, FIRST))
    write_revision(edits, "e1d000000000", SECOND, "Later")
    pending = cli("checkdb", "-u", sqlite_url)
    assert pending.exit_code == 3
    assert pending.stdout.splitlines()[1:] == [f"Edited since it was applied: {FIRST} (edits): {path}.", REVIEW]
    write_revision(edits, "e1e000000000", SECOND, "Another head")
    split = cli("checkdb", "--json", "-u", sqlite_url)
    assert split.exit_code == 5
    assert json.loads(split.stdout)["edited"] == [{"revision": FIRST, "branch": "edits", "path": path}]


def test_createdb_and_stamp_record_the_files(cli: Run, sqlite_url: str, edits: Path) -> None:
    assert cli("createdb", "-u", sqlite_url).exit_code == 0
    assert set(recorded(sqlite_url)) == BUILTIN | {ROOT, FIRST, SECOND}
    assert cli("stamp", "edits@base", "-u", sqlite_url).exit_code == 0
    assert set(recorded(sqlite_url)) == BUILTIN
    path = edit(file_of(edits, SECOND))
    stamped = cli("stamp", "heads", "-u", sqlite_url)
    assert (stamped.exit_code, stamped.stderr) == (0, "")
    assert set(recorded(sqlite_url)) == BUILTIN | {ROOT, FIRST, SECOND}
    assert cli("checkdb", "-u", sqlite_url).exit_code == 0
    edit(Path(path), "# once more")
    assert cli("checkdb", "-u", sqlite_url).exit_code == 6


def test_an_uninstalled_extension_keeps_its_checksums(cli: Run, sqlite_url: str, edits: Path) -> None:
    assert cli("initdb", "-q", "-u", sqlite_url).exit_code == 0
    edit(file_of(edits, FIRST))
    sys.path[:] = [entry for entry in sys.path if entry != str(edits.parents[2])]
    check = cli("checkdb", "--json", "-u", sqlite_url)
    assert check.exit_code == 5
    assert json.loads(check.stdout)["edited"] == []
    assert set(recorded(sqlite_url)) == BUILTIN | {ROOT, FIRST, SECOND}


def test_nothing_to_check_without_the_sqlite_file(cli: Run, sqlite_url: str, tmp_path: Path) -> None:
    assert cli("checkdb", "-u", sqlite_url).exit_code == 3
    assert cli("accept", "-u", sqlite_url).stdout.startswith("Nothing to accept")
    named = cli("accept", CORE_HEAD, "-u", sqlite_url)
    assert named.exit_code == 1 and named.stderr.startswith(f"Error: revision {CORE_HEAD} is not applied")
    assert not (tmp_path / "janitoo.sqlite").exists()


def test_through_the_real_jnt_dbman(tmp_path: Path, jnt_dbman: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    root = write_extension(tmp_path / "ext", "edits", [(ROOT, ""), (FIRST, "")])
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    url = f"sqlite:///{tmp_path / 'real.sqlite'}"
    assert jnt_dbman("initdb", "-q", "-u", url, env=env).returncode == 0
    drop_checksums(url)
    first = jnt_dbman("initdb", "-q", "-u", url, env=env)
    assert (first.returncode, first.stderr) == (0, NOTICE.format(10) + "\n")
    assert jnt_dbman("initdb", "-q", "-u", url, env=env).stderr == ""
    path = edit(next((root / "edits" / "models" / "edits").glob(f"{FIRST}_*.py")))
    check = jnt_dbman("checkdb", "-u", url, env=env)
    assert check.returncode == 6
    assert check.stdout.splitlines()[1:] == [f"Edited since it was applied: {FIRST} (edits): {path}.", REVIEW]
    accepted = jnt_dbman("accept", FIRST, "-u", url, env=env)
    assert (accepted.returncode, accepted.stdout) == (0, f"Accepted {FIRST} (edits): {path}.\n")
    assert jnt_dbman("checkdb", "-u", url, env=env).returncode == 0



@pytest.mark.server
def test_mariadb_keeps_the_checksums_of_what_a_killed_migration_completed(tmp_path: Path, mysql_url: str) -> None:
    """MariaDB commits each revision: its checksum goes with it, so a kill leaves none missing."""
    entered, barrier = tmp_path / "entered", tmp_path / "go"
    root = write_extension(tmp_path / "ext", "slow", [
        ("e3a000000000", ""),
        # Its DDL commits what came before (MariaDB commits before any DDL statement), then it waits.
        ("e3b000000000", "op.create_table('slow_items', sa.Column('id', sa.Integer, primary_key=True))\n"
                         f"open({str(entered)!r}, 'w').close()\n"
                         f"while not os.path.exists({str(barrier)!r}):\n    time.sleep(0.05)",
         "op.drop_table('slow_items')"),
    ])
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    process = subprocess.Popen([jnt_dbman_path(), "initdb", "-q", "-u", mysql_url], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not entered.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert entered.exists(), "initdb never reached the middle of the revision"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert version_ids(mysql_url) == {"e3a000000000"}
    assert recorded(mysql_url) == {"e3a000000000": "slow"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([jnt_dbman_path(), *args, "-u", mysql_url], env=env, capture_output=True, text=True,
                              timeout=120, input="")

    repaired = run("repair", "--yes")
    assert (repaired.returncode, repaired.stderr) == (0, "")
    barrier.touch()
    rest = run("initdb", "-q")
    assert (rest.returncode, rest.stderr) == (0, "")
    assert set(recorded(mysql_url)) == BUILTIN | {"e3a000000000", "e3b000000000"}
    assert run("checkdb").returncode == 0
