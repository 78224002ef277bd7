"""The test suite's own promise to a contributor: a server test it cannot run is skipped, with the way out.

Each case runs pytest on one server test of this suite, in a subprocess whose
interpreter cannot import the server's driver (a meta-path hook makes the
import fail, as it does where the driver is not installed): no new virtual
environment is needed.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import subprocess_env

REPO = Path(__file__).resolve().parents[1]
POSTGRESQL_TEST = "tests/test_locks.py::test_postgresql_names_the_process_holding_the_lock"
MARIADB_TEST = "tests/test_locks.py::test_mariadb_lock_not_waited_for_says_no_waiting"

#: Run pytest with *driver* not importable, as if it were not installed.
WITHOUT_DRIVER = """
import importlib.abc, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == {driver!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
import pytest
sys.exit(pytest.main(["-p", "no:cacheprovider", "-q", "-rs", {test!r}]))
"""


def run_pytest_without(driver: str, test: str, require_servers: bool) -> subprocess.CompletedProcess[str]:
    env = subprocess_env(JANITOO_DB_REQUIRE_SERVERS="1" if require_servers else "0")
    return subprocess.run([sys.executable, "-c", WITHOUT_DRIVER.format(driver=driver, test=test)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(("driver", "test", "reason"), [
    ("psycopg", POSTGRESQL_TEST, "psycopg is not installed (pip install -e '.[test,postgresql]')"),
    ("pymysql", MARIADB_TEST, "PyMySQL is not installed (pip install -e '.[test,mysql]')"),
])
def test_a_server_test_without_its_driver_is_skipped_with_the_reason(driver: str, test: str, reason: str) -> None:
    result = run_pytest_without(driver, test, require_servers=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SKIPPED [1] " in result.stdout and f": {reason}\n" in result.stdout, result.stdout
    assert "1 skipped" in result.stdout and "error" not in result.stdout.lower(), result.stdout


def test_ci_fails_a_server_test_without_its_driver() -> None:
    """Under JANITOO_DB_REQUIRE_SERVERS=1 a missing driver is a failure, not a skip that hides a gap."""
    result = run_pytest_without("psycopg", POSTGRESQL_TEST, require_servers=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert ("psycopg is not installed (pip install -e '.[test,postgresql]'); "
            "JANITOO_DB_REQUIRE_SERVERS=1 forbids skipping") in result.stdout, result.stdout
    assert "skipped" not in result.stdout
