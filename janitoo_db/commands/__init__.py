"""One function per jnt_dbman command: each returns data and raises JanitooDbError.

Like ``alembic.command``, every function takes what it works on first: a
:class:`~janitoo_db.site.Site` (or an Alembic ``Config`` janitoo_db made, as
the original's callers hand); none prints or exits.  The functions live by
family, in the modules of this package; they are all importable from here.
"""
from typing import TYPE_CHECKING, Any

from janitoo_db.commands.building import adopt, createdb, dropdb
from janitoo_db.commands.common import StepReporter
from janitoo_db.commands.drawing import graph_drawing, graph_picture
from janitoo_db.commands.mending import accept, check, forget, repair
from janitoo_db.commands.migrating import BARE_STEP, create_database, downgrade, initdb, stamp, upgrade
from janitoo_db.commands.planning import (
    branch_lock_findings,
    downgrade_empties_database,
    downgrade_sql,
    plan,
    table_creators,
    upgrade_sql,
)
from janitoo_db.commands.reading import (
    CURRENT,
    branches,
    checkdb,
    collect,
    current,
    edited_revisions,
    heads,
    history,
    interrupted_revisions,
    show,
    version_locations,
    versiondb,
)

if TYPE_CHECKING:
    from janitoo_db.commands.squashing import squash
    from janitoo_db.commands.writing import generate, merge

__all__ = [
    "BARE_STEP", "CURRENT", "StepReporter", "accept", "adopt", "branch_lock_findings", "branches", "check",
    "checkdb", "collect", "create_database", "createdb", "current", "downgrade", "downgrade_empties_database",
    "downgrade_sql", "dropdb", "edited_revisions", "forget", "generate", "graph_drawing", "graph_picture",
    "heads", "history", "initdb", "interrupted_revisions", "merge", "plan", "repair", "show", "squash", "stamp",
    "table_creators", "upgrade", "upgrade_sql", "version_locations", "versiondb",
]

#: Writing revisions imports what a server start never needs: loaded on first use.
_AUTHORING = {"generate": "writing", "merge": "writing", "squash": "squashing"}


def __getattr__(name: str) -> Any:
    if name in _AUTHORING:
        import importlib

        return getattr(importlib.import_module(f"janitoo_db.commands.{_AUTHORING[name]}"), name)
    raise AttributeError(f"module 'janitoo_db.commands' has no attribute {name!r}")
