"""janitoo_db.migrate: the original's Python API (Config, janitoo_config, collect_configs).

These port the intent of the original janitoo_db's own tests/test_migrate.py
(default URL, conf_file, initdb, versiondb, heads, checkdb after initdb and
downgrade) and of janitoo_nosetests' model tests, which hand the
configuration to ``alembic.command`` themselves.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command as alembic_command
from alembic.script import Script

from dbstate import table_names, version_ids
from janitoo_db.errors import ConfigError, ExtensionError
from janitoo_db.migrate import ORIGINAL_DEFAULT_URL, Config, collect_configs, janitoo_config

HEADS = {"5d2f0a8c91e3", "2b3c4d5e6f70", "c3e9b5a1d274"}


def write_conf(path: Path, url: str) -> Path:
    path.write_text(f"[system]\nservice = jnt_test\n\n[database]\nauto_migrate = true\nsqlalchemy.url = {url}\n")
    return path


def test_the_default_url_is_the_original_librarys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JANITOO_DB_URL", "sqlite:////elsewhere.sqlite")
    assert ORIGINAL_DEFAULT_URL == "sqlite:////tmp/janitoo_db.sqlite"
    assert Config().url == "sqlite:////tmp/janitoo_db.sqlite"
    assert janitoo_config().url == "sqlite:////tmp/janitoo_db.sqlite"


def test_a_conf_file_gives_the_url_and_wins_over_url(tmp_path: Path) -> None:
    conf = write_conf(tmp_path / "janitoo_db.site.conf", "sqlite:////tmp/janitoo_test/janitoo_db_tests.sqlite")
    assert Config(conf_file=str(conf)).url == "sqlite:////tmp/janitoo_test/janitoo_db_tests.sqlite"
    assert Config(url="sqlite:////x.sqlite", conf_file=conf).url.endswith("janitoo_db_tests.sqlite")
    assert janitoo_config(conf_file=conf).url.endswith("janitoo_db_tests.sqlite")


def test_a_conf_file_without_a_database_url_is_our_error(tmp_path: Path) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text("[database]\nauto_migrate = true\n")
    with pytest.raises(ConfigError, match=r"bad.conf: the \[database\] section has no sqlalchemy.url"):
        Config(conf_file=conf)


def test_initdb_versiondb_heads_and_checkdb(sqlite_url: str) -> None:
    config = Config(url=sqlite_url)
    assert config.checkdb() is False
    assert config.versiondb() == ()
    config.initdb()
    assert Path(sqlite_url.removeprefix("sqlite:///")).is_file()
    assert set(config.versiondb()) == HEADS == set(version_ids(sqlite_url))
    heads = config.heads()
    assert all(isinstance(head, Script) for head in heads)
    assert {head.revision for head in heads} == HEADS
    assert config.checkdb() is True
    config.downgrade()
    assert config.checkdb() is False
    assert version_ids(sqlite_url) == set()
    assert not {"core_users", "acme_readings"} & table_names(sqlite_url)


def test_upgrade_and_downgrade_take_a_revision(sqlite_url: str) -> None:
    config = Config(url=sqlite_url)
    config.upgrade("janitoo@head")
    assert version_ids(sqlite_url) == {"5d2f0a8c91e3"}
    assert config.checkdb() is False
    config.upgrade()
    assert config.checkdb() is True
    config.downgrade("janitoo_template@base")
    assert "c3e9b5a1d274" not in config.versiondb()
    assert "template_rooms" not in table_names(sqlite_url)
    with pytest.raises(ExtensionError, match="unknown extension 'nosuchbranch'"):
        config.upgrade("nosuchbranch@head")


def test_no_connection_stays_open_between_calls(sqlite_url: str) -> None:
    config = Config(url=sqlite_url)
    config.initdb()
    assert not config.site.has_engine
    config.checkdb()
    assert not config.site.has_engine


def test_alembic_commands_take_the_config_directly(sqlite_url: str) -> None:
    """janitoo_nosetests' model tests: alembic.command.upgrade(janitoo_config(url), 'heads')."""
    alembic_command.upgrade(janitoo_config(sqlite_url), "heads")
    assert version_ids(sqlite_url) == HEADS
    assert {"core_users", "template_rooms", "acme_readings"} <= table_names(sqlite_url)
    alembic_command.downgrade(janitoo_config(sqlite_url), "base")
    assert version_ids(sqlite_url) == set()


def test_collect_configs_gives_the_core_then_each_extension(sqlite_url: str) -> None:
    configs = collect_configs(sqlite_url)
    assert [(c.pkg_name, c.ep_name) for c in configs] == [
        ("janitoo_db", "janitoo"), ("acme_sensors", "acme_sensors"), ("janitoo_template", "janitoo_template")]
    assert {c.url for c in configs} == {sqlite_url}
    # Every configuration knows every branch, as the original's did.
    assert all({h.revision for h in c.heads()} == HEADS for c in configs)
