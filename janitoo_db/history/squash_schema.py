"""What a branch's revisions build, learned by running them on a scratch database, for ``jnt_dbman squash``.

The revisions of every branch the squashed one needs run on an empty SQLite
database in memory (:func:`janitoo_db.history.replay.replay`).  Once the branch's
head has run, its tables (those its revisions created and did not drop) are
read back: columns, keys, constraints and indexes by reflection, and the rows
its revisions left (seed data).

Reflecting SQLite alone would lose what SQLite does not keep: an
``sa.Enum`` is a ``VARCHAR`` there, ``DateTime(timezone=True)`` a
``DATETIME``, ``sa.false()`` a ``0``.  So every DDL statement of the replay
is watched too, and each column keeps the type and server default its
revision wrote, as long as what SQLite holds is still what that revision's
type makes there; a batch operation's copy of the table does not count as a
change.  Only a column made by raw SQL falls back to the reflected type,
made generic (``DATETIME`` becomes ``sa.DateTime``).

What a revision of the branch does to anything else (other branches'
tables and rows, views, triggers) is not carried over; :class:`Learner`
lists it, per revision, as warnings.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.script import Script
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from janitoo_db.history.replay import NOT_SCHEMA, Applied
from janitoo_db.history.squash_rows import quiet_reflection, read_rows, shape
from janitoo_db.history.squash_tables import _final_tables, _lineage

Snapshot = dict[tuple[str, str], tuple[str, str | None]]


class Learner:
    """Watches a replay (pass :meth:`after_each` to it, inside :meth:`watching`) and keeps what squash needs."""

    def __init__(self, name: str, head: str) -> None:
        self.name, self.head = name, head
        #: The branch's tables at its head, in foreign-key order, in a MetaData of their own.
        self.tables: list[sa.Table] = []
        #: Their rows at the head: (typed values, whether each is NULL in the database), by table.
        self.rows: dict[str, list[tuple[dict[str, Any], set[str]]]] = {}
        #: Other branches' tables, and the revision that created each.
        self.creators: dict[str, str] = {}
        #: How SQLite describes each of them (see :func:`shape`): what the squashed revision must rebuild.
        self.shapes: dict[str, dict[str, Any]] = {}
        self.warnings: list[str] = []
        self._own: set[str] = set()
        self._snapshot: Snapshot = {}
        self._executed: list[tuple[Connection, Any]] = []

    def watching(self) -> _Watch:
        return _Watch(self._executed)

    def after_each(self, applied: Applied, connection: Connection) -> None:
        revision = applied.revision
        snapshot = _snapshot(connection)
        if self.name in revision.branch_labels:
            before = set(self._own)
            self._own = (self._own | applied.created) - applied.dropped
            changed = _changes(self._snapshot, snapshot, before | self._own)
            if changed:
                self.warnings.append(f"revision {revision.revision} changes {', '.join(changed)}, which the squashed "
                                     "revision does not do")
            if _reads_dialect(revision):
                self.warnings.append(f"revision {revision.revision} looks at the database's dialect: the squashed "
                                     "revision does what it did on SQLite")
        else:
            self.creators.update(dict.fromkeys(applied.created, revision.revision))
        self._snapshot = snapshot
        if revision.revision == self.head:
            with quiet_reflection():
                self._read_head(connection)

    def _read_head(self, connection: Connection) -> None:
        """The branch's tables, their rows and their shapes, once its head has run."""
        lineage, origins = _lineage(constructs for seen, constructs in self._executed if seen is connection)
        self.tables = _final_tables(connection, self._own, lineage, origins, self.warnings)
        self.rows = {table.name: read_rows(connection, table) for table in self.tables}
        self.shapes = {table.name: shape(connection, table.name) for table in self.tables}


class _Watch:
    """Every statement executed while it lasts, with its connection: the DDL constructs the revisions run."""

    def __init__(self, executed: list[tuple[Connection, Any]]) -> None:
        self.executed = executed

    def _seen(self, connection: Connection, statement: Any, *args: Any) -> None:
        self.executed.append((connection, statement))

    def __enter__(self) -> None:
        event.listen(Engine, "before_execute", self._seen)

    def __exit__(self, *exc: object) -> None:
        event.remove(Engine, "before_execute", self._seen)


def _snapshot(connection: Connection) -> Snapshot:
    """Every schema object of the scratch database with its SQL, and a digest of each table's rows."""
    found: Snapshot = {}
    for kind, name, table, sql in connection.exec_driver_sql("SELECT type, name, tbl_name, sql FROM sqlite_master"):
        if table in NOT_SCHEMA or name.startswith("sqlite_"):
            continue
        found[(kind, name)] = (table, sql)
        if kind == "table":
            rows = sorted(repr(tuple(row)) for row in connection.exec_driver_sql(f"SELECT * FROM {_quoted(name)}"))
            found[("rows", name)] = (name, hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return found


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _changes(before: Snapshot, after: Snapshot, own: set[str]) -> list[str]:
    """What differs between two snapshots, apart from the branch's own tables, their rows and indexes."""
    changed = []
    for kind, name in sorted(set(before) | set(after)):
        table = (after.get((kind, name)) or before[(kind, name)])[0]
        if before.get((kind, name)) == after.get((kind, name)) or (kind in ("table", "index", "rows") and table in own):
            continue
        if kind == "rows":
            changed.append(f"the rows of {name}")
        elif kind == "index":
            changed.append(f"the index {name} on {table}")
        else:
            changed.append(f"the {kind} {name}")
    return changed


def _reads_dialect(revision: Script) -> bool:
    try:
        return re.search(r"\.dialect\b", Path(revision.path).read_text(encoding="utf-8")) is not None
    except (OSError, UnicodeDecodeError):
        return False
