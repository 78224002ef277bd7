"""janitoo_db.server and janitoo_db.site.options: the database half of the original JNTDBServer.

Ports the intent of janitoo_nosetests' dbserver tests (a server refuses to start
on a database behind its revisions when auto_migrate is off, and migrates it
when on), without the janitoo core package; one test puts a stand-in janitoo
package on the path to check that JNTDBServer then subclasses its server.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from conftest import subprocess_env
from dbstate import is_absent, table_names, version_ids
from janitoo_db.errors import ConfigError, DatabaseError
from janitoo_db.server import DatabaseNotMigratedError, JNTDBServer
from janitoo_db.site.options import ConfFileOptions, as_options, to_bool

HEADS = {"5d2f0a8c91e3", "2b3c4d5e6f70", "c3e9b5a1d274"}


def write_conf(path: Path, url: str, auto_migrate: str | None = None) -> Path:
    lines = ["[system]", "service = jnt_test", "", "[database]", f"sqlalchemy.url = {url}"]
    if auto_migrate is not None:
        lines.append(f"auto_migrate = {auto_migrate}")
    path.write_text("\n".join(lines) + "\n")
    return path


class JanitooLikeOptions:
    """What janitoo's JNTOptions gives a server: sections as dicts, values as set (not only strings)."""

    def __init__(self, database: dict[str, Any]) -> None:
        self.database = database

    def get_options(self, section: str) -> dict[str, Any]:
        return self.database if section == "database" else {}


@pytest.mark.parametrize("auto_migrate", [None, "true", "yes", "1", "on"])
def test_a_server_migrates_its_database_when_allowed(tmp_path: Path, sqlite_url: str, auto_migrate: str | None) -> None:
    conf = write_conf(tmp_path / "server.conf", sqlite_url, auto_migrate)
    server = JNTDBServer({"conf_file": str(conf)})
    assert version_ids(sqlite_url) == HEADS
    assert {"core_users", "template_rooms", "acme_readings"} <= table_names(sqlite_url)
    assert server.dbauto_migrate is (None if auto_migrate is None else True)


@pytest.mark.parametrize("auto_migrate", ["false", "False", "no", "OFF", " 0 "])
def test_a_server_refuses_a_database_behind_when_migrating_is_off(
        tmp_path: Path, sqlite_url: str, auto_migrate: str) -> None:
    conf = write_conf(tmp_path / "server.conf", sqlite_url, auto_migrate)
    with pytest.raises(DatabaseNotMigratedError) as raised:
        JNTDBServer({"conf_file": str(conf)})
    message = str(raised.value)
    assert "missing heads" in message and "auto_migrate is off" in message
    assert "5d2f0a8c91e3 (janitoo)" in message and "c3e9b5a1d274 (janitoo_template)" in message
    assert isinstance(raised.value, DatabaseError)
    assert is_absent(sqlite_url), "checking must not create the database"


def test_a_server_names_only_the_heads_that_are_missing(tmp_path: Path, sqlite_url: str) -> None:
    JNTDBServer(JanitooLikeOptions({"sqlalchemy.url": sqlite_url})).stop_db()
    from janitoo_db.migrate import Config

    Config(url=sqlite_url).downgrade("janitoo_template@base")
    with pytest.raises(DatabaseNotMigratedError) as raised:
        JNTDBServer(JanitooLikeOptions({"sqlalchemy.url": sqlite_url, "auto_migrate": False}))
    assert "missing heads c3e9b5a1d274 (janitoo_template)" in str(raised.value)
    assert "5d2f0a8c91e3" not in str(raised.value)


def test_a_server_starts_on_a_database_at_every_head_without_migrating(sqlite_url: str) -> None:
    JNTDBServer(JanitooLikeOptions({"sqlalchemy.url": sqlite_url}))
    server = JNTDBServer(JanitooLikeOptions({"sqlalchemy.url": sqlite_url, "auto_migrate": "false"}))
    assert server.dbauto_migrate is False


def test_check_db_argument_wins_over_auto_migrate(sqlite_url: str) -> None:
    options = JanitooLikeOptions({"sqlalchemy.url": sqlite_url, "auto_migrate": False})
    server = JNTDBServer.__new__(JNTDBServer)
    server.options, server.dbengine, server.dbmaker, server.dbsession = options, None, None, None
    server.check_db(migrate=True)
    assert version_ids(sqlite_url) == HEADS
    from janitoo_db.migrate import Config

    Config(url=sqlite_url).downgrade("acme_sensors@base")
    options.database["auto_migrate"] = True
    with pytest.raises(DatabaseNotMigratedError, match=r"missing heads 2b3c4d5e6f70 \(acme_sensors\)"):
        server.check_db(migrate=False)
    server.check_db()
    assert version_ids(sqlite_url) == HEADS


