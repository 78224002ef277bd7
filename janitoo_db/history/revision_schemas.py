"""The tables and columns each branch has at each of its revisions, and a database's in the same terms.

``jnt_dbman adopt`` looks for the revision whose schema a database without
``alembic_version`` matches.  The schema of a revision is learnt by running
every revision on a scratch SQLite database (:mod:`janitoo_db.history.replay`) and
looking at the tables after each one.  Each table belongs to the branch
whose revision created it, and each column to the branch whose revision
added it: an extension that adds a column to a core table owns that
column, so the core still matches with it there.

Types are compared by a coarse class only (:func:`type_class`): the replay
runs on SQLite, and the same column is ``BOOLEAN`` there, ``TINYINT(1)`` on
MySQL; what a class does tell apart is, say, a pickled setting (binary)
from a JSON one (text), which have the same column names.
"""
from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic.script import Script
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeEngine

from janitoo_db.history.replay import NOT_SCHEMA, Applied, replay
from janitoo_db.site import Site, graph

#: Column name to its type class (None: a type of no known class, which matches any).
Columns = Mapping[str, "str | None"]

_CLASSES: tuple[tuple[tuple[type, ...], str], ...] = (
    ((bytes, bytearray, memoryview), "binary"),
    ((int,), "integer"),  # bool too: MySQL stores booleans as TINYINT(1)
    ((float, decimal.Decimal), "numeric"),
    ((datetime.date, datetime.time, datetime.timedelta), "date/time"),
    ((str, uuid.UUID), "text"),
)


def type_class(type_: TypeEngine[Any]) -> str | None:
    """binary, integer, numeric, date/time or text; None when the type is none of them."""
    if isinstance(type_, (sa.String, sa.JSON)):  # JSON: MariaDB's is LONGTEXT
        return "text"
    try:
        python_type = type_.python_type
    except NotImplementedError:
        return None
    return next((name for kinds, name in _CLASSES if issubclass(python_type, kinds)), None)


@dataclass(frozen=True)
class Snapshot:
    """A branch's part of the schema just after one of its revisions ran."""

    revision: Script
    #: The tables the branch's revisions created, with the columns they made.
    tables: Mapping[str, Columns]
    #: The columns it added to other branches' tables.
    added: Mapping[str, Columns]


@dataclass
class BranchSchemas:
    """Every schema a branch has had, and every table and column it has ever made."""

    name: str
    #: Newest first; only those the replay could learn exactly (see :func:`learn`).
    snapshots: list[Snapshot] = field(default_factory=list)
    tables_ever: set[str] = field(default_factory=set)
    added_ever: dict[str, set[str]] = field(default_factory=dict)

    @property
    def footprint(self) -> set[str]:
        """Every table of which something belongs to this branch."""
        return self.tables_ever | set(self.added_ever)


@dataclass
class Schemas:
    """What :func:`learn` found, for every installed branch."""

    branches: dict[str, BranchSchemas]
    #: Table to column to the branches whose revisions ever made it.
    column_owners: dict[str, dict[str, set[str]]]

    def theirs(self, table: str, column: str, branch: str) -> bool:
        """True when only other branches' revisions ever made *column* of *table*."""
        owners = self.column_owners.get(table, {}).get(column, set())
        return bool(owners) and branch not in owners

    def tables(self) -> set[str]:
        return set().union(*(b.footprint for b in self.branches.values()))


def learn(site: Site) -> Schemas:
    """Replay every revision and take each branch's snapshot after each of its revisions.

    Remembered on *site*: adopt examines the database twice, before and
    after asking.  A snapshot is kept only when every revision of its
    branch replayed before it is one of its ancestors: with two lines of
    revisions in one branch, the replay runs some of the other line first.
    """
    if site.revision_schemas is not None:
        return site.revision_schemas
    names = [extension.name for extension in site.extensions]
    learner = _Learner({name: BranchSchemas(name) for name in names})
    replay(site, learner.after)
    for branch in learner.schemas.branches.values():
        branch.snapshots.reverse()
    site.revision_schemas = learner.schemas
    return learner.schemas


class _Learner:
    """The replay's running state: every table's columns, with the branches that made each."""

    def __init__(self, branches: dict[str, BranchSchemas]) -> None:
        self.schemas = Schemas(branches, {})
        self.sql: dict[str, str] = {}
        self.table_owner: dict[str, frozenset[str]] = {}
        self.columns: dict[str, dict[str, tuple[frozenset[str], str | None]]] = {}
        #: Branch to the tables it owns or has columns in: a snapshot looks at those only.
        self.involved: dict[str, set[str]] = {}
        self.tips: dict[str, set[str]] = {name: set() for name in branches}

    def after(self, applied: Applied, connection: Connection) -> None:
        revision = applied.revision
        labels = frozenset(revision.branch_labels)
        # SQLite rewrites a table's CREATE statement on every change: only changed tables are read again.
        # Through the driver: a thousand revisions read this a thousand times.
        driver = connection.connection.driver_connection
        assert driver is not None  # the replay's connection is open
        now = {name: sql for name, sql in driver.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
               if name not in NOT_SCHEMA and not name.startswith("sqlite_")}
        for gone in set(self.sql) - set(now):
            self._forget(gone)
        inspector = sa.inspect(connection)
        for table in [t for t, sql in now.items() if self.sql.get(t) != sql]:
            before = self.columns.get(table, {})
            owner = self.table_owner.setdefault(table, labels)
            self._forget(table)
            self.table_owner[table] = owner
            self.columns[table] = {column["name"]: (before[column["name"]][0] if column["name"] in before else labels,
                                                    type_class(column["type"]))
                                   for column in inspector.get_columns(table)}
            for label in owner.union(*(owners for owners, _ in self.columns[table].values())):
                self.involved.setdefault(label, set()).add(table)
            for column, (owners, _) in self.columns[table].items():
                self.schemas.column_owners.setdefault(table, {}).setdefault(column, set()).update(owners)
        self.sql = now
        for name in labels & set(self.schemas.branches):
            self._snapshot(self.schemas.branches[name], revision)

    def _forget(self, table: str) -> None:
        self.columns.pop(table, None)
        self.table_owner.pop(table, None)
        for tables in self.involved.values():
            tables.discard(table)

    def _snapshot(self, branch: BranchSchemas, revision: Script) -> None:
        parents = set(graph.parents(revision))
        exact = self.tips[branch.name] <= parents
        self.tips[branch.name] = (self.tips[branch.name] - parents) | {revision.revision}
        tables: dict[str, dict[str, str | None]] = {}
        added: dict[str, dict[str, str | None]] = {}
        for table in self.involved.get(branch.name, ()):
            mine = {name: kind for name, (owners, kind) in self.columns[table].items() if branch.name in owners}
            if branch.name in self.table_owner[table]:
                tables[table] = mine
                branch.tables_ever.add(table)
            elif mine:
                added[table] = mine
                branch.added_ever.setdefault(table, set()).update(mine)
        if exact:
            branch.snapshots.append(Snapshot(revision, tables, added))


def read_tables(connection: Connection, names: Iterable[str]) -> tuple[dict[str, dict[str, str | None]], list[str]]:
    """The columns of those of *names* the database has, and the names of all its other tables."""
    wanted = set(names)
    inspector = sa.inspect(connection)
    present = sorted(inspector.get_table_names())
    ours = [table for table in present if table in wanted]
    found = inspector.get_multi_columns(filter_names=ours) if ours else {}
    columns = {table: {column["name"]: type_class(column["type"]) for column in described}
               for (_, table), described in found.items()}
    return columns, [t for t in present if t not in wanted and t not in NOT_SCHEMA]
