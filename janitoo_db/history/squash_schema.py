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

import copy
import hashlib
import importlib.util
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from alembic.ddl.base import AddColumn, ColumnName, RenameTable
from alembic.script import Script
from sqlalchemy import event
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import SAWarning
from sqlalchemy.sql.elements import conv

from janitoo_db.defaults import NAMING_CONVENTION
from janitoo_db.errors import RevisionError
from janitoo_db.history.replay import NOT_SCHEMA, Applied
from janitoo_db.site.alembic_internals import BATCH_TABLE_PREFIX

Lineage = dict[str, dict[str, list[sa.Column[Any]]]]
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


def _base_name(name: str) -> str:
    return name[len(BATCH_TABLE_PREFIX):] if name.startswith(BATCH_TABLE_PREFIX) else name


def _lineage(constructs: Iterable[Any]) -> tuple[Lineage, dict[str, sa.Table]]:
    """Each table's columns as every DDL statement wrote them, oldest first, and the Table that first created it."""
    lineage: Lineage = {}
    dropped: Lineage = {}
    origins: dict[str, sa.Table] = {}
    for construct in constructs:
        if isinstance(construct, sa.schema.CreateTable):
            table = construct.element
            if table.name.startswith(BATCH_TABLE_PREFIX):  # a batch copy: the same table, continued
                columns = lineage.setdefault(table.name, {})
            else:
                columns = lineage[table.name] = {}
                origins[table.name] = table
            for column in table.columns:
                columns.setdefault(column.name, []).append(column)
        elif isinstance(construct, sa.schema.DropTable):
            dropped[construct.element.name] = lineage.pop(construct.element.name, {})
        elif isinstance(construct, AddColumn):
            lineage.setdefault(construct.table_name, {}).setdefault(construct.column.name, []).append(construct.column)
        elif isinstance(construct, RenameTable):
            old, new = construct.table_name, construct.new_table_name
            moved = lineage.pop(old, {})
            if old == BATCH_TABLE_PREFIX + new:  # a batch copy taking the name of the table it copied
                earlier = dropped.pop(new, {})
                moved = {column: earlier.get(column, []) + found for column, found in moved.items()}
            elif old in origins:
                origins[new] = origins.pop(old)
            lineage[new] = moved
        elif isinstance(construct, ColumnName):
            columns = lineage.get(construct.table_name, {})
            columns[construct.newname] = columns.pop(construct.column_name, [])
    return lineage, origins


def _compiled_type(type_: Any, dialect: Dialect) -> str | None:
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:  # noqa: BLE001 - a type SQLite cannot render never matches
        return None


def _compiled_default(column: sa.Column[Any], dialect: Dialect) -> str | None:
    """The default as SQLite's CREATE TABLE writes it (and PRAGMA table_info gives it back)."""
    if not isinstance(column.server_default, sa.DefaultClause):
        return None
    # A DDL compiler without a statement, as Alembic makes one to render a server default.
    text = dialect.ddl_compiler(dialect, cast(Any, None)).get_column_default_string(column)
    if text is not None and not re.match(r"""^\s*['"(]""", text) and re.search(r"\W", text):
        text = f"({text})"  # as SQLite's DDL compiler wraps an expression
    return text


def _written(lineage: list[sa.Column[Any]], same: Callable[[sa.Column[Any]], bool]) -> sa.Column[Any] | None:
    """The column as the revision that last gave it what it has now wrote it (batch copies skipped)."""
    index = len(lineage) - 1
    if index < 0 or not same(lineage[index]):
        return None
    while index > 0 and same(lineage[index - 1]):
        index -= 1
    return lineage[index]


def _importable(type_: Any) -> bool:
    module = type(type_).__module__
    if module.startswith("sqlalchemy."):
        return True
    try:
        return importlib.util.find_spec(module.split(".")[0]) is not None
    except (ImportError, ValueError):
        return False


def _portable(type_: Any) -> Any:
    """A type the squashed file can name and every database can use, from the one a revision wrote."""
    while not _importable(type_) and isinstance(type_, sa.types.TypeDecorator):
        type_ = type_.impl  # a type defined in a revision file: its file is gone
    if not _importable(type_) or type(type_).__module__.startswith("sqlalchemy.dialects.sqlite"):
        return _generic(type_)
    return type_


