"""Store setting values as JSON

Revision ID: 5d2f0a8c91e3
Revises: 33b95995b188
Create Date: 2026-11-25 12:00:00.000000

The original janitoo pickled setting values; unpickling what a database holds
can run arbitrary code.  This revision reads the old values with an unpickler
that admits only plain builtin data, and stores them as JSON text.
"""
from __future__ import annotations

import io
import json
import pickle
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from janitoo_db.defaults import NAMING_CONVENTION

revision = "5d2f0a8c91e3"
down_revision = "33b95995b188"
branch_labels = None
depends_on = None

SAFE_GLOBALS = {("builtins", "set"), ("builtins", "frozenset"), ("__builtin__", "set"), ("__builtin__", "frozenset")}
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


class PlainDataUnpickler(pickle.Unpickler):
    """Unpickle numbers, strings, lists, tuples, dicts and sets; refuse anything else."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in SAFE_GLOBALS:
            return set if name == "set" else frozenset
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")


def _plain(value: Any) -> Any:
    """Make unpickled data JSON-ready: sets and tuples become lists, bytes text."""
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(v) for v in value), key=repr)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


def pickled_to_json(data: bytes | None) -> str | None:
    if data is None:
        return None
    return json.dumps(_plain(PlainDataUnpickler(io.BytesIO(bytes(data)), encoding="utf-8").load()), sort_keys=True)


def json_to_pickled(text: str | None) -> bytes | None:
    return None if text is None else pickle.dumps(json.loads(text), protocol=2)


settings = sa.table(
    "core_settings", sa.column("key", sa.String),
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


def _swap_columns(old: str, new: str, new_type: sa.types.TypeEngine, convert: Any) -> None:
    """Add value/extra columns of *new_type*, convert every row, then replace the old ones."""
    with op.batch_alter_table("core_settings") as batch:
        batch.add_column(sa.Column(f"value_{new}", new_type, nullable=True))
        batch.add_column(sa.Column(f"extra_{new}", new_type, nullable=True))
    if context.is_offline_mode():
        if new != "json":
            raise RuntimeError("revision 5d2f0a8c91e3 cannot be downgraded in --sql mode")
        _offline_defaults()
    else:
        bind = op.get_bind()
        rows = bind.execute(sa.select(settings.c.key, sa.column(f"value{old}"), sa.column(f"extra{old}"))
                            .select_from(settings)).all()
        for key, value, extra in rows:
            bind.execute(settings.update().where(settings.c.key == key)
                         .values({f"value_{new}": convert(value), f"extra_{new}": convert(extra)}))
    copy_from = None
    if context.is_offline_mode():
        copy_from = _table_before_swap(new, sa.LargeBinary(), new_type)
    with op.batch_alter_table("core_settings", copy_from=copy_from) as batch:
        batch.drop_column(f"value{old}")
        batch.drop_column(f"extra{old}")
        batch.alter_column(f"value_{new}", new_column_name="value", existing_type=new_type, nullable=False)
        batch.alter_column(f"extra_{new}", new_column_name="extra", existing_type=new_type, nullable=True)


def upgrade() -> None:
    _swap_columns("", "json", sa.Text(), pickled_to_json)


def downgrade() -> None:
    _swap_columns("", "pickle", sa.LargeBinary(), json_to_pickled)
