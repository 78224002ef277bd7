"""The core's users and groups, with the original janitoo's API (the original's ``janitoo_db.models.user``).

Where the original looked rows up through the class ``query`` property (its
applications set ``Base.query = scoped_session(...).query_property()``), these
methods still do, and each also takes ``session=`` for code without that
property.  ``save``, ``delete``, ``ban`` and ``unban`` use the session given,
else the one the object belongs to.

The relationships accept subclasses of the models (``enable_typechecks=False``):
an application may subclass ``User`` and ``Group`` together with its own
declarative base (Flask-SQLAlchemy's ``db.Model``), and a user of its class
must be storable as a group's member or primary-group user.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, ClassVar, Iterable

import sqlalchemy as sa
from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy.orm import DynamicMapped, Mapped, mapped_column, relationship, synonym

from janitoo_db.base import Base
from janitoo_db.errors import SecretKeyError
from janitoo_db.helpers import CRUDMixin, query_for, session_for
from janitoo_db.security import check_password_hash, generate_password_hash


def utcnow() -> datetime:
    """Now, in UTC without a time zone as the columns store it; tests replace it to move the clock."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _permission_names(exclude: Iterable[str] | None) -> list[str]:
    """The permission columns of core_groups: all but id, name, description and *exclude*."""
    skip = {"id", "name", "description", *(exclude or ())}
    return [column.key for column in Group.__table__.columns if column.key not in skip]


groups_users = sa.Table(
    "core_groups_users",
    Base.metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("core_users.id", ondelete="CASCADE")),
    sa.Column("group_id", sa.Integer, sa.ForeignKey("core_groups.id", ondelete="CASCADE")),
)


class Group(Base, CRUDMixin):
    """A group of users and the permissions its members share."""

    __tablename__ = "core_groups"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255), unique=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    admin: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    power: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    user: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    guest: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    banned: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    mod_edituser: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    mod_banuser: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    editpost: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    deletepost: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    deletetopic: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    posttopic: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    postreply: Mapped[bool] = mapped_column(sa.Boolean, default=True)

    #: Users who have this group as a secondary group (a query: ``.all()``, ``.filter()``, ``.count()``).
    users: DynamicMapped[User] = relationship(secondary=groups_users, back_populates="secondary_groups",
                                              lazy="dynamic", enable_typechecks=False)
    #: The same as :attr:`users`, under this project's earlier name.
    members = synonym("users")
    #: Users whose primary group this is, under the original's name: the other side of ``User.primary_group``.
    #: Writable, as the original's backref was: appending a user sets its primary group, and adding or
    #: merging the group into a session adds or merges these users too.
    core_groups: Mapped[list[User]] = relationship(back_populates="primary_group",
                                                   foreign_keys="User.primary_group_id", enable_typechecks=False)

    def __repr__(self) -> str:
        return f"<Group {self.name}>"

    @classmethod
    def selectable_groups_choices(cls, *, session: Any = None) -> list[tuple[int, str]]:
        """``(id, name)`` of every group, by name: the choices of a form's select field."""
        query = query_for(cls, session, "Group.selectable_groups_choices")
        return [(id_, name) for id_, name in query.order_by(cls.name.asc()).with_entities(cls.id, cls.name)]

    @classmethod
    def get_guest_group(cls, *, session: Any = None) -> Group | None:
        """The group whose ``guest`` flag is set."""
        return query_for(cls, session, "Group.get_guest_group").filter(cls.guest.is_(True)).order_by(cls.id).first()


class _ClockSigner(TimestampSigner):
    """itsdangerous' timestamp signer, reading the time from :func:`utcnow`."""

    def get_timestamp(self) -> int:
        return int(utcnow().replace(tzinfo=timezone.utc).timestamp())


def _flask_secret_key() -> Any:
    """``current_app.config['SECRET_KEY']`` when Flask is installed and an application context is active."""
    try:
        import flask
    except ImportError:
        return None
    return flask.current_app.config.get("SECRET_KEY") if flask.has_app_context() else None


