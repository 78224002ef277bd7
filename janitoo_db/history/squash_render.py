"""The source of a squashed revision: ``op.create_table`` for the branch's head schema, ``op.bulk_insert`` for its rows.

The tables are rendered by Alembic's autogenerate renderer, as ``generate``
renders them, with ``sa.`` types; values are rendered here, as Python
literals (and ``datetime``, ``decimal`` and ``uuid`` values), so that the
file stays readable and every database gets the same rows.
"""
from __future__ import annotations

import datetime
import decimal
import math
import re
import textwrap
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import render_python_code
from alembic.operations import ops
from sqlalchemy.sql import functions

from janitoo_db.errors import RevisionError
from janitoo_db.history.squash_rows import with_json_nulls

Rows = list[tuple[dict[str, Any], set[str]]]

CONTINUE_IDS = '''

def _continue_ids(table: sa.Table) -> None:
    """PostgreSQL: the rows above were inserted with their ids, so the id sequence must go on after them."""
    context = op.get_context()
    if context.dialect.name == "postgresql":
        (column,) = table.primary_key.columns
        name = context.dialect.identifier_preparer.format_table(table)
        op.execute(sa.select(sa.func.setval(sa.func.pg_get_serial_sequence(name, column.name), sa.func.max(column))))
'''


def docstring(text: str) -> str:
    """Any text as the body of a triple-quoted docstring."""
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').replace("\0", "\\x00")


def render(*, revision: str, message: str, name: str, depends_on: Sequence[str], replaces: Sequence[str],
           release: str, tables: Sequence[sa.Table], rows: dict[str, Rows], created: datetime.datetime) -> str:
    """The whole revision file."""
    imports: set[str] = set()
    upgrade, continuing = _upgrade(tables, rows, imports)
    downgrade = [f"op.drop_table({table.name!r})" for table in reversed(tables)]
    enums = sorted({c.type.name for t in tables for c in t.columns
                    if isinstance(c.type, sa.Enum) and c.type.name and c.type.native_enum})
    if enums:
        downgrade.append('if op.get_context().dialect.name == "postgresql":  # drop_table leaves its enum types')
        downgrade.extend(f"    op.execute({_sql_drop_type(enum)!r})" for enum in enums)
    replaced = "".join(f"    {r!r},\n" for r in replaces)
    return (
        f'"""{docstring(message)}\n\nRevision ID: {revision}\nRevises:\nCreate Date: {created}\n'
        + docstring(textwrap.fill(f"Replaces: {', '.join(replaces)}", width=79, break_on_hyphens=False)) + "\n\n"
        + docstring(textwrap.fill(
            f"Written by 'jnt_dbman squash {name}': {name}'s tables and rows as its revisions up to {replaces[-1]} "
            f"leave them, for fresh databases. A database at {replaces[-1]} is re-stamped to this revision; one at "
            f"an earlier revision must be upgraded with {release} first.", width=79)) + "\n"
        '"""\nfrom __future__ import annotations\n\n'
        + "".join(f"{line}\n" for line in sorted(imports))
        + "\nimport sqlalchemy as sa\nfrom alembic import op\n\n"
        f"revision = {revision!r}\ndown_revision = None\nbranch_labels = ({name!r},)\n"
        f"depends_on = {tuple(depends_on) if depends_on else None!r}\n"
        f"replaces = (\n{replaced})\nreplaced_release = {release!r}\n\n\n"
        "def upgrade() -> None:\n" + _body(upgrade)
        + "\n\ndef downgrade() -> None:\n" + _body(downgrade)
        + (CONTINUE_IDS if continuing else "")
    )


def _body(lines: list[str]) -> str:
    return "".join(f"    {line}\n" if line else "\n" for line in "\n".join(lines or ["pass"]).splitlines())


def _sql_drop_type(name: str) -> str:
    return 'DROP TYPE IF EXISTS "' + name.replace('"', '""') + '"'


def _upgrade(tables: Sequence[sa.Table], rows: dict[str, Rows], imports: set[str]) -> tuple[list[str], bool]:
    lines: list[str] = []
    continuing = False
    used: set[str] = set()
    for table in tables:
        found = rows.get(table.name) or []
        if found:
            with_json_nulls(table)
        code = _create(table, imports).splitlines()
        if found:
            variable = _variable(table.name, used)
            code[0] = f"{variable} = {code[0]}"
            code.append(f"op.bulk_insert({variable}, [")
            code.extend(f"    {_row(table, values, nulls, imports)}," for values, nulls in found)
            code.append("])")
            if _numbered(table):
                code.append(f"_continue_ids({variable})")
                continuing = True
        lines.extend(code)
    return lines, continuing


