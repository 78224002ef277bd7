"""jnt_dbman on SQLite, PostgreSQL and MariaDB: every command, atomic failures,
concurrent runs, interrupted upgrades and clean errors without passwords."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable

import pytest
from click.testing import Result
from sqlalchemy.engine import make_url

from conftest import jnt_dbman_path, revision_lines, subprocess_env, write_extension
from dbstate import table_names, version_ids

CORE_HEAD = "5d2f0a8c91e3"
TEMPLATE_HEAD = "c3e9b5a1d274"
ACME_HEAD = "2b3c4d5e6f70"
CORE_TABLES = {"core_groups", "core_users", "core_groups_users", "core_settings", "core_settings_group"}
ALL_TABLES = CORE_TABLES | {"template_rooms", "template_sensors", "acme_readings", "alembic_version",
                            "janitoo_db_branches", "janitoo_db_tables", "janitoo_db_checksums"}


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def test_every_command(any_url: str, cli: Callable[..., Result]) -> None:
    """The whole command set works the same way on each database."""
    init = ok(cli("initdb", "-u", any_url))
    assert "Applied 1266567cc97f (janitoo): Initial import" in init.stderr
    assert table_names(any_url) - {"janitoo_db_in_progress", "janitoo_db_journal"} == ALL_TABLES  # MySQL/MariaDB only
    assert version_ids(any_url) == {CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD}

    assert ok(cli("heads", "-u", any_url)).stdout.splitlines()[0] == f"{CORE_HEAD} (janitoo) (head)"
    assert set(ok(cli("versiondb", "-u", any_url)).stdout.split()) == {CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD}
    assert f"{ACME_HEAD} (acme_sensors) (head)" in ok(cli("current", "-u", any_url)).stdout
    assert ok(cli("checkdb", "-u", any_url)).stdout.startswith("The database is up to date")
    assert "Initial data" in ok(cli("history", "-u", any_url)).stdout
    assert "Path:" in ok(cli("show", "-r", "acme_sensors@head", "-u", any_url)).stdout
    assert "acme_sensors: root 1a2b3c4d5e6f, head 2b3c4d5e6f70, 2 revisions" in ok(
        cli("branches", "-u", any_url)).stdout
    assert ok(cli("check", "-u", any_url)).stdout.splitlines() == [
        "janitoo: models and database agree", "acme_sensors: models and database agree",
        "janitoo_template: models and database agree"]
    assert ok(cli("upgrade", "--plan", "-u", any_url)).stdout == (
        "Nothing to do: every branch is at its head: 5d2f0a8c91e3 (janitoo), 2b3c4d5e6f70 (acme_sensors), "
        "c3e9b5a1d274 (janitoo_template).\n")

    down = ok(cli("downgrade", "acme_sensors@base", "-u", any_url))
    assert revision_lines(down.stderr)[0] == f"Reverted {ACME_HEAD} (acme_sensors): Readings"
    assert "acme_readings" not in table_names(any_url)
    assert cli("checkdb", "-u", any_url).exit_code == 3
    ok(cli("upgrade", "-q", "-u", any_url))
    assert cli("checkdb", "-u", any_url).exit_code == 0

    before = table_names(any_url)
    dropped = ok(cli("dropdb", "--yes", "-u", any_url))
    assert dropped.stdout.startswith(f"Dropped {len(before)} tables")
    assert table_names(any_url) == set()

    ok(cli("createdb", "-u", any_url))
    assert table_names(any_url) - {"janitoo_db_in_progress", "janitoo_db_journal"} == ALL_TABLES  # MySQL: marked
    assert version_ids(any_url) == {CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD}
    assert ok(cli("check", "-u", any_url)).stdout.count("models and database agree") == 3
    ok(cli("stamp", "janitoo_template@base", "-u", any_url))
    assert version_ids(any_url) == {CORE_HEAD, ACME_HEAD}
    ok(cli("stamp", "heads", "-u", any_url))
    assert version_ids(any_url) == {CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD}
    assert ok(cli("initdb", "-u", any_url)).stderr.startswith("Nothing to do")
    ok(cli("dropdb", "--yes", "-u", any_url))
    assert table_names(any_url) == set()


def test_url_without_driver_uses_ours(postgresql_url: str, mysql_url: str, cli: Callable[..., Result]) -> None:
    """postgresql:// and mysql:// pick psycopg and PyMySQL, the drivers our extras install."""
    for url in (postgresql_url, mysql_url):
        bare = make_url(url)
        bare = bare.set(drivername=bare.get_backend_name()).render_as_string(hide_password=False)
        assert "+" not in bare.split("://")[0]
        ok(cli("initdb", "-q", "-u", bare))
        assert ok(cli("checkdb", "-u", bare)).exit_code == 0