def test_sessions_from_start_db_to_stop_db(sqlite_url: str) -> None:
    server = JNTDBServer(JanitooLikeOptions({"sqlalchemy.url": sqlite_url}))
    assert server.create_session() is None
    server.start()
    import janitoo_db.models as jntmodel

    assert server.dbsession.query(jntmodel.Group).count() == 5
    other = server.create_session()
    assert other is not server.dbsession and other.query(jntmodel.Setting).count() == 7
    other.remove()
    server.stop()
    assert (server.dbsession, server.dbmaker, server.dbengine) == (None, None, None)
    server.flush()


def test_the_original_janitoo_server_is_the_base_class_when_installed(tmp_path: Path, sqlite_url: str) -> None:
    fake = tmp_path / "fake" / "janitoo"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "utils.py").write_text("class JanitooException(Exception):\n    pass\n")
    (fake / "server.py").write_text(textwrap.dedent("""\
        CALLS = []

        class JNTServer:
            def __init__(self, options):
                CALLS.append("init")
                self.options = Options(options)

            def start(self):
                CALLS.append("start")

            def stop(self):
                CALLS.append("stop")

            def flush(self):
                CALLS.append("flush")

        class Options:
            def __init__(self, data):
                self.data = data

            def get_options(self, section):
                return {"sqlalchemy.url": self.data["url"], "auto_migrate": "false"} if section == "database" else {}
        """))
    script = textwrap.dedent(f"""\
        from janitoo.server import CALLS, JNTServer
        from janitoo.utils import JanitooException
        from janitoo_db.server import JNTDBServer
        assert issubclass(JNTDBServer, JNTServer)
        try:
            JNTDBServer({{"url": {sqlite_url!r}}})
        except JanitooException as error:
            print("refused:", error)
        from janitoo_db.migrate import Config
        Config(url={sqlite_url!r}).initdb()
        server = JNTDBServer({{"url": {sqlite_url!r}}})
        server.start(); server.flush(); server.stop()
        print(CALLS)
        """)
    env = subprocess_env(PYTHONPATH=f"{tmp_path / 'fake'}:{subprocess_env()['PYTHONPATH']}")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("refused: the database is not at every head (missing heads")
    assert lines[1] == "['init', 'init', 'start', 'flush', 'stop']"


@pytest.mark.server
def test_a_server_on_postgresql_and_mariadb(tmp_path: Path, any_url: str) -> None:
    with pytest.raises(DatabaseNotMigratedError):
        JNTDBServer(JanitooLikeOptions({"sqlalchemy.url": any_url, "auto_migrate": "off"}))
    assert version_ids(any_url) == set()
    server = JNTDBServer({"conf_file": str(write_conf(tmp_path / "server.conf", any_url, "on"))})
    assert version_ids(any_url) == HEADS
    server.start()
    import janitoo_db.models as jntmodel

    assert server.dbsession.query(jntmodel.SettingGroup).count() == 2
    server.stop()


def test_options_from_a_conf_file(tmp_path: Path) -> None:
    conf = write_conf(tmp_path / "server.conf", "sqlite:///%(here)s/db.sqlite", "no")
    options = as_options({"conf_file": conf, "service": "x"})
    assert isinstance(options, ConfFileOptions)
    assert options.data == {"conf_file": str(conf), "service": "x"}
    assert options.get_options("database") == {"sqlalchemy.url": f"sqlite:///{tmp_path}/db.sqlite",
                                               "auto_migrate": "no"}
    assert options.get_option("database", "missing", 3) == 3
    options.set_option("database", "auto_migrate", True)
    assert options.get_option("database", "auto_migrate") is True
    assert "auto_migrate = no" in conf.read_text(), "the file is not rewritten"


def test_unusable_options_are_our_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="expected janitoo options"):
        as_options({"service": "x"})
    with pytest.raises(ConfigError, match="cannot read the configuration file"):
        JNTDBServer({"conf_file": str(tmp_path / "missing.conf")})
    with pytest.raises(ConfigError, match=r"has no \[database\] section"):
        (tmp_path / "empty.conf").write_text("[system]\n")
        JNTDBServer({"conf_file": str(tmp_path / "empty.conf")})
    with pytest.raises(ConfigError, match="no sqlalchemy.url"):
        JNTDBServer(JanitooLikeOptions({"auto_migrate": "true"}))


@pytest.mark.parametrize(("value", "expected"), [
    ("0", False), ("false", False), ("Off", False), ("NO", False), (False, False),
    ("1", True), ("true", True), ("yes", True), ("anything", True), (True, True)])
def test_flags_read_as_janitoo_read_them(value: Any, expected: bool) -> None:
    assert to_bool(value) is expected
