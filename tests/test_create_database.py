"""initdb/createdb --create-database: the database itself is created on its server when it is missing.

Each server test names a database that does not exist (generated for it) and
drops it afterwards, whatever the test did; the server's presence is checked
by conftest's throw-away database, as for every server test.
"""
from __future__ import annotations

import shlex
import subprocess
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest
from click.testing import Result
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from conftest import MYSQL_ADMIN_URL, POSTGRESQL_ADMIN_URL, _throwaway_database
from dbstate import table_names, version_ids

REPO = Path(__file__).resolve().parents[1]
Run = Callable[..., Result]
RunProcess = Callable[..., subprocess.CompletedProcess[str]]
HEADS = {"5d2f0a8c91e3", "2b3c4d5e6f70", "c3e9b5a1d274"}
#: PostgreSQL here trusts 127.0.0.1: any password is accepted, and must never be printed.
PASSWORD = "Sekr3t-create"
SERVERS = {
    "postgresql": (POSTGRESQL_ADMIN_URL, "PostgreSQL at 127.0.0.1:5432"),
    "mysql": (MYSQL_ADMIN_URL, "MariaDB at 127.0.0.1:3306"),
}


def drop_database(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            force = " WITH (FORCE)" if admin.dialect.name == "postgresql" else ""
            connection.execute(text(f"DROP DATABASE IF EXISTS {name}{force}"))
    finally:
        admin.dispose()


def database_exists(admin_url: str, name: str) -> bool:
    admin = create_engine(admin_url)
    try:
        with admin.connect() as connection:
            if admin.dialect.name == "postgresql":
                query = "SELECT 1 FROM pg_database WHERE datname = :name"
            else:
                query = "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = :name"
            return connection.execute(text(query), {"name": name}).first() is not None
    finally:
        admin.dispose()


@pytest.fixture(params=sorted(SERVERS))
def server(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def missing_url(server: str) -> Iterator[str]:
    """The URL of a database that does not exist on *server* (a password in it on PostgreSQL); dropped after."""
    admin_url, what = SERVERS[server]
    name = f"jnt_new_{uuid.uuid4().hex[:12]}"
    for existing in _throwaway_database(admin_url, what):  # skips (or fails in CI) without the server
        url = make_url(existing).set(database=name)
        if server == "postgresql":
            url = url.set(password=PASSWORD)
        try:
            yield url.render_as_string(hide_password=False)
        finally:
            drop_database(admin_url, name)


@pytest.mark.server
def test_initdb_creates_the_missing_database_then_builds_it(jnt_dbman: RunProcess, missing_url: str,
                                                             server: str) -> None:
    masked = make_url(missing_url).render_as_string(hide_password=True)
    created = jnt_dbman("initdb", "--create-database", "-u", missing_url)
    assert created.returncode == 0, created.stderr
    assert created.stderr.splitlines()[0] == f"Created the database {masked}."
    assert PASSWORD not in created.stdout + created.stderr
    assert version_ids(missing_url) == HEADS

    # Once it exists, the option changes nothing and says nothing about it.
    again = jnt_dbman("initdb", "--create-database", "-u", missing_url)
    assert again.returncode == 0, again.stderr
    assert "Created the database" not in again.stderr
    assert version_ids(missing_url) == HEADS


@pytest.mark.server
@pytest.mark.parametrize("server", ["postgresql"])
def test_the_readme_quick_start_line_works_on_a_server_without_the_database(jnt_dbman: RunProcess,
                                                                             missing_url: str) -> None:
    """The README's PostgreSQL line, run as written but on the test's own (missing) database."""
    (line,) = [line.strip() for line in (REPO / "README.rst").read_text().splitlines()
               if line.startswith("    jnt_dbman --url postgresql://")]
    words = shlex.split(line.split("#", 1)[0])
    assert words[:2] == ["jnt_dbman", "--url"] and make_url(words[2]).database == "janitoo"
    result = jnt_dbman(*words[1:2], missing_url, *words[3:])
    assert result.returncode == 0, result.stderr
    assert "Created the database " in result.stderr
    assert version_ids(missing_url) == HEADS


@pytest.mark.server
def test_without_the_option_a_missing_database_is_not_created(cli: Run, missing_url: str, server: str) -> None:
    result = cli("initdb", "-u", missing_url)
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: cannot connect to ") and PASSWORD not in line
    # The way out, named.
    assert line.endswith("; 'jnt_dbman initdb --create-database' creates it")
    admin_url, _ = SERVERS[server]
    assert not database_exists(admin_url, make_url(missing_url).database)


@pytest.mark.server
def test_createdb_creates_the_missing_database_then_its_tables(cli: Run, missing_url: str) -> None:
    result = cli("createdb", "--create-database", "-u", missing_url)
    assert result.exit_code == 0, result.stderr
    assert "Created the database " in result.stderr and PASSWORD not in result.stderr
    assert result.stdout.startswith("Created ") and "stamped the database at heads" in result.stdout
    assert version_ids(missing_url) == HEADS and "core_users" in table_names(missing_url)


def test_sqlite_accepts_the_option_and_creates_its_file_as_ever(cli: Run, sqlite_url: str) -> None:
    result = cli("initdb", "-q", "--create-database", "-u", sqlite_url)
    assert result.exit_code == 0, result.stderr
    assert "Created the database" not in result.stderr
    assert version_ids(sqlite_url) == HEADS


@pytest.fixture
def role_without_createdb(postgresql_url: str) -> Iterator[str]:
    """A PostgreSQL role that may log in but not create databases; dropped after."""
    role = f"jnt_role_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRESQL_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE ROLE {role} LOGIN NOCREATEDB"))
        yield role
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()


@pytest.mark.server
@pytest.mark.parametrize("server", ["postgresql"])
def test_a_user_who_may_not_create_databases_is_told_so(cli: Run, missing_url: str, role_without_createdb: str,
                                                        server: str) -> None:
    url = make_url(missing_url).set(username=role_without_createdb)
    result = cli("initdb", "--create-database", "-u", url.render_as_string(hide_password=False))
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line == (f"Error: cannot create the database {url.database!r} on the server of "
                    f"{url.render_as_string(hide_password=True)}: permission denied to create database; create "
                    f"it as a user allowed to (CREATE DATABASE \"{url.database}\"), then run the command again")
    assert not database_exists(POSTGRESQL_ADMIN_URL, str(url.database))