def _generic(type_: Any) -> Any:
    """The generic form of a type SQLite reflected (``DATETIME`` is no PostgreSQL type; ``sa.DateTime`` is)."""
    try:
        return type_.as_generic()
    except NotImplementedError:
        return type_


def _column(reflected: Any, lineage: list[sa.Column[Any]], dialect: Dialect) -> sa.Column[Any]:
    type_text = _compiled_type(reflected["type"], dialect)
    typed = _written(lineage, lambda c: _compiled_type(c.type, dialect) == type_text)
    defaulted = _written(lineage, lambda c: _compiled_default(c, dialect) == reflected.get("default"))
    default: Any
    if defaulted is not None:
        default = defaulted.server_default.arg if isinstance(defaulted.server_default, sa.DefaultClause) else None
    else:
        default = sa.text(reflected["default"]) if reflected.get("default") is not None else None
    extra: list[Any] = []
    if reflected.get("computed"):
        extra.append(sa.Computed(reflected["computed"]["sqltext"], persisted=reflected["computed"].get("persisted")))
    return sa.Column(reflected["name"], _portable(typed.type) if typed is not None else _generic(reflected["type"]),
                     *extra,
                     nullable=reflected["nullable"], server_default=default,
                     autoincrement=typed.autoincrement if typed is not None else "auto",
                     comment=typed.comment if typed is not None else None)


def _named(name: str | None) -> conv | None:
    return conv(name) if name else None  # a name the naming convention must keep as it is


@contextmanager
def quiet_reflection() -> Iterator[None]:
    """Silence SQLAlchemy's warning about indexes on expressions: squash names them itself."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index", SAWarning)
        yield


def _final_tables(connection: Connection, names: set[str], lineage: Lineage, origins: dict[str, sa.Table],
                  notes: list[str]) -> list[sa.Table]:
    """The branch's tables as the database holds them, with the types their revisions wrote, parents first."""
    inspector = sa.inspect(connection)
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    built = {}
    for name in sorted(names):
        columns = [_column(c, lineage.get(name, {}).get(c["name"], []), connection.dialect)
                   for c in inspector.get_columns(name)]
        items: list[Any] = []
        key = inspector.get_pk_constraint(name)
        if key.get("constrained_columns"):
            items.append(sa.PrimaryKeyConstraint(*key["constrained_columns"], name=_named(key.get("name"))))
        for fk in inspector.get_foreign_keys(name):
            items.append(sa.ForeignKeyConstraint(
                fk["constrained_columns"], [f"{fk['referred_table']}.{c}" for c in fk["referred_columns"]],
                name=_named(fk.get("name")), **{k: v for k, v in fk.get("options", {}).items() if v is not None}))
        for unique in inspector.get_unique_constraints(name):
            items.append(sa.UniqueConstraint(*unique["column_names"], name=_named(unique.get("name"))))
        for check in inspector.get_check_constraints(name):
            items.append(sa.CheckConstraint(check["sqltext"], name=_named(check.get("name"))))
        indexes = [i for i in inspector.get_indexes(name) if None not in i["column_names"]]
        for skipped in sorted(_index_names(connection, name) - {i["name"] for i in indexes}):
            notes.append(f"the index {skipped} on {name} is on an expression, which the squashed revision does "
                            "not create")
        for index in indexes:
            items.append(sa.Index(_named(index["name"]), *cast(list[str], index["column_names"]),
                                  unique=bool(index["unique"])))
        origin = origins.get(name)
        options = dict(origin.kwargs) if origin is not None else {}
        built[name] = sa.Table(name, metadata, *columns, *items, comment=origin.comment if origin is not None else None,
                               **options)
    return _parents_first(built)


def _index_names(connection: Connection, table: str) -> set[str]:
    """The indexes SQLite has on *table*, those on expressions too (SQLAlchemy does not reflect them)."""
    return set(connection.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,)).scalars())


