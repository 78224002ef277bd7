"""No password ever printed: janitoo_db.site.masking, and every error path of jnt_dbman given one.

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

from janitoo_db.site.engine import describe_db_error, hide_password
from janitoo_db.site.masking import mask_secrets

Run = Callable[..., Result]
SECRET = "S3cr3tPW"


@pytest.mark.parametrize("text, urls, expected", [
    ("not a database URL: 'postgresql//u:S3cr3tPW@127.0.0.1/db'", (), "'postgresql//u:***@127.0.0.1/db'"),
    ("Raw value: 'postgresql://u:S3cr3t%(foo)sPW@h/db'", (), "Raw value: 'postgresql://u:***@h/db'"),
    ("//u:p@ss@word@host/db", (), "//u:***@host/db"),
    ("'postgresql://user@srv:S3cr3tPW@h:abc/db'", (), "'postgresql://user@srv:***@h:abc/db'"),
    ("mysql://user@srv:S3cr3tPW@h/db", ("mysql://user@srv:S3cr3tPW@h/db",), "mysql://user@srv:***@h/db"),
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


# -- a password holding an unescaped "@" (and ":", "/", "%"): SQLAlchemy cuts it, the driver echoes the rest --

#: Pieces short enough to slip through a mask that only replaces long secrets, distinctive enough to grep.
PIECES = ("Qx", "Zk", "Jw", "Vq")
#: Passwords as an operator types them, unescaped, into a URL; every piece is one of PIECES.
CUT_PASSWORDS = ["Qx@Zk", "Qx@Zk:Jw", "Qx@Zk/Jw", "Qx@Zk%Jw", "Qx:Zk@Jw/Vq", "Qx@Zk@Jw"]
#: A host that never resolves (RFC 2606): no traffic leaves the machine.
NOWHERE = "nonexistent.invalid"


def assert_no_piece(text: str) -> None:
    for piece in PIECES:
        assert piece not in text, text


@pytest.mark.parametrize("password", CUT_PASSWORDS)
@pytest.mark.parametrize("scheme", ["postgresql+psycopg", "mysql+pymysql"])
def test_a_driver_echoing_a_piece_of_a_cut_password_is_masked(scheme: str, password: str) -> None:
    url = f"{scheme}://u:{password}@{NOWHERE}/db"
    # What a driver says when SQLAlchemy handed it the password's tail as the host or database.
    pieces = [piece for piece in PIECES if piece in password]
    echoed = [f"failed to resolve host '{piece}@{NOWHERE}'" for piece in pieces]
    echoed += [f"Can't connect to MySQL server on '{piece}' (-2)" for piece in pieces]
    echoed += [f'database "{piece}@{NOWHERE}/db" does not exist' for piece in pieces]
    echoed += [f"failed to resolve host '{password.partition('@')[2]}@{NOWHERE}'"]
    for text in echoed:
        assert_no_piece(mask_secrets(text, url))
        try:
            parsed = make_url(url)
        except ValueError:  # a ":" in the tail: SQLAlchemy reads a port, and gives up
            continue
        assert_no_piece(mask_secrets(text, parsed))
        assert_no_piece(hide_password(text, parsed))


def test_masking_a_cut_password_keeps_the_rest_of_the_message() -> None:
    url = make_url(f"postgresql+psycopg://u:Qx@Zk@{NOWHERE}/db")
    message = f"failed to resolve host 'Zk@{NOWHERE}': [Errno -2] Name or service not known"
    assert mask_secrets(message, url) == f"failed to resolve host '***@{NOWHERE}': [Errno -2] Name or service not known"
    # A database name written my%40db is a name, not the tail of a password: the host stays readable.
    escaped = make_url(f"postgresql+psycopg://u:Qx%40Zk@{NOWHERE}/my%40db")
    assert mask_secrets(f"no host {NOWHERE}", escaped) == f"no host {NOWHERE}"


@pytest.mark.parametrize("password", CUT_PASSWORDS)
@pytest.mark.parametrize("scheme", ["postgresql", "mysql+pymysql"])
@pytest.mark.parametrize("as_json", [False, True])
def test_the_cli_refuses_a_cut_password_and_prints_no_piece(cli: Run, scheme: str, password: str,
                                                           as_json: bool) -> None:
    url = f"{scheme}://u:{password}@{NOWHERE}/db?connect_timeout=2"
    result = cli("checkdb", "-u", url, *(["--json"] if as_json else []))
    assert result.exit_code == 1
    assert_no_piece(output(result))
    assert "Traceback" not in output(result)
    if as_json:
        import json

        error = json.loads(result.stdout)["error"]
    else:
        [line] = result.stderr.splitlines()
        error = line.removeprefix("Error: ")
    # Refused before any connection, or, where SQLAlchemy cannot even read the URL, named unreadable.
    assert "%40" in error or "not a database URL" in error, error


def test_a_url_with_an_escaped_at_is_not_refused(cli: Run) -> None:
    result = cli("checkdb", "-u", f"postgresql://u:Qx%40Zk@{NOWHERE}/my%40db?connect_timeout=2&application_name=a@b")
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert "cannot connect to" in line, line
    # The driver was given the host and could not resolve it (psycopg 3.1 and later word it differently).
    assert NOWHERE in line and ("failed to resolve host" in line or "Name or service not known" in line), line
    assert_no_piece(line)


#: Those a driver is given a host ending in .invalid for: a ":" in the tail reads as a port that is not a
#: number (no driver is reached), a "/" makes the host the piece before it, which a resolver might look up.
READABLE_CUT_PASSWORDS = [password for password in CUT_PASSWORDS
                          if not set(":/") & set(password.partition("@")[2])]


@pytest.mark.parametrize("password", READABLE_CUT_PASSWORDS)
@pytest.mark.parametrize("scheme", ["postgresql+psycopg", "mysql+pymysql"])
def test_a_real_driver_echoing_a_cut_password_through_connect_is_masked(scheme: str, password: str) -> None:
    """Past our URL check (an engine a library caller made itself), the driver's own words are masked."""
    from sqlalchemy import create_engine

    from janitoo_db.errors import DatabaseError
    from janitoo_db.site.engine import connect

    url = make_url(f"{scheme}://u:{password}@{NOWHERE}/db?connect_timeout=2")
    engine = create_engine(url)
    try:
        with pytest.raises(DatabaseError) as raised:
            connect(engine)
    finally:
        engine.dispose()
    assert "cannot connect to" in str(raised.value)
    assert_no_piece(str(raised.value))


