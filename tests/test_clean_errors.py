"""Inputs that used to print "unexpected ...", hang, or create a file: one line, exit 1, nothing touched."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Callable

import pytest
from click.testing import Result

from conftest import subprocess_env, write_extension

Run = Callable[..., Result]


def one_error(result: Result) -> str:
    assert result.exit_code == 1, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "unexpected" not in lines[0] and "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("url, expected", [
    ("postgresql://u:pw@127.0.0.1:abc/db", "Error: not a database URL: 'postgresql://u:***@127.0.0.1:abc/db' "
                                           "(its port is not a number)"),
    ("mysql+pymysql://root@127.0.0.1:1/x?charset=bogus", "(charset)"),
    ("mysql+pymysql://root@127.0.0.1:1/x?ssl_ca=/no/such/ca.pem", "(ssl_ca)"),
    ("", "Error: the database URL is empty"),
    ("   ", "Error: the database URL is empty"),
])
def test_unusable_urls(cli: Run, url: str, expected: str) -> None:
    assert expected in one_error(cli("checkdb", "-u", url))


@pytest.mark.server
def test_a_password_mysql_cannot_encode(cli: Run, mysql_url: str) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(mysql_url).set(password="pässw☃rd").render_as_string(hide_password=False)
    line = one_error(cli("checkdb", "-u", url))
    assert "the pymysql driver failed before reaching the server (UnicodeEncodeError" in line
    assert "☃" not in line.split("(", 1)[0] and "pässw" not in line


def test_an_empty_url_is_not_the_default_database(cli: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    conf = tmp_path / "empty.conf"
    conf.write_text("[database]\nsqlalchemy.url =\n")
    assert one_error(cli("initdb", "-c", str(conf))) == "Error: the database URL is empty"
    assert one_error(cli("-u", "", "initdb")) == "Error: the database URL is empty"


def test_a_conf_file_of_binary_garbage(cli: Run, tmp_path: Path) -> None:
    conf = tmp_path / "garbage.conf"
    conf.write_bytes(bytes(range(256)) * 4)
    assert one_error(cli("checkdb", "-c", str(conf))) == \
        f"Error: {conf} is not a configuration file: it is not UTF-8 text"


@pytest.mark.parametrize("args", [
    ["show", "-r", ""], ["show", "-r", "@"], ["show", "-r", "janitoo@"], ["stamp", ""], ["upgrade", "@"],
    ["upgrade", "--sql", ":"], ["upgrade", "--sql", "heads:"], ["downgrade", "--sql", ":base"],
])
def test_symbols_that_denote_no_revision(cli: Run, sqlite_url: str, args: list[str]) -> None:
    line = one_error(cli(*args, "-u", sqlite_url))
    assert " is not a revision: give an id, a branch name, NAME@head" in line
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()


@pytest.mark.parametrize("args", [["dropdb", "--yes"], ["stamp", "base"], ["stamp", "janitoo@base"]])
def test_nothing_to_do_on_a_missing_sqlite_file_creates_nothing(cli: Run, sqlite_url: str, args: list[str]) -> None:
    result = cli(*args, "-u", sqlite_url)
    assert result.exit_code == 0, result.stderr
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()


def test_a_down_revision_cycle(tmp_path: Path, jnt_dbman: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    root = write_extension(tmp_path / "ext", "loop", [("e60000000001", ""), ("e60000000002", ""),
                                                      ("e60000000003", "")])
    versions = root / "loop" / "models" / "loop"
    second = next(versions.glob("e60000000002_*.py"))
    second.write_text(second.read_text().replace("down_revision = 'e60000000001'", "down_revision = 'e60000000003'"))
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    url = f"sqlite:///{tmp_path / 'loop.sqlite'}"
    for command in ("initdb", "heads", "checkdb"):
        done = jnt_dbman(command, "-u", url, env=env)
        assert done.returncode == 1 and done.stderr.startswith("Error: Cycle is detected in revisions"), done.stderr
        assert "unexpected" not in done.stderr and len(done.stderr.splitlines()) == 1
    assert not (tmp_path / "loop.sqlite").exists()


@pytest.mark.parametrize("name", ["a@b", "x" * 300, "two words", "dir/name", "range:name"])
def test_extension_names_that_cannot_be_branch_labels(
        tmp_path: Path, name: str, jnt_dbman: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    dist = tmp_path / "odd-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: odd\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[janitoo.models]\n{name} = odd:extend\n")
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(tmp_path), subprocess_env()["PYTHONPATH"]]))
    done = jnt_dbman("collect", env=env)
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith(f"Error: the extension name {(name if len(name) <= 40 else name[:40] + '...')!r} "
                                  "(odd:extend, distribution odd) cannot be a branch label")


@pytest.mark.parametrize("cache", ["on", "off"])
def test_a_down_revision_no_branch_provides(tmp_path: Path, cache: str,
                                            jnt_dbman: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    root = write_extension(tmp_path / "ext", "dangling", [("e70000000001", ""), ("e70000000002", "")])
    second = next((root / "dangling" / "models" / "dangling").glob("e70000000002_*.py"))
    second.write_text(second.read_text().replace("down_revision = 'e70000000001'", "down_revision = 'ffffffffffff'"))
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    if cache == "off":
        env["JANITOO_DB_CACHE_DIR"] = ""
    url = f"sqlite:///{tmp_path / 'dangling.sqlite'}"
    for command in ("heads", "initdb"):
        done = jnt_dbman(command, "-u", url, env=env)
        assert done.returncode == 1 and done.stderr == (
            "Error: revision e70000000002 names ffffffffffff as its down_revision or depends_on, "
            "and no installed branch provides it\n"), done.stderr
    assert not (tmp_path / "dangling.sqlite").exists()
