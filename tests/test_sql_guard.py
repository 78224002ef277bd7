"""--no-destructive fails closed: every statement a revision sends is judged, in the --plan dry run and at the
connection as it is sent, by a SQL parser that knows the database's dialect; what it cannot read is refused."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import pytest
from click.testing import Result
from sqlalchemy.sql.elements import TextClause

from conftest import install_extension, write_extension
from dbstate import rows, table_names, version_ids

Run = Callable[..., Result]
ROOT, GAP = "f1000000000a", "f1000000000b"
ITEMS = ("op.create_table('sneaky_items', sa.Column('id', sa.Integer, primary_key=True),\n"
         "    sa.Column('amount', sa.Numeric(10, 2)), sa.Column('note', sa.String(50)))\n"
         "op.create_table('sneaky_other', sa.Column('id', sa.Integer, primary_key=True))")
#: The first lines of a revision that hides the rest from the dry run (offline): only the connection sees it.
HIDDEN = "from alembic import context\nif context.is_offline_mode():\n    return\n"
REFUSED_PLAN = "Error: refusing to upgrade (--no-destructive, $JANITOO_DB_NO_DESTRUCTIVE): 1 of the 1 revisions"
REFUSED_RUN = (f"Error: refusing revision {GAP} (sneaky) (--no-destructive, $JANITOO_DB_NO_DESTRUCTIVE): "
               "it sends SQL that")


def sneaky(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, root: str = ITEMS) -> None:
    """The extension ``sneaky`` installed: a root that makes its tables, then one revision running *body*."""
    install_extension(write_extension(tmp_path / "ext", "sneaky", [(ROOT, root), (GAP, body)]), "sneaky", monkeypatch)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.stderr
    return result


def prepared(cli: Run, url: str) -> None:
    """sneaky's root applied, and three rows in its tables."""
    ok(cli("upgrade", "-q", ROOT, "-u", url))
    rows(url, "INSERT INTO sneaky_items (id, amount, note) VALUES (1, 12345678.91, 'a'), (2, 2.5, 'b'), (3, 3, 'c')")
    rows(url, "INSERT INTO sneaky_other (id) VALUES (1), (2)")


def state(url: str) -> tuple[set[str], set[str], list[tuple[object, ...]], list[tuple[object, ...]]]:
    return (version_ids(url), table_names(url), rows(url, "SELECT id, amount, note FROM sneaky_items ORDER BY id"),
            rows(url, "SELECT id FROM sneaky_other ORDER BY id"))


def marks(stdout: str) -> list[str]:
    """The ``  ! ...`` lines of a plan."""
    return [line[4:] for line in stdout.splitlines() if line.startswith("  ! ")]


def refused_with_nothing_changed(cli: Run, url: str, start: str) -> str:
    """Run upgrade --no-destructive; it must fail with one line starting with *start*, leaving all as it was."""
    before = state(url)
    refused = cli("upgrade", "--no-destructive", "sneaky@head", "-u", url)
    assert refused.exit_code == 1, refused.stdout
    assert len(refused.stderr.splitlines()) == 1 and refused.stderr.startswith(start), refused.stderr
    assert state(url) == before
    assert cli("checkdb", "-u", url).exit_code == 3  # revisions pending; nothing half-done for repair
    return refused.stderr


# -- SQL past op.execute, on every database --------------------------------------------------------------

PATHS = {
    "op.get_context().execute": "op.get_context().execute({sql!r})",
    "alembic.context.execute": "from alembic import context\ncontext.execute({sql!r})",
    "op.get_bind().execute": "op.get_bind().execute(sa.text({sql!r}))",
}


@pytest.mark.parametrize("path", list(PATHS))
def test_sql_past_op_execute_is_marked_and_refused(cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   any_url: str, path: str) -> None:
    sneaky(tmp_path, monkeypatch, PATHS[path].format(sql="DELETE FROM sneaky_items WHERE id > 1"))
    prepared(cli, any_url)
    planned = ok(cli("upgrade", "--plan", "sneaky@head", "-u", any_url))
    assert marks(planned.stdout) == ["runs SQL that deletes rows of table sneaky_items (DELETE) (3 rows)"]
    message = refused_with_nothing_changed(cli, any_url, REFUSED_PLAN)
    assert f"{GAP} (sneaky): runs SQL that deletes rows of table sneaky_items (DELETE) (3 rows)" in message
    # The statement is real: allowed, it deletes.
    ok(cli("upgrade", "-q", "--allow-destructive", "sneaky@head", "-u", any_url))
    assert rows(any_url, "SELECT id FROM sneaky_items") == [(1,)]


