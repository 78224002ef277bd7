"""Engines for the three databases janitoo_db supports, and their errors in plain words.

SQLite gets real transactions around DDL (its Python driver otherwise commits
before each DDL statement) and waits for a busy database instead of failing.
Driverless URLs pick the drivers installed by our extras.  Every message that
could carry a URL shows the password as ``***``.
"""
from __future__ import annotations

import os
import re
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Connection, Engine, create_engine, make_url

from janitoo_db.errors import ConfigError, DatabaseError
from janitoo_db.site.masking import mask_secrets

#: Driver used for a URL that names only the dialect, and the extra that installs it.
DEFAULT_DRIVERS = {
    "postgresql": ("psycopg", "postgresql"),
    "mysql": ("pymysql", "mysql"),
    "mariadb": ("pymysql", "mysql"),
}
#: Seconds a SQLite connection waits for another process's lock.
SQLITE_BUSY_TIMEOUT = 60


def parse_url(url: str | URL) -> URL:
    """Parse *url*, fill in our default driver, and check a SQLite file's directory."""
    if isinstance(url, str):
        if not url.strip():
            raise ConfigError("the database URL is empty")
        try:
            parsed = make_url(url)
        except exc.ArgumentError:
            raise ConfigError(f"not a database URL: {hide_password(url)!r}") from None
        except ValueError:  # SQLAlchemy reads the port as an integer
            raise ConfigError(f"not a database URL: {hide_password(url)!r} (its port is not a number)") from None
        _refuse_unescaped_at(url, parsed)
        url = parsed
    backend, _, driver = url.drivername.partition("+")
    if not driver and backend in DEFAULT_DRIVERS:
        url = url.set(drivername=f"{backend}+{DEFAULT_DRIVERS[backend][0]}")
    if backend == "sqlite" and url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        directory = os.path.dirname(os.path.abspath(url.database))
        if not os.path.isdir(directory):
            raise ConfigError(f"the directory of the SQLite database does not exist: {directory}")
    return url


def _refuse_unescaped_at(text: str, url: URL) -> None:
    """Refuse a URL whose password holds an ``@`` not written ``%40``.

    SQLAlchemy cuts such a password at its first ``@``: the driver then
    connects to a host named after the rest of the password, and echoes it
    back in its error.  Before any connection is tried, say how to write it.
    """
    if url.get_backend_name() == "sqlite" or not url.host:
        return
    userinfo = _USERINFO_START.search(text)
    after_password = text[userinfo.end():].partition("@")[2] if userinfo else ""
    database = url.database or ""
    if ("@" in url.host or ("@" in database and f"/{database}" in text)
            or (not database and "@" in after_password)):
        raise ConfigError(f"the database URL {hide_password(text)!r} has an '@' after the one that ends its "
                          "password: write each '@' of a password (or of a host or database name) as %40")


#: Where the password of a URL's text begins: after ``//user:``.
_USERINFO_START = re.compile(r"//[^\s/:'\"]*:")

#: Dialect+driver pairs known to exist: checking them would import a dialect module for nothing.
BUILT_IN_DRIVERS = frozenset({"sqlite", "sqlite+pysqlite"} | {f"{backend}+{driver}"
                                                             for backend, (driver, _) in DEFAULT_DRIVERS.items()})


def check_url(url: str | URL) -> URL:
    """Parse *url* and make sure SQLAlchemy knows its dialect, without importing any driver."""
    parsed = parse_url(url)
    if parsed.drivername in BUILT_IN_DRIVERS:
        return parsed
    try:
        parsed.get_dialect()
    except exc.NoSuchModuleError:
        raise ConfigError(_unknown_dialect(parsed)) from None
    return parsed


def _unknown_dialect(url: URL) -> str:
    return (f"unknown database dialect {url.drivername!r} in {hide_password(url)} "
            "(janitoo_db knows sqlite, postgresql and mysql)")


def hide_password(text: str | URL, url: URL | None = None) -> str:
    """Return *text* with any password (of *url*, of *text* itself, or anything like one) as ``***``."""
    if isinstance(text, URL):
        return mask_secrets(text.render_as_string(hide_password=True), text)
    return mask_secrets(text, url if url is not None else text)