def _parents_first(tables: dict[str, sa.Table]) -> list[sa.Table]:
    """*tables* ordered so that every table comes after those its foreign keys point at."""
    needs = {name: {fk.target_fullname.split(".")[-2] for fk in table.foreign_keys} & set(tables) - {name}
             for name, table in tables.items()}
    ordered: list[sa.Table] = []
    while needs:
        ready = sorted(name for name, needed in needs.items() if not needed)
        if not ready:
            raise RevisionError(f"the tables {', '.join(sorted(needs))} refer to each other: squash cannot order "
                                "their creation")
        for name in ready:
            ordered.append(tables[name])
            del needs[name]
        for needed in needs.values():
            needed.difference_update(ready)
    return ordered


def read_rows(connection: Connection, table: sa.Table) -> list[tuple[dict[str, Any], set[str]]]:
    """Every row of *table*: its values read through the table's types, and which columns are NULL.

    The NULLs are read apart, untyped: a JSON column gives None for SQL NULL
    and for JSON ``null`` alike.
    """
    order = list(table.primary_key.columns) or list(table.columns)
    typed = connection.execute(sa.select(table).order_by(*order)).mappings().all()
    raw: Any = connection.execute(sa.select(*[sa.column(c.name) for c in table.columns])
                             .select_from(sa.table(table.name)).order_by(*[sa.column(c.name) for c in order])).all()
    return _referred_first(table, [
        (dict(values), {c.name for c, value in zip(table.columns, plain, strict=True) if value is None})
        for values, plain in zip(typed, raw, strict=True)])


Row = tuple[dict[str, Any], set[str]]


def _referred_first(table: sa.Table, found: list[Row]) -> list[Row]:
    """*found* ordered so that a row another row's foreign key points at (in the same table) comes first.

    PostgreSQL and MariaDB check each row as it is inserted.  Rows that
    point at each other in a cycle keep their order.
    """
    targets = [[(element.parent.name, *element.target_fullname.rsplit(".", 1)) for element in key.elements]
               for key in table.foreign_key_constraints]
    pairs = [[(local, remote) for local, _, remote in target] for target in targets
             if all(referred == table.name for _, referred, _ in target)]
    if not pairs:
        return found
    present = [{tuple(values[remote] for _, remote in pair) for values, _ in found} for pair in pairs]
    placed: list[set[tuple[Any, ...]]] = [set() for _ in pairs]
    ordered, waiting = [], list(found)
    while waiting:
        ready = [row for row in waiting if all(
            None in needed or needed not in present[i] or needed in placed[i]
            for i, needed in enumerate(tuple(row[0][local] for local, _ in pair) for pair in pairs))]
        if not ready:
            ordered.extend(waiting)
            break
        for row in ready:
            ordered.append(row)
            waiting.remove(row)
            for i, pair in enumerate(pairs):
                placed[i].add(tuple(row[0][remote] for _, remote in pair))
    return ordered


def shape(connection: Connection, name: str) -> dict[str, Any]:
    """Table *name* as SQLite describes it, constraint names left out (the naming convention may give them)."""
    with quiet_reflection():
        return _shape(sa.inspect(connection), name)


def _shape(inspector: Any, name: str) -> dict[str, Any]:
    return {
        "columns": [(c["name"], str(c["type"]), c["nullable"], c.get("default")) for c in inspector.get_columns(name)],
        "primary key": inspector.get_pk_constraint(name)["constrained_columns"],
        "foreign keys": sorted((f["constrained_columns"], f["referred_table"], f["referred_columns"],
                                sorted(f.get("options", {}).items())) for f in inspector.get_foreign_keys(name)),
        "unique": sorted(u["column_names"] for u in inspector.get_unique_constraints(name)),
        "indexes": sorted((i["column_names"], bool(i["unique"])) for i in inspector.get_indexes(name)),
        "checks": sorted(c["sqltext"] for c in inspector.get_check_constraints(name)),
    }


def with_json_nulls(table: sa.Table) -> sa.Table:
    """*table* with each JSON column writing Python None as SQL NULL (``sa.JSON.NULL`` stays JSON null)."""
    for column in table.columns:
        if isinstance(column.type, sa.JSON) and not column.type.none_as_null:
            json_type = copy.copy(column.type)
            json_type.none_as_null = True
            column.type = json_type
    return table


# -- what else a revision of the branch does --------------------------------------------

def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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
