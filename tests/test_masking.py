"""No password ever printed: janitoo_db.masking, and every error path of jnt_dbman given one.

Each case gives jnt_dbman a password (on the command line, in a configuration
file, in $JANITOO_DB_URL), makes it fail, and greps everything it printed.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import pytest
from click.testing import Result
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from janitoo_db.engine import describe_db_error, hide_password
from janitoo_db.masking import mask_secrets

Run = Callable[..., Result]
SECRET = "S3cr3tPW"


@pytest.mark.parametrize("text, urls, expected", [
    ("not a database URL: 'postgresql//u:S3cr3tPW@127.0.0.1/db'", (), "'postgresql//u:***@127.0.0.1/db'"),
    ("Raw value: 'postgresql://u:S3cr3t%(foo)sPW@h/db'", (), "Raw value: 'postgresql://u:***@h/db'"),
    ("//u:p@ss@word@host/db", (), "//u:***@host/db"),
    ("postgresql://u@h/db?sslmode=off&password=S3cr3tPW", (), "postgresql://u@h/db?sslmode=off&password=***"),
    ("host=h PASSWD=S3cr3tPW user=u", (), "host=h PASSWD=*** user=u"),
    ("the server echoed ab/cd, ab%2Fcd and ab%2fcd", ("postgresql://u:ab%2Fcd@h/db",),
     "the server echoed ***, *** and ***"),
    ("bare S3cr3tPW in a message", ("mysql://u@h/db?password=S3cr3tPW",), "bare *** in a message"),
    ("using password: YES for user 'u'@'h'", ("mysql://u:x@h/db",), "using password: YES for user 'u'@'h'"),
])
def test_mask_secrets(text: str, urls: tuple[str, ...], expected: str) -> None:
    masked = mask_secrets(text, *urls)
    assert expected in masked
    assert SECRET not in masked


def test_hide_password_of_a_url_and_its_query() -> None:
    url = make_url(f"postgresql://u:{SECRET}@h/db?password={SECRET}")
    assert hide_password(url) == "postgresql://u:***@h/db?password=***"


def test_describe_db_error_hides_a_password_the_driver_repeats() -> None:
    url = make_url("postgresql://u:ab%2Fcd@h/db")
    error = OperationalError("SELECT 1", {}, Exception("FATAL: bad login u/ab/cd (raw ab%2Fcd)\nHINT: check ab/cd"))
    message = describe_db_error(error, url)
    assert "ab/cd" not in message and "ab%2Fcd" not in message
    assert message == "FATAL: bad login u/*** (raw ***) (HINT: check ***)"


def output(result: Result) -> str:
    return result.stdout + result.stderr


def assert_one_masked_error(result: Result) -> str:
    assert result.exit_code != 0
    printed = output(result)
    assert SECRET not in printed and "S3cr3t" not in printed
    assert "Traceback" not in printed
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


UNPARSABLE = f"postgresql//u:{SECRET}@127.0.0.1/db"


@pytest.mark.parametrize("url", [
    UNPARSABLE,
    f"postgresql://u:{SECRET}@127.0.0.1:1/db",                      # refused
    f"postgresql://u:ab%2F{SECRET}@127.0.0.1:1/db",                  # an escaped character in it
    f"postgresql://u@127.0.0.1:1/db?password={SECRET}",             # in the query string
    f"mysql://u:{SECRET}@127.0.0.1:1/db",
    f"mysql://u@127.0.0.1:1/db?password={SECRET}",
    f"nosuchdialect://u:{SECRET}@h/db",
    f"sqlite:////no/such/dir/{SECRET}/x.sqlite?password={SECRET}",
])
@pytest.mark.parametrize("given", ["option", "option before the command", "environment", "conf file"])
def test_no_error_path_prints_the_password(cli: Run, tmp_path: Path, url: str, given: str) -> None:
    if given == "option":
        result = cli("checkdb", "-u", url)
    elif given == "option before the command":
        result = cli("-u", url, "initdb")
    elif given == "environment":
        result = cli("versiondb", env={"JANITOO_DB_URL": url})
    else:
        conf = tmp_path / "janitoo.conf"
        conf.write_text("[database]\nsqlalchemy.url = " + url.replace("%", "%%") + "\n")
        result = cli("current", "-c", str(conf))
    assert_one_masked_error(result)


def test_a_conf_file_interpolation_error_hides_the_raw_value(cli: Run, tmp_path: Path) -> None:
    conf = tmp_path / "janitoo.conf"
    conf.write_text(f"[database]\nsqlalchemy.url = postgresql://u:{SECRET}%(foo)s@127.0.0.1/db\n")
    line = assert_one_masked_error(cli("checkdb", "-c", str(conf)))
    assert "janitoo.conf" in line


def test_dropdb_refusal_hides_the_password(cli: Run) -> None:
    result = cli("dropdb", "-u", f"postgresql://u:{SECRET}@127.0.0.1:1/db?password={SECRET}")
    line = assert_one_masked_error(result)
    assert "postgresql://u:***@127.0.0.1:1/db" in line


def test_an_unexpected_error_is_masked_too(cli: Run, monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    from janitoo_db import commands

    def broken(config: object) -> None:
        raise RuntimeError(f"boom at mysql://u:{SECRET}@h/db")

    monkeypatch.setattr(commands, "heads", broken)
    line = assert_one_masked_error(cli("heads", "-u", sqlite_url))
    assert line.startswith("Error: unexpected RuntimeError: boom at mysql://u:***@h/db")


@pytest.mark.server
def test_a_wrong_password_on_a_real_server(cli: Run, postgresql_url: str, mysql_url: str) -> None:
    for server_url in (postgresql_url, mysql_url):
        url = make_url(server_url).set(username="janitoo_nobody", password=SECRET)
        assert_one_masked_error(cli("initdb", "-u", url.render_as_string(hide_password=False)))
    sys.stdout.flush()