FAILING = [
    ("f00000000001", ""),
    ("f00000000002", "op.create_table('fail_two', sa.Column('id', sa.Integer, primary_key=True))"),
    ("f00000000003", "op.create_table('fail_three', sa.Column('id', sa.Integer, primary_key=True))\n"
                     "op.execute('SELECT * FROM no_such_table')"),
]


def _failing_extension_env(tmp_path: Path) -> dict[str, str]:
    root = write_extension(tmp_path / "ext", "failing_ext", FAILING)
    return subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_failing_revision_changes_nothing(backend: str, tmp_path: Path, request: pytest.FixtureRequest,
                                          jnt_dbman: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    """With transactional DDL a failed upgrade leaves schema and alembic_version as they were."""
    url = f"sqlite:///{tmp_path / 'fail.sqlite'}" if backend == "sqlite" else request.getfixturevalue("postgresql_url")
    env = _failing_extension_env(tmp_path)
    assert jnt_dbman("upgrade", "f00000000002", "-u", url, env=env).returncode == 0
    before_tables, before_versions = table_names(url), version_ids(url)
    assert "fail_two" in before_tables and before_versions == {"f00000000002"}

    failed = jnt_dbman("initdb", "-u", url, env=env)
    assert failed.returncode == 1
    error = failed.stderr.strip().splitlines()[-1]
    assert error.startswith("Error: revision f00000000003 (failing_ext, ")
    assert "f00000000003_step_2.py) failed: " in error
    assert "no_such_table" in error
    assert error.endswith("the database is at f00000000002")
    assert "Traceback" not in failed.stderr
    assert table_names(url) == before_tables
    assert version_ids(url) == before_versions


def test_failing_revision_on_mysql_keeps_completed_ones(
        mysql_url: str, tmp_path: Path, jnt_dbman: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    """MariaDB commits DDL at once: alembic_version names exactly the revisions that completed."""
    env = _failing_extension_env(tmp_path)
    failed = jnt_dbman("initdb", "-u", mysql_url, env=env)
    assert failed.returncode == 1
    error = failed.stderr.strip().splitlines()[-1]
    assert error.startswith("Error: revision f00000000003 (failing_ext, ")
    assert "MySQL/MariaDB commit each DDL statement" in error
    assert "f00000000002" in version_ids(mysql_url)
    assert "f00000000003" not in version_ids(mysql_url)
    assert "fail_two" in table_names(mysql_url)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_concurrent_initdb(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Four initdb processes at once all succeed, and the revisions run exactly once."""
    url = f"sqlite:///{tmp_path / 'race.sqlite'}" if backend == "sqlite" else request.getfixturevalue(f"{backend}_url")
    processes = [
        subprocess.Popen([jnt_dbman_path(), "initdb", "-u", url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=subprocess_env())
        for _ in range(4)
    ]
    outputs = [process.communicate(timeout=180) for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0, 0], outputs
    applied = [line for _, err in outputs for line in revision_lines(err) if line.startswith("Applied ")]
    assert len(applied) == len(set(applied)) == 8
    # A waiter first says that it waits ("Note: waiting for another migration's lock ...").
    assert sum("Nothing to do: every branch is at its head: " in err for _, err in outputs) == 3
    assert version_ids(url) == {CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD}


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_upgrade_on_postgresql(how: signal.Signals, postgresql_url: str, tmp_path: Path,
                                           jnt_dbman: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    """Ctrl-C or a killed process mid-upgrade leaves the previous version; the next initdb completes."""
    slow = [("5100000000a1", ""),
            ("5100000000a2", "op.create_table('slow_table', sa.Column('id', sa.Integer, primary_key=True))"),
            ("5100000000a3", "if os.environ.get('JANITOO_TEST_SLOW'):\n    time.sleep(60)")]
    root = write_extension(tmp_path / "ext", "slow_ext", slow)
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    # A background job of a non-interactive shell ignores SIGINT, and its children inherit that:
    # give jnt_dbman the default handler, as a terminal would, whatever ran pytest.
    process = subprocess.Popen([jnt_dbman_path(), "initdb", "-u", postgresql_url], stderr=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, text=True, env={**env, "JANITOO_TEST_SLOW": "1"},
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    for line in process.stderr:
        if "Applied 5100000000a2" in line or time.monotonic() > deadline:
            break
    time.sleep(0.5)
    process.send_signal(how)
    process.communicate(timeout=60)
    assert process.returncode != 0
    assert version_ids(postgresql_url) == set()
    assert table_names(postgresql_url) == set()

    assert jnt_dbman("initdb", "-q", "-u", postgresql_url, env=env).returncode == 0
    assert version_ids(postgresql_url) == {CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD, "5100000000a3"}


def _server_urls(postgresql_url: str, mysql_url: str) -> dict[str, str]:
    pg_db = make_url(postgresql_url).database
    return {
        "refused": "postgresql://janitoo:s3cretpw@127.0.0.1:1/janitoo",
        "unknown host": "mysql://janitoo:s3cretpw@no-such-host.invalid/janitoo",
        "authentication (postgresql)": f"postgresql://no_such_role:s3cretpw@127.0.0.1:5432/{pg_db}",
        "authentication (mariadb)": "mysql://root:s3cretpw@127.0.0.1:3306/mysql",
        "missing database": "postgresql://postgres:s3cretpw@127.0.0.1:5432/jnt_no_such_database",
    }


def test_server_errors_are_one_line_without_password(postgresql_url: str, mysql_url: str,
                                                     cli: Callable[..., Result]) -> None:
    """Unreachable servers and refusals give one line, exit 1, and never show the password."""
    expected = {
        "refused": "Connection refused",
        "unknown host": "no-such-host.invalid",
        "authentication (postgresql)": "no_such_role",
        "authentication (mariadb)": "Access denied",
        "missing database": 'database "jnt_no_such_database" does not exist',
    }
    for case, url in _server_urls(postgresql_url, mysql_url).items():
        for command in (["initdb"], ["checkdb"], ["current"]):
            result = cli(*command, "-u", url)
            assert result.exit_code == 1, (case, result.output)
            assert "s3cretpw" not in result.output, case
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("Error: cannot connect to "), (case, result.stderr)
            assert ":***@" in lines[0]
            assert expected[case] in lines[0], (case, lines[0])


def test_revision_with_syntax_error_is_named(tmp_path: Path,
                                             jnt_dbman: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    root = write_extension(tmp_path / "ext", "broken_ext", [("b00000000001", ""), ("b00000000002", "")])
    broken = root / "broken_ext" / "models" / "broken_ext" / "b00000000002_step_1.py"
    broken.write_text(broken.read_text() + "\ndef oops(:\n")
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    result = jnt_dbman("heads", "-u", f"sqlite:///{tmp_path / 'x.sqlite'}", env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ")
    assert str(broken) in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_generate_and_check_on_servers(backend: str, tmp_path: Path, request: pytest.FixtureRequest,
                                       jnt_dbman: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    """A model that grows a column: check sees it, generate writes it, upgrade applies it, on each server."""
    url = request.getfixturevalue(f"{backend}_url")
    root = write_extension(tmp_path / "ext", "grower", [
        ("a20000000001", ""),
        ("a20000000002", "op.create_table('grower_items', sa.Column('id', sa.Integer, primary_key=True))",
         "op.drop_table('grower_items')"),
    ], models='class Item(Base):\n    __tablename__ = "grower_items"\n'
              '    id = sa.Column(sa.Integer, primary_key=True)\n    size = sa.Column(sa.Integer)\n')
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    assert jnt_dbman("initdb", "-q", "-u", url, env=env).returncode == 0
    drift = jnt_dbman("check", "grower", "-u", url, env=env)
    assert drift.returncode == 4
    assert "  column grower_items.size is in the models but not in the database" in drift.stdout
    made = jnt_dbman("generate", "-m", "Add size", "--head", "grower", "-u", url, env=env)
    assert made.returncode == 0, made.stderr
    source = Path(made.stdout.strip().removeprefix("Generated ")).read_text()
    assert "'size'" in source and "core_" not in source
    assert jnt_dbman("upgrade", "-q", "-u", url, env=env).returncode == 0
    assert jnt_dbman("check", "grower", "-u", url, env=env).returncode == 0
    assert jnt_dbman("dropdb", "--yes", "-u", url, env=env).returncode == 0
    assert table_names(url) == set()