def create_db_engine(url: str | URL, **options: Any) -> Engine:
    """Create an engine for *url*, raising :class:`ConfigError` for unusable URLs or drivers."""
    url = parse_url(url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        options.setdefault("connect_args", {}).setdefault("timeout", SQLITE_BUSY_TIMEOUT)
    try:
        engine = create_engine(url, **options)
    except exc.NoSuchModuleError:
        raise ConfigError(_unknown_dialect(url)) from None
    except ImportError as error:
        raise ConfigError(_missing_driver(url, error)) from None
    if backend == "sqlite":
        _make_sqlite_transactional(engine)
    return engine


def _missing_driver(url: URL, error: ImportError) -> str:
    """Say which driver is missing and how to get one janitoo_db supports."""
    backend = url.get_backend_name()
    module = (error.name or "").split(".")[0] or url.get_driver_name()
    message = f"the database driver {module!r} for {backend} is not installed"
    if backend not in DEFAULT_DRIVERS:
        return message + " (janitoo_db supports sqlite, postgresql and mysql)"
    ours, extra = DEFAULT_DRIVERS[backend]
    if module != ours:
        message += f"; janitoo_db's driver is {ours}: write the URL as {backend}://..."
    return message + f"; install it with: pip install 'janitoo_db[{extra}]'"


def _make_sqlite_transactional(engine: Engine) -> None:
    """Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.

    A connection with the execution option ``sqlite_begin="IMMEDIATE"``
    takes the write lock at once, so two migrating processes queue on the
    busy timeout instead of failing when both try to write.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode:  # None: each statement on its own (a revision's autocommit block)
            connection.exec_driver_sql(f"BEGIN {mode}")


def has_transactional_ddl_dialect(name: str) -> bool:
    """False for MySQL and MariaDB, whose DDL statements commit by themselves."""
    return name not in ("mysql", "mariadb")


def is_missing_sqlite_file(engine: Engine) -> bool:
    """True for a SQLite database file that does not exist yet: reading it must not create it."""
    database = engine.url.database
    if engine.url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return False
    return not database.startswith("file:") and not os.path.exists(database)


def describe_db_error(error: exc.DBAPIError | exc.SQLAlchemyError, url: URL | None = None) -> str:
    """Reduce a driver error to its first meaningful line, without any password."""
    original = getattr(error, "orig", None) or error
    lines = [" ".join(line.split()) for line in str(original).strip().splitlines() if line.strip()]
    message = lines[0] if lines else type(original).__name__
    # The server's own advice (PostgreSQL's "HINT: ...") is worth keeping on the one line.
    message += "".join(f" ({line})" for line in lines[1:] if line.startswith("HINT:"))
    # Without *url*, what looks like a password in the message (//user:secret@, password=...) is still hidden.
    return hide_password(message, url)


#: PostgreSQL's refusal of a connection to a database it does not have (its English wording: the
#: driver gives no SQLSTATE for a refused connection).
_NO_SUCH_POSTGRESQL_DATABASE = re.compile(r'database ".*" does not exist')
#: MySQL/MariaDB's ER_BAD_DB_ERROR.
_NO_SUCH_MYSQL_DATABASE = 1049


def is_missing_database(error: exc.DBAPIError) -> bool:
    """True when a server refused a connection because the URL's database does not exist there."""
    original = error.orig
    args = getattr(original, "args", None) or (None,)
    return args[0] == _NO_SUCH_MYSQL_DATABASE or bool(_NO_SUCH_POSTGRESQL_DATABASE.search(str(original)))


def connect(engine: Engine) -> Connection:
    """Open a connection, turning refusals into a :class:`DatabaseError` that names the database.

    A driver may also fail before it reaches the server, on an option it
    cannot use (``charset=bogus``, a missing ``ssl_ca`` file, a password its
    protocol cannot encode): that too is one error naming the URL's options.
    """
    where = hide_password(engine.url)
    try:
        return engine.connect()
    except exc.DBAPIError as error:
        hint = "; 'jnt_dbman initdb --create-database' creates it" if is_missing_database(error) else ""
        raise DatabaseError(f"cannot connect to {where}: {describe_db_error(error, engine.url)}{hint}") from None
    except (exc.SQLAlchemyError, OSError, LookupError, ValueError, TypeError, AttributeError) as error:
        options = ", ".join(sorted(engine.url.query)) or "none"
        reason = hide_password(f"{type(error).__name__}: {error}", engine.url)
        raise DatabaseError(f"cannot connect to {where}: the {engine.url.get_driver_name()} driver failed before "
                            f"reaching the server ({reason}); check the URL's options ({options}) "
                            "and its password's characters") from None
