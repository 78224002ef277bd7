"""The core branch's tables and data, the models module, and databases made by the original janitoo.

The original janitoo pickled setting values; revision 5d2f0a8c91e3 turns them
into JSON without ever running code a database could smuggle in a pickle.
"""
from __future__ import annotations

import json
import os
import pickle
import sqlite3
from pathlib import Path
from typing import Callable

import pytest
from click.testing import Result

from conftest import revision_lines
from dbstate import rows, table_names, version_ids

Run = Callable[..., Result]

CORE_TABLES = {"core_groups", "core_users", "core_groups_users", "core_settings_group", "core_settings"}
HEADS = {"5d2f0a8c91e3", "2b3c4d5e6f70", "c3e9b5a1d274"}
# The settings every janitoo installation starts with: key -> (group, value, extra).
DEFAULT_SETTINGS = {
    "project_title": ("general", "Janitoo", None),
    "project_subtitle": ("general", "Janitoo", None),
    "posts_per_page": ("general", 10, {"min": 5}),
    "topics_per_page": ("general", 10, {"min": 5}),
    "users_per_page": ("general", 10, {"min": 5}),
    "default_theme": ("appearance", "admin",
                      {"choices": [["admin", "admin"], ["bootstrap3", "bootstrap3"], ["bootstrap2", "bootstrap2"]]}),
    "default_language": ("appearance", "en", {"choices": [["en", "English"]]}),
}
# A pickle exactly as Python 2's ``pickle.dumps({'a': (1, 2), 'b': set([3])}, 2)`` wrote it
# (str as SHORT_BINSTRING, set through __builtin__), which Python 3 cannot produce itself.
PY2_PICKLE = (b"\x80\x02}q\x00(U\x01aq\x01K\x01K\x02\x86q\x02U\x01bq\x03c__builtin__\nset\nq\x04]q\x05K\x03a"
              b"\x85q\x06Rq\x07u.")
# Python 2's pickle of the byte string 'caf\xc3\xa9' (UTF-8 text in a py2 str).
PY2_UTF8_STR_PICKLE = b"\x80\x02U\x05caf\xc3\xa9q\x00."


def db_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def insert_pickled_setting(url: str, key: str, value: bytes, extra: bytes | None = None) -> None:
    """Add a row the way the original janitoo stored settings."""
    with sqlite3.connect(db_path(url)) as connection:
        connection.execute(
            "INSERT INTO core_settings (key, value, settinggroup_key, name, description, value_type, extra)"
            " VALUES (?, ?, 'general', ?, 'added by the original', 'string', ?)", (key, value, key, extra))
    connection.close()


@pytest.fixture
def initialised(cli: Run, sqlite_url: str) -> str:
    result = cli("initdb", "-q", "-u", sqlite_url)
    assert result.exit_code == 0, result.stderr
    return sqlite_url


@pytest.fixture
def original(cli: Run, sqlite_url: str) -> str:
    """A database as the original janitoo left it: core at 33b95995b188, values pickled."""
    result = cli("upgrade", "33b95995b188", "-q", "-u", sqlite_url)
    assert result.exit_code == 0, result.stderr
    assert version_ids(sqlite_url) == {"33b95995b188"}
    return sqlite_url


# -- the models module -------------------------------------------------------------

def test_models_module_exposes_core_and_extension_classes() -> None:
    """As in the original, every model is an attribute of janitoo_db.models."""
    import janitoo_db.models as models

    expected = {
        "User": "core_users", "Group": "core_groups", "Setting": "core_settings",
        "SettingGroup": "core_settings_group", "Reading": "acme_readings",
        "Room": "template_rooms", "Sensor": "template_sensors",
    }
    for name, table in expected.items():
        assert getattr(models, name).__tablename__ == table, name
    assert models.groups_users.name == "core_groups_users"


def test_extension_tables_maps_each_branch_to_its_tables() -> None:
    from janitoo_db.models import extension_tables

    assert {name: set(found) for name, found in extension_tables.items()} == {
        "janitoo": CORE_TABLES,
        "acme_sensors": {"acme_readings"},
        "janitoo_template": {"template_rooms", "template_sensors"},
    }