def _create(table: sa.Table, imports: set[str]) -> str:
    """``op.create_table`` (and ``op.create_index``) for *table*, from Alembic's renderer."""
    contexts: list[Any] = []

    def render_item(kind: str, item: Any, context: Any) -> Any:
        contexts.append(context)  # Alembic adds the imports a type needs after this returns
        if kind == "type":
            module = type(item).__module__
            if not module.startswith("sqlalchemy."):
                imports.add(f"import {module}")
            return False
        if kind == "server_default" and isinstance(item, sa.DefaultClause):
            return _expression(item.arg)
        return False

    operations = [ops.CreateTableOp.from_table(table),
                  *(ops.CreateIndexOp.from_index(index) for index in sorted(table.indexes, key=lambda i: str(i.name)))]
    code = render_python_code(ops.UpgradeOps(operations), render_item=render_item)
    for context in contexts[:1]:
        imports.update(context.imports)
    kept = [line for line in code.splitlines() if not line.strip().startswith("# ###")]
    return textwrap.dedent("\n".join(kept)).strip("\n")


def _expression(arg: Any) -> str | bool:
    """A server default written as SQLAlchemy, so each database gets its own SQL (``sa.false()`` is not ``0``)."""
    if isinstance(arg, sa.sql.elements.False_):
        return "sa.false()"
    if isinstance(arg, sa.sql.elements.True_):
        return "sa.true()"
    if isinstance(arg, functions.FunctionElement) and not list(arg.clauses) and re.fullmatch(r"\w+", arg.name):
        return f"sa.func.{arg.name}()"
    return False


def _variable(name: str, used: set[str]) -> str:
    base = re.sub(r"\W", "_", name)
    variable = base if base.isidentifier() and not base.startswith("_") else f"table_{base}"
    while variable in used or variable in ("sa", "op"):
        variable += "_"
    used.add(variable)
    return variable


def _numbered(table: sa.Table) -> bool:
    """True for a table whose one-column integer primary key a sequence numbers on PostgreSQL."""
    key = list(table.primary_key.columns)
    return (len(key) == 1 and isinstance(key[0].type, sa.Integer) and key[0].autoincrement in (True, "auto")
            and not key[0].foreign_keys)


def _row(table: sa.Table, values: dict[str, Any], nulls: set[str], imports: set[str]) -> str:
    cells = []
    for column in table.columns:
        value = values[column.name]
        if column.name in nulls:
            text = "None"
        elif value is None and isinstance(column.type, sa.JSON):
            text = "sa.JSON.NULL"  # JSON null, not SQL NULL
        else:
            text = literal(value, imports, f"{table.name}.{column.name}")
        cells.append(f"{column.name!r}: {text}")
    return "{" + ", ".join(cells) + "}"


def literal(value: Any, imports: set[str], where: str) -> str:
    """*value* as Python source; a value of another kind is refused, naming *where* it is."""
    if value is None or isinstance(value, (bool, int, str, bytes)):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f"float({str(value)!r})"
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time, datetime.timedelta)):
        if isinstance(value, (datetime.datetime, datetime.time)) and value.tzinfo not in (None, datetime.timezone.utc):
            raise RevisionError(f"cannot write the value of {where} ({value!r}): only UTC or naive times")
        imports.add("import datetime")
        return repr(value)
    if isinstance(value, decimal.Decimal):
        imports.add("import decimal")
        return f"decimal.Decimal({str(value)!r})"
    if isinstance(value, uuid.UUID):
        imports.add("import uuid")
        return f"uuid.UUID({str(value)!r})"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(literal(v, imports, where) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return "{" + ", ".join(f"{k!r}: {literal(v, imports, where)}" for k, v in value.items()) + "}"
    raise RevisionError(f"cannot write the value of {where} ({type(value).__name__}) into the squashed revision: "
                        "only plain values (numbers, text, bytes, dates and times, decimals, UUIDs, JSON)")