def test_driver_sql_cannot_be_dry_run_and_is_refused_unchecked(cli: Run, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch, any_url: str) -> None:
    """Offline, op.get_bind() is Alembic's mock connection, which has no exec_driver_sql: not checked."""
    sneaky(tmp_path, monkeypatch, "op.get_bind().exec_driver_sql('DELETE FROM sneaky_items')")
    prepared(cli, any_url)
    [mark] = marks(ok(cli("upgrade", "--plan", "sneaky@head", "-u", any_url)).stdout)
    assert mark.startswith("not checked: its dry run (offline, as --sql runs it: it reads nothing from the database) "
                           "stopped: AttributeError: ")
    refused_with_nothing_changed(cli, any_url, REFUSED_PLAN)


@pytest.mark.parametrize("path", [*PATHS, "op.execute", "exec_driver_sql"])
def test_sql_hidden_from_the_dry_run_is_refused_as_it_is_sent(cli: Run, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch, any_url: str,
                                                              path: str) -> None:
    """A revision that behaves otherwise offline: --plan sees nothing, the connection refuses the statement."""
    send = {**PATHS, "op.execute": "op.execute({sql!r})",
            "exec_driver_sql": "op.get_bind().exec_driver_sql({sql!r})"}[path]
    sneaky(tmp_path, monkeypatch, HIDDEN + send.format(sql="DELETE FROM sneaky_items"))
    prepared(cli, any_url)
    assert marks(ok(cli("upgrade", "--plan", "sneaky@head", "-u", any_url)).stdout) == []
    message = refused_with_nothing_changed(cli, any_url, f"{REFUSED_RUN} deletes rows of table sneaky_items (DELETE), "
                                                         "which its dry run did not show; the statement was not sent: "
                                                         "DELETE FROM sneaky_items; ")
    kept = (" (MySQL/MariaDB commit each DDL statement: the revisions before the failing one stay applied, and "
            "nothing of it stays)"
            if "mysql" in any_url else "")
    assert message.endswith(f"the database is at {ROOT}{kept}. Read 'jnt_dbman upgrade --plan', back the "
                            "database up, then upgrade with --allow-destructive\n")
    if "mysql" not in any_url:
        assert "rolled back, so nothing this command did was kept" in message


def test_a_refusal_the_revision_catches_still_fails_the_run(cli: Run, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch, any_url: str) -> None:
    sneaky(tmp_path, monkeypatch, HIDDEN + "try:\n    op.execute('DELETE FROM sneaky_items')\nexcept Exception:\n"
                                           "    pass\ntry:\n    op.execute(\"UPDATE sneaky_items SET note = 'x'\")\n"
                                           "except Exception:\n    pass")
    prepared(cli, any_url)
    refused_with_nothing_changed(cli, any_url, f"{REFUSED_RUN} deletes rows of table sneaky_items (DELETE)")


def test_what_a_run_creates_it_may_empty_and_drop(cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  any_url: str) -> None:
    """Safe revisions run under the guard: tables made, rows written by every path, an autocommit block; and what
    the same run created may be emptied and dropped, as the dry run rules."""
    sneaky(tmp_path, monkeypatch, "from alembic import context\n" + (
        "op.create_table('sneaky_scratch', sa.Column('id', sa.Integer, primary_key=True))\n"
        "op.bulk_insert(sa.table('sneaky_scratch', sa.column('id')), [{'id': 1}, {'id': 2}])\n"
        "op.execute(\"UPDATE sneaky_items SET note = 'it''s %'\")\n"
        "op.get_context().execute(\"INSERT INTO sneaky_other (id) VALUES (3)\")\n"
        "context.execute(sa.text('INSERT INTO sneaky_other (id) VALUES (:id)').bindparams(id=4))\n"
        "if not context.is_offline_mode():\n"
        "    bind = op.get_bind()\n"
        "    read = bind.execute(sa.text('SELECT id FROM sneaky_other WHERE id > :n'), {'n': 3})\n"
        "    assert [row[0] for row in read] == [4]\n"
        "    bind.exec_driver_sql('DELETE FROM sneaky_scratch WHERE id = 1')\n"
        "    bind.execute(sa.table('sneaky_scratch', sa.column('id')).delete())\n"
        "with op.get_context().autocommit_block():\n"
        "    op.create_index('ix_sneaky_items_note', 'sneaky_items', ['note'])\n"
        "op.add_column('sneaky_items', sa.Column('size', sa.Integer))\n"
        "if op.get_bind().dialect.name != 'sqlite':  # a type that fits: judged by the dry run, which knows both\n"
        "    op.alter_column('sneaky_items', 'note', type_=sa.String(80), existing_type=sa.String(50))\n"
        "op.drop_table('sneaky_scratch')"))
    prepared(cli, any_url)
    assert marks(ok(cli("upgrade", "--plan", "sneaky@head", "-u", any_url)).stdout) == [
        "drops table sneaky_scratch (table created earlier in this run)"]
    ok(cli("upgrade", "-q", "--no-destructive", "sneaky@head", "-u", any_url))
    assert version_ids(any_url) == {GAP}
    assert rows(any_url, "SELECT DISTINCT note FROM sneaky_items") == [("it's %",)]
    assert rows(any_url, "SELECT id FROM sneaky_other ORDER BY id") == [(1,), (2,), (3,), (4,)]
    assert "sneaky_scratch" not in table_names(any_url)


