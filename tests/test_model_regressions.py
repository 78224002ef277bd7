"""What the model-based test (test_model_based.py) found, each shrunk to an ordinary test.

Every test here failed on main when it was written: each is marked
``xfail(strict=True)`` with the point of issue 18 that fixes it, so that the
fix turns it into a failure ("XPASS") until the mark is removed, and the
matching switch of test_model_based.py is turned on.  The extensions are the
machine's own (model_extensions.py), each table holding a row of the test's.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

import forked_cli
from model_extensions import FOREIGN_TABLE, Stressors, Universe, build_universe
from model_state import insert, read, reset


@pytest.fixture(scope="module", autouse=True)
def warm(tmp_path_factory: pytest.TempPathFactory) -> None:
    forked_cli.warm_up(str(tmp_path_factory.mktemp("warm-up")))


class Site:
    """A database, the machine's extensions written for it, and the ones installed."""

    def __init__(self, universe: Universe, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.universe, self.url, self.monkeypatch = universe, url, monkeypatch
        reset(url)  # the other program's table, with its row

    def install(self, *names: str) -> None:
        for name in names:
            self.monkeypatch.syspath_prepend(str(self.universe.roots[name]))

    def uninstall(self, name: str) -> None:
        sys.path[:] = [entry for entry in sys.path if entry != str(self.universe.roots[name])]

    def run(self, *args: str) -> forked_cli.Outcome:
        done = forked_cli.run([*args, "-u", self.url], self.universe.roots)
        assert done.crash is None, done.crash
        return done

    def fill(self, *tables: str) -> None:
        for index, table in enumerate(tables):
            assert insert(self.url, table, 2000 + index), table

    def rows(self, *tables: str) -> dict[str, int]:
        seen = read(self.url, set(tables))
        return {table: len(seen.rows.get(table, ())) for table in tables}

    def tables(self) -> frozenset[str]:
        return read(self.url, set()).tables


def site(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch, **stress: bool) -> Site:
    return Site(build_universe(tmp_path / "ext", Stressors(**stress)), url, monkeypatch)


@pytest.fixture
def cross_fk(tmp_path: Path, any_url: str, monkeypatch: pytest.MonkeyPatch) -> Site:
    return site(tmp_path, any_url, monkeypatch, cross_branch_fk=True)


def test_forget_keeps_the_core_table_a_forgotten_table_points_at(cross_fk: Site) -> None:
    cross_fk.install("pests")
    assert cross_fk.run("initdb", "-q").exit_code == 0
    cross_fk.fill("core_users", "pests_sightings")
    cross_fk.uninstall("pests")
    done = cross_fk.run("forget", "pests", "--drop-tables", "--yes")
    assert done.exit_code == 0, done.stderr
    assert "pests_sightings" not in cross_fk.tables()
    assert cross_fk.rows("core_users") == {"core_users": 1}


def test_forget_keeps_another_extensions_table_a_forgotten_table_points_at(cross_fk: Site) -> None:
    cross_fk.install("garden", "garden_beds")
    assert cross_fk.run("initdb", "-q").exit_code == 0
    cross_fk.fill("garden", "garden_plots", "garden_beds")
    cross_fk.uninstall("garden_beds")
    done = cross_fk.run("forget", "garden_beds", "--drop-tables", "--yes")
    assert done.exit_code == 0, done.stderr
    assert cross_fk.rows("garden", "garden_plots") == {"garden": 1, "garden_plots": 1}
    assert cross_fk.run("checkdb").exit_code == 0


@pytest.fixture
def foreign_fk(tmp_path: Path, any_url: str, monkeypatch: pytest.MonkeyPatch) -> Site:
    return site(tmp_path, any_url, monkeypatch, fk_to_foreign_table=True)


def test_dropdb_keeps_another_programs_table(foreign_fk: Site) -> None:
    """Passes on main: shed's downgrade drops shed_tools before dropdb reflects what is left (point 2 needs a
    table the downgrades leave behind, which the machine does not generate)."""
    foreign_fk.install("shed")
    assert foreign_fk.run("initdb", "-q").exit_code == 0
    foreign_fk.fill("shed_tools")
    done = foreign_fk.run("dropdb", "--yes")
    assert done.exit_code == 0, done.stderr
    assert foreign_fk.tables() == {FOREIGN_TABLE}
    assert read(foreign_fk.url, set()).foreign_rows == 1


def test_forget_keeps_another_programs_table(foreign_fk: Site) -> None:
    foreign_fk.install("shed")
    assert foreign_fk.run("initdb", "-q").exit_code == 0
    foreign_fk.uninstall("shed")
    done = foreign_fk.run("forget", "shed", "--drop-tables", "--yes")
    assert done.exit_code == 0, done.stderr
    assert FOREIGN_TABLE in foreign_fk.tables() and read(foreign_fk.url, set()).foreign_rows == 1


def test_createdb_records_imported_models_as_their_own_extensions(tmp_path: Path, any_url: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    found = site(tmp_path, any_url, monkeypatch, imported_models=True)
    found.install("garden", "compost")
    assert found.run("createdb").exit_code == 0
    found.fill("garden", "garden_plots", "compost_heaps")
    found.uninstall("compost")
    done = found.run("forget", "compost", "--drop-tables", "--yes")
    assert done.exit_code == 0, done.stderr
    assert "compost_heaps" not in found.tables()
    assert found.rows("garden", "garden_plots") == {"garden": 1, "garden_plots": 1}


def test_if_not_exists_does_not_take_another_branchs_table(tmp_path: Path, any_url: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    found = site(tmp_path, any_url, monkeypatch, if_not_exists_takeover=True)
    found.install("garden", "shed")
    assert found.run("initdb", "-q").exit_code == 0
    found.fill("garden", "shed_tools")
    found.uninstall("shed")
    done = found.run("forget", "shed", "--drop-tables", "--yes")
    assert done.exit_code == 0, done.stderr
    assert "shed_tools" not in found.tables()
    assert found.rows("garden") == {"garden": 1}


@pytest.mark.server
def test_a_failed_dropdb_leaves_no_state_only_repair_gets_out_of(tmp_path: Path, mysql_url: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    found = site(tmp_path, mysql_url, monkeypatch)
    found.install("pests", "orchard")
    assert found.run("initdb", "-q").exit_code == 0
    done = found.run("dropdb", "--yes")
    assert done.exit_code == 1 and "orchard_crates cannot be undone" in done.stderr
    check = found.run("checkdb", "--json")
    assert json.loads(check.stdout)["interrupted"] == []
    # alembic_version names exactly the revisions whose work is there
    seen = read(found.url, set())
    assert ("pests_sightings" in seen.tables) == (found.universe.closure(set(seen.versions))["pests"] == 2)


def test_a_relative_downgrade_from_a_squashed_head_is_not_taken_for_nothing_applied(
        tmp_path: Path, any_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """After squash, alembic_version still holds the replaced head until a migration re-stamps it: the check
    that NAME@-N has something to step back from must see it as the squashed revision, as --plan did."""
    found = site(tmp_path, any_url, monkeypatch)
    found.install("pests")
    assert found.run("initdb", "-q").exit_code == 0
    squashed = found.run("squash", "pests", "--rev-id", "5a0000000004")
    assert squashed.exit_code == 0, squashed.stderr
    assert found.run("downgrade", "pests@-1", "--plan").exit_code == 0
    done = found.run("downgrade", "-q", "--yes", "pests@-1")
    assert done.exit_code == 0, done.stderr
    assert "pests_sightings" not in found.tables()
    assert found.run("checkdb").exit_code == 3  # pests is at base again: its squashed revision is pending
