"""Every extension's models, for the commands that need them, imported only when one does."""
from __future__ import annotations

from sqlalchemy import MetaData

import janitoo_db.models
from janitoo_db.base import Base


def loaded_models() -> tuple[MetaData, dict[str, tuple[str, ...]]]:
    """The metadata of every model, and the tables each branch's ``extend`` registered."""
    return Base.metadata, janitoo_db.models.extension_tables