UNREADABLE = {"sqlite": "REPLACE INTO sneaky_other (id) VALUES (1)",
              "mysql": "REPLACE INTO sneaky_other (id) VALUES (1)",
              "postgresql": "DO $$ BEGIN DELETE FROM sneaky_items; END $$"}


@pytest.mark.parametrize("hidden", [False, True], ids=["seen", "hidden"])
def test_sql_the_parser_cannot_read_is_refused_as_not_checked(cli: Run, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch, any_url: str,
                                                              hidden: bool) -> None:
    sql = UNREADABLE[any_url.split(":")[0].split("+")[0]]
    sneaky(tmp_path, monkeypatch, (HIDDEN if hidden else "") + f"op.execute({sql!r})")
    prepared(cli, any_url)
    expected = f"runs SQL that the SQL parser does not know: {sql}"
    assert marks(ok(cli("upgrade", "--plan", "sneaky@head", "-u", any_url)).stdout) == (
        [] if hidden else [f"not checked: {expected}"])
    message = refused_with_nothing_changed(cli, any_url, REFUSED_RUN if hidden else REFUSED_PLAN)
    assert (f"it sends SQL that the SQL parser does not know: {sql} (not checked)" if hidden else
            f"{GAP} (sneaky): not checked: {expected}") in message


# -- dialect SQL a text scan misread -------------------------------------------------------------------

@pytest.mark.parametrize("hidden", [False, True], ids=["seen", "hidden"])
@pytest.mark.parametrize(("sql", "words"), [
    ("DELETE sneaky_items FROM sneaky_items JOIN sneaky_other ON sneaky_items.id = sneaky_other.id",
     "deletes rows of table sneaky_items (DELETE)"),
    ("DELETE IGNORE FROM sneaky_items WHERE id > 1", "deletes rows of table sneaky_items (DELETE)"),
    ("DELETE LOW_PRIORITY QUICK FROM `sneaky_items`", "deletes rows of table sneaky_items (DELETE)"),
], ids=["multi-table", "ignore", "modifiers"])
def test_mariadb_deletes(cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mysql_url: str, sql: str,
                         words: str, hidden: bool) -> None:
    sneaky(tmp_path, monkeypatch, (HIDDEN if hidden else "") + f"op.execute({sql!r})")
    prepared(cli, mysql_url)
    assert marks(ok(cli("upgrade", "--plan", "sneaky@head", "-u", mysql_url)).stdout) == (
        [] if hidden else [f"runs SQL that {words} (3 rows)"])
    message = refused_with_nothing_changed(cli, mysql_url, REFUSED_RUN if hidden else REFUSED_PLAN)
    assert f"{words}, which its dry run did not show" in message if hidden else f"runs SQL that {words}" in message


