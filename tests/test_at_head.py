"""A server start with nothing to do: initdb and checkdb answer from the revision cache and sqlite3 alone.

What they print and how they exit must be what the full command prints and
how it exits, in every state of the database; where the plain case does not
hold, the full command runs.  Each state below is checked both ways: with
the short answer, and with it turned off.
"""
from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from conftest import install_extension, subprocess_env, write_extension, write_revision
from janitoo_db.site import at_head

BRANCH = "quick_ext"
REVISIONS = ["a1a1a1a1a1a1", "b2b2b2b2b2b2", "c3c3c3c3c3c3"]
TABLE = "quick_readings"


def _tree(root: Path) -> Path:
    return write_extension(root, BRANCH, [
        (REVISIONS[0], ""),
        (REVISIONS[1], f"op.create_table('{TABLE}', sa.Column('id', sa.Integer, primary_key=True))",
         f"op.drop_table('{TABLE}')"),
        (REVISIONS[2], f"op.add_column('{TABLE}', sa.Column('value', sa.Float))",
         f"op.drop_column('{TABLE}', 'value')"),
    ])


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., Result]) -> Iterator[str]:
    """A SQLite database at every head of the core branch, the tests' extensions and quick_ext; its URL."""
    install_extension(_tree(tmp_path / "site"), BRANCH, monkeypatch)
    url = f"sqlite:///{tmp_path / 'quick.sqlite'}"
    done = cli("-u", url, "initdb", "-q")
    assert done.exit_code == 0, done.output
    yield url


