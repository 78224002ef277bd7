"""Running every extension's ``extend`` into :mod:`janitoo_db.models`, and knowing whose each table is.

Importing :mod:`janitoo_db.models` runs :func:`load_models` once; code that
needs the models (createdb, check, generate) calls
:func:`janitoo_db.models.loaded.loaded_models`, which imports them only then:
a server start that only migrates never pays for the models.
"""
from __future__ import annotations

from types import ModuleType
from typing import Iterable

from janitoo_db.base import Base
from janitoo_db.errors import ExtensionError
from janitoo_db.models import table_homes
from janitoo_db.site.extensions import Extension, gc_paused


def load_models(target: ModuleType, extensions: Iterable[Extension]) -> dict[str, tuple[str, ...]]:
    """Run each extension's ``extend(target)`` once; return the tables each one added.

    The table lists are what per-extension autogeneration, checks and
    ``createdb``'s owner records rely on: a table is listed under the
    extension whose module declares it, even when another extension's
    module imported it first (:mod:`janitoo_db.models.table_homes`).
    """
    extensions = list(extensions)
    owned: dict[str, tuple[str, ...]] = {}
    with gc_paused(), table_homes.tracing(Base.metadata) as declared:
        for extension in extensions:
            # Snapshot first: a module may declare its tables when imported.
            before = set(Base.metadata.tables)
            extend = extension.load_extend()
            try:
                extend(target)
            except Exception as error:
                raise ExtensionError(
                    f"{extension.describe()} failed in extend(): {type(error).__name__}: {error}") from None
            owned[extension.name] = tuple(sorted(set(Base.metadata.tables) - before))
    return table_homes.attribute(owned, declared, {extension.name: extension.module for extension in extensions})
