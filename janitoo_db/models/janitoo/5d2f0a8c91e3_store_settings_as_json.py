"""Store setting values as JSON

Revision ID: 5d2f0a8c91e3
Revises: 33b95995b188
Create Date: 2026-11-25 12:00:00.000000

The original janitoo pickled setting values; unpickling what a database holds
can run arbitrary code.  This revision reads the old values with an unpickler
that admits only plain data (janitoo_db.legacy, which also documents the JSON
each Python type becomes), and stores them as JSON text.  Every row is
converted before the table changes, so a value that cannot be converted stops
the revision with an error naming the setting, on every database, before any
statement has run.
"""
from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from janitoo_db.defaults import NAMING_CONVENTION
from janitoo_db.legacy import convert_settings, json_to_pickled, pickled_to_json

revision = "5d2f0a8c91e3"
down_revision = "33b95995b188"
branch_labels = None
depends_on = None

# What revision 33b95995b188 inserts: used only to write an offline (--sql) script.
DEFAULT_VALUES = {
    "project_title": ("Janitoo", None),
    "project_subtitle": ("Janitoo", None),
    "posts_per_page": (10, {"min": 5}),
    "topics_per_page": (10, {"min": 5}),
    "users_per_page": (10, {"min": 5}),
    "default_theme": ("admin", {"choices": [["admin", "admin"], ["bootstrap3", "bootstrap3"], ["bootstrap2", "bootstrap2"]]}),
    "default_language": ("en", {"choices": [["en", "English"]]}),
}
BEFORE_DATA = {None, "base", "3b5854d25914", "1266567cc97f"}


settings = sa.table(
    "core_settings", sa.column("key", sa.String), sa.column("settinggroup_key", sa.String),
    sa.column("value", sa.LargeBinary), sa.column("extra", sa.LargeBinary),
    sa.column("value_json", sa.Text), sa.column("extra_json", sa.Text),
    sa.column("value_pickle", sa.LargeBinary), sa.column("extra_pickle", sa.LargeBinary),
)


def _offline_defaults() -> None:
    """In --sql mode only the rows 33b95995b188 inserted in the same script can be converted."""
    start = context.get_starting_revision_argument()
    starts = set(start) if isinstance(start, (tuple, list)) else {start}
    if not starts <= BEFORE_DATA:
        raise RuntimeError(
            "revision 5d2f0a8c91e3 converts stored setting values and needs a live database; "
            "run it online, or start the --sql script before revision 33b95995b188"
        )
    for key, (value, extra) in DEFAULT_VALUES.items():
        op.execute(settings.update().where(settings.c.key == key).values(
            value_json=json.dumps(value, sort_keys=True),
            extra_json=None if extra is None else json.dumps(extra, sort_keys=True)))


def _table_before_swap(new: str, old_type: sa.types.TypeEngine, new_type: sa.types.TypeEngine) -> sa.Table:
    """core_settings with both sets of columns: what batch mode copies from in --sql mode."""
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    sa.Table("core_settings_group", metadata, sa.Column("key", sa.String(255), primary_key=True))
    return sa.Table(
        "core_settings", metadata,
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", old_type, nullable=False),
        sa.Column("settinggroup_key", sa.String(255), sa.ForeignKey("core_settings_group.key"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("value_type", sa.String(20), nullable=False),
        sa.Column("extra", old_type, nullable=True),
        sa.Column(f"value_{new}", new_type, nullable=True),
        sa.Column(f"extra_{new}", new_type, nullable=True),
    )


def _swap_columns(new: str, new_type: sa.types.TypeEngine, convert: Any) -> None:
    """Replace the value/extra columns by ones of *new_type* holding ``convert`` of every row."""
    converted = None
    if not context.is_offline_mode():
        # Convert first: a value that cannot be converted stops the revision before any DDL
        # (which MySQL/MariaDB would commit), naming its setting.
        bind = op.get_bind()
        converted = convert_settings(bind.execute(
            sa.select(settings.c.key, settings.c.settinggroup_key, sa.column("value"), sa.column("extra"))
            .select_from(settings)).all(), convert)
    with op.batch_alter_table("core_settings") as batch:
        batch.add_column(sa.Column(f"value_{new}", new_type, nullable=True))
        batch.add_column(sa.Column(f"extra_{new}", new_type, nullable=True))
    if converted is None:
        if new != "json":
            raise RuntimeError("revision 5d2f0a8c91e3 cannot be downgraded in --sql mode")
        _offline_defaults()
    elif converted:
        op.get_bind().execute(
            settings.update().where(settings.c.key == sa.bindparam("b_key"))
            .values({f"value_{new}": sa.bindparam("b_value"), f"extra_{new}": sa.bindparam("b_extra")}),
            [{"b_key": key, "b_value": value, "b_extra": extra} for key, value, extra in converted])
    copy_from = None
    if context.is_offline_mode():
        copy_from = _table_before_swap(new, sa.LargeBinary(), new_type)
    with op.batch_alter_table("core_settings", copy_from=copy_from) as batch:
        batch.drop_column("value")
        batch.drop_column("extra")
        batch.alter_column(f"value_{new}", new_column_name="value", existing_type=new_type, nullable=False)
        batch.alter_column(f"extra_{new}", new_column_name="extra", existing_type=new_type, nullable=True)


def upgrade() -> None:
    _swap_columns("json", sa.Text(), pickled_to_json)


def downgrade() -> None:
    _swap_columns("pickle", sa.LargeBinary(), json_to_pickled)