def _database(url: str) -> sqlite3.Connection:
    return sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What each call of the short answer returned, in order."""
    calls: list[Any] = []
    real = at_head.plainly_at_every_head

    def spy(site: Any) -> Any:
        calls.append(real(site))
        return calls[-1]

    monkeypatch.setattr(at_head, "plainly_at_every_head", spy)
    return calls


def _both_ways(cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch, answered: list[Any],
               *args: str) -> tuple[tuple[int, str, str], Any]:
    """Run ``jnt_dbman ARGS`` without the short answer, then with it: the same result both times, and the answer.

    Without it first: a command that the short answer wrongly skipped would
    find the database as the first run left it, not as the test made it.
    Only commands that change nothing in the states below are run twice.
    """
    with monkeypatch.context() as patched:
        patched.setattr(at_head, "plainly_at_every_head", lambda site: None)
        full = cli(*args)
    short = cli(*args)
    assert (short.exit_code, short.stdout, short.stderr) == (full.exit_code, full.stdout, full.stderr)
    return (short.exit_code, short.stdout, short.stderr), answered[-1]


@pytest.mark.parametrize("command", ["initdb", "checkdb"])
def test_at_every_head_the_short_answer_is_the_full_commands(site: str, cli: Callable[..., Result],
                                                              monkeypatch: pytest.MonkeyPatch, answered: list[Any],
                                                              command: str) -> None:
    (code, stdout, stderr), answer = _both_ways(cli, monkeypatch, answered, "-u", site, command)
    assert code == 0
    assert answer is not None
    heads = {head.revision: head.branches for head in answer.heads}
    assert heads[REVISIONS[-1]] == (BRANCH,) and heads["5d2f0a8c91e3"] == ("janitoo",)
    assert f"{REVISIONS[-1]}" in stdout + stderr


def test_a_half_done_revision_is_left_to_the_full_command(site: str, cli: Callable[..., Result],
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          answered: list[Any]) -> None:
    # The table's name in capitals: SQLite's names know no case, nor does the full command.
    with _database(site) as connection:
        connection.execute("CREATE TABLE JANITOO_DB_IN_PROGRESS (revision VARCHAR(32) PRIMARY KEY, "
                           "branch VARCHAR(255) NOT NULL, direction VARCHAR(10) NOT NULL, "
                           "started VARCHAR(32) NOT NULL, process VARCHAR(255) NOT NULL)")
        connection.execute("INSERT INTO JANITOO_DB_IN_PROGRESS VALUES (?, ?, 'upgrade', '2026-12-07', 'pid 1')",
                           (REVISIONS[2], BRANCH))
    (code, _, stderr), answer = _both_ways(cli, monkeypatch, answered, "-u", site, "initdb")
    assert answer is None and code == 1 and "jnt_dbman repair" in stderr
    (code, stdout, _), answer = _both_ways(cli, monkeypatch, answered, "-u", site, "checkdb")
    assert answer is None and code == 5 and REVISIONS[2] in stdout


def test_an_edited_applied_revision_is_left_to_checkdb(site: str, cli: Callable[..., Result],
                                                       monkeypatch: pytest.MonkeyPatch, answered: list[Any],
                                                       tmp_path: Path) -> None:
    edited = next((tmp_path / "site" / BRANCH / "models" / BRANCH).glob(f"{REVISIONS[1]}_*.py"))
    edited.write_text(edited.read_text() + "# reviewed\n")
    cli("-u", site, "heads")  # the cache learns the edited file, as any command would
    (code, stdout, _), answer = _both_ways(cli, monkeypatch, answered, "-u", site, "checkdb")
    assert code == 6 and "edited" in stdout
    assert answer is not None and answer.edited
    # initdb does not look at checksums when it has nothing to run: the short answer may give it.
    (code, _, stderr), answer = _both_ways(cli, monkeypatch, answered, "-u", site, "initdb")
    assert code == 0 and answer is not None and "Nothing to do" in stderr


def test_a_pending_head_is_run_by_the_full_command(site: str, cli: Callable[..., Result],
                                                   answered: list[Any]) -> None:
    with _database(site) as connection:
        connection.execute("UPDATE alembic_version SET version_num = ? WHERE version_num = ?",
                           (REVISIONS[1], REVISIONS[2]))
        connection.execute(f"ALTER TABLE {TABLE} DROP COLUMN value")
    assert cli("-u", site, "checkdb").exit_code == 3
    assert answered[-1] is None
    done = cli("-u", site, "initdb")
    assert done.exit_code == 0 and answered[-1] is None
    assert f"Applied {REVISIONS[2]}" in done.stderr
    with _database(site) as connection:
        assert REVISIONS[2] in {row[0] for row in connection.execute("SELECT version_num FROM alembic_version")}


def test_without_checksums_initdb_records_them(site: str, cli: Callable[..., Result],
                                               monkeypatch: pytest.MonkeyPatch, answered: list[Any]) -> None:
    with _database(site) as connection:
        connection.execute("DROP TABLE janitoo_db_checksums")
    done = cli("-u", site, "initdb")
    assert done.exit_code == 0 and answered[-1] is not None and not answered[-1].checksums_kept
    with _database(site) as connection:
        assert connection.execute("SELECT count(*) FROM janitoo_db_checksums").fetchone()[0] > len(REVISIONS)
    (code, _, _), answer = _both_ways(cli, monkeypatch, answered, "-u", site, "checkdb")
    assert code == 0 and answer is not None and answer.checksums_kept


def _second_head(tmp_path: Path) -> None:
    write_revision(tmp_path / "site" / BRANCH / "models" / BRANCH, "d4d4d4d4d4d4", REVISIONS[1])


def _orphan(url: str) -> None:
    with _database(url) as connection:
        connection.execute("INSERT INTO alembic_version VALUES ('e5e5e5e5e5e5')")


def _head_twice(url: str) -> None:
    with _database(url) as connection:
        connection.execute("CREATE TABLE copy AS SELECT * FROM alembic_version")
        connection.execute("DROP TABLE alembic_version")
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        connection.execute("INSERT INTO alembic_version SELECT * FROM copy")
        connection.execute("INSERT INTO alembic_version VALUES (?)", (REVISIONS[2],))
        connection.execute("DROP TABLE copy")


def _forged_cache(cache: Path) -> None:
    for path in cache.glob("revisions-*.json"):
        path.write_bytes(path.read_bytes().replace(REVISIONS[1].encode(), b"f6f6f6f6f6f6"))


@pytest.mark.parametrize(("change", "exit_code"), [
    ("second head", 5), ("orphan", 5), ("merge point", 5), ("wrong label", 1), ("id twice", 1), ("head twice", 0),
    ("forged cache", 0), ("cache off", 0)])
def test_what_the_cache_and_file_cannot_vouch_for_goes_to_the_full_command(
        site: str, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch, answered: list[Any],
        tmp_path: Path, revision_cache_dir: Path, change: str, exit_code: int) -> None:
    if change == "second head":
        _second_head(tmp_path)
    elif change == "orphan":
        _orphan(site)
    elif change == "head twice":
        _head_twice(site)
    elif change == "forged cache":
        cli("-u", site, "heads")
        _forged_cache(revision_cache_dir)
        # Asked first: any full command writes the cache afresh.
        done = cli("-u", site, "checkdb")
        assert done.exit_code == exit_code and answered[-1] is None and "up to date" in done.stdout
        return
    elif change == "wrong label":
        root = next((tmp_path / "site" / BRANCH / "models" / BRANCH).glob(f"{REVISIONS[0]}_*.py"))
        root.write_text(root.read_text().replace(f"branch_labels = ('{BRANCH}',)", "branch_labels = ('other',)"))
    elif change == "id twice":  # the core branch's head, again at the tip of quick_ext
        write_revision(tmp_path / "site" / BRANCH / "models" / BRANCH, "5d2f0a8c91e3", REVISIONS[2])
    elif change == "cache off":
        monkeypatch.setenv("JANITOO_DB_CACHE_DIR", "")
    else:
        path = write_revision(tmp_path / "site" / BRANCH / "models" / BRANCH, "d4d4d4d4d4d4", REVISIONS[1])
        path.write_text(path.read_text().replace(f'down_revision = "{REVISIONS[1]}"',
                                                 f'down_revision = ("{REVISIONS[1]}", "5d2f0a8c91e3")'))
    cli("-u", site, "heads")  # the cache learns the files as they are now
    (code, _, _), answer = _both_ways(cli, monkeypatch, answered, "-u", site, "checkdb")
    assert answer is None and code == exit_code


def test_a_missing_file_is_left_to_the_full_command_and_not_created(tmp_path: Path) -> None:
    from janitoo_db.site import Site

    assert at_head.plainly_at_every_head(Site(f"sqlite:///{tmp_path / 'none.sqlite'}")) is None
    assert not (tmp_path / "none.sqlite").exists()


PROBE = """
import sys
sys.argv = ["jnt_dbman", *sys.argv[1:]]
from janitoo_db.cli import run
code = 0
try:
    run()