# -- library callers: the exception's own message is masked, not only the CLI's printing of it --

def _echoing_driver(monkeypatch: pytest.MonkeyPatch, dialect: str) -> None:
    """Make the driver of *dialect* fail every connection with a message quoting the password it was given."""
    from sqlalchemy.engine import default

    def refuse(self: default.DefaultDialect, *cargs: object, **cparams: object) -> None:
        raise self.loaded_dbapi.OperationalError(f"login refused: password {cparams.get('password')!r} for "
                                                 f"{cparams.get('host')!r}")

    module = {"postgresql": "sqlalchemy.dialects.postgresql.psycopg",
              "mysql": "sqlalchemy.dialects.mysql.pymysql"}[dialect]
    import importlib

    dialect_module = importlib.import_module(module)
    monkeypatch.setattr(dialect_module.dialect, "connect", refuse)


LIBRARY_CALLERS = ["commands.checkdb", "commands.initdb", "migrate.Config.initdb", "migrate.Config.checkdb",
                   "JNTDBServer", "base.create_db_engine+connect"]


def _call_library(caller: str, url: str) -> None:
    from janitoo_db import commands
    from janitoo_db.migrate import Config

    if caller.startswith("commands."):
        getattr(commands, caller.split(".")[1])(Config(url=url))
    elif caller.startswith("migrate.Config."):
        getattr(Config(url=url), caller.rsplit(".", 1)[1])()
    elif caller == "JNTDBServer":
        from janitoo_db.server import JNTDBServer

        class Options:
            def get_options(self, section: str) -> dict[str, str]:
                return {"sqlalchemy.url": url}

        JNTDBServer(Options())
    else:
        from janitoo_db.base import create_db_engine
        from janitoo_db.site.engine import connect

        connect(create_db_engine(url)).close()


@pytest.mark.parametrize("caller", LIBRARY_CALLERS)
@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_a_connect_failure_holding_the_password_is_masked_for_library_callers(
        monkeypatch: pytest.MonkeyPatch, caller: str, dialect: str) -> None:
    from janitoo_db.errors import JanitooDbError

    _echoing_driver(monkeypatch, dialect)
    with pytest.raises(JanitooDbError) as raised:
        _call_library(caller, f"{dialect}://u:{SECRET}@127.0.0.1:1/db")
    message = str(raised.value)
    assert "login refused: password '***'" in message, message
    assert SECRET not in message and SECRET not in repr(raised.value)


@pytest.mark.parametrize("caller", LIBRARY_CALLERS)
@pytest.mark.parametrize("password", ["Qx@Zk", "Qx@Zk/Jw", "Qx:Zk@Jw/Vq"])
def test_a_cut_password_is_refused_and_masked_for_library_callers(caller: str, password: str) -> None:
    from janitoo_db.errors import ConfigError

    with pytest.raises(ConfigError) as raised:
        _call_library(caller, f"postgresql://u:{password}@{NOWHERE}/db?connect_timeout=2")
    assert "%40" in str(raised.value)
    assert_no_piece(str(raised.value))


def test_a_sqlite_path_holding_an_at_is_no_password() -> None:
    url = "sqlite:////srv/me@home/data/janitoo.sqlite"
    assert mask_secrets(f"unable to open {url[10:]}", url) == f"unable to open {url[10:]}"
    assert mask_secrets("unable to open it", make_url(url)) == "unable to open it"


def test_a_revision_quoting_the_url_fails_with_the_password_hidden(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgresql_url: str) -> None:
    """A library caller's MigrationError hides the password a revision's own error quotes."""
    from conftest import install_extension, write_extension
    from janitoo_db.errors import MigrationError
    from janitoo_db.migrate import Config

    root = write_extension(tmp_path / "ext", "quoter", [
        ("e95000000001", "raise RuntimeError('cannot reach ' + str(op.get_bind().engine.url."
                         "render_as_string(hide_password=False)))")])
    install_extension(root, "quoter", monkeypatch)
    # The test server trusts local connections: the password is never checked, only carried.
    url = make_url(postgresql_url).set(password=SECRET).render_as_string(hide_password=False)
    with pytest.raises(MigrationError) as raised:
        Config(url=url).initdb()
    assert "RuntimeError: cannot reach postgresql+psycopg://postgres:***@" in str(raised.value)
    assert SECRET not in str(raised.value)

