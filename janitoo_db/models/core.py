"""The core branch's models: users, groups and settings, as in the original janitoo."""
from __future__ import annotations

from datetime import datetime, timezone
from types import ModuleType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from janitoo_db.base import Base
from janitoo_db.security import check_password_hash, generate_password_hash
from janitoo_db.types import JSONText


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


groups_users = sa.Table(
    "core_groups_users",
    Base.metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("core_users.id", ondelete="CASCADE")),
    sa.Column("group_id", sa.Integer, sa.ForeignKey("core_groups.id", ondelete="CASCADE")),
)


class Group(Base):
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

    members: Mapped[list[User]] = relationship(secondary=groups_users, back_populates="secondary_groups")

    def __repr__(self) -> str:
        return f"<Group {self.name}>"


class User(Base):
    """A person who can log in; the password is only ever stored hashed."""

    __tablename__ = "core_users"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(200), unique=True)
    email: Mapped[str] = mapped_column(sa.String(200), unique=True)
    password_hash: Mapped[str] = mapped_column("password", sa.String(120))
    date_joined: Mapped[datetime | None] = mapped_column(sa.DateTime, default=_utcnow)
    lastseen: Mapped[datetime | None] = mapped_column(sa.DateTime, default=_utcnow)
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

    primary_group: Mapped[Group] = relationship(foreign_keys=[primary_group_id], lazy="joined")
    secondary_groups: Mapped[list[Group]] = relationship(secondary=groups_users, back_populates="members")

    @property
    def password(self) -> str:
        return self.password_hash

    @password.setter
    def password(self, plain: str) -> None:
        self.password_hash = generate_password_hash(plain)

    def check_password(self, plain: str) -> bool:
        """True when *plain* is this user's password (current or original hash format)."""
        return bool(self.password_hash) and check_password_hash(self.password_hash, plain)

    @property
    def groups(self) -> list[Group]:
        return [self.primary_group, *self.secondary_groups]

    def permissions(self) -> dict[str, bool]:
        """Each permission column, true when any of the user's groups grants it."""
        names = [c.name for c in Group.__table__.columns if isinstance(c.type, sa.Boolean)]
        return {name: any(getattr(group, name) for group in self.groups) for name in names}

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class SettingGroup(Base):
    """A named group of settings, such as ``general`` or ``appearance``."""

    __tablename__ = "core_settings_group"

    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    description: Mapped[str] = mapped_column(sa.Text)

    settings: Mapped[list[Setting]] = relationship(back_populates="group", cascade="all, delete-orphan")


class Setting(Base):
    """One setting; its value and extra attributes are stored as JSON."""

    __tablename__ = "core_settings"

    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONText)
    settinggroup_key: Mapped[str] = mapped_column(sa.String(255), sa.ForeignKey("core_settings_group.key"))
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text)
    value_type: Mapped[str] = mapped_column(sa.String(20))
    extra: Mapped[Any | None] = mapped_column(JSONText, nullable=True)

    group: Mapped[SettingGroup] = relationship(back_populates="settings")

    @classmethod
    def as_dict(cls, session: Session, group: str | None = None, upper: bool = True) -> dict[str, Any]:
        """Every setting's value by key (upper-cased by default), optionally from one group."""
        query = sa.select(cls)
        if group is not None:
            query = query.where(cls.settinggroup_key == group)
        return {(s.key.upper() if upper else s.key): s.value for s in session.scalars(query)}


def extend(jntmodel: ModuleType) -> None:
    """Attach the core models to ``janitoo_db.models``."""
    for name, value in {
        "groups_users": groups_users, "Group": Group, "User": User,
        "SettingGroup": SettingGroup, "Setting": Setting,
    }.items():
        setattr(jntmodel, name, value)
