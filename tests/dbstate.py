"""Read a database's state in tests: its tables, its Alembic versions, the rows of a query.

Every helper takes *where*, the database to read:

* a :class:`~pathlib.Path`: a SQLite file;
* a ``str``: a SQLAlchemy URL (``sqlite:///...``, ``postgresql+psycopg://...``, ``mysql+pymysql://...``).

They read with SQLAlchemy, never with janitoo_db, so they check what janitoo_db did
rather than repeat it.  Each call opens an engine of its own and disposes of it before
returning: no connection outlives the call, so a server database can be dropped and a
SQLite file removed or rewritten right after.

An absent SQLite file is never created: it has no tables and no versions, and
:func:`rows` refuses it (:class:`FileNotFoundError`).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, Connection, make_url

Where: TypeAlias = Path | str
"""A SQLite file, or a database URL."""

BOOKKEEPING_PREFIX = "janitoo_db_"
"""janitoo_db's own bookkeeping tables (beside Alembic's ``alembic_version``)."""

SQLITE_INTERNAL_PREFIX = "sqlite_"
"""SQLite's own tables (``sqlite_sequence``, ``sqlite_stat1``...); no other table may have this prefix."""


def url_of(where: Where) -> URL:
    """The SQLAlchemy URL of *where*: a Path is a SQLite file, a str is parsed as a URL."""
    if isinstance(where, Path):
        return URL.create("sqlite", database=str(where))
    return make_url(where)


def sqlite_file(where: Where) -> Path | None:
    """The file of a SQLite database; None for an in-memory one or another database."""
    url = url_of(where)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def is_absent(where: Where) -> bool:
    """True for a SQLite file that does not exist (yet); connecting would create it."""
    path = sqlite_file(where)
    return path is not None and not path.exists()


@contextmanager
def connected(where: Where) -> Iterator[Connection]:
    """A connection in a transaction, committed on success; the engine is disposed of afterwards.

    Connecting to an absent SQLite file would create it: callers check :func:`is_absent` first.
    """
    engine = create_engine(url_of(where))
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def table_names(where: Where, *, bookkeeping: bool = True, sqlite_internal: bool = False) -> set[str]:
    """The names of the tables of *where*'s default schema; an absent SQLite file has none.

    ``bookkeeping=False`` leaves out janitoo_db's bookkeeping tables (``janitoo_db_*``);
    ``alembic_version`` is always kept.  SQLite's own tables (``sqlite_sequence``...) are
    left out, as SQLAlchemy's inspector does, unless ``sqlite_internal=True``: then on
    SQLite every table of ``sqlite_master`` is named.
    """
    if is_absent(where):
        return set()
    with connected(where) as connection:
        if sqlite_internal and connection.dialect.name == "sqlite":
            names = set(connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'").scalars())
        else:
            names = set(inspect(connection).get_table_names())
    if not bookkeeping:
        names = {name for name in names if not name.startswith(BOOKKEEPING_PREFIX)}
    return names


def version_ids(where: Where) -> set[str]:
    """The revision ids in ``alembic_version``; none without that table or without the SQLite file."""
    if is_absent(where):
        return set()
    with connected(where) as connection:
        if not inspect(connection).has_table("alembic_version"):
            return set()
        return set(connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())


def rows(where: Where, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Every row *sql* returns (none for a statement returning no rows), as plain tuples.

    *sql* goes to the database driver as written, with *params* in its own placeholder
    style (``?`` for SQLite, ``%s`` for psycopg and PyMySQL); values come back as the
    driver returns them (``bytes`` for a SQLite BLOB).  The transaction is committed.
    """
    if is_absent(where):
        raise FileNotFoundError(f"no SQLite database at {sqlite_file(where)}")
    with connected(where) as connection:
        result = connection.exec_driver_sql(sql, params) if params else connection.exec_driver_sql(sql)
        return [tuple(row) for row in result] if result.returns_rows else []


def execute(where: Where, *statements: str) -> None:
    """Run *statements* as SQLAlchemy ``text()`` (``:name`` binds, no driver %-formatting), in one transaction."""
    engine = create_engine(url_of(where))
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()
