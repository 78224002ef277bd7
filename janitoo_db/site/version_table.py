"""Reading Alembic's ``alembic_version`` table without a migration context.

janitoo_db reads the current revisions for its own bookkeeping (the
registry, checksums, re-stamps, plans) many times per command.  A
``MigrationContext`` built only for that logs Alembic's "Context impl ..." and
"Will assume ... DDL." lines at INFO each time, so plain ``alembic`` (whose
configuration shows Alembic's INFO messages) repeated them for every read.
Only the context Alembic runs the revisions in should say them, once.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

#: Alembic's default version table, the one every janitoo database uses.
VERSION_TABLE = "alembic_version"

_version = sa.table(VERSION_TABLE, sa.column("version_num"))


def current_heads(connection: Connection) -> tuple[str, ...]:
    """The revision ids in ``alembic_version``, as ``MigrationContext.get_current_heads`` reads them."""
    if not connection.dialect.has_table(connection, VERSION_TABLE):  # every server start pays for this read
        return ()
    return tuple(row[0] for row in connection.execute(sa.select(_version.c.version_num)))
