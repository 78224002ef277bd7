"""Where the database is, and the in-memory Alembic configuration.

The URL comes from ``-u``, else ``-c`` (a janitoo INI file), else
``$JANITOO_DB_URL``, else the documented default; the Alembic ``Config`` is
built without writing any file (the original left one holding the URL in the
temp directory).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import Result

from conftest import EXTENSIONS_DIR, revision_lines, subprocess_env
from dbstate import version_ids

Run = Callable[..., Result]
DEFAULT_URL = "sqlite:////tmp/janitoo_dbman.sqlite"
HEADS = {"5d2f0a8c91e3", "2b3c4d5e6f70", "c3e9b5a1d274"}


def write_conf(path: Path, url: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"[system]\nservice = jnt_test\n\n[database]\nsqlalchemy.url = {url}\nauto_migrate = true\n")
    return path


@pytest.fixture
def spy_url(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs jnt_dbman builds its Site for, without opening any database."""
    import janitoo_db.site

    seen: list[str] = []

    class Spy(janitoo_db.site.Site):
        def __init__(self, url: str, *args: Any, **kwargs: Any) -> None:
            seen.append(url)
            super().__init__(url, *args, **kwargs)

    monkeypatch.setattr(janitoo_db.site, "Site", Spy)
    return seen


# -- resolve_url ---------------------------------------------------------------

def test_resolve_url_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from janitoo_db.config import resolve_url

    conf = write_conf(tmp_path / "janitoo.conf", "sqlite:///from-conf.sqlite")
    monkeypatch.setenv("JANITOO_DB_URL", "sqlite:///from-env.sqlite")
    assert resolve_url("sqlite:///from-option.sqlite", conf) == "sqlite:///from-option.sqlite"
    assert resolve_url(None, conf) == "sqlite:///from-conf.sqlite"
    assert resolve_url(None, None) == "sqlite:///from-env.sqlite"
    monkeypatch.delenv("JANITOO_DB_URL")
    assert resolve_url(None, None) == DEFAULT_URL
    monkeypatch.setenv("JANITOO_DB_URL", "")
    assert resolve_url() == DEFAULT_URL


def test_the_cli_passes_the_resolved_url(cli: Run, tmp_path: Path, spy_url: list[str]) -> None:
    """-u beats -c, -c beats the environment, the environment beats the default."""
    conf = write_conf(tmp_path / "janitoo.conf", "sqlite:///from-conf.sqlite")
    env = {"JANITOO_DB_URL": "sqlite:///from-env.sqlite"}
    for args, run_env, expected in [
        (["-u", "sqlite:///from-option.sqlite", "-c", str(conf)], env, "sqlite:///from-option.sqlite"),
        (["-c", str(conf)], env, "sqlite:///from-conf.sqlite"),
        ([], env, "sqlite:///from-env.sqlite"),
        ([], None, DEFAULT_URL),
    ]:
        spy_url.clear()
        result = cli("heads", *args, env=run_env)  # heads never opens the database
        assert result.exit_code == 0, result.stderr
        assert spy_url == [expected]


def test_the_default_is_documented_in_the_help(cli: Run) -> None:
    assert DEFAULT_URL in " ".join(cli("initdb", "--help").stdout.split())


def test_initdb_builds_the_database_the_precedence_selects(cli: Run, tmp_path: Path) -> None:
    option, from_conf, from_env = (tmp_path / f"{name}.sqlite" for name in ("option", "conf", "env"))
    conf = write_conf(tmp_path / "janitoo.conf", f"sqlite:///{from_conf}")
    env = {"JANITOO_DB_URL": f"sqlite:///{from_env}"}

    assert cli("initdb", "-q", "-u", f"sqlite:///{option}", "-c", str(conf), env=env).exit_code == 0
    assert [p.exists() for p in (option, from_conf, from_env)] == [True, False, False]
    assert cli("initdb", "-q", "--conf-file", str(conf), env=env).exit_code == 0
    assert [p.exists() for p in (from_conf, from_env)] == [True, False]
    assert cli("initdb", "-q", env=env).exit_code == 0
    assert from_env.exists()
    for path in (option, from_conf, from_env):
        assert version_ids(path) == HEADS


def test_here_in_the_conf_file_is_its_directory(cli: Run, tmp_path: Path) -> None:
    conf = write_conf(tmp_path / "etc dir" / "janitoo.conf", "sqlite:///%(here)s/janitoo.sqlite")
    result = cli("initdb", "-q", "-c", str(conf))
    assert result.exit_code == 0, result.stderr
    assert version_ids(conf.parent / "janitoo.sqlite") == HEADS


