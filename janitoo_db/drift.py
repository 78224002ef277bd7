"""Differences between the models and the database, attributed to the extension owning each table.

Alembic's autogenerate compares the whole shared metadata with the whole
database; here every difference is filed under the extension whose
``extend`` registered the table, so one extension's revision or check never
carries another's drift.  Tables no model declares belong to nobody.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from janitoo_db.results import Difference, DriftReport

IncludeObject = Callable[[Any, "str | None", str, bool, Any], bool]


def owners(extension_tables: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """Map each table name to the extension that registered it."""
    return {table: name for name, tables in extension_tables.items() for table in tables}


def only_tables(tables: Iterable[str]) -> IncludeObject:
    """An Alembic ``include_object`` hook that keeps *tables* and what belongs to them."""
    kept = set(tables)

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table in kept

    return include_object


def compare(connection: Connection, metadata: MetaData, extension_tables: Mapping[str, Iterable[str]],
            names: Iterable[str] = ()) -> DriftReport:
    """Compare *metadata* with the database; keep only *names*' differences and unowned tables when given."""
    table_owner = owners(extension_tables)
    context = MigrationContext.configure(connection, opts={"compare_type": True, "target_metadata": metadata})
    differences = [_describe(diff, table_owner) for diff in _flatten(compare_metadata(context, metadata))]
    wanted = tuple(names)
    if wanted:
        differences = [d for d in differences if d.owner is None or d.owner in wanted]
    order = {name: index for index, name in enumerate(extension_tables)}
    differences.sort(key=lambda d: (d.owner is None, order.get(d.owner or "", 0), d.table, d.description))
    return DriftReport(tuple(differences), wanted or tuple(extension_tables))


def _flatten(diffs: list[Any]) -> Iterable[tuple[Any, ...]]:
    for diff in diffs:
        if isinstance(diff, list):  # modify_* changes of one column come grouped
            yield from diff
        else:
            yield diff


def _table_of(diff: tuple[Any, ...]) -> str:
    kind, subject = diff[0], diff[1]
    if kind in ("add_table", "remove_table"):
        return subject.name
    if kind in ("add_index", "remove_index", "add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        return subject.table.name
    return diff[2]


def _describe(diff: tuple[Any, ...], table_owner: Mapping[str, str]) -> Difference:
    """Turn one autogenerate difference into a sentence a person reads."""
    kind, table = diff[0], _table_of(diff)
    owner = table_owner.get(table)
    if kind == "add_table":
        text = f"table {table} is in the models but not in the database"
    elif kind == "remove_table":
        text = f"table {table} is in the database but in no model"
    elif kind in ("add_column", "remove_column"):
        where = "in the models but not in the database" if kind == "add_column" else "in the database but not in the models"
        text = f"column {table}.{diff[3].name} is {where}"
    elif kind.startswith("modify_"):
        what = kind[len("modify_"):]
        text = f"column {table}.{diff[3]}: {what} is {diff[5]!s} in the database, {diff[6]!s} in the models"
    else:
        action, _, thing = kind.partition("_")
        label = {"fk": "foreign key", "index": "index", "constraint": "constraint"}.get(thing, thing)
        name = getattr(diff[1], "name", None) or "(unnamed)"
        where = "in the models but not in the database" if action == "add" else "in the database but not in the models"
        text = f"{label} {name} on {table} is {where}"
    return Difference(owner=owner, table=table, description=text)
