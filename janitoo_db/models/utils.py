"""The core's settings, with the original janitoo's API (the original's ``janitoo_db.models.utils``).

Values and extras are JSON (core revision 5d2f0a8c91e3 converted the
original's pickles).  Lookups go through ``Base.query`` or ``session=``, as
for users.
"""
from __future__ import annotations

from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.orm import DynamicMapped, Mapped, mapped_column, relationship, synonym

from janitoo_db.base import Base
from janitoo_db.helpers import CRUDMixin, query_for
from janitoo_db.types import JSONText


class SettingGroup(Base, CRUDMixin):
    """A named group of settings, such as ``general`` or ``appearance``."""

    __tablename__ = "core_settings_group"

    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    description: Mapped[str] = mapped_column(sa.Text)

    #: The group's settings (a query: ``.all()``, ``.filter()``, ``.count()``).
    settings: DynamicMapped[Setting] = relationship(back_populates="group", cascade="all, delete-orphan",
                                                    lazy="dynamic", enable_typechecks=False)


class Setting(Base, CRUDMixin):
    """One setting; its value and extra attributes are stored as JSON."""

    __tablename__ = "core_settings"

    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONText)
    settinggroup_key: Mapped[str] = mapped_column(sa.String(255), sa.ForeignKey("core_settings_group.key"))
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text)
    value_type: Mapped[str] = mapped_column(sa.String(20))
    extra: Mapped[Any | None] = mapped_column(JSONText, nullable=True)

    group: Mapped[SettingGroup] = relationship(back_populates="settings", enable_typechecks=False)
    #: The group's key, under the original model's name.
    settinggroup = synonym("settinggroup_key")

    @classmethod
    def get_all(cls, *, session: Any = None) -> list[Setting]:
        """Every setting, by key."""
        return query_for(cls, session, "Setting.get_all").order_by(cls.key).all()

    @classmethod
    def get_settings(cls, from_group: SettingGroup | None = None, *,
                     session: Any = None) -> dict[str, dict[str, Any]]:
        """Each setting's name, description, value, value_type and extra by key; only *from_group*'s if given."""
        found = from_group.settings if from_group is not None else cls.get_all(session=session)
        return {setting.key: {"name": setting.name, "description": setting.description, "value": setting.value,
                              "value_type": setting.value_type, "extra": setting.extra} for setting in found}

    @classmethod
    def as_dict(cls, from_group: str | None = None, upper: bool = True, *, session: Any = None) -> dict[str, Any]:
        """Each setting's value by key (upper-cased unless *upper* is False); only group *from_group*'s if given."""
        if from_group is None:
            found: Iterable[Setting] = cls.get_all(session=session)
        else:
            group = query_for(SettingGroup, session, "Setting.as_dict").filter_by(key=from_group).first()
            found = group.settings if group is not None else []
        return {(setting.key.upper() if upper else setting.key): setting.value for setting in found}
