"""Reading what a database holds without migrating it: its version, its tables, on a connection of its own.

Its version is read without a migration context.

janitoo_db reads the current revisions for its own bookkeeping (the
registry, checksums, re-stamps, plans) many times per command.  A
``MigrationContext`` built only for that logs Alembic's "Context impl ..." and
"Will assume ... DDL." lines at INFO each time, so plain ``alembic`` (whose
configuration shows Alembic's INFO messages) repeated them for every read.
Only the context Alembic runs the revisions in should say them, once.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, TypeVar

import sqlalchemy as sa
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from janitoo_db.defaults import BOOKKEEPING_TABLES, VERSION_TABLE
from janitoo_db.errors import DatabaseError
from janitoo_db.site.engine import connect, describe_db_error, is_missing_sqlite_file

if TYPE_CHECKING:
    from janitoo_db.site import Site

T = TypeVar("T")


_version = sa.table(VERSION_TABLE, sa.column("version_num"))


def current_heads(connection: Connection) -> tuple[str, ...]:
    """The revision ids in ``alembic_version``, as ``MigrationContext.get_current_heads`` reads them."""
    if not connection.dialect.has_table(connection, VERSION_TABLE):  # every server start pays for this read
        return ()
    return tuple(row[0] for row in connection.execute(sa.select(_version.c.version_num)))


#: What a database without a version holds that is not a branch's: Alembic's table and janitoo_db's own.
NOT_TABLES = BOOKKEEPING_TABLES | {VERSION_TABLE}
_FIRST_VERSION = sa.select(_version.c.version_num).limit(1)


def is_versioned(connection: Connection) -> bool:
    """True when ``alembic_version`` holds a row: the one question every server start pays for.

    Asked of the dialect directly: through an Alembic MigrationContext it takes six times as long.
    """
    return bool(connection.dialect.has_table(connection, VERSION_TABLE)
                and connection.execute(_FIRST_VERSION).first() is not None)


def tables_unversioned(connection: Connection) -> list[str] | None:
    """The tables of a database without a version, none of Alembic's or janitoo_db's; None when it has one."""
    if is_versioned(connection):
        return None
    return sorted(t for t in inspect(connection).get_table_names() if t not in NOT_TABLES)


def describe_base(connection: Connection) -> str:
    """Where a database without a version stands, for a message: "base (no tables)", or how many it holds."""
    tables = tables_unversioned(connection) or []
    if not tables:
        return "base (no tables)"
    return f"base: {describe_unversioned(len(tables))}"


def describe_unversioned(count: int) -> str:
    """A database without a version holding *count* tables, for a message: never "empty" when it has tables."""
    return f"no alembic_version ({count} table{'' if count == 1 else 's'}, none of them versioned)"


def read_database(site: Site, read: Callable[[Connection], T], missing: T, what: str) -> T:
    """*read* on a connection of its own; *missing* for a SQLite file that does not exist, which is not created.

    A failure is a :class:`DatabaseError` saying "cannot *what*".
    """
    engine = site.engine
    if is_missing_sqlite_file(engine):
        return missing
    try:
        with connect(engine) as connection:
            return read(connection)
    except SQLAlchemyError as error:
        raise DatabaseError(f"cannot {what}: {describe_db_error(error, engine.url)}") from None


def read_current(site: Site) -> tuple[str, ...]:
    """The revision ids in the database's ``alembic_version`` table."""
    return read_database(site, current_heads, (), "read the database version")