@pytest.mark.parametrize("hidden", [False, True], ids=["seen", "hidden"])
@pytest.mark.parametrize(("sql", "words"), [
    ("DROP TYPE sneaky_mood CASCADE", "drops type sneaky_mood with CASCADE, and whatever uses it"),
    # The apostrophe and a later quote make a text scan take the statement between for a string.
    ("SELECT $$ it's $$ AS x; DELETE FROM sneaky_items WHERE note <> 'z'",
     "deletes rows of table sneaky_items (DELETE)"),
    ("SELECT $body$ it's $body$ AS x; TRUNCATE sneaky_other; SELECT 'done'", "empties table sneaky_other (TRUNCATE)"),
], ids=["drop-type-cascade", "dollar-quote", "tagged-dollar-quote"])
def test_postgresql_sql(cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgresql_url: str, sql: str,
                        words: str, hidden: bool) -> None:
    sneaky(tmp_path, monkeypatch, (HIDDEN if hidden else "") + f"op.execute({sql!r})")
    prepared(cli, postgresql_url)
    rows(postgresql_url, "CREATE TYPE sneaky_mood AS ENUM ('calm', 'cross')")
    rows(postgresql_url, "ALTER TABLE sneaky_other ADD COLUMN mood sneaky_mood DEFAULT 'calm'")
    planned = marks(ok(cli("upgrade", "--plan", "sneaky@head", "-u", postgresql_url)).stdout)
    assert planned == ([] if hidden else [f"runs SQL that {words}" + (" (2 rows)" if "sneaky_other" in words else
                                                                       " (3 rows)" if "sneaky_items" in words else "")])
    message = refused_with_nothing_changed(cli, postgresql_url, REFUSED_RUN if hidden else REFUSED_PLAN)
    assert words in message
    assert rows(postgresql_url, "SELECT mood FROM sneaky_other ORDER BY id") == [("calm",), ("calm",)]


# -- type narrowing on MariaDB ----------------------------------------------------------------------------

@pytest.mark.parametrize(("column", "change", "words"), [
    ("sa.Column('amount', sa.Numeric(10, 2))", "type_=sa.Float(), existing_type=sa.Numeric(10, 2)",
     "narrows column sneaky_rates.amount from NUMERIC(10, 2) to FLOAT"),
    ("sa.Column('amount', sa.Float(53))", "type_=sa.Float(), existing_type=sa.Float(53)",
     "narrows column sneaky_rates.amount from FLOAT(53) to FLOAT"),
    ("sa.Column('amount', mysql.INTEGER(unsigned=True))",
     "type_=sa.Integer(), existing_type=mysql.INTEGER(unsigned=True)",
     "narrows column sneaky_rates.amount from INTEGER UNSIGNED to INTEGER"),
    ("sa.Column('amount', sa.Integer())", "type_=mysql.INTEGER(unsigned=True), existing_type=sa.Integer()",
     "narrows column sneaky_rates.amount from INTEGER to INTEGER UNSIGNED"),
], ids=["numeric-to-float", "double-to-float", "unsigned-to-signed", "signed-to-unsigned"])
def test_mariadb_narrowing(cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mysql_url: str, column: str,
                           change: str, words: str) -> None:
    imports = "from sqlalchemy.dialects import mysql\n"
    sneaky(tmp_path, monkeypatch, imports + f"op.alter_column('sneaky_rates', 'amount', {change})",
           root=ITEMS + f"\n{imports}op.create_table('sneaky_rates', sa.Column('id', sa.Integer, primary_key=True),"
                        f" {column})")
    prepared(cli, mysql_url)
    value = "12345678.91" if "FLOAT" in words else "4000000000" if "UNSIGNED to" in words else "-5"
    rows(mysql_url, f"INSERT INTO sneaky_rates (id, amount) VALUES (1, {value})")
    before = rows(mysql_url, "SELECT amount FROM sneaky_rates")
    assert marks(ok(cli("upgrade", "--plan", "sneaky@head", "-u", mysql_url)).stdout) == [f"{words} (1 row)"]
    message = refused_with_nothing_changed(cli, mysql_url, REFUSED_PLAN)
    assert f"{GAP} (sneaky): {words} (1 row)" in message
    assert rows(mysql_url, "SELECT amount FROM sneaky_rates") == before


# -- the classifier, statement by statement ------------------------------------------------------------

