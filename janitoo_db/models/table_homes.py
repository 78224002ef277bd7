"""Which extension defines each model table: the one whose module's code declares it, not one that imports it.

Extensions' ``extend`` run in name order, and importing an extension's
module may import another's models first (a foreign key to its class): the
tables that appear while an extension loads are not all its own.  Each table
is therefore traced, as it is attached to the shared metadata, to the module
whose code declared it (the module of a model class's body, or of the
``Table(...)`` call), and that module to the extension whose entry-point
module shares the longest dotted prefix with it (``acme_sensors.schema`` for
``acme_sensors.models.reading``).  When no extension, or more than one,
matches best (tables declared by a library shared by several extensions),
the table stays with the extension whose ``extend`` registered it.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Any, Iterator, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy import event

#: Modules that run while a table is declared without declaring it themselves.
_MACHINERY = frozenset({"sqlalchemy", "importlib", "typing", "abc", "janitoo_db.base", "janitoo_db.models.loading",
                        "janitoo_db.models.table_homes"})
_MACHINERY_PACKAGES = ("sqlalchemy.", "importlib.")


@contextmanager
def tracing(metadata: sa.MetaData) -> Iterator[dict[str, str]]:
    """Inside, each table attached to *metadata* is mapped (by its key) to the module that declared it."""
    modules: dict[str, str] = {}

    def attached(table: sa.Table, parent: Any) -> None:
        if parent is metadata:
            modules[table.key] = _declaring_module()

    event.listen(sa.Table, "after_parent_attach", attached)
    try:
        yield modules
    finally:
        event.remove(sa.Table, "after_parent_attach", attached)


def _declaring_module() -> str:
    frame = sys._getframe(1)
    while frame is not None:
        name = str(frame.f_globals.get("__name__", ""))
        if name not in _MACHINERY and not name.startswith(_MACHINERY_PACKAGES):
            return name
        frame = frame.f_back  # type: ignore[assignment]
    return ""


def home(module: str, entry_modules: Mapping[str, str]) -> str | None:
    """The extension (name to entry-point module) whose module shares the longest dotted prefix with *module*."""
    parts = module.split(".")
    best, score, tied = None, 0, False
    for name, entry in entry_modules.items():
        shared = 0
        for mine, theirs in zip(parts, entry.split("."), strict=False):
            if mine != theirs:
                break
            shared += 1
        if shared > score:
            best, score, tied = name, shared, False
        elif shared == score and shared:
            tied = True
    return None if tied else best


def attribute(registered: Mapping[str, Sequence[str]], declared: Mapping[str, str],
              entry_modules: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Move each table of *registered* (extension to the tables its loading added) to the extension declaring it."""
    owner = {table: name for name, tables in registered.items() for table in tables}
    for table, module in declared.items():
        found = home(module, entry_modules) if module else None
        if table in owner and found is not None and found in registered:
            owner[table] = found
    result: dict[str, list[str]] = {name: [] for name in registered}
    for table, name in owner.items():
        result[name].append(table)
    return {name: tuple(sorted(tables)) for name, tables in result.items()}
