"""The rows a squashed revision carries: read from the replayed head, parents before children.

JSON nulls stay JSON nulls, and a table's rows come after the rows they refer to.
"""
from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SAWarning


@contextmanager
def quiet_reflection() -> Iterator[None]:
    """Silence SQLAlchemy's warning about indexes on expressions: squash names them itself."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index", SAWarning)
        yield


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
