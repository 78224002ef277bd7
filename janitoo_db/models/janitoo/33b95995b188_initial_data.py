"""Initial data

Revision ID: 33b95995b188
Revises: 1266567cc97f
Create Date: 2015-11-22 21:53:11.317987

The five user groups and the general and appearance settings every janitoo
installation starts with.  Values are pickled, as the original stored them;
revision 5d2f0a8c91e3 turns them into JSON.
"""
from __future__ import annotations

import pickle

import sqlalchemy as sa
from alembic import context, op

revision = "33b95995b188"
down_revision = "1266567cc97f"
branch_labels = None
depends_on = None

# name, description, then the permission flags granted (all others are false).
GROUPS = [
    ("Administrator", "The Administrator Group",
     {"admin", "editpost", "deletepost", "deletetopic", "posttopic", "postreply", "mod_edituser", "mod_banuser"}),
    ("Power", "The User with Power Group",
     {"power", "editpost", "deletepost", "deletetopic", "posttopic", "postreply", "mod_edituser", "mod_banuser"}),
    ("User", "The User Group", {"user", "posttopic", "postreply"}),
    ("Banned", "The Banned Group", {"banned"}),
    ("Guest", "The Guest Group", {"guest"}),
]
FLAGS = ("admin", "power", "user", "banned", "guest", "editpost", "deletepost",
         "deletetopic", "posttopic", "postreply", "mod_edituser", "mod_banuser")

SETTING_GROUPS = [
    {"key": "general", "name": "General Settings", "description": "General Settings for janitoo."},
    {"key": "appearance", "name": "Appearance Settings", "description": "Change the theme and language for your forum."},
]

# key, name, description, value type, value, extra, group
SETTINGS = [
    ("project_title", "Project title", "The title of the project.", "string", "Janitoo", None, "general"),
    ("project_subtitle", "Project subtitle", "A short description of the project.", "string", "Janitoo", None, "general"),
    ("posts_per_page", "Posts per page", "Number of posts displayed per page.", "integer", 10, {"min": 5}, "general"),
    ("topics_per_page", "Topics per page", "Number of topics displayed per page.", "integer", 10, {"min": 5}, "general"),
    ("users_per_page", "Users per page", "Number of users displayed per page.", "integer", 10, {"min": 5}, "general"),
    ("default_theme", "Default Theme", "Change the default theme for your forum.", "select", "admin",
     {"choices": [("admin", "admin"), ("bootstrap3", "bootstrap3"), ("bootstrap2", "bootstrap2")]}, "appearance"),
    ("default_language", "Default Language", "Change the default language for your forum.", "string", "en",
     {"choices": [("en", "English")]}, "appearance"),
]

core_groups = sa.table("core_groups", sa.column("name", sa.String), sa.column("description", sa.Text),
                       *(sa.column(flag, sa.Boolean) for flag in FLAGS))
core_settings_group = sa.table("core_settings_group", sa.column("key", sa.String),
                               sa.column("name", sa.String), sa.column("description", sa.Text))
core_settings = sa.table(
    "core_settings", sa.column("key", sa.String), sa.column("name", sa.String),
    sa.column("description", sa.Text), sa.column("value", sa.LargeBinary), sa.column("value_type", sa.String),
    sa.column("settinggroup_key", sa.String), sa.column("extra", sa.LargeBinary),
)


def _pickled(value: object) -> object:
    """The pickled value; in --sql mode a hex literal, since a script cannot carry bound bytes."""
    if value is None:
        return None
    data = pickle.dumps(value, protocol=2)
    if not context.is_offline_mode():
        return data
    if op.get_context().dialect.name == "postgresql":
        return sa.literal_column(f"'\\x{data.hex()}'::bytea")
    return sa.literal_column(f"X'{data.hex()}'")


def upgrade() -> None:
    op.bulk_insert(core_groups, [
        {"name": name, "description": description, **{flag: flag in granted for flag in FLAGS}}
        for name, description, granted in GROUPS
    ])
    op.bulk_insert(core_settings_group, SETTING_GROUPS)
    op.execute(core_settings.insert().values([
        {"key": key, "name": name, "description": description, "value_type": value_type,
         "value": _pickled(value), "extra": _pickled(extra), "settinggroup_key": group}
        for key, name, description, value_type, value, extra, group in SETTINGS
    ]))


def downgrade() -> None:
    op.execute(core_settings.delete().where(core_settings.c.key.in_([s[0] for s in SETTINGS])))
    op.execute(core_settings_group.delete().where(core_settings_group.c.key.in_([g["key"] for g in SETTING_GROUPS])))
    op.execute(core_groups.delete().where(core_groups.c.name.in_([g[0] for g in GROUPS])))
