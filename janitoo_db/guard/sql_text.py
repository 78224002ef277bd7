"""What SQL text a revision runs does that destroys data, read by a SQL parser that knows the dialect.

A revision's SQL reaches the database as text through ``op.execute``,
``op.get_context().execute``, ``alembic.context.execute``,
``op.get_bind().execute`` and ``exec_driver_sql``.  Each statement of it is
parsed with sqlglot, for the database's own dialect (``mysql`` for MySQL and
MariaDB, ``postgres``, ``sqlite``), and its tree is judged:

* destructive: ``DROP TABLE``, ``DROP SCHEMA``/``DATABASE``, any other
  ``DROP ... CASCADE`` (a type, a function: PostgreSQL drops what uses it,
  columns included), ``TRUNCATE``, ``DELETE`` (also MySQL's multi-table
  ``DELETE t1 FROM t1 JOIN t2`` and ``DELETE IGNORE``, and a ``DELETE``
  inside a ``WITH`` of another statement), ``MERGE``, SQLite's ``INSERT OR
  REPLACE`` (a row in the way is deleted), ``CREATE OR REPLACE TABLE``,
  ``ALTER TABLE ... DROP COLUMN``, and a column's type changed in SQL
  (``ALTER COLUMN ... TYPE``, MySQL's ``MODIFY``/``CHANGE``), which
  nothing here can judge;
* not checked, so destructive too: a statement the parser cannot read (a
  parse error, or sqlglot's ``Command``, its stand-in for syntax it does not
  know: ``DO`` blocks, ``CALL``, ``REPLACE INTO``, ``LOCK TABLES``...), and
  any kind of statement not named here;
* safe: ``SELECT``, ``INSERT``, ``UPDATE`` (data migrations move values
  with them; the issue this guard answers names drops, truncations,
  deletions and narrowing), ``CREATE``, ``ALTER TABLE`` that adds or renames
  a column, or drops an index, a key or a constraint, dropping a view, an
  index, a sequence, a type or a function without ``CASCADE`` (the database
  refuses while something uses it), ``SET``, ``SHOW``, ``PRAGMA``,
  ``COMMENT``, ``GRANT``, ``ANALYZE``, transaction control, and two commands
  sqlglot does not parse but that only add: ``CREATE EXTENSION`` and
  ``ALTER TYPE ... ADD VALUE``.  A function a ``SELECT`` calls is not followed.
  A lone ``SELECT``, ``SHOW``, ``PRAGMA`` or ``DESCRIBE`` is not even parsed.

Why sqlglot rather than pglast: janitoo_db runs on SQLite, PostgreSQL and
MySQL/MariaDB, and pglast (libpg_query, a C extension) reads PostgreSQL only;
sqlglot is pure Python, parses all three dialects (dollar-quoted strings,
backslash escapes and backquotes included), and is imported only when a
statement is to be read (``--plan``, ``--no-destructive``).
"""
from __future__ import annotations

import logging
from typing import Any, NamedTuple

#: The kinds of :class:`janitoo_db.results.Destructive` SQL text can have.
DROP_TABLE, DROP_COLUMN, SQL, NARROW_TYPE, NOT_CHECKED = (
    "drop table", "drop column", "SQL", "narrow type", "not checked")
#: What SQL text does that destroys nothing but tells which tables a run creates (:mod:`janitoo_db.guard.sql_guard`).
CREATE_TABLE, RENAME_TABLE = "create table", "rename table"
#: The kinds that destroy data (or may: not checked).
DESTRUCTIVE_KINDS = frozenset({DROP_TABLE, DROP_COLUMN, SQL, NARROW_TYPE, NOT_CHECKED})

#: sqlglot's name for each SQLAlchemy dialect; another dialect is read as sqlglot's generic SQL.
SQLGLOT_DIALECTS = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite"}
#: Words of MySQL's DELETE and UPDATE that sqlglot does not read; they change nothing of what is removed.
_MYSQL_MODIFIERS = {"LOW_PRIORITY", "QUICK", "IGNORE"}
#: Commands sqlglot does not parse that only add to the database, by their first words.
_ADDING_COMMANDS = (("CREATE", "EXTENSION"),)
#: Statement kinds that read, write rows or set session state, once nothing inside them destroys data.
_SAFE = ("Select", "SetOperation", "Subquery", "Values", "Insert", "Update", "Show", "Pragma", "Set", "Use",
         "Transaction", "Commit", "Rollback", "Describe", "Comment", "Grant", "Revoke", "Analyze")
#: The first words of statements read without the parser when they are alone (see _only_reads).
_READS = {"SELECT", "SHOW", "PRAGMA", "DESCRIBE"}
#: What CREATE may make besides a table; what DROP may remove without CASCADE (the database refuses while in use).
_CREATED = {"INDEX", "VIEW", "SEQUENCE", "TYPE", "FUNCTION", "PROCEDURE", "SCHEMA", "DATABASE", "TRIGGER"}
_DROPPED_SAFELY = {"VIEW", "INDEX", "SEQUENCE", "TYPE", "FUNCTION", "PROCEDURE", "TRIGGER"}
#: What ALTER TABLE ... DROP may remove besides a column.
_NOT_COLUMNS = {"CONSTRAINT", "INDEX", "KEY", "FOREIGN KEY", "PRIMARY KEY", "CHECK", "UNIQUE", "DEFAULT"}


