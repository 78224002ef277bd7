"""The one place that decides which tables a command may drop, and drops exactly those.

A table is janitoo_db's to drop only when the owner ledger
(``janitoo_db_tables``, see :mod:`janitoo_db.guard.registry`) records it: a
revision's ``op.create_table`` made it (not ``if_not_exists`` on a table that
was there), or ``createdb`` made it from the models.  Besides those, ``dropdb``
may drop janitoo_db's bookkeeping tables and ``alembic_version``.  Nothing
else is ever dropped: not a model's table the ledger does not record, not a
table a foreign key of ours points at, not a table no revision or model
declares.

The set is never widened by reflection: only its own tables are reflected,
without following their foreign keys (``resolve_fks=False``), and they are
dropped in the order their foreign keys among themselves require.  When a
table outside the set has a foreign key into it, nothing is dropped: the
command is refused, naming that table and its key.

Each table's record goes before the table does.  Where DDL is transactional
(PostgreSQL, SQLite) both are in the command's one transaction; on
MySQL/MariaDB, whose ``DROP TABLE`` commits by itself, the record's removal
is committed first.  A run killed between the two keeps the table and no
longer claims it (it fails closed): a record never outlives its table, so a
later command cannot drop a table someone else made since under that name.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.schema import DropConstraint, sort_tables_and_constraints

from janitoo_db.defaults import BOOKKEEPING_TABLES, TABLES_TABLE, VERSION_TABLE
from janitoo_db.errors import RefusedError
from janitoo_db.guard.registry import recorded_tables, tables_table
from janitoo_db.site.engine import has_transactional_ddl_dialect
from janitoo_db.text import some

#: Dropped last by dropdb, in this order: the ledger goes after every table it records.
_LAST = (VERSION_TABLE, *sorted(BOOKKEEPING_TABLES - {TABLES_TABLE}), TABLES_TABLE)


@dataclass(frozen=True)
class Owned:
    """What a command may drop: *tables* (they exist), and *stale* records of tables that no longer do."""

    tables: tuple[str, ...]
    stale: tuple[str, ...] = ()


def branch_tables(connection: Connection, branch: str, installed: Iterable[str] = ()) -> Owned:
    """The tables the ledger records for *branch* (forget's target); refused while *branch* is installed."""
    if branch in set(installed):
        raise RefusedError(f"{branch} is installed: remove its branch with 'jnt_dbman downgrade {branch}@base', "
                           "then uninstall it")
    existing = set(sa.inspect(connection).get_table_names())
    recorded = sorted(name for name, owner in recorded_tables(connection).items() if owner == branch)
    return Owned(tuple(n for n in recorded if n in existing), tuple(n for n in recorded if n not in existing))


def janitoo_tables(connection: Connection) -> Owned:
    """Everything janitoo_db owns (dropdb's target): every branch's recorded tables, the bookkeeping, alembic_version.

    A models' table the ledger does not record is not in it: nothing proves
    janitoo_db made it.
    """
    existing = set(sa.inspect(connection).get_table_names())
    recorded = sorted(recorded_tables(connection))
    ours = [n for n in recorded if n in existing and n not in _LAST]
    ours += [n for n in _LAST if n in existing]
    return Owned(tuple(ours), tuple(n for n in recorded if n not in existing))


def foreign_references(connection: Connection, tables: Iterable[str]) -> list[str]:
    """Each foreign key of a table outside *tables* into one of them, as ``table.key -> target``."""
    inside = set(tables)
    if not inside:
        return []
    found = []
    keys = sa.inspect(connection).get_multi_foreign_keys()
    for (_, table), table_keys in sorted(keys.items(), key=lambda item: item[0][1]):
        if table in inside:
            continue
        for key in table_keys:
            if key["referred_table"] in inside and not key.get("referred_schema"):
                name = f" ({key['name']})" if key.get("name") else ""
                found.append(f"{table}.{', '.join(key['constrained_columns'])}{name} -> "
                             f"{key['referred_table']}.{', '.join(key['referred_columns'])}")
    return found + [f"{schema}.{table} ({key}) -> {target}" for schema, table, key, target
                    in _keys_from_other_schemas(connection) if target in inside]


#: Foreign keys of tables in other schemas (databases, on MySQL) into the connection's own one.
_OTHER_SCHEMA_KEYS = {
    "postgresql": "SELECT n.nspname, c.relname, con.conname, rc.relname FROM pg_constraint con "
                  "JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                  "JOIN pg_class rc ON rc.oid = con.confrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace "
                  "WHERE con.contype = 'f' AND rn.nspname = current_schema() AND n.nspname <> current_schema() "
                  "ORDER BY 1, 2, 3",
    "mysql": "SELECT DISTINCT TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, REFERENCED_TABLE_NAME "
             "FROM information_schema.KEY_COLUMN_USAGE WHERE REFERENCED_TABLE_SCHEMA = DATABASE() "
             "AND TABLE_SCHEMA <> DATABASE() ORDER BY 1, 2, 3",
}


def _keys_from_other_schemas(connection: Connection) -> list[tuple[str, str, str, str]]:
    """(schema, table, key, our table) of each such key: the inspector sees only the default schema's tables.

    A DROP of the table they point at fails half-way through dropdb on
    MySQL/MariaDB, after other tables are gone; SQLite has no such keys.
    """
    sql = _OTHER_SCHEMA_KEYS.get(connection.dialect.name)
    if sql is None:
        return []
    return [(str(a), str(b), str(c), str(d)) for a, b, c, d in connection.exec_driver_sql(sql)]


def refuse_foreign_references(connection: Connection, tables: Iterable[str], doing: str) -> None:
    """Raise :class:`RefusedError` when a table outside *tables* has a foreign key into them."""
    found = foreign_references(connection, tables)
    if found:
        raise RefusedError(f"{doing} refused, nothing was dropped: a table it keeps has a foreign key into one "
                           f"it would drop ({some(found, separator='; ')}); drop that key or table first")


def drop(connection: Connection, tables: Iterable[str], doing: str) -> list[str]:
    """Drop exactly *tables* (and their ledger records), refusing first as :func:`refuse_foreign_references` does.

    Returns the tables dropped, in the order they went.
    """
    existing = set(sa.inspect(connection).get_table_names())
    names = [name for name in dict.fromkeys(tables) if name in existing]
    if not names:
        return []
    refuse_foreign_references(connection, names, doing)
    metadata = sa.MetaData()
    metadata.reflect(connection, only=names, resolve_fks=False)
    _stand_ins(metadata, names)
    ordered, cycles = [], []
    for table, keys in sort_tables_and_constraints(metadata.tables.values()):
        if table is None:  # keys in a cycle among the tables: dropped before any table
            cycles = [key for key in keys if key.table.name in names and key.name]
        elif table.name in names:
            ordered.append(table)
    ordered.reverse()  # dependents first
    last = [t for name in _LAST for t in ordered if t.name == name]
    ordered = [t for t in ordered if t not in last] + last
    if connection.dialect.name != "sqlite":  # SQLite cannot drop a constraint, nor needs to
        for key in cycles:
            connection.execute(DropConstraint(key))
    dropped = []
    for table in ordered:
        _drop_one(connection, table)
        dropped.append(table.name)
    return dropped


def forget_records(connection: Connection, tables: Iterable[str]) -> None:
    """Remove the ledger records of *tables* (stale ones, whose tables are gone)."""
    names = sorted(tables)
    if names and sa.inspect(connection).has_table(TABLES_TABLE):
        connection.execute(tables_table.delete().where(tables_table.c.table_name.in_(names)))


def _drop_one(connection: Connection, table: sa.Table) -> None:
    """Remove *table*'s record, then the table: a run killed in between keeps a table no record claims."""
    if table.name not in _LAST:
        forget_records(connection, [table.name])
        if not has_transactional_ddl_dialect(connection.dialect.name) and connection.in_transaction():
            connection.commit()  # DROP TABLE commits by itself on MySQL/MariaDB: the record must go first
    table.drop(connection)


def _stand_ins(metadata: sa.MetaData, names: list[str]) -> None:
    """Empty tables for what foreign keys of *names* point at outside them, so the keys can be sorted.

    They are never reflected nor dropped; their foreign keys go with the
    tables that hold them.
    """
    for table in list(metadata.tables.values()):
        for key in table.foreign_keys:
            parts = key.target_fullname.split(".")
            target, column = ".".join(parts[:-1]), parts[-1]
            if target in metadata.tables:
                stand_in = metadata.tables[target]
            else:
                schema, _, name = target.rpartition(".")
                stand_in = sa.Table(name, metadata, schema=schema or None)
            if column not in stand_in.c:
                stand_in.append_column(sa.Column(column, sa.Integer))

