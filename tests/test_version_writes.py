"""alembic_version is written once per command where DDL is transactional, with the rows Alembic would write.

On SQLite and PostgreSQL a migration is one transaction and janitoo_db writes
``alembic_version`` once, at the end; on MariaDB, whose DDL commits by itself,
Alembic's own loop writes it after every revision.  Both must leave the same
rows, through branch points, merges and dependencies.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import pytest
from click.testing import Result
from sqlalchemy import event
from sqlalchemy.engine import Engine

from conftest import write_extension
from dbstate import version_ids

VERSION_WRITE = re.compile(r"^\s*(INSERT INTO|UPDATE|DELETE FROM) alembic_version\b", re.IGNORECASE)
CORE_TABLES_REVISION = "1266567cc97f"
Cli = Callable[..., Result]


@pytest.fixture
def version_writes() -> Iterator[list[str]]:
    """Every statement any engine sends that writes alembic_version."""
    seen: list[str] = []

    def listen(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if VERSION_WRITE.match(statement):
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", listen)
    yield seen
    event.remove(Engine, "before_cursor_execute", listen)


@pytest.fixture
def forked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Extension "forked": root 1, two heads 2 and 3 merged by 4, then 5, which needs a core revision."""
    root = write_extension(tmp_path / "ext", "forked", [("d10000000001", ""), ("d10000000002", "")])
    versions = root / "forked" / "models" / "forked"
    for revision, down, depends in [("d10000000003", "'d10000000001'", None),
                                    ("d10000000004", "('d10000000002', 'd10000000003')", None),
                                    ("d10000000005", "'d10000000004'", CORE_TABLES_REVISION)]:
        (versions / f"{revision}_step.py").write_text(
            f'"""Step {revision}"""\nrevision = "{revision}"\ndown_revision = {down}\n'
            f"branch_labels = None\ndepends_on = {depends!r}\n\n\n"
            "def upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n")
    monkeypatch.syspath_prepend(str(root))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_migration_writes_alembic_version_once(backend: str, tmp_path: Path, cli: Cli,
                                                 version_writes: list[str], request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'once.sqlite'}" if backend == "sqlite" else request.getfixturevalue("postgresql_url")
    initdb = cli("initdb", "-u", url)
    assert initdb.exit_code == 0, initdb.output
    assert initdb.stderr.count("Applied ") == 8
    assert len(version_writes) == 1 and version_writes[0].upper().startswith("INSERT")
    assert version_ids(url) == {"5d2f0a8c91e3", "c3e9b5a1d274", "2b3c4d5e6f70"}
    version_writes.clear()
    assert cli("downgrade", "acme_sensors@base", "-u", url).exit_code == 0
    assert len(version_writes) == 1 and version_writes[0].upper().startswith("DELETE")
    assert version_ids(url) == {"5d2f0a8c91e3", "c3e9b5a1d274"}


def test_mariadb_writes_alembic_version_after_each_revision(mysql_url: str, cli: Cli,
                                                            version_writes: list[str]) -> None:
    assert cli("initdb", "-u", mysql_url).exit_code == 0
    # At least one per revision (8); a revision that depends on another branch's head also deletes that head.
    assert len(version_writes) >= 8


@pytest.mark.usefixtures("forked")
def test_same_rows_as_alembic_through_forks_merges_and_dependencies(tmp_path: Path, cli: Cli, mysql_url: str,
                                                                    postgresql_url: str) -> None:
    """The same commands on MariaDB (Alembic's loop), SQLite and PostgreSQL (janitoo_db's) leave the same rows."""
    urls = [mysql_url, f"sqlite:///{tmp_path / 'forked.sqlite'}", postgresql_url]
    commands = [("upgrade", "d10000000002"), ("upgrade", "d10000000003"), ("upgrade", "heads"),
                ("downgrade", "d10000000003"), ("upgrade", "d10000000004"), ("downgrade", "forked@base"),
                ("upgrade", "forked@head"), ("downgrade", "d10000000002"), ("upgrade", "heads")]
    history = []
    for command in commands:
        rows = []
        for url in urls:
            result = cli(*command, "-q", "-u", url)
            assert result.exit_code == 0, (command, url, result.output)
            rows.append(version_ids(url))
        assert rows[0] == rows[1] == rows[2], (command, rows)
        history.append(rows[0])
    # And the rows are what the graph says: a merge replaces both its parents, a dependency its target.
    assert {"d10000000002", "d10000000003"} <= history[1]
    assert "d10000000005" in history[2] and CORE_TABLES_REVISION not in history[2]
    assert {"d10000000002", "d10000000003"} <= history[3] and not {"d10000000004", "d10000000005"} & history[3]
    assert "d10000000004" in history[4] and "d10000000002" not in history[4]
    assert not any(revision.startswith("d1") for revision in history[5])


@contextmanager
def statements_sent() -> Iterator[list[str]]:
    """Every statement any engine sends while the block runs."""
    sent: list[str] = []

    def listen(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        sent.append(statement)

    event.listen(Engine, "before_cursor_execute", listen)
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", listen)


def test_mariadb_asks_about_the_progress_table_once_per_run_not_per_revision(mysql_url: str, cli: Cli) -> None:
    """Each revision is marked as under way; the table of marks is made once before the first, not asked about again."""
    with statements_sent() as sent:
        initdb = cli("initdb", "-u", mysql_url)
    assert initdb.exit_code == 0, initdb.output
    assert initdb.stderr.count("Applied ") == 8
    asked = [s for s in sent if s.upper().startswith(("DESCRIBE", "SHOW")) and "janitoo_db_in_progress" in s]
    # Before the run: is a revision left interrupted? Then marking makes the table once for all 8 revisions.
    assert len(asked) <= 3, asked


def test_mariadb_keeps_its_bookkeeping_to_three_statements_a_revision(mysql_url: str, cli: Cli) -> None:
    """Per revision: the in-progress mark, its removal, and the checksum written over whatever row was there."""
    from dbstate import execute, rows

    # A stale checksum for a revision not applied yet: the run writes over it, in the same one statement.
    assert cli("upgrade", "janitoo@1266567cc97f", "-u", mysql_url).exit_code == 0
    execute(mysql_url, "INSERT INTO janitoo_db_checksums (revision, branch, checksum) "
                       "VALUES ('33b95995b188', 'janitoo', 'stale')")
    with statements_sent() as sent:
        initdb = cli("initdb", "-u", mysql_url)
    assert initdb.exit_code == 0, initdb.output
    applied = initdb.stderr.count("Applied ")
    assert applied == 6  # the rest of the core branch, janitoo_template and acme_sensors
    bookkeeping = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b.*janitoo_db_(in_progress|checksums)",
                             re.IGNORECASE | re.DOTALL)
    assert [s.split()[0].upper() for s in sent if bookkeeping.match(s)] == ["INSERT", "DELETE", "INSERT"] * applied
    assert rows(mysql_url, "SELECT checksum FROM janitoo_db_checksums WHERE revision = '33b95995b188'") != [("stale",)]
    assert cli("checkdb", "-u", mysql_url).exit_code == 0
