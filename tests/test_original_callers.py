"""The original janitoo_db's callers, run the way they used it.

- janitoo_manager: its models subclass the core's ``User``, ``Group``,
  ``SettingGroup`` and ``Setting`` together with Flask-SQLAlchemy's
  ``db.Model`` (tests/callers/manager_app, run by run_manager.py in a process
  of its own, since its classes join the shared model registry for good).
- jnt_pkiman and jnt_webman: ``alembic.command.heads/current/show/history``
  on ``janitoo_db.migrate.Config``, which print what Alembic prints
  (tests/callers/pkiman.py).
- janitoo_db_full's model tests: a group merged or added with a new user as
  one of its ``core_groups`` stores that user.
- ``saobject_to_dict``, ``Config.versiondb()`` and the ``version_locations``
  option, as the original gave them.
"""
from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from conftest import EXTENSIONS_DIR, TESTS_DIR, subprocess_env
from dbstate import rows, version_ids
from janitoo_db.helpers import saobject_to_dict
from janitoo_db.migrate import Config, janitoo_config

CALLERS = TESTS_DIR / "callers"
HEADS = {"5d2f0a8c91e3", "c3e9b5a1d274", "2b3c4d5e6f70"}  # core, janitoo_template, the tests' acme_sensors


def run_caller(script: str, *args: str, extensions: Path = EXTENSIONS_DIR) -> subprocess.CompletedProcess[str]:
    """Run one of tests/callers' programs in a fresh interpreter, every warning an error."""
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(extensions), str(CALLERS)]))
    return subprocess.run([sys.executable, "-W", "error", str(CALLERS / script), *args], env=env,
                          capture_output=True, text=True, timeout=300)


def placeholder(url: str) -> str:
    return "?" if url.startswith("sqlite") else "%s"


# -- janitoo_manager: the core models mixed with Flask-SQLAlchemy's db.Model -----------------------

@pytest.mark.server
def test_a_flask_app_mixes_the_core_models_with_db_model(any_url: str) -> None:
    """Users, groups and settings of classes that are both janitoo's and Flask-SQLAlchemy's, on each database."""
    ran = run_caller("run_manager.py", any_url)
    assert ran.returncode == 0, ran.stderr
    seen = json.loads(ran.stdout)
    assert seen["authenticate"] == {"right": ["admin", True], "wrong": False, "unknown": [None, False]}
    assert seen["stored_hash_is_not_the_password"] is True
    assert seen["loaded"] == ["WebUser", "member", "2"]  # Flask-Login's user loader, through db.session
    assert seen["member_groups"] == ["User", "Operators"]
    member, admin = seen["member_permissions"], seen["admin_permissions"]
    assert member["power"] and member["user"] and not member["admin"]  # Operators grants power
    assert admin["admin"] and admin["mod_banuser"] and not admin["banned"]
    assert seen["reset"] == {"own": [False, False, True], "other": [False, False, False],
                             "tampered": [False, True, False]}
    assert seen["ban"] == [True, "Banned", True, "User"]
    assert seen["settings"] == {"BROKER_PORT": 1883}
    assert seen["field_kinds"] == {"broker_port": "IntegerField"}
    assert seen["user_group_core_groups"] == ["member"]
    assert seen["anonymous"] == ["WebGuest", True]
    assert seen["logged_in"] == ["admin", True]
    # What the application stored, read back with plain SQL.
    p = placeholder(any_url)
    assert version_ids(any_url) == HEADS
    stored = rows(any_url, "SELECT u.username, u.password, g.name FROM core_users u "
                           "JOIN core_groups g ON g.id = u.primary_group_id ORDER BY u.id")
    assert [(name, group) for name, _, group in stored] == [("admin", "Administrator"), ("member", "User")]
    assert all(hashed not in ("correct horse", "battery staple") for _, hashed, _ in stored)
    assert rows(any_url, "SELECT g.name FROM core_groups_users m JOIN core_groups g ON g.id = m.group_id "
                         f"JOIN core_users u ON u.id = m.user_id WHERE u.username = {p}", "member") == [("Operators",)]
    key = "`key`" if any_url.startswith("mysql") else '"key"'
    assert rows(any_url, f"SELECT settinggroup_key, value FROM core_settings WHERE {key} = {p}",
                "broker_port") == [("network", "1883")]


