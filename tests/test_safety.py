"""A downgrade never takes another branch's data unless told to (janitoo_db.guard.safety).

acme_sensors' 2b3c4d5e6f70 depends on the core's 1266567cc97f, so undoing
that core revision, however the target is spelled, would drop acme's table.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Callable

import pytest
from click.testing import Result

from conftest import subprocess_env, write_extension
from dbstate import table_names, version_ids

Run = Callable[..., Result]
CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD = "5d2f0a8c91e3", "c3e9b5a1d274", "2b3c4d5e6f70"
ALL_HEADS = {CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD}


def state(url: str) -> tuple[set[str], set[str]]:
    return table_names(url), version_ids(url)


@pytest.fixture
def initialised(cli: Run, sqlite_url: str) -> str:
    assert cli("initdb", "-q", "-u", sqlite_url).exit_code == 0
    return sqlite_url


@pytest.mark.parametrize("target", ["janitoo@-3", "3b5854d25914", "janitoo@base", "janitoo@3b5854d25914"])
def test_a_core_downgrade_that_would_drop_acme_is_refused(cli: Run, initialised: str, target: str) -> None:
    before = state(initialised)
    result = cli("downgrade", target, "-u", initialised)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: downgrading to {target} would also undo revisions of other branches")
    assert "acme_sensors (2b3c4d5e6f70)" in result.stderr and "--cascade" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert state(initialised) == before
    planned = cli("downgrade", target, "--plan", "-u", initialised)
    assert (planned.exit_code, planned.stderr) == (1, result.stderr)


def test_cascade_undoes_the_dependent_branch_on_purpose(cli: Run, initialised: str) -> None:
    planned = cli("downgrade", "janitoo@-3", "--plan", "--cascade", "-u", initialised)
    assert planned.exit_code == 0
    assert "downgrade 2b3c4d5e6f70 (acme_sensors): Readings" in planned.stdout
    result = cli("downgrade", "janitoo@-3", "--cascade", "-u", initialised)
    assert result.exit_code == 0, result.stderr
    assert "Reverted 2b3c4d5e6f70 (acme_sensors): Readings" in result.stderr
    assert "acme_readings" not in table_names(initialised)
    assert version_ids(initialised) == {"3b5854d25914", "1a2b3c4d5e6f", TEMPLATE_HEAD}


def test_downgrades_within_a_branch_still_run(cli: Run, initialised: str) -> None:
    assert cli("downgrade", "-q", "janitoo@-1", "-u", initialised).exit_code == 0
    assert cli("downgrade", "-q", "acme_sensors@base", "-u", initialised).exit_code == 0
    assert cli("downgrade", "-q", "3b5854d25914", "-u", initialised).exit_code == 0
    assert version_ids(initialised) == {"3b5854d25914", TEMPLATE_HEAD}


def test_a_branch_step_that_another_extension_depends_on(
        tmp_path: Path, jnt_dbman: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    """``acme_sensors@-1`` is refused while a third branch depends on acme's head."""
    root = write_extension(tmp_path / "ext", "relay", [
        ("e10000000001", ""),
        ("e10000000002", "op.create_table('relay_links', sa.Column('id', sa.Integer, primary_key=True))",
         "op.drop_table('relay_links')"),
    ], depends_on=ACME_HEAD)
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    url = f"sqlite:///{tmp_path / 'relay.sqlite'}"
    assert jnt_dbman("initdb", "-q", "-u", url, env=env).returncode == 0
    before = state(url)
    refused = jnt_dbman("downgrade", "acme_sensors@-1", "-u", url, env=env)
    assert refused.returncode == 1
    assert "relay (e10000000002)" in refused.stderr and "Traceback" not in refused.stderr
    assert state(url) == before
    done = jnt_dbman("downgrade", "acme_sensors@-1", "--cascade", "-u", url, env=env)
    assert done.returncode == 0, done.stderr
    assert "relay_links" not in table_names(url) and "acme_readings" not in table_names(url)


@pytest.mark.server
def test_refused_before_anything_runs_on_every_database(cli: Run, any_url: str) -> None:
    """MariaDB commits each revision: the refusal must come before the first one."""
    assert cli("initdb", "-q", "-u", any_url).exit_code == 0
    before = state(any_url)
    assert cli("downgrade", "janitoo@-3", "-u", any_url).exit_code == 1
    assert state(any_url) == before
    assert cli("downgrade", "-q", "janitoo@-3", "--cascade", "-u", any_url).exit_code == 0
    assert "acme_readings" not in table_names(any_url) and "core_users" not in table_names(any_url)


def test_the_python_api_refuses_too(initialised: str) -> None:
    from janitoo_db.errors import RefusedError
    from janitoo_db.migrate import Config

    with pytest.raises(RefusedError, match="acme_sensors"):
        Config(url=initialised).downgrade("janitoo@base")
    assert version_ids(initialised) == ALL_HEADS
    Config(url=initialised).downgrade()  # base: every branch, as the original's API did
    assert version_ids(initialised) == set()
