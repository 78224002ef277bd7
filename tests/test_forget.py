"""An extension uninstalled before its branch was removed: reported alone, then forgotten with jnt_dbman forget."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import pytest
from click.testing import Result

from conftest import write_extension
from dbstate import rows, table_names, version_ids

Run = Callable[..., Result]
CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD = "5d2f0a8c91e3", "c3e9b5a1d274", "2b3c4d5e6f70"
GONE_HEAD = "f50000000002"


@pytest.fixture
def gone(tmp_path: Path) -> Path:
    """An extension whose second revision makes a table and depends on the core's head."""
    return write_extension(tmp_path / "ext", "gone", [
        ("f50000000001", ""),
        (GONE_HEAD, "op.create_table('gone_items', sa.Column('id', sa.Integer, primary_key=True))",
         "op.drop_table('gone_items')"),
    ], depends_on=CORE_HEAD)


def installed(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(root))


def uninstalled(root: Path) -> None:
    sys.path[:] = [entry for entry in sys.path if entry != str(root)]


@pytest.mark.parametrize("database", ["sqlite", "postgresql", "mysql"])
def test_forget_an_uninstalled_extension(cli: Run, gone: Path, monkeypatch: pytest.MonkeyPatch,
                                         request: pytest.FixtureRequest, tmp_path: Path, database: str) -> None:
    url = (f"sqlite:///{tmp_path / 'gone.sqlite'}" if database == "sqlite"
           else request.getfixturevalue(f"{database}_url"))
    installed(gone, monkeypatch)
    assert cli("initdb", "-q", "-u", url).exit_code == 0
    # Alembic leaves out the core head: the extension's head depends on it.
    assert version_ids(url) == {GONE_HEAD, TEMPLATE_HEAD, ACME_HEAD}
    refused = cli("forget", "gone", "-u", url)
    assert refused.exit_code == 1 and "gone is installed: remove its branch with" in refused.stderr

    uninstalled(gone)
    check = cli("checkdb", "-u", url)
    assert check.exit_code == 5
    assert check.stdout == f"Orphaned head {GONE_HEAD} (gone): the extension gone is not installed.\n"
    planned = cli("upgrade", "--plan", "-u", url)
    assert planned.exit_code == 1 and "Can't locate" not in planned.stderr
    assert planned.stderr.strip().endswith("or forget it ('jnt_dbman forget gone')")

    done = cli("forget", "gone", "-u", url)
    assert done.exit_code == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"Forgot gone: its heads {GONE_HEAD} left alembic_version, which now also records {CORE_HEAD}.",
        "Its tables stay: gone_items; 'jnt_dbman forget gone --drop-tables --yes' drops them."]
    assert version_ids(url) == {CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD}
    assert cli("checkdb", "-u", url).exit_code == 0
    assert "gone_items" in table_names(url)
    assert cli("initdb", "-u", url).stderr.startswith("Nothing to do")

    asked = cli("forget", "gone", "--drop-tables", "-u", url)
    assert asked.exit_code == 1 and "without --yes" in asked.stderr
    assert "gone_items" in table_names(url)
    dropped = cli("forget", "gone", "--drop-tables", "--yes", "-u", url)
    assert dropped.exit_code == 0, dropped.stderr
    assert dropped.stdout == "Dropped its tables: gone_items.\n"
    assert "gone_items" not in table_names(url) and {"core_users", "acme_readings"} <= table_names(url)
    nothing = cli("forget", "gone", "-u", url)
    assert nothing.exit_code == 1 and "holds nothing janitoo_db recorded as gone's" in nothing.stderr


def test_forget_never_drops_a_table_it_has_no_record_of(cli: Run, gone: Path, monkeypatch: pytest.MonkeyPatch,
                                                        sqlite_url: str) -> None:
    from sqlalchemy import create_engine, text

    installed(gone, monkeypatch)
    assert cli("initdb", "-q", "-u", sqlite_url).exit_code == 0
    engine = create_engine(sqlite_url)
    with engine.begin() as connection:  # a database migrated before janitoo_db recorded tables
        connection.execute(text("DELETE FROM janitoo_db_tables"))
        connection.execute(text("CREATE TABLE other_app_data (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    uninstalled(gone)
    done = cli("forget", "gone", "--drop-tables", "--yes", "-u", sqlite_url)
    assert done.exit_code == 0, done.stderr
    assert done.stdout.startswith(f"Forgot gone: its heads {GONE_HEAD} left alembic_version")
    assert {"gone_items", "other_app_data"} <= table_names(sqlite_url)
    assert cli("checkdb", "-u", sqlite_url).exit_code == 0


def test_forget_an_extension_the_database_never_had(cli: Run, sqlite_url: str) -> None:
    assert cli("initdb", "-q", "-u", sqlite_url).exit_code == 0
    result = cli("forget", "never", "-u", sqlite_url)
    assert result.exit_code == 1
    assert result.stderr == "Error: the database holds nothing janitoo_db recorded as never's\n"


def test_a_table_rebuilt_by_batch_mode_keeps_its_owner(cli: Run, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite rebuilds a table through a copy (_alembic_tmp_NAME): the record follows the table, not the copy.

    Before, the core's own 5d2f0a8c91e3 left core_settings out of the record, and an
    extension that altered a core table in batch mode was recorded as dropping it.
    """
    root = write_extension(tmp_path / "ext", "tweak", [
        ("f60000000001", ""),
        ("f60000000002", "with op.batch_alter_table('core_users', recreate='always') as batch:\n"
                         "    batch.add_column(sa.Column('tweak', sa.Integer))"),
    ], depends_on=CORE_HEAD)
    installed(root, monkeypatch)
    url = f"sqlite:///{tmp_path / 'tweak.sqlite'}"
    assert cli("initdb", "-q", "-u", url).exit_code == 0
    recorded = dict(rows(url, "SELECT table_name, branch FROM janitoo_db_tables"))
    assert recorded["core_settings"] == "janitoo" and recorded["core_users"] == "janitoo"
    assert not [name for name in recorded if name.startswith("_alembic_tmp_")]
