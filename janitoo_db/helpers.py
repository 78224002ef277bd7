"""Helpers the original janitoo_db offered to models: a CRUD mixin and a dict view of a row.

Extensions written for the original import them (``from janitoo_db.helpers
import CRUDMixin``) and mix them into their models; the core models use the
mixin too.
"""
from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Query, Session, object_session

from janitoo_db.errors import SessionRequiredError


def session_of(db: Any) -> Session:
    """The session behind *db*: an object with a ``session`` attribute (the original's), or a session itself."""
    session = getattr(db, "session", db)
    if not hasattr(session, "add") or not hasattr(session, "commit"):
        raise TypeError(f"expected a session, or an object with a 'session' attribute, not {type(db).__name__}")
    return session


def query_for(model: type[Any], session: Any, what: str) -> Query[Any]:
    """A query on *model* through *session* (a session, or an object with one), else the ``query`` property.

    *what* names the method asking, for the error when there is neither.
    """
    if session is not None:
        return session_of(session).query(model)
    query = getattr(model, "query", None)
    if query is None:
        raise SessionRequiredError(
            f"{what} needs a session: pass session=..., or set Base.query = scoped_session(...).query_property()")
    return query


def session_for(obj: Any, db: Any, what: str) -> Session:
    """The session *db* names, else the one *obj* belongs to, else the ``query`` property's."""
    if db is not None:
        return session_of(db)
    session = object_session(obj)
    if session is None:
        session = query_for(type(obj), None, what).session
    return session


class CRUDMixin:
    """``save(db)`` and ``delete(db)``, each committing at once, and a readable ``repr``.

    *db* is what the original's applications passed: an object whose
    ``session`` attribute is a SQLAlchemy session (Flask-SQLAlchemy's ``db``,
    for instance), or a session itself.
    """

    def __repr__(self) -> str:
        state = inspect(self, raiseerr=False)
        identity = state.identity if state is not None else None
        if not identity:
            return f"<{type(self).__name__}>"
        return f"<{type(self).__name__} {', '.join(repr(part) for part in identity)}>"

    def save(self, db: Any) -> Any:
        """Add this object to *db*'s session and commit; returns the object."""
        session = session_of(db)
        session.add(self)
        session.commit()
        return self

    def delete(self, db: Any) -> Any:
        """Delete this object through *db*'s session and commit; returns the object."""
        session = session_of(db)
        session.delete(self)
        session.commit()
        return self


def saobject_to_dict(obj: Any, found: set[Any] | None = None) -> dict[str, Any]:
    """A mapped object as a dict: its columns, and its relationships followed once each.

    Dates and times become ISO 8601 strings, so the result can be dumped as
    JSON. Each relationship is followed only the first time it is met, which
    stops the walk on cycles such as a user's groups' users.
    """
    if found is None:
        found = set()
    mapper = inspect(obj).mapper
    result: dict[str, Any] = {}
    for column in mapper.columns:
        # Keyed by the column's key, as the original's: a user's hash is "password", not "_password".
        value = getattr(obj, mapper.get_property_by_column(column).key)
        result[column.key] = value.isoformat() if isinstance(value, (datetime, date, time)) else value
    for name, relationship in mapper.relationships.items():
        if relationship in found:
            continue
        found.add(relationship)
        related = getattr(obj, name)
        if related is None:
            continue
        if relationship.uselist:
            result[name] = [saobject_to_dict(child, found) for child in related]
        else:
            result[name] = saobject_to_dict(related, found)
    return result
