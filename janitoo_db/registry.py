"""Which branch each head in ``alembic_version`` belongs to, kept beside it.

``alembic_version`` holds bare revision ids: once an extension is uninstalled
(or the database was migrated by a newer release), nothing says whose head an
unknown id is.  After every migration janitoo_db records, in the same
transaction, the branch of each head it knows, so such heads can be reported
by name later.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

REGISTRY_TABLE = "janitoo_db_branches"
#: Revisions a MySQL/MariaDB migration has started and not finished (see janitoo_db.interrupted).
PROGRESS_TABLE = "janitoo_db_in_progress"
#: janitoo_db's own tables, beside Alembic's alembic_version: no model declares them.
BOOKKEEPING_TABLES = frozenset({REGISTRY_TABLE, PROGRESS_TABLE})

_metadata = sa.MetaData()
branches_table = sa.Table(
    REGISTRY_TABLE, _metadata,
    sa.Column("revision", sa.String(32), primary_key=True),
    sa.Column("branch", sa.String(255), nullable=False),
)


def record_branches(connection: Connection, script: ScriptDirectory) -> None:
    """Rewrite the registry from ``alembic_version``, keeping what is known of unknown heads."""
    from alembic.runtime.migration import MigrationContext

    current = MigrationContext.configure(connection).get_current_heads()
    previous = recorded_branches(connection)
    rows = []
    for revision in current:
        try:
            found = script.get_revision(revision)
        except Exception:  # an id no installed branch provides: keep what was recorded
            found = None
        labels = sorted(found.branch_labels) if found is not None else []
        branch = ", ".join(labels) or previous.get(revision)
        if branch:
            rows.append({"revision": revision, "branch": branch})
    branches_table.create(connection, checkfirst=True)
    connection.execute(branches_table.delete())
    if rows:
        connection.execute(branches_table.insert(), rows)


def recorded_branches(connection: Connection) -> dict[str, str]:
    """Revision id to branch name, as last recorded; empty when nothing was."""
    if not sa.inspect(connection).has_table(REGISTRY_TABLE):
        return {}
    return {row.revision: row.branch for row in connection.execute(sa.select(branches_table))}