except SystemExit as exit:
    code = exit.code
heavy = sorted({name.split(".")[0] for name in sys.modules} & {"sqlalchemy", "alembic"})
print("EXIT:", int(code or 0), "HEAVY:", heavy, file=sys.stderr)
"""


@pytest.mark.parametrize("command", ["initdb", "checkdb"])
def test_a_start_at_every_head_imports_neither_sqlalchemy_nor_alembic(tmp_path: Path, command: str) -> None:
    root = _tree(tmp_path / "site")
    url = f"sqlite:///{tmp_path / 'quick.sqlite'}"
    env = subprocess_env(JANITOO_DB_CACHE_DIR=str(tmp_path / "cache"))
    env["PYTHONPATH"] = f"{root}:{env['PYTHONPATH']}"

    def probe(**extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", PROBE, "-u", url, command], capture_output=True, text=True,
                              timeout=120, env={**env, **extra})

    first = probe()  # initdb builds the database; checkdb finds none, and says so with exit 3
    assert "HEAVY: ['alembic', 'sqlalchemy']" in first.stderr, first.stderr
    if command == "checkdb":
        assert "EXIT: 3" in first.stderr
        assert subprocess.run([sys.executable, "-c", PROBE, "-u", url, "initdb"], env=env, timeout=120,
                              capture_output=True).returncode == 0
    again, cold = probe(), probe(JANITOO_DB_CACHE_DIR="")
    assert "EXIT: 0 HEAVY: []" in again.stderr, again.stderr
    assert "EXIT: 0 HEAVY: ['alembic', 'sqlalchemy']" in cold.stderr, cold.stderr
    assert again.stdout == cold.stdout
    assert again.stderr.splitlines()[:-1] == cold.stderr.splitlines()[:-1]