# -- jnt_pkiman / jnt_webman: alembic.command on the original's Config prints ---------------------

def test_alembic_commands_on_the_originals_config_print_what_alembic_prints(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pki.sqlite'}"
    assert run_caller("pkiman.py", "initdb", "-u", url).stdout == ""  # the Config's own methods print nothing
    heads = run_caller("pkiman.py", "heads", "-u", url).stdout.splitlines()
    assert sorted(heads) == ["2b3c4d5e6f70 (acme_sensors) (head)", "5d2f0a8c91e3 (janitoo) (head)",
                             "c3e9b5a1d274 (janitoo_template) (head)"]
    assert sorted(run_caller("pkiman.py", "current", "-u", url).stdout.splitlines()) == sorted(
        f"{head} (head)" for head in HEADS)
    shown = run_caller("pkiman.py", "show", "-r", "janitoo@head", "-u", url).stdout
    assert shown.startswith("Rev: 5d2f0a8c91e3 (head)\nParent: 33b95995b188\nBranch names: janitoo\n")
    history = run_caller("pkiman.py", "history", "-r", "janitoo@base:janitoo@head", "-u", url).stdout
    assert history.splitlines()[-1] == "<base> -> 3b5854d25914 (janitoo), Create janitoo main branch"
    assert len(history.splitlines()) == 4
    assert run_caller("pkiman.py", "checkdb", "-u", url).stdout == "True\n"
    versions = ast.literal_eval(run_caller("pkiman.py", "versiondb", "-u", url).stdout)
    assert isinstance(versions, tuple) and set(versions) == HEADS


def test_the_originals_config_methods_print_nothing(sqlite_url: str, capfd: pytest.CaptureFixture[str]) -> None:
    """initdb, upgrade, downgrade, versiondb and checkdb return; only alembic.command's verbs print."""
    config = janitoo_config(sqlite_url)
    config.initdb()
    config.downgrade("janitoo_template@base")
    config.upgrade()
    assert config.checkdb() is True
    assert set(config.versiondb()) == HEADS
    assert capfd.readouterr().out == ""


def test_jnt_dbman_keeps_its_own_output(cli: Callable[..., Any], sqlite_url: str,
                                        capfd: pytest.CaptureFixture[str]) -> None:
    """jnt_dbman builds its own quiet configuration: Alembic prints nothing of its own there."""
    assert cli("initdb", "-q", "-u", sqlite_url).exit_code == 0
    result = cli("heads", "-u", sqlite_url)
    assert result.exit_code == 0
    assert capfd.readouterr().out == ""  # Alembic printed nothing around click's output...
    assert sorted(result.stdout.splitlines()) == [  # ...nor into it: one line per branch, each once
        "2b3c4d5e6f70 (acme_sensors) (head)", "5d2f0a8c91e3 (janitoo) (head)", "c3e9b5a1d274 (janitoo_template) (head)"]


# -- janitoo_db_full: its migration tests, on each database, from a janitoo configuration file --------

@pytest.mark.server
def test_the_config_of_a_conf_file_migrates_each_database(any_url: str, tmp_path: Path) -> None:
    """versiondb after initdb, heads, then checkdb before and after a downgrade to base."""
    conf = tmp_path / "janitoo_db.site.conf"
    conf.write_text(f"[system]\nservice = jnt_test\n\n[database]\nauto_migrate = true\nsqlalchemy.url = {any_url}\n")
    config = Config(conf_file=str(conf))
    config.initdb()
    assert len(config.versiondb()) > 0 and set(Config(conf_file=str(conf)).versiondb()) == HEADS
    assert {head.revision for head in Config(conf_file=str(conf)).heads()} == HEADS
    config = Config(conf_file=str(conf))
    assert config.checkdb() is True
    config.downgrade()
    assert config.checkdb() is False
    assert version_ids(any_url) == set()


# -- janitoo_db_full: a group's core_groups is a writable collection ---------------------------------

def _new_user(name: str, **more: Any) -> Any:
    import janitoo_db.models as jntmodels

    return jntmodels.User(username=name, email=f"{name}@example.org", _password="test", **more)


@pytest.mark.server
def test_merging_or_adding_a_group_stores_the_users_whose_primary_group_it_is(any_url: str) -> None:
    import janitoo_db.models as jntmodels

    janitoo_config(any_url).initdb()
    engine = create_engine(any_url)
    try:
        with Session(engine) as session:
            merged_group = jntmodels.Group(name="test_group")
            _new_user("test_user", primary_group=merged_group)
            session.merge(merged_group)
            session.commit()
            added_group = jntmodels.Group(name="added_group")
            _new_user("added_user", primary_group=added_group)
            session.add(added_group)
            session.commit()
            appended = _new_user("appended_user", primary_group=session.query(jntmodels.Group).filter_by(
                name="User").one())
            session.add(appended)
            session.commit()
            group = session.query(jntmodels.Group).filter_by(name="Power").one()
            group.core_groups.append(appended)  # sets the user's primary group
            assert appended.primary_group is group
            session.commit()
    finally:
        engine.dispose()
    assert rows(any_url, "SELECT u.username, g.name FROM core_users u JOIN core_groups g "
                         "ON g.id = u.primary_group_id ORDER BY u.username") == [
        ("added_user", "added_group"), ("appended_user", "Power"), ("test_user", "test_group")]


# -- saobject_to_dict, versiondb, version_locations ----------------------------------------------

def test_saobject_to_dict_keys_columns_by_their_key(sqlite_url: str) -> None:
    import janitoo_db.models as jntmodels

    janitoo_config(sqlite_url).initdb()
    engine = create_engine(sqlite_url)
    try:
        with Session(engine) as session:
            user = _new_user("dict_user", primary_group=session.query(jntmodels.Group).filter_by(name="User").one())
            user.password = "plain"
            session.add(user)
            session.commit()
            found = saobject_to_dict(user)
            assert "_password" not in found
            assert found["password"] == user._password != "plain"
            assert found["primary_group_id"] == user.primary_group.id
    finally:
        engine.dispose()


def test_versiondb_is_a_tuple_and_version_locations_are_space_separated(sqlite_url: str) -> None:
    config = Config(url=sqlite_url)
    assert config.versiondb() == ()
    config.initdb()
    assert isinstance(config.versiondb(), tuple) and set(config.versiondb()) == HEADS
    locations = config.get_main_option("version_locations").split(" ")
    assert [Path(location).name for location in locations] == ["janitoo", "acme_sensors", "janitoo_template"]
    assert all(Path(location).is_dir() for location in locations)


def test_a_version_directory_with_a_space_keeps_the_path_separator(tmp_path: Path) -> None:
    """A space cannot separate paths that hold one: the original's Config then joins them with os.pathsep."""
    spaced = tmp_path / "dir with space"
    shutil.copytree(EXTENSIONS_DIR, spaced, ignore=shutil.ignore_patterns("__pycache__"))
    url = f"sqlite:///{tmp_path / 'spaced.sqlite'}"
    printed = run_caller("pkiman.py", "version_locations", "-u", url, extensions=spaced).stdout
    locations = printed.split(" = ", 1)[1].strip().split(os.pathsep)
    assert str(spaced / "acme_sensors" / "models" / "acme_sensors") in locations
    assert run_caller("pkiman.py", "initdb", "-u", url, extensions=spaced).returncode == 0
    assert version_ids(url) == HEADS