CLASSIFIED = [
    # (dialects, SQL, what it destroys: kind and words, or [] when nothing)
    ("*", "SELECT 1; INSERT INTO t (a) VALUES ('DROP TABLE x'); UPDATE t SET a = 2", []),
    ("*", "CREATE TABLE t (a INT); CREATE INDEX ix ON t (a); CREATE VIEW v AS SELECT 1", []),
    ("*", "DROP INDEX ix; DROP VIEW v", []),
    ("*", "DROP TABLE IF EXISTS a, s.b", [("drop table", "drops table a"), ("drop table", "drops table s.b")]),
    ("*", "DELETE FROM t WHERE a = ?", [("SQL", "deletes rows of table t (DELETE)")]),
    ("*", "ALTER TABLE t ADD COLUMN c INT", []),
    ("*", "ALTER TABLE t RENAME TO u", []),
    ("*", "ALTER TABLE t DROP COLUMN c", [("drop column", "drops column t.c")]),
    ("*", "SELEC 1", [("not checked", "the SQL parser cannot read (...): SELEC 1")]),
    ("postgresql mysql", "TRUNCATE TABLE t", [("SQL", "empties table t (TRUNCATE)")]),
    ("postgresql", "TRUNCATE ONLY a, s.b CASCADE",
     [("SQL", "empties table a (TRUNCATE)"), ("SQL", "empties table s.b (TRUNCATE)")]),
    ("postgresql", "DROP TYPE mood", []),
    ("postgresql", "DROP TYPE IF EXISTS mood CASCADE",
     [("SQL", "drops type mood with CASCADE, and whatever uses it")]),
    ("postgresql", "DROP FUNCTION f() CASCADE", [("SQL", "drops function f with CASCADE, and whatever uses it")]),
    ("postgresql", "DROP SCHEMA legacy CASCADE", [("SQL", "drops schema legacy")]),
    ("postgresql", "SELECT $$ it's $$; DROP TABLE t", [("drop table", "drops table t")]),
    ("postgresql", "SELECT $q$ it's $q$; SELECT E'it\\'s'; DROP TABLE t", [("drop table", "drops table t")]),
    ("postgresql", "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
     [("SQL", "deletes rows of table t (DELETE)")]),
    ("postgresql", "ALTER TABLE t ALTER COLUMN c TYPE INT USING c::int",
     [("narrow type", "changes the type of column t.c in SQL text: cannot tell whether it narrows")]),
    ("postgresql", "ALTER TABLE t ALTER COLUMN c SET DEFAULT 1, ALTER COLUMN c DROP NOT NULL, "
                   "DROP CONSTRAINT k CASCADE", []),
    ("postgresql", "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE",
     [("SQL", "can delete rows of table t (MERGE)")]),
    ("postgresql", "CREATE EXTENSION IF NOT EXISTS hstore; ALTER TYPE mood ADD VALUE 'x'", []),
    ("postgresql", "DO $$ BEGIN DELETE FROM t; END $$",
     [("not checked", "the SQL parser does not know: DO $$ BEGIN DELETE FROM t; END $$")]),
    ("postgresql", "DROP EXTENSION hstore CASCADE",
     [("not checked", "the SQL parser does not know: DROP EXTENSION hstore CASCADE")]),
    ("mysql", "DELETE t1, t2 FROM t1 JOIN t2 ON t1.id = t2.id",
     [("SQL", "deletes rows of table t1 (DELETE)"), ("SQL", "deletes rows of table t2 (DELETE)")]),
    ("mysql", "DELETE FROM t1 USING t1 JOIN t2 ON t1.id = t2.id", [("SQL", "deletes rows of table t1 (DELETE)")]),
    ("mysql", "DELETE IGNORE FROM `db`.`t` WHERE a = %s", [("SQL", "deletes rows of table db.t (DELETE)")]),
    ("mysql", "UPDATE LOW_PRIORITY IGNORE t SET a = 1; INSERT IGNORE INTO t VALUES (1)", []),
    ("mysql", "SELECT 'it\\'s'; DROP TABLE t", [("drop table", "drops table t")]),
    ("mysql", "ALTER TABLE t MODIFY c FLOAT",
     [("narrow type", "redefines column t.c in SQL text (MODIFY/CHANGE): cannot tell whether it narrows")]),
    ("mysql", "ALTER TABLE t CHANGE a b INT",
     [("narrow type", "redefines column t.a in SQL text (MODIFY/CHANGE): cannot tell whether it narrows")]),
    ("mysql", "ALTER TABLE t DROP c, DROP INDEX ix, DROP FOREIGN KEY fk, DROP PRIMARY KEY",
     [("drop column", "drops column t.c")]),
    ("mysql", "CREATE OR REPLACE TABLE t (a INT)",
     [("drop table", "replaces table t (CREATE OR REPLACE drops it first)")]),
    ("mysql", "DROP DATABASE legacy", [("SQL", "drops database legacy")]),
    ("mysql", "REPLACE INTO t VALUES (1)",
     [("not checked", "the SQL parser does not know: REPLACE INTO t VALUES (1)")]),
    ("mysql", "ALTER TABLE t ENGINE=BLACKHOLE",
     [("not checked", "janitoo_db cannot judge (this ALTER TABLE): ALTER TABLE t ENGINE=BLACKHOLE")]),
    ("mysql", "SET FOREIGN_KEY_CHECKS = 0; SHOW CREATE TABLE t", []),
    ("sqlite", "PRAGMA main.table_info(\"t\"); BEGIN IMMEDIATE", []),
    ("sqlite", "INSERT OR REPLACE INTO t (id) VALUES (1)", [("SQL", "can delete rows of table t (INSERT OR REPLACE)")]),
    ("sqlite", "INSERT OR IGNORE INTO t (id) VALUES (1)", []),
]


