"""The declarative Base every janitoo model uses, and the engine factory.

One ``MetaData`` for the core and every extension, so a single database holds
them all; constraint names follow a convention so later revisions can drop or
alter a constraint by name on every database.
"""
from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy import MetaData
from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import DeclarativeBase

from janitoo_db import engine as _engine
from janitoo_db.defaults import NAMING_CONVENTION
from janitoo_db.errors import ConfigError



class Base(DeclarativeBase):
    """Declarative base of the core models and of every extension's models."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def create_db_engine(url_or_config: str | URL | Mapping[str, Any], **options: Any) -> Engine:
    """Create an engine from a URL, or from a mapping holding ``sqlalchemy.url``.

    A mapping is what a janitoo configuration's ``[database]`` section gives.
    """
    if isinstance(url_or_config, Mapping):
        try:
            url = url_or_config["sqlalchemy.url"]
        except KeyError:
            raise ConfigError("the database configuration has no sqlalchemy.url") from None
    else:
        url = url_or_config
    return _engine.create_db_engine(url, **options)