def test_the_models_match_what_the_revisions_build(initialised: str) -> None:
    """Autogenerate finds nothing to do after initdb: models and migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    import janitoo_db.models  # noqa: F401
    from janitoo_db.base import Base

    engine = create_engine(initialised)
    try:
        with engine.connect() as connection:
            # janitoo_db's own bookkeeping tables (janitoo_db_*) are not models.
            context = MigrationContext.configure(connection, opts={
                "compare_type": True,
                "include_name": lambda name, kind, parent: not (kind == "table" and name.startswith("janitoo_db_")),
            })
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


# -- the core's initial data ----------------------------------------------------

def test_initdb_creates_the_five_groups(initialised: str) -> None:
    groups = rows(initialised, "SELECT name, admin, power, user, banned, guest FROM core_groups ORDER BY id")
    assert groups == [
        ("Administrator", 1, 0, 0, 0, 0),
        ("Power", 0, 1, 0, 0, 0),
        ("User", 0, 0, 1, 0, 0),
        ("Banned", 0, 0, 0, 1, 0),
        ("Guest", 0, 0, 0, 0, 1),
    ]


def test_initdb_creates_the_settings_as_json_text(initialised: str) -> None:
    assert sorted(rows(initialised, "SELECT key FROM core_settings_group")) == [("appearance",), ("general",)]
    settings = rows(initialised, "SELECT key, settinggroup_key, value, extra, typeof(value) FROM core_settings")
    assert len(settings) == 7
    found = {}
    for key, group, value, extra, stored_as in settings:
        assert stored_as == "text", key
        found[key] = (group, json.loads(value), None if extra is None else json.loads(extra))
    assert found == DEFAULT_SETTINGS


def test_settings_read_through_the_orm(initialised: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from janitoo_db.models import Setting, SettingGroup

    engine = create_engine(initialised)
    try:
        with Session(engine) as session:
            assert Setting.as_dict(session=session) == {
                key.upper(): value for key, (_, value, _) in DEFAULT_SETTINGS.items()}
            assert Setting.as_dict("appearance", upper=False, session=session) == {"default_theme": "admin",
                                                                                    "default_language": "en"}
            general = session.get(SettingGroup, "general")
            assert general is not None and general.name == "General Settings"
            assert {s.key for s in general.settings} == {k for k, v in DEFAULT_SETTINGS.items() if v[0] == "general"}
            assert session.get(Setting, "posts_per_page").extra == {"min": 5}
    finally:
        engine.dispose()


def test_users_store_a_hash_and_check_passwords(initialised: str) -> None:
    """The password setter hashes; check_password accepts it and an original-format hash."""
    import hashlib

    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from janitoo_db.models import Group, User

    engine = create_engine(initialised)
    try:
        with Session(engine) as session:
            admins = session.scalar(select(Group).where(Group.name == "Administrator"))
            guest = session.scalar(select(Group).where(Group.name == "Guest"))
            user = User(username="alice", email="alice@example.org", primary_group=admins)
            user.password = "correct horse"
            user.secondary_groups.append(guest)
            session.add(user)
            session.commit()
        stored = rows(initialised, "SELECT password FROM core_users WHERE username = 'alice'")[0][0]
        assert stored.startswith("scrypt:") and "correct horse" not in stored and len(stored) < 120
        with Session(engine) as session:
            alice = session.scalar(select(User).where(User.username == "alice"))
            assert alice.check_password("correct horse")
            assert not alice.check_password("wrong horse")
            assert [g.name for g in alice.groups] == ["Administrator", "Guest"]
            permissions = alice.permissions
            assert permissions["admin"] and permissions["guest"] and not permissions["banned"]
            # A hash the original wrote (werkzeug's pbkdf2:sha1:1000) still logs in.
            legacy = hashlib.pbkdf2_hmac("sha1", b"old secret", b"NaCl1234", 1000).hex()
            alice.password_hash = f"pbkdf2:sha1:1000$NaCl1234${legacy}"
            session.commit()
        with Session(engine) as session:
            alice = session.scalar(select(User).where(User.username == "alice"))
            assert alice.check_password("old secret")
            assert not alice.check_password("correct horse")
    finally:
        engine.dispose()


# -- databases made by the original janitoo --------------------------------------------

def test_revision_33b95995b188_stores_pickles_as_the_original_did(original: str) -> None:
    settings = dict(rows(original, "SELECT key, value FROM core_settings"))
    assert set(settings) == set(DEFAULT_SETTINGS)
    assert pickle.loads(settings["project_title"]) == "Janitoo"
    assert pickle.loads(settings["posts_per_page"]) == 10


def test_upgrading_an_original_database_converts_pickles_to_json(cli: Run, original: str) -> None:
    """Default rows and rows written by Python 2 become the same data in JSON."""
    insert_pickled_setting(original, "py3_pickle", pickle.dumps({"a": (1, 2)}, protocol=2))
    insert_pickled_setting(original, "py2_pickle", PY2_PICKLE, extra=PY2_UTF8_STR_PICKLE)
    result = cli("upgrade", "-u", original)
    assert result.exit_code == 0, result.stderr
    assert "Applied 5d2f0a8c91e3 (janitoo): Store setting values as JSON" in revision_lines(result.stderr)
    assert version_ids(original) == HEADS
    found = {key: (json.loads(value), None if extra is None else json.loads(extra))
             for key, value, extra in rows(original, "SELECT key, value, extra FROM core_settings")}
    assert found.pop("py3_pickle") == ({"a": [1, 2]}, None)
    assert found.pop("py2_pickle") == ({"a": [1, 2], "b": [3]}, "café")
    assert found == {key: (value, extra) for key, (_, value, extra) in DEFAULT_SETTINGS.items()}


def test_a_pickle_that_would_run_code_stops_the_upgrade(cli: Run, original: str) -> None:
    """Refuse to unpickle ``os.system``; the whole upgrade rolls back on SQLite."""
    evil = pickle.dumps(os.system, protocol=2)
    assert b"system" in evil
    insert_pickled_setting(original, "evil", evil)
    before = table_names(original, sqlite_internal=True)

    result = cli("upgrade", "-q", "-u", original)
    assert result.exit_code == 1
    assert result.stdout == ""
    err = result.stderr.splitlines()
    assert len(err) == 1, result.stderr
    assert err[0].startswith("Error: revision 5d2f0a8c91e3 ")
    assert "system" in err[0]
    assert err[0].endswith("the database is at 33b95995b188")
    assert "Traceback" not in result.stderr

    assert version_ids(original) == {"33b95995b188"}
    assert table_names(original, sqlite_internal=True) == before  # no extension tables were left behind either
    assert rows(original, "SELECT value, typeof(value) FROM core_settings WHERE key = 'evil'") == [(evil, "blob")]
    project_title = rows(original, "SELECT value FROM core_settings WHERE key = 'project_title'")[0][0]
    assert pickle.loads(project_title) == "Janitoo"


def test_a_failed_upgrade_does_not_claim_rolled_back_revisions(cli: Run, original: str) -> None:
    """Without -q, the report must not say a revision was applied when SQLite rolled it back."""
    insert_pickled_setting(original, "evil", pickle.dumps(os.system, protocol=2))
    result = cli("upgrade", "-u", original)
    assert result.exit_code == 1
    err = result.stderr.splitlines()
    assert err[-1].startswith("Error: revision 5d2f0a8c91e3 ")
    claimed = [line.split()[1] for line in revision_lines(result.stderr) if line.startswith("Applied ")]
    kept = version_ids(original)
    assert kept == {"33b95995b188"}
    assert claimed, "the revisions of the other branches run first, in the same transaction"
    count = f"{len(claimed)} revision" + ("s" if len(claimed) > 1 else "")
    assert err[-2] == f"Rolled back: none of the {count} listed above were kept."


def test_downgrading_below_json_pickles_again_and_upgrading_restores(cli: Run, initialised: str) -> None:
    """The JSON revision is reversible: the original could read the database again."""
    result = cli("downgrade", "33b95995b188", "-q", "-u", initialised)
    assert result.exit_code == 0, result.stderr
    settings = dict(rows(initialised, "SELECT key, value FROM core_settings"))
    assert {key: pickle.loads(value) for key, value in settings.items()} == {
        key: value for key, (_, value, _) in DEFAULT_SETTINGS.items()}
    assert cli("upgrade", "-q", "-u", initialised).exit_code == 0
    settings = dict(rows(initialised, "SELECT key, value FROM core_settings"))
    assert {key: json.loads(value) for key, value in settings.items()} == {
        key: value for key, (_, value, _) in DEFAULT_SETTINGS.items()}
