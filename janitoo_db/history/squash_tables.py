"""The head schema's tables as a squashed revision creates them: every column portable, parents first.

Each column is written with a type and default that any of the three
databases accepts, named as the branch's revisions named it.
"""
from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Iterable
from typing import Any, cast

import sqlalchemy as sa
from alembic.ddl.base import AddColumn, ColumnName, RenameTable
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.elements import conv

from janitoo_db.defaults import NAMING_CONVENTION
from janitoo_db.errors import RevisionError
from janitoo_db.site.alembic_internals import BATCH_TABLE_PREFIX

Lineage = dict[str, dict[str, list[sa.Column[Any]]]]


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
