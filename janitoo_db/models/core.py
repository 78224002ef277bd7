"""The core branch's models: users, groups and settings, with the original janitoo's API.

The models live where the original kept them, :mod:`janitoo_db.models.user`
and :mod:`janitoo_db.models.utils`; this module is the core's entry point in
the ``janitoo.models`` sense: :func:`extend` attaches them all to
``janitoo_db.models``.  The schema is the core revisions': only Python names
were added to the original's (``User._password``, ``Group.users``...), no
column.
"""
from __future__ import annotations

from types import ModuleType

from janitoo_db.models.user import Group, Guest, User, groups_users
from janitoo_db.models.utils import Setting, SettingGroup

__all__ = ["Group", "Guest", "Setting", "SettingGroup", "User", "extend", "groups_users"]


def extend(jntmodel: ModuleType) -> None:
    """Attach the core models to ``janitoo_db.models``."""
    for name, value in {
        "groups_users": groups_users, "Group": Group, "User": User, "Guest": Guest,
        "SettingGroup": SettingGroup, "Setting": Setting,
    }.items():
        setattr(jntmodel, name, value)