@pytest.mark.parametrize(("dialects", "sql", "found"), CLASSIFIED, ids=[case[1][:40] for case in CLASSIFIED])
def test_the_classifier(dialects: str, sql: str, found: list[tuple[str, str]]) -> None:
    from janitoo_db.guard.sql_guard import without_placeholders
    from janitoo_db.guard.sql_text import effects

    for dialect in ("postgresql", "mysql", "sqlite") if dialects == "*" else dialects.split():
        text = without_placeholders(sql, "format" if dialect == "mysql" else "qmark")
        # The parser's own message (in brackets) changes from release to release.
        assert [(effect.kind, re.sub(r"read \(.*\): ", "read (...): ", effect.words))
                for effect in effects(text, dialect)] == found, dialect


def test_placeholders_are_read_as_the_driver_gets_them() -> None:
    from janitoo_db.guard.sql_guard import without_placeholders

    assert without_placeholders("DELETE FROM t WHERE a = %s AND b = %(b)s AND c LIKE 'x%%'", "pyformat") == (
        "DELETE FROM t WHERE a = NULL AND b = NULL AND c LIKE 'x%'")
    assert without_placeholders("DELETE FROM t WHERE a = :a", "named") == "DELETE FROM t WHERE a = :a"


def test_constructs_are_judged_by_what_they_are_unless_text_inside_could_hide_a_statement() -> None:
    """Alembic's and SQLAlchemy's constructs need no parsing; SQL text inside one, a WITH, or a textual
    statement (which may be anything) sends it to the parser (None)."""
    import sqlalchemy as sa
    from sqlalchemy.dialects import mysql, postgresql

    from janitoo_db.guard.sql_guard import construct_effects

    table = sa.table("t", sa.column("id"), schema="s")
    for dialect in (postgresql.dialect(), mysql.dialect()):
        def judged(construct: sa.ClauseElement) -> list[tuple[str, str | None]] | None:
            found = construct_effects(construct, construct.compile(dialect=dialect))  # noqa: B023
            return None if found is None else [(effect.kind, effect.table) for effect in found]

        assert judged(table.insert().values(id=1)) == [] and judged(table.update().values(id=2)) == []
        assert judged(sa.select(table.c.id).union(sa.select(sa.literal_column("2")))) == []
        assert judged(table.delete().where(table.c.id == 1)) == [("SQL", "s.t")]
        assert judged(sa.schema.DropTable(sa.Table("u", sa.MetaData(), schema="s"))) == [("drop table", "s.u")]
        assert judged(sa.schema.CreateTable(sa.Table("u", sa.MetaData(), sa.Column("id", sa.Integer)))) == [
            ("create table", "u")]
        assert judged(sa.select(sa.literal_column("1; DROP TABLE t"))) is None
        assert judged(table.update().values(id=sa.text("1; DELETE FROM t"))) is None
        assert judged(sa.select(table.c.id).add_cte(table.delete().returning(table.c.id).cte())) is None
        assert judged(sa.text("DELETE FROM t RETURNING id").columns(id=sa.Integer)) is None
        assert judged(sa.text("SELECT 1")) is None and judged(sa.schema.DDL("DROP TABLE t")) is None
        assert judged(AddColumn("DROP TABLE t")) is None  # someone else's, named like Alembic's harmless one


class AddColumn(TextClause):
    """A construct of someone else's that only shares a name with one of Alembic's."""
