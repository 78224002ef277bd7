"""What SQL text a revision runs (``op.execute``) does that destroys data.

Read, not parsed: string literals and comments are blanked first, so that
``UPDATE t SET note = 'drop table x'`` is not taken for a drop, then the
statements that drop a table, a column, a schema or a database, empty a table
or delete rows are looked for.  SQL built in a way these patterns miss goes
unmarked; see :mod:`janitoo_db.destructive` for everything else.
"""
from __future__ import annotations

import re

#: The kinds of :class:`janitoo_db.results.Destructive` SQL text can have.
DROP_TABLE, DROP_COLUMN, SQL = "drop table", "drop column", "SQL"

_IDENTIFIER = r'(?:"[^"]+"|`[^`]+`|\[[^\]]+\]|[\w$]+)'
_NAME = rf"({_IDENTIFIER}(?:\s*\.\s*{_IDENTIFIER})?)"
_NOISE = re.compile(r"'(?:[^']|'')*'|--[^\n]*|/\*.*?\*/", re.DOTALL)
_DROP_TABLE = re.compile(rf"\bDROP\s+(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+EXISTS\s+)?({_NAME}(?:\s*,\s*{_NAME})*)",
                         re.IGNORECASE)
_TRUNCATE = re.compile(rf"\bTRUNCATE\s+(?:TABLE\s+)?(?:ONLY\s+)?{_NAME}", re.IGNORECASE)
_DELETE = re.compile(rf"\bDELETE\s+FROM\s+(?:ONLY\s+)?{_NAME}", re.IGNORECASE)
_DROP_SCHEMA = re.compile(r"\bDROP\s+(?:SCHEMA|DATABASE)\b", re.IGNORECASE)
_ALTER_TABLE = re.compile(rf"\bALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?{_NAME}([^;]*)", re.IGNORECASE)
_DROP_CLAUSE = re.compile(rf"\bDROP\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?({_IDENTIFIER})", re.IGNORECASE)
#: What ALTER TABLE ... DROP may name besides a column.
_NOT_COLUMNS = {"CONSTRAINT", "INDEX", "KEY", "FOREIGN", "PRIMARY", "DEFAULT", "NOT", "CHECK", "PARTITION",
                "IDENTITY", "EXPRESSION", "SYSTEM", "PERIOD", "UNIQUE"}


def _unquoted(name: str) -> str:
    return ".".join(part.strip().strip('"`[]') for part in re.split(r"\s*\.\s*", name))


def effects(sql: str) -> list[tuple[str, str | None, str | None, str]]:
    """What SQL text does that destroys data: (kind, table, column, in words); comments and strings ignored."""
    sql = _NOISE.sub("''", sql)
    found: list[tuple[str, str | None, str | None, str]] = []
    for match in _DROP_TABLE.finditer(sql):
        for name in re.findall(_NAME, match.group(1)):
            table = _unquoted(name)
            found.append((DROP_TABLE, table, None, f"drops table {table}"))
    for match in _TRUNCATE.finditer(sql):
        table = _unquoted(match.group(1))
        found.append((SQL, table, None, f"empties table {table} (TRUNCATE)"))
    for match in _DELETE.finditer(sql):
        table = _unquoted(match.group(1))
        found.append((SQL, table, None, f"deletes rows of table {table} (DELETE)"))
    for match in _DROP_SCHEMA.finditer(sql):
        found.append((SQL, None, None, f"drops a {match.group(0).split()[-1].lower()}"))
    for match in _ALTER_TABLE.finditer(sql):
        table = _unquoted(match.group(1))
        for clause in _DROP_CLAUSE.finditer(match.group(2)):
            column = _unquoted(clause.group(1))
            if column.upper() not in _NOT_COLUMNS:
                found.append((DROP_COLUMN, table, column, f"drops column {table}.{column}"))
    return found
