"""A PostgreSQL migration whose locks one transaction cannot hold runs in several, each consistent.

Making a real server's lock table overflow takes thousands of tables
(``bench/make_tree.py`` 200 x 20, see docs/benchmarks.rst); here the capacity
janitoo_db reads is replaced (``lock_budget.read_capacity``, its one hook for
tests) so that a few tables cross it.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import pytest
import sqlalchemy as sa
from click.testing import Result

from conftest import install_extension, write_extension
from dbstate import connected, rows, table_names, version_ids
from janitoo_db.runtime import lock_budget
from janitoo_db.runtime.lock_budget import BOOKKEEPING, NEXT_REVISION, Budget, Capacity

Run = Callable[..., Result]
REVISIONS = [f"5b000000000{index}" for index in range(7)]
TABLES = [f"splitx_t{index}" for index in range(1, 7)]


def _table(index: int) -> str:
    name = f"'splitx_t{index}'"
    if index == 5:  # made to fail by the environment: the dry run sees the same create_table either way
        name = "'splitx_t1' if os.environ.get('SPLITX_FAIL') else 'splitx_t5'"
    return f"op.create_table({name}, sa.Column('id', sa.Integer, primary_key=True), sa.Column('name', sa.String(20)))"


def _capacity(locks: int) -> Capacity:
    """A server whose lock table leaves *locks* to the migration: twice as big, 10 % kept free, the rest held."""
    return Capacity(2, locks, 0, 2 * locks - int(0.2 * locks) - locks)


def _budget(locks: int) -> Callable[[object], Capacity]:
    return lambda connection: _capacity(locks)


#: Room for the bookkeeping, the room kept for a next revision, and two tables of 5 locks.
TWO_TABLES = BOOKKEEPING + NEXT_REVISION + 10


@pytest.fixture
def split_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Run, postgresql_url: str) -> str:
    """A PostgreSQL database at every head, then extension splitx installed: a root and six tables to run.

    Each table counts 5 locks: with room for two tables a transaction (and one more kept free at each
    revision boundary), they run in three.
    """
    assert cli("initdb", "-u", postgresql_url).exit_code == 0
    root = write_extension(tmp_path / "ext", "splitx", [
        (REVISIONS[0], "pass"), *((REVISIONS[index], _table(index)) for index in range(1, 7))])
    install_extension(root, "splitx", monkeypatch)
    monkeypatch.setattr(lock_budget, "read_capacity", _budget(TWO_TABLES - 5))
    return postgresql_url


def _transactions(url: str) -> list[set[str]]:
    """The splitx tables, grouped by the transaction that created them (pg_class's xmin)."""
    found: dict[str, set[str]] = {}
    for name, xmin in rows(url, "SELECT relname, xmin::text FROM pg_class WHERE relname LIKE 'splitx_t_' "
                                "AND relkind = 'r'"):
        found.setdefault(str(xmin), set()).add(str(name))
    return sorted(found.values(), key=sorted)


def _splitx(url: str) -> tuple[set[str], set[str], dict[str, str], set[str]]:
    """What splitx has: its tables, its version, its tables' owners, its revisions' checksums."""
    tables = {name for name in table_names(url) if name.startswith("splitx_")}
    versions = set(version_ids(url)) & set(REVISIONS)
    owners = {str(table): str(branch) for table, branch in rows(
        url, "SELECT table_name, branch FROM janitoo_db_tables WHERE branch = 'splitx'")}
    summed = {str(revision) for (revision,) in rows(
        url, "SELECT revision FROM janitoo_db_checksums WHERE branch = 'splitx'")}
    return tables, versions, owners, summed


def test_a_run_too_big_for_one_transaction_is_split_at_revision_boundaries(cli: Run, split_db: str) -> None:
    result = cli("upgrade", "-u", split_db)

    assert result.exit_code == 0, result.stderr
    assert _capacity(TWO_TABLES - 5).budget == TWO_TABLES - 5
    assert "Note: after 3 of the 7 revisions to run, the migration holds about 74 locks, near what one " \
           f"PostgreSQL transaction can hold here ({_capacity(TWO_TABLES - 5).describe()})" in result.stderr
    assert result.stderr.count("Note: after") == 1  # said once, at the first commit
    assert _transactions(split_db) == [{"splitx_t1", "splitx_t2"}, {"splitx_t3", "splitx_t4"},
                                       {"splitx_t5", "splitx_t6"}]
    tables, versions, owners, summed = _splitx(split_db)
    assert tables == set(TABLES) and versions == {REVISIONS[-1]}
    assert owners == dict.fromkeys(TABLES, "splitx") and summed == set(REVISIONS)
    assert cli("checkdb", "-u", split_db).exit_code == 0


def test_a_failure_in_a_later_transaction_keeps_the_earlier_ones_consistent(
        cli: Run, split_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPLITX_FAIL", "1")
    failed = cli("upgrade", "-u", split_db)

    assert failed.exit_code != 0
    assert f"revision {REVISIONS[5]} (splitx" in failed.stderr
    assert "the run was split for PostgreSQL's lock table: the 2 transaction(s) before the failing revision's " \
           "were committed" in failed.stderr
    assert "Partly kept: the run was split for PostgreSQL's lock table" in failed.stderr
    # The first two transactions stay, each with its versions and bookkeeping: the database is at t4.
    tables, versions, owners, summed = _splitx(split_db)
    assert tables == set(TABLES[:4]) and versions == {REVISIONS[4]}
    assert owners == dict.fromkeys(TABLES[:4], "splitx") and summed == set(REVISIONS[:5])
    assert "janitoo_db_in_progress" not in table_names(split_db)  # no revision left marked as under way

    monkeypatch.delenv("SPLITX_FAIL")
    again = cli("upgrade", "-u", split_db)

    assert again.exit_code == 0, again.stderr
    assert "Note: after" not in again.stderr  # two tables left: one transaction
    tables, versions, owners, summed = _splitx(split_db)
    assert tables == set(TABLES) and versions == {REVISIONS[-1]} and summed == set(REVISIONS)
    assert cli("checkdb", "-u", split_db).exit_code == 0


def test_a_run_that_fits_is_one_transaction(cli: Run, split_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lock_budget, "read_capacity", _budget(TWO_TABLES + 20))

    result = cli("upgrade", "-u", split_db)

    assert result.exit_code == 0, result.stderr
    assert "PostgreSQL transaction" not in result.stderr
    assert _transactions(split_db) == [set(TABLES)]


def test_the_capacity_is_read_from_the_server(postgresql_url: str) -> None:
    with connected(postgresql_url) as connection:
        capacity = lock_budget._read_capacity(connection)
        shown = [int(connection.execute(sa.text(f"SHOW {name}")).scalar_one()) for name in (
            "max_locks_per_transaction", "max_connections", "max_prepared_transactions")]
    assert [capacity.max_locks_per_transaction, capacity.max_connections,
            capacity.max_prepared_transactions] == shown
    assert capacity.size == shown[0] * (shown[1] + shown[2])
    assert capacity.held >= 0
    assert capacity.budget == max(capacity.size - capacity.held - capacity.size // 10, capacity.size // 2)


def test_the_budget_is_what_is_free_less_a_margin_and_never_less_than_half_the_table() -> None:
    assert Capacity(64, 100, 0, 8).budget == 6400 - 8 - 640
    assert Capacity(64, 90, 10, 8).budget == 6400 - 8 - 640
    assert Capacity(64, 100, 0, 9000).budget == 3200  # others' locks are mostly short-lived


def _table_sent(budget: Budget, name: str) -> None:
    """What a revision's op.create_table sends: CREATE TABLE for a table of 5 locks."""
    table = sa.Table(name, sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))
    budget.sent(None, None, "CREATE TABLE ...", None, SimpleNamespace(compiled=SimpleNamespace(
        statement=sa.schema.CreateTable(table))), False)


def test_the_run_commits_at_the_boundary_where_the_next_revision_might_not_fit() -> None:
    notices: list[str] = []
    budget = Budget(None, _budget(TWO_TABLES)(None), 6, notices.append)  # type: ignore[arg-type]
    cuts = []
    for index in range(6):
        _table_sent(budget, f"t{index}")
        if budget.revision_done():
            budget.committed()
            cuts.append(index)
    assert cuts == [2] and len(notices) == 1  # three tables fit, then a fourth might not; never after the last
    assert budget.held == BOOKKEEPING + 15


def test_what_a_transaction_holds_already_is_not_counted_again() -> None:
    budget = Budget(None, _budget(TWO_TABLES)(None), 2, [].append)  # type: ignore[arg-type]
    _table_sent(budget, "t")
    for statement in ("INSERT INTO t VALUES (1)", "UPDATE t SET id = 2", "INSERT INTO other VALUES (1)",
                      "INSERT INTO other VALUES (2)", "SELECT 1", "ALTER TABLE a ADD x int", "ALTER TABLE a ADD x int"):
        budget.sent(None, None, statement, None, None, False)
    # t: 5 when created, its rows nothing more; other's rows 3; the unknown ALTER 16, once.
    assert budget.held == BOOKKEEPING + 5 + lock_budget.ALTER + lock_budget.UNKNOWN


#: Tables as revisions create them: their columns, and what the estimate counts.
SHAPES: dict[str, tuple[Callable[[], list[sa.Column[object]]], int]] = {
    "serial key, bounded string": (
        lambda: [sa.Column("id", sa.Integer, primary_key=True), sa.Column("n", sa.String(64))], 5),
    "text (TOAST)": (lambda: [sa.Column("id", sa.Integer, primary_key=True), sa.Column("n", sa.Text)], 7),
    "unique index": (lambda: [sa.Column("id", sa.Integer, primary_key=True),
                              sa.Column("n", sa.String(64), unique=True, index=True)], 6),
    "unique constraint": (lambda: [sa.Column("id", sa.Integer, primary_key=True),
                                   sa.Column("n", sa.String(64), unique=True)], 7),
    "foreign key, no sequence": (lambda: [sa.Column("id", sa.String(8), primary_key=True),
                                          sa.Column("p", sa.Integer, sa.ForeignKey("parent.id"))], 6),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_the_locks_of_a_table_are_counted_as_postgresql_takes_them(shape: str, postgresql_url: str) -> None:
    """Never fewer than the lock table entries a CREATE TABLE (and its indexes) adds in pg_locks; a few more at most."""
    columns, counted = SHAPES[shape]
    metadata = sa.MetaData()
    parent = sa.Table("parent", metadata, sa.Column("id", sa.Integer, primary_key=True))
    # A first table of the same shape takes the locks every CREATE TABLE shares (the catalogs').
    first, table = sa.Table("first", metadata, *columns()), sa.Table("t", metadata, *columns())
    held = sa.text("SELECT count(DISTINCT (locktype, relation, classid, objid)) FROM pg_locks "
                   "WHERE pid = pg_backend_pid() AND NOT fastpath")
    engine = sa.create_engine(postgresql_url)
    try:
        with engine.begin() as connection:
            parent.create(connection)
        with engine.connect() as connection:
            first.create(connection)
            before = connection.execute(held).scalar_one()
            budget = lock_budget.watching(connection, 2, [].append)
            table.create(connection)
            lock_budget.stop(budget)
            taken = connection.execute(held).scalar_one() - before
            connection.rollback()
    finally:
        engine.dispose()
    assert budget is not None
    estimated = budget.held - BOOKKEEPING
    assert estimated == counted
    assert taken <= estimated <= taken + 3, (taken, estimated)


@pytest.mark.parametrize("database", ["sqlite", "mysql"])
def test_sqlite_and_mariadb_never_count_nor_split(cli: Run, database: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}" if database == "sqlite" else request.getfixturevalue(f"{database}_url")
    root = write_extension(tmp_path / "ext", "splitx", [
        (REVISIONS[0], "pass"), *((REVISIONS[index], _table(index)) for index in range(1, 7))])
    install_extension(root, "splitx", monkeypatch)

    def refuse(connection: object) -> Capacity:
        raise AssertionError("the lock table of PostgreSQL only is read")

    monkeypatch.setattr(lock_budget, "read_capacity", refuse)
    result = cli("initdb", "-u", url)

    assert result.exit_code == 0, result.stderr
    assert "Note: after" not in result.stderr
    assert _splitx(url)[:2] == (set(TABLES), {REVISIONS[-1]})
