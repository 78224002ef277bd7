"""What repair undoes, from a journal: each rule on its own, without a database."""
from __future__ import annotations

import pytest

from janitoo_db.errors import RefusedError
from janitoo_db.guard.statement_kinds import classify
from janitoo_db.runtime.journal import Entry
from janitoo_db.runtime.undo import plan, refusal


def entry(seq: int, action: str, table: str | None = None, name: str | None = None, *, done: bool = True,
          sql: str = "") -> Entry:
    return Entry("r1", seq, action, table, name, sql or f"statement {seq}", done)


def described(entries: list[Entry]) -> list[str]:
    return [e.describe() for e in entries]


def test_what_ran_is_undone_newest_first_and_what_goes_with_a_table_is_skipped() -> None:
    journal = [entry(1, "create_table", "t"), entry(2, "add_column", "old", "c"), entry(3, "add_column", "t", "x"),
               entry(4, "data", "t"), entry(5, "create_index", "old", "ix")]
    undo = plan(journal, lambda e: pytest.fail("only started statements are looked for"))
    assert described(undo.inverse) == ["CREATE INDEX ix ON old", "ADD COLUMN old.c", "CREATE TABLE t"]
    assert undo.skipped == ["ADD COLUMN t.x: goes with table t"]
    assert undo.refused == []


def test_a_statement_started_and_never_marked_done_is_looked_for() -> None:
    journal = [entry(1, "create_table", "made", done=False), entry(2, "create_table", "never", done=False),
               entry(3, "other", sql="ALTER TABLE x FORCE", done=False)]
    looked = {"made": True, "never": False}
    undo = plan(journal, lambda e: looked.get(e.table_name or ""))
    assert described(undo.inverse) == ["CREATE TABLE made"]
    assert undo.skipped == ["CREATE TABLE never: started, never took effect",
                            "ALTER TABLE x FORCE: started, and it cannot be told whether it took effect; "
                            "check it by hand"]


def test_what_was_there_before_is_never_undone() -> None:
    undo = plan([entry(1, "there:create_table", "core_groups"), entry(2, "there:add_column", "t", "c")],
                lambda e: True)
    assert undo.inverse == [] and undo.refused == []
    assert undo.skipped == [
        "CREATE TABLE core_groups: table core_groups was there before it ran, and is not this run's",
        "ADD COLUMN t.c: column t.c was there before it ran, and is not this run's"]


@pytest.mark.parametrize(("action", "table"), [("data", "old"), ("droptable", "old"), ("other", None),
                                               ("rename_table", None), ("drop_column", "old")])
def test_what_cannot_be_undone_refuses_the_whole_undo(action: str, table: str | None) -> None:
    journal = [entry(1, "create_table", "t"), entry(2, action, table, sql="DELETE FROM old")]
    undo = plan(journal, lambda e: True)
    assert described(undo.refused) == ["DELETE FROM old"]
    error = refusal("revision r1 (x) was interrupted", undo)
    assert isinstance(error, RefusedError)
    assert str(error) == ("revision r1 (x) was interrupted; it ran: CREATE TABLE t; DELETE FROM old. Repair cannot "
                          "undo DELETE FROM old, so it undoes nothing. Finish the revision by hand, then record it "
                          "as done with 'jnt_dbman repair --applied'")


@pytest.mark.parametrize(("sql", "expected"), [
    ("SELECT 1", None), ("  show tables", None), ("PRAGMA main.table_info('t')", None),
    ("PRAGMA journal_mode = WAL", ("other", None, None)), ("SELECT 1; DROP TABLE t", ("other", None, None)),
    ("DELETE FROM t", ("other", None, None)), ("CREATE TABLE t (id int)", ("other", None, None)),
    ("SELECT * INTO copy FROM t", ("other", None, None)), ("EXPLAIN ANALYZE DELETE FROM t", ("other", None, None)),
    ("SAVEPOINT sa_savepoint_1", None), ("SET FOREIGN_KEY_CHECKS = 0", None),
    ("SET GLOBAL max_connections = 5", ("other", None, None)), ("SET PASSWORD = 'x'", ("other", None, None)),
])
def test_sql_text_is_a_read_or_something_repair_cannot_undo(sql: str, expected: object) -> None:
    assert classify(None, sql) == expected
