"""Creating the database itself on its server when it is missing (``initdb/createdb --create-database``).

A PostgreSQL or MySQL/MariaDB server must hold the database before anything
can connect to it, while a SQLite file is made by connecting.  The command
first connects to the database as usual: when that works, or fails for a
reason other than its absence (a wrong password, a server down), nothing is
created and the command reports its own error as ever.  Only then does it
look, on the server's maintenance database (``postgres``, else ``template1``;
on MySQL no database at all), whether the database exists, and create it
when it does not, so that it needs the right to create databases only once.
"""
from __future__ import annotations

from sqlalchemy import exc, text
from sqlalchemy.engine import URL, Connection, Engine

from janitoo_db.errors import ConfigError, DatabaseError
from janitoo_db.site.engine import connect, create_db_engine, describe_db_error, hide_password

#: Where a PostgreSQL user can connect when its own database does not exist yet, in order.
POSTGRESQL_MAINTENANCE_DATABASES = ("postgres", "template1")
#: PostgreSQL (42P04) and MySQL (1007) say so when another process created the database first.
_ALREADY_EXISTS = ("42P04", 1007)


def create_if_missing(engine: Engine) -> bool:
    """Create *engine*'s database on its server when it does not exist; True when this call created it.

    SQLite needs nothing (connecting creates the file): False.
    """
    url = engine.url
    backend = url.get_backend_name()
    if backend not in ("postgresql", "mysql", "mariadb"):
        return False
    if not url.database:
        raise ConfigError(f"{hide_password(url)} names no database to create")
    try:
        with engine.connect():
            return False
    except exc.DBAPIError as error:
        refused = error  # absent, or something else: the server's list of databases tells
    *others, last = _server_urls(url)
    for server_url in (*others, last):
        server = create_db_engine(server_url, isolation_level="AUTOCOMMIT")
        try:
            try:
                connection = connect(server)
            except DatabaseError:
                if server_url is last:
                    # The server is not reachable at all, most likely: say why the database itself was not.
                    raise DatabaseError(
                        f"cannot connect to {hide_password(url)}: {describe_db_error(refused, url)} "
                        f"(--create-database: nor to {hide_password(server_url)})") from None
                continue
            with connection:
                return not _exists(connection, url.database) and _create(connection, url)
        finally:
            server.dispose()
    raise AssertionError("not reached: the last maintenance database answers or raises")


def _server_urls(url: URL) -> tuple[URL, ...]:
    if url.get_backend_name() == "postgresql":
        return tuple(url.set(database=name) for name in POSTGRESQL_MAINTENANCE_DATABASES)
    return (url._replace(database=None),)  # URL.set() cannot take a value away


def _exists(connection: Connection, name: str) -> bool:
    if connection.dialect.name == "postgresql":
        query = "SELECT 1 FROM pg_database WHERE datname = :name"
    else:
        query = "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = :name"
    return connection.execute(text(query), {"name": name}).first() is not None


def _create(connection: Connection, url: URL) -> bool:
    name = url.database
    assert name is not None
    quoted = connection.dialect.identifier_preparer.quote_identifier(name)
    # MySQL/MariaDB: utf8mb4, whatever the server's default (latin1 before MariaDB 11.6) would be.
    options = "" if connection.dialect.name == "postgresql" else " CHARACTER SET utf8mb4"
    try:
        connection.execute(text(f"CREATE DATABASE {quoted}{options}"))
    except exc.DBAPIError as error:
        original = error.orig
        if getattr(original, "sqlstate", None) in _ALREADY_EXISTS or \
                (getattr(original, "args", None) or (None,))[0] in _ALREADY_EXISTS:
            return False  # another process created it meanwhile
        raise DatabaseError(
            f"cannot create the database {name!r} on the server of {hide_password(url)}: "
            f"{describe_db_error(error, url)}; create it as a user allowed to (CREATE DATABASE {quoted}), "
            "then run the command again") from None
    return True