class User(Base, CRUDMixin):
    """A person who can log in; the password is only ever stored hashed."""

    __tablename__ = "core_users"

    #: The key reset tokens are signed with, when none is passed (else Flask's ``SECRET_KEY``).
    secret_key: ClassVar[str | bytes | None] = None

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(200), unique=True)
    email: Mapped[str] = mapped_column(sa.String(200), unique=True)
    #: The stored hash (column ``password``); set :attr:`password` to hash a new one.
    _password: Mapped[str] = mapped_column("password", sa.String(120))
    date_joined: Mapped[datetime | None] = mapped_column(sa.DateTime, default=utcnow)
    lastseen: Mapped[datetime | None] = mapped_column(sa.DateTime, default=utcnow)
    birthday: Mapped[datetime | None] = mapped_column(sa.DateTime)
    gender: Mapped[str | None] = mapped_column(sa.String(10))
    website: Mapped[str | None] = mapped_column(sa.String(200))
    location: Mapped[str | None] = mapped_column(sa.String(100))
    signature: Mapped[str | None] = mapped_column(sa.Text)
    avatar: Mapped[str | None] = mapped_column(sa.String(200))
    notes: Mapped[str | None] = mapped_column(sa.Text)
    theme: Mapped[str | None] = mapped_column(sa.String(15))
    language: Mapped[str | None] = mapped_column(sa.String(15), default="en")
    primary_group_id: Mapped[int] = mapped_column(sa.Integer, sa.ForeignKey("core_groups.id"))

    primary_group: Mapped[Group] = relationship(foreign_keys=[primary_group_id], back_populates="core_groups",
                                                lazy="joined", enable_typechecks=False)
    #: Groups besides the primary one (a query: ``.all()``, ``.filter()``, ``.append()``, ``.remove()``).
    secondary_groups: DynamicMapped[Group] = relationship(secondary=groups_users, back_populates="users",
                                                          lazy="dynamic", enable_typechecks=False)

    def _get_password(self) -> str:
        return self._password

    def _set_password(self, plain: str) -> None:
        self._password = generate_password_hash(plain)

    #: Reads the stored hash; assigning a plain password stores its hash.
    password = synonym("_password", descriptor=property(_get_password, _set_password))
    #: The stored hash, under this project's earlier name.
    password_hash = synonym("_password")

    def __repr__(self) -> str:
        return f"<User {self.username}>"

    def check_password(self, plain: str) -> bool:
        """True when *plain* is this user's password (current or original hash format)."""
        return bool(self._password) and check_password_hash(self._password, plain)

    @classmethod
    def authenticate(cls, login: str, password: str, *, session: Any = None) -> tuple[User | None, bool]:
        """``(user, authenticated)`` for *login*, a username or an e-mail address."""
        query = query_for(cls, session, "User.authenticate")
        user = query.filter(sa.or_(cls.username == login, cls.email == login)).first()
        return user, user is not None and user.check_password(password)

    # -- reset tokens ----------------------------------------------------------------

    def _serializer(self, secret_key: str | bytes | None) -> URLSafeTimedSerializer:
        key = secret_key if secret_key is not None else self.secret_key
        if key is None:
            key = _flask_secret_key()
        if not key:
            raise SecretKeyError("reset tokens need a secret key: pass secret_key=..., set User.secret_key, "
                                 "or run inside a Flask application context whose config has SECRET_KEY")
        return URLSafeTimedSerializer(key, salt="janitoo_db.reset", signer=_ClockSigner)

    def make_reset_token(self, expiration: int = 3600, *, secret_key: str | bytes | None = None) -> str:
        """A signed token that lets this user reset the password for *expiration* seconds."""
        return self._serializer(secret_key).dumps({"id": self.id, "op": "reset", "exp": expiration})

    def verify_reset_token(self, token: str | bytes, *,
                           secret_key: str | bytes | None = None) -> tuple[bool, bool, bool]:
        """``(expired, invalid, data)``: *data* is True when *token* is a valid reset token of this user."""
        serializer = self._serializer(secret_key)
        expired = invalid = False
        data: Any = None
        try:
            lifetime = serializer.loads(token).get("exp")  # the signature first: then the lifetime is ours
            data = serializer.loads(token, max_age=lifetime)
        except SignatureExpired:
            expired = True
        except (BadData, AttributeError, TypeError):
            invalid = True
        mine = isinstance(data, dict) and data.get("id") == self.id and data.get("op") == "reset"
        return expired, invalid, mine

    # -- groups and permissions --------------------------------------------------------

    def in_group(self, group: Group) -> bool:
        """True when *group* is one of this user's secondary groups."""
        return self._secondary(group) is not None

    def _secondary(self, group: Group) -> Group | None:
        for member in self.secondary_groups:
            if member is group or (group.id is not None and member.id == group.id):
                return member
        return None

    def add_to_group(self, group: Group) -> User | None:
        """Add *group* to the secondary groups; the user, or None when already in it."""
        if self.in_group(group):
            return None
        self.secondary_groups.append(group)
        return self

    def remove_from_group(self, group: Group) -> User | None:
        """Remove *group* from the secondary groups; the user, or None when not in it."""
        member = self._secondary(group)
        if member is None:
            return None
        self.secondary_groups.remove(member)
        return self

    def get_groups(self) -> list[Group]:
        """The primary group, then the secondary groups."""
        return [self.primary_group, *self.secondary_groups]

    @property
    def groups(self) -> list[Group]:
        """The primary group, then the secondary groups."""
        return self.get_groups()

    def get_permissions(self, exclude: Iterable[str] | None = None) -> dict[str, bool]:
        """Each permission (but *exclude*), true when any of the user's groups grants it."""
        groups = [group for group in self.get_groups() if group is not None]
        return {name: any(getattr(group, name) for group in groups) for name in _permission_names(exclude)}

    @property
    def permissions(self) -> dict[str, bool]:
        """Each permission, true when any of the user's groups grants it."""
        return self.get_permissions()

    def ban(self, session: Any = None) -> bool:
        """Move the user to the banned group and commit; False when already banned."""
        if self.get_permissions()["banned"]:
            return False
        session = session_for(self, session, "User.ban")
        self._move_to(session.query(Group).filter(Group.banned.is_(True)).order_by(Group.id).first(), "banned")
        self.save(session)
        return True

    def unban(self, session: Any = None) -> bool:
        """Move a banned user to an ordinary group (``user`` first) and commit; False when not banned."""
        if not self.get_permissions()["banned"]:
            return False
        session = session_for(self, session, "User.unban")
        query = session.query(Group).filter(
            Group.admin.is_(False), Group.power.is_(False), Group.guest.is_(False), Group.banned.is_(False))
        self._move_to(query.order_by(Group.user.desc(), Group.id).first(), "ordinary")
        self.save(session)
        return True

    def _move_to(self, group: Group | None, kind: str) -> None:
        if group is None:
            raise LookupError(f"core_groups has no {kind} group")
        self.primary_group = group

    def save(self, db: Any = None, groups: Iterable[Group] | None = None) -> User:
        """Add the user to the session and commit; *groups*, when given, become the secondary groups."""
        session = session_for(self, db, "User.save")
        # In the session first: reading the groups autoflushes, and a new user whose primary group is stored
        # must not be left out of that flush.
        session.add(self)
        if groups is not None:
            for group in list(self.secondary_groups):
                self.remove_from_group(group)
            for group in groups:
                primary = group is self.primary_group or (group.id is not None and group.id == self.primary_group_id)
                if not primary:
                    self.add_to_group(group)
        session.commit()
        return self

    def delete(self, db: Any = None) -> User:
        """Delete the user and commit."""
        session = session_for(self, db, "User.delete")
        session.delete(self)
        session.commit()
        return self

    @property
    def days_registered(self) -> int:
        """Whole days since the user joined; at least 1."""
        return (utcnow() - (self.date_joined or utcnow())).days or 1


class Guest:
    """Someone who is not logged in, with the guest group's permissions."""

    def __init__(self, session: Any = None) -> None:
        self.session = session

    def get_permissions(self, exclude: Iterable[str] | None = None, *, session: Any = None) -> dict[str, bool]:
        """The guest group's permissions (but *exclude*).

        Callers also run it on objects of their own, as the original allowed
        (``Guest.get_permissions(self, exclude)`` in an anonymous-user class):
        such an object needs no ``session`` attribute.
        """
        group = Group.get_guest_group(session=session if session is not None else getattr(self, "session", None))
        if group is None:
            raise LookupError("core_groups has no guest group")
        return {name: getattr(group, name) for name in _permission_names(exclude)}

    @property
    def permissions(self) -> dict[str, bool]:
        """The guest group's permissions."""
        return self.get_permissions()