def test_a_literal_percent_in_the_conf_file(tmp_path: Path) -> None:
    from janitoo_db.config import read_conf_url
    from janitoo_db.errors import ConfigError

    conf = write_conf(tmp_path / "janitoo.conf", "postgresql://me:p%%40ss@db.example/janitoo")
    assert read_conf_url(conf) == "postgresql://me:p%40ss@db.example/janitoo"
    write_conf(conf, "postgresql://me:p%40ss@db.example/janitoo")
    with pytest.raises(ConfigError, match="%%"):
        read_conf_url(conf)


@pytest.mark.parametrize("content, message", [
    (None, "cannot read the configuration file"),
    ("[system]\nservice = x\n", "has no [database] section"),
    ("[database]\nauto_migrate = true\n", "the [database] section has no sqlalchemy.url"),
    ("[database]\nsqlalchemy.url = sqlite:///50%full.sqlite\n", "write a literal % as %%"),
])
def test_an_unusable_conf_file_is_one_error_line(cli: Run, tmp_path: Path, content: str | None, message: str) -> None:
    conf = tmp_path / "janitoo.conf"
    if content is not None:
        conf.write_text(content)
    result = cli("checkdb", "-c", str(conf))
    assert result.exit_code == 1
    err = result.stderr.splitlines()
    assert len(err) == 1 and err[0].startswith("Error: ") and message in err[0], result.stderr
    assert "Traceback" not in result.stderr


# -- the Alembic config ----------------------------------------------------------

def test_alembic_config_is_built_in_memory(cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Building the config, and running a command, leaves the temp directory empty."""
    from janitoo_db.config import alembic_config

    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    for name in ("TMPDIR", "TEMP", "TMP"):
        monkeypatch.setenv(name, str(temp))
    assert tempfile.gettempdir() == str(temp)

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    config = alembic_config(url)
    assert config.config_file_name is None
    assert list(temp.iterdir()) == []
    assert cli("initdb", "-q", "-u", url).exit_code == 0
    assert list(temp.iterdir()) == []


def test_no_file_is_left_in_the_real_temp_directory(tmp_path: Path) -> None:
    """The original's world-readable copy of the config must not appear, whatever its name."""
    from janitoo_db.config import alembic_config

    temp = Path(tempfile.gettempdir())
    before = {p.name for p in temp.iterdir()}
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    alembic_config(url)
    new = {p.name for p in temp.iterdir()} - before
    for name in new:  # other processes may create files meanwhile: only ours would hold our URL
        path = temp / name
        if path.is_file() and path.stat().st_size < 1_000_000:
            assert url not in path.read_text(errors="replace"), path


def test_alembic_config_options(tmp_path: Path) -> None:
    from janitoo_db.config import alembic_config
    from janitoo_db.site.extensions import discover

    url = "postgresql://me:p%40ss@db.example/janitoo"  # a %-escape must survive ConfigParser
    config = alembic_config(url)
    assert config.get_main_option("sqlalchemy.url") == url
    script_location = Path(config.get_main_option("script_location"))
    assert (script_location / "env.py").is_file() and (script_location / "script.py.mako").is_file()
    locations = config.get_main_option("version_locations").split(os.pathsep)
    assert locations == [str(extension.version_dir()) for extension in discover()]
    assert len(locations) == 3 and all(Path(p).is_dir() for p in locations)


def test_a_version_directory_path_with_a_space(tmp_path: Path, jnt_dbman: Callable[..., Any]) -> None:
    """An extension installed under a directory with a space in its name still migrates."""
    spaced = tmp_path / "dir with space"
    shutil.copytree(EXTENSIONS_DIR, spaced, ignore=shutil.ignore_patterns("__pycache__"))
    env = subprocess_env(PYTHONPATH=str(spaced))
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"

    done = jnt_dbman("version_locations", "-u", url, env=env)
    assert done.returncode == 0, done.stderr
    acme = spaced / "acme_sensors" / "models" / "acme_sensors"
    assert str(acme) in done.stdout.removeprefix("version_locations = ").rstrip("\n").split(os.pathsep)

    done = jnt_dbman("initdb", "-u", url, env=env)
    assert done.returncode == 0, done.stderr
    assert "Applied 2b3c4d5e6f70 (acme_sensors): Readings" in revision_lines(done.stderr)
    assert version_ids(tmp_path / "db.sqlite") == HEADS
    done = jnt_dbman("show", "-r", "2b3c4d5e6f70", "-u", url, env=env)
    assert f"Path: {acme / '2b3c4d5e6f70_readings.py'}" in done.stdout.splitlines()