class Effect(NamedTuple):
    """What one statement does: its kind, table (``schema.name``), column, and in words.

    For :data:`RENAME_TABLE`, *new_name* is the table's new name.
    """

    kind: str
    table: str | None
    column: str | None
    words: str
    new_name: str | None = None


class _Quiet(logging.Filter):
    """sqlglot warns on the logging root when it falls back to a Command: here that is "not checked" instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Falling back to parsing as a 'Command'" not in record.getMessage()


logging.getLogger("sqlglot").addFilter(_Quiet())


def effects(sql: str, dialect: str) -> list[Effect]:
    """What *sql* (one or more statements) does that destroys data, for the SQLAlchemy *dialect* name."""
    return [effect for effect in classify(sql, dialect) if effect.kind in DESTRUCTIVE_KINDS]


def classify(sql: str, dialect: str) -> list[Effect]:
    """Every :class:`Effect` of *sql*: what destroys data, and the tables it creates and renames."""
    if _only_reads(sql):
        return []
    from sqlglot.errors import SqlglotError

    try:
        statements = _parse(sql, SQLGLOT_DIALECTS.get(dialect, ""))
    except SqlglotError as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        return [_unread(sql, f"the SQL parser cannot read ({reason[:120]})")]
    except RecursionError:
        return [_unread(sql, "the SQL parser cannot read (nested too deeply)")]
    found: list[Effect] = []
    for statement in statements:
        if statement is not None:
            found.extend(_statement(statement, sql))
    return found


def _only_reads(sql: str) -> bool:
    """A single statement that starts as a read (``SELECT``, ``SHOW``, ``PRAGMA``, ``DESCRIBE``): safe unparsed.

    Reflection sends these by the dozen (SQLite's ``PRAGMA table_info``,
    MySQL's ``SHOW CREATE TABLE``), and importing the parser for them alone
    would cost a server's start more than the whole check.  A statement with
    a ``;`` anywhere but at its end, or starting with anything else
    (a comment, ``WITH``, ``EXPLAIN``, which runs what it explains with
    ``ANALYZE``), is parsed.
    """
    first = sql.lstrip()[:9].split(None, 1)
    return bool(first) and first[0].upper() in _READS and ";" not in sql.rstrip().rstrip(";")


def _parse(sql: str, dialect_name: str) -> list[Any]:
    from sqlglot.dialects.dialect import Dialect

    dialect = Dialect.get_or_raise(dialect_name or None)
    tokens = dialect.tokenize(sql)
    if dialect_name == "mysql":
        tokens = [token for index, token in enumerate(tokens)
                  if not (token.text.upper() in _MYSQL_MODIFIERS and _after_verb(tokens, index))]
    return dialect.parser().parse(tokens, sql)


def _after_verb(tokens: list[Any], index: int) -> bool:
    """Whether tokens[index] follows DELETE or UPDATE with only modifiers between."""
    while index > 0:
        index -= 1
        word = tokens[index].text.upper()
        if word in ("DELETE", "UPDATE"):
            return True
        if word not in _MYSQL_MODIFIERS:
            return False
    return False


def _unread(sql: str, why: str) -> Effect:
    text = " ".join(sql.split())
    return Effect(NOT_CHECKED, None, None, f"{why}: {text[:80]}{'...' if len(text) > 80 else ''}")


def _statement(statement: Any, sql: str) -> list[Effect]:
    from sqlglot import exp

    if isinstance(statement, exp.Command):
        return [] if _adds_only(statement) else [_unread(statement.sql(), "the SQL parser does not know")]
    if isinstance(statement, exp.Alter):
        found = _alter(statement)
    elif isinstance(statement, exp.Create):
        found = _create(statement)
    elif isinstance(statement, (exp.Delete, exp.TruncateTable, exp.Drop, exp.Merge)) or any(
            isinstance(statement, getattr(exp, name, ())) for name in _SAFE):
        found = []
    else:
        return [_unread(statement.sql(), f"janitoo_db cannot judge ({type(statement).__name__})")]
    for node in statement.walk():
        node = node[0] if isinstance(node, tuple) else node  # sqlglot before 26 walks (node, parent, key)
        if isinstance(node, exp.Delete):
            found.extend(Effect(SQL, name, None, f"deletes rows of table {name} (DELETE)")
                         for name in _names(node.args.get("tables") or [node.this]))
        elif isinstance(node, exp.TruncateTable):
            found.extend(Effect(SQL, name, None, f"empties table {name} (TRUNCATE)")
                         for name in _names(node.expressions or [node.this]))
        elif isinstance(node, exp.Insert) and str(node.args.get("alternative") or "").upper() == "REPLACE":
            name = _name(node.this)
            found.append(Effect(SQL, name, None, f"can delete rows of table {name} (INSERT OR REPLACE)"))
        elif isinstance(node, exp.Merge):
            name = _name(node.this)
            found.append(Effect(SQL, name, None, f"can delete rows of table {name} (MERGE)"))
        elif isinstance(node, exp.Drop) and not isinstance(node.parent, exp.Alter):
            found.extend(_drop(node))
    return found


def _adds_only(command: Any) -> bool:
    words = tuple(command.sql().upper().split())
    if words[:2] == ("ALTER", "TYPE") and words[3:5] == ("ADD", "VALUE"):
        return True
    return any(words[:len(start)] == start for start in _ADDING_COMMANDS)


def _drop(node: Any) -> list[Effect]:
    kind = (node.args.get("kind") or "").upper()
    names = _names(node.args.get("tables") or [node.this])
    if kind == "TABLE":
        return [Effect(DROP_TABLE, name, None, f"drops table {name}") for name in names]
    if kind in ("SCHEMA", "DATABASE"):
        return [Effect(SQL, None, None, f"drops {kind.lower()} {name}") for name in names]
    if kind in _DROPPED_SAFELY:
        if not node.args.get("cascade"):
            return []
        return [Effect(SQL, None, None, f"drops {kind.lower()} {name} with CASCADE, and whatever uses it")
                for name in names]
    return [_unread(node.sql(), f"janitoo_db cannot judge (DROP {kind or '?'})")]


def _create(node: Any) -> list[Effect]:
    kind = (node.args.get("kind") or "").upper()
    if kind != "TABLE":
        return [] if kind in _CREATED else [_unread(node.sql(), f"janitoo_db cannot judge (CREATE {kind or '?'})")]
    name = _name(node.this)
    if node.args.get("replace"):
        return [Effect(DROP_TABLE, name, None, f"replaces table {name} (CREATE OR REPLACE drops it first)")]
    if node.args.get("exists"):
        return []  # IF NOT EXISTS: maybe someone else's table, with rows
    return [Effect(CREATE_TABLE, name, None, f"creates table {name}")]


def _alter(node: Any) -> list[Effect]:
    from sqlglot import exp

    kind = (node.args.get("kind") or "").upper()
    actions = node.args.get("actions") or []
    if kind != "TABLE" or not actions:
        return [_unread(node.sql(), f"janitoo_db cannot judge (this ALTER {kind or '?'})")]
    table = _name(node.this)
    found: list[Effect] = []
    for action in actions:
        if isinstance(action, exp.Drop):
            what = (action.args.get("kind") or "").upper()
            if what == "COLUMN":
                found.extend(Effect(DROP_COLUMN, table, column, f"drops column {table}.{column}")
                             for column in (_column(c) for c in action.args.get("tables") or [action.this]))
            elif what not in _NOT_COLUMNS:
                found.append(_unread(action.sql(), f"janitoo_db cannot judge (ALTER TABLE DROP {what or '?'})"))
        elif isinstance(action, exp.AlterColumn):
            if action.args.get("dtype") is not None:
                column = _column(action.this)
                found.append(Effect(NARROW_TYPE, table, column, f"changes the type of column {table}.{column} "
                                    "in SQL text: cannot tell whether it narrows"))
        elif isinstance(action, exp.ModifyColumn):  # MySQL's MODIFY and CHANGE
            column = _column(action.args.get("rename_from") or action.this)
            found.append(Effect(NARROW_TYPE, table, column, f"redefines column {table}.{column} in SQL text "
                                "(MODIFY/CHANGE): cannot tell whether it narrows"))
        elif isinstance(action, exp.AlterRename):
            found.append(Effect(RENAME_TABLE, table, None, f"renames table {table}", _name(action.this)))
        elif not isinstance(action, (exp.ColumnDef, exp.AddConstraint, exp.Constraint, exp.RenameColumn,
                                     exp.DropPrimaryKey)):
            found.append(_unread(action.sql(), f"janitoo_db cannot judge (this change of table {table})"))
    return found


def _name(table: Any) -> str:
    """``schema.name`` of a sqlglot Table (the database, on MySQL), as written."""
    from sqlglot import exp

    if isinstance(table, exp.Schema):  # CREATE TABLE t (columns)
        table = table.this
    if isinstance(table, exp.Table):
        return ".".join(part for part in (table.args.get("db") and table.db, table.name) if part)
    return table.name if table is not None and hasattr(table, "name") else "?"


def _names(tables: list[Any]) -> list[str]:
    """The names of *tables*; ``?`` when none can be read: what is destroyed is still said."""
    return [_name(table) for table in tables if table is not None] or ["?"]


def _column(column: Any) -> str:
    return (column.name or "?") if hasattr(column, "name") else "?" if column is None else str(column)
