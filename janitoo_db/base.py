"""The declarative Base every janitoo model uses, and the engine factory.

One ``MetaData`` for the core and every extension, so a single database holds
them all; constraint names follow a convention so later revisions can drop or
alter a constraint by name on every database.
"""
from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy import MetaData
from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import DeclarativeMeta, registry

from janitoo_db.defaults import CONF_SECTION, NAMING_CONVENTION
from janitoo_db.errors import ConfigError
from janitoo_db.site import engine as _engine

#: Options of the ``[database]`` section that are the engine's.
PREFIX = "sqlalchemy."


#: The registry of every janitoo model: its metadata holds every table of the shared database.
models_registry = registry(metadata=MetaData(naming_convention=NAMING_CONVENTION))


class Base(metaclass=DeclarativeMeta):
    """Declarative base of the core models and of every extension's models.

    A classic declarative base (``DeclarativeMeta``), as the original's
    ``declarative_base()`` was: an application can then mix a janitoo model
    with another declarative base, as janitoo_manager's ``class
    UserMan(User, UserMixin, db.Model)`` does with Flask-SQLAlchemy.
    ``Mapped[...]`` annotations and ``mapped_column`` work on it as on
    SQLAlchemy 2's ``DeclarativeBase``.
    """

    __abstract__ = True
    registry = models_registry
    metadata = models_registry.metadata
    __init__ = models_registry.constructor


def create_db_engine(options: str | URL | Mapping[str, Any] | Any, **kwargs: Any) -> Engine:
    """Create an engine from a URL, a ``[database]`` section, or janitoo options.

    A mapping is a janitoo configuration's ``[database]`` section: its
    ``sqlalchemy.url`` is the database, and its other ``sqlalchemy.*`` keys
    are engine options (``sqlalchemy.echo = true``), as SQLAlchemy's
    ``engine_from_config`` reads them.  An object with ``get_options(section)``
    (janitoo's ``JNTOptions``, or :class:`janitoo_db.site.options.ConfFileOptions`)
    gives that section, as the original janitoo_db accepted.
    """
    if isinstance(options, (str, URL)):
        return _engine.create_db_engine(options, **kwargs)
    if not isinstance(options, Mapping):
        if not callable(getattr(options, "get_options", None)):
            raise ConfigError("create_db_engine takes a URL, a [database] section, or janitoo options, "
                              f"not {type(options).__name__}")
        options = options.get_options(CONF_SECTION)
    if "sqlalchemy.url" not in options:
        raise ConfigError(f"the [{CONF_SECTION}] configuration has no sqlalchemy.url")
    engine_options = {key[len(PREFIX):]: value for key, value in options.items()
                      if key.startswith(PREFIX) and key != "sqlalchemy.url"}
    try:
        # Values read from an INI file are strings: SQLAlchemy converts the ones it knows (echo, pool_size...).
        return _engine.create_db_engine(options["sqlalchemy.url"], _coerce_config=True, **{**engine_options, **kwargs})
    except (TypeError, ValueError) as error:
        raise ConfigError(f"unusable engine option in [{CONF_SECTION}]: {error}") from None
