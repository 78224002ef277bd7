"""What must exist in the database the model-based test drives: the model, and reading the real thing.

The model knows, for every branch, how many of its revisions are applied,
which extensions are installed, the marker rows the test inserted, and the
table of another program.  Everything else (the tables that must exist, the
revisions alembic_version must hold, the exit code ``checkdb`` must give)
follows from that.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

from model_extensions import FOREIGN_TABLE, Universe

#: janitoo_db's own bookkeeping (not compared: which of them exist is its business).
BOOKKEEPING = ("alembic_version", "janitoo_db_")
#: The first id of a row the test inserts; rows below it are the revisions' own.
MARKER = 1000


@dataclass
class Model:
    """What the database must hold: per branch how many revisions are applied, and the rows inserted."""

    universe: Universe
    installed: set[str] = field(default_factory=set)
    applied: dict[str, int] = field(default_factory=dict)
    rows: dict[str, set[int]] = field(default_factory=dict)
    #: After the versioning was lost (as in a database the original made): where each branch's tables are.
    stripped: dict[str, int] | None = None
    #: Squashed branches the database holds at the last replaced revision: the next migration re-stamps them.
    restamp: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.applied = {name: self.applied.get(name, 0) for name in self.universe.branches}
        self.installed |= {name for name, branch in self.universe.branches.items() if branch.fixed}

    def copy(self) -> Model:
        return Model(self.universe, set(self.installed), dict(self.applied), copy.deepcopy(self.rows),
                     dict(self.stripped) if self.stripped is not None else None, set(self.restamp))

    def length(self, name: str) -> int:
        return len(self.universe.branches[name].revisions)

    def tables(self) -> set[str]:
        """Every table that must exist: those the applied revisions created, and the other program's."""
        found = {FOREIGN_TABLE}
        for name, count in (self.stripped or self.applied).items():
            found |= self.universe.branches[name].tables_at(count)
        return found

    def orphans(self) -> list[str]:
        return sorted(n for n, count in self.applied.items() if count and n not in self.installed)

    def versioned(self) -> bool:
        return any(self.applied.values())

    def checkdb_code(self) -> int:
        """0 at every head, 3 when revisions are pending, 5 when an uninstalled branch is applied (operating.rst)."""
        if self.orphans():
            return 5
        behind = any(self.applied[n] < self.length(n) for n in self.installed)
        if self.stripped is not None or self.restamp & self.installed or behind:
            return 3
        return 0

    def needs(self, name: str, count: int) -> dict[str, int]:
        """The revisions of other branches that applying *count* revisions of *name* brings along (depends_on)."""
        wanted: dict[str, int] = {name: count}
        todo = [(name, count)]
        while todo:
            branch, upto = todo.pop()
            for revision in self.universe.branches[branch].revisions[:upto]:
                if revision.depends_on:
                    other, index = self.universe.revision(revision.depends_on)
                    if index > max(wanted.get(other, 0), self.applied[other]):
                        wanted[other] = index
                        todo.append((other, index))
        return wanted

    def bring(self, name: str, count: int) -> None:
        """Apply *count* revisions of *name*, and what they depend on; never move a branch back."""
        for branch, upto in self.needs(name, count).items():
            self.applied[branch] = max(self.applied[branch], upto)

    def undone_with(self, name: str, target: int) -> dict[str, int]:
        """Where each branch ends when *name* goes down to *target*: its dependents follow (depends_on)."""
        ends = {name: target}
        changed = True
        while changed:
            changed = False
            removed = {r.id for b, end in ends.items()
                       for r in self.universe.branches[b].revisions[end:self.applied[b]]}
            for branch, count in self.applied.items():
                for index, revision in enumerate(self.universe.branches[branch].revisions[:count]):
                    if revision.depends_on in removed and ends.get(branch, count) > index:
                        ends[branch] = index
                        changed = True
                        break
        return {b: end for b, end in ends.items() if end < self.applied[b]}

    def drop_rows_of_missing_tables(self) -> None:
        present = self.tables()
        self.rows = {t: ids for t, ids in self.rows.items() if t in present}


@dataclass(frozen=True)
class Seen:
    """The database as read with plain SQLAlchemy: its tables, alembic_version, and the marker rows."""

    tables: frozenset[str]
    versions: frozenset[str]
    rows: dict[str, frozenset[int]]
    foreign_rows: int


def read(url: str, row_tables: set[str]) -> Seen:
    """Read the database at *url* (never through janitoo_db)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            names = set(inspect(connection).get_table_names())
            versions = (set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
                        if "alembic_version" in names else set())
            rows = {t: frozenset(connection.execute(text(f"SELECT id FROM {t} WHERE id >= {MARKER}")).scalars())
                    for t in sorted(row_tables & names)}
            foreign = (connection.execute(text(f"SELECT COUNT(*) FROM {FOREIGN_TABLE}")).scalar_one()
                       if FOREIGN_TABLE in names else 0)
    finally:
        engine.dispose()
    tables = frozenset(n for n in names if not n.startswith(BOOKKEEPING))
    return Seen(tables, frozenset(versions), rows, foreign)


#: How the test inserts a marker row into each table it writes to (beyond ``id``).
INSERTS = {
    "core_users": "INSERT INTO core_users (id, username, email, password, primary_group_id) "
                  "SELECT {id}, 'u{id}', 'u{id}@example.org', 'x', MIN(id) FROM core_groups HAVING COUNT(*) > 0",
    "acme_readings": "INSERT INTO acme_readings (id, value) VALUES ({id}, 1.5)",
    "template_rooms": "INSERT INTO template_rooms (id, name, floor) VALUES ({id}, 'room{id}', 1)",
}


def insert(url: str, table: str, row_id: int) -> bool:
    """Insert marker row *row_id* into *table*, as an application would; False when it cannot (no user group)."""
    sql = INSERTS.get(table, "INSERT INTO {table} (id) VALUES ({id})").format(table=table, id=row_id)
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            return connection.execute(text(sql)).rowcount == 1
    finally:
        engine.dispose()


def lose_versioning(url: str) -> None:
    """Drop alembic_version and janitoo_db's bookkeeping, as in a database the original janitoo_db made."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            for name in inspect(connection).get_table_names():
                if name.startswith(BOOKKEEPING):
                    connection.execute(text(f"DROP TABLE {name}"))
    finally:
        engine.dispose()


def reset(url: str) -> None:
    """An empty database holding only the other program's table, with one row."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
            elif connection.dialect.name == "mysql":
                database = engine.url.database
                connection.execute(text(f"DROP DATABASE {database}"))
                connection.execute(text(f"CREATE DATABASE {database}"))
                connection.execute(text(f"USE {database}"))
            connection.execute(text(f"CREATE TABLE {FOREIGN_TABLE} (id INTEGER PRIMARY KEY, species VARCHAR(40))"))
            connection.execute(text(f"INSERT INTO {FOREIGN_TABLE} (id, species) VALUES (1, 'wren')"))
    finally:
        engine.dispose()
