"""An extension forgotten with its tables kept, installed again; and a relative downgrade of a branch never applied.

Issue 20, points 1 and 3: every dead end names the command that gets out;
initdb takes the returning extension's tables back where they are, only on
evidence that they are its own at a known revision (janitoo_db.history.returning).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import pytest
from click.testing import Result

from conftest import install_extension, revision_lines, subprocess_env, write_extension
from dbstate import execute, rows, table_names, version_ids

Run = Callable[..., Result]
CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD = "5d2f0a8c91e3", "c3e9b5a1d274", "2b3c4d5e6f70"
GARDEN = ["a70000000001", "a70000000002", "a70000000003"]
APPLIED = f"applied: janitoo {CORE_HEAD}, acme_sensors {ACME_HEAD}, janitoo_template {TEMPLATE_HEAD}"


@pytest.fixture
def garden(tmp_path: Path) -> Path:
    """An extension whose second revision makes a table (and depends on the core's head), the third a column."""
    return write_extension(tmp_path / "ext", "garden", [
        (GARDEN[0], ""),
        (GARDEN[1], "op.create_table('garden_beds', sa.Column('id', sa.Integer, primary_key=True))",
         "op.drop_table('garden_beds')"),
        (GARDEN[2], "op.add_column('garden_beds', sa.Column('soil', sa.String(20)))",
         "op.drop_column('garden_beds', 'soil')"),
    ], depends_on=CORE_HEAD)


def installed(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_extension(root, "garden", monkeypatch)  # not the garden of an earlier test


def uninstalled(root: Path) -> None:
    sys.path[:] = [entry for entry in sys.path if entry != str(root)]


def forgotten_at(cli: Run, root: Path, monkeypatch: pytest.MonkeyPatch, url: str, back: int) -> None:
    """garden migrated to its head, *back* revisions reverted, a bed planted, uninstalled, forgotten (tables kept)."""
    installed(root, monkeypatch)
    assert cli("initdb", "-q", "-u", url).exit_code == 0
    if back:
        assert cli("downgrade", f"garden@-{back}", "-q", "-u", url).exit_code == 0
    execute(url, "INSERT INTO garden_beds (id) VALUES (7)")
    uninstalled(root)
    done = cli("forget", "garden", "-u", url)
    assert done.exit_code == 0, done.stderr
    assert "Its tables stay: garden_beds" in done.stdout
    installed(root, monkeypatch)


def test_initdb_takes_back_an_extension_forgotten_with_its_tables_kept(
        cli: Run, garden: Path, monkeypatch: pytest.MonkeyPatch, any_url: str) -> None:
    forgotten_at(cli, garden, monkeypatch, any_url, back=1)
    before = version_ids(any_url)
    assert before == {CORE_HEAD, TEMPLATE_HEAD, ACME_HEAD}

    check = cli("checkdb", "-u", any_url)
    assert check.exit_code == 3
    assert check.stdout.splitlines()[1] == (
        f"garden was forgotten with its tables kept (garden_beds); they match its revision {GARDEN[1]}: "
        "'jnt_dbman initdb' takes them back there and upgrades garden from there.")
    refused = cli("adopt", "-u", any_url)
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: the database is already versioned")
    assert "'jnt_dbman initdb' takes them back there" in refused.stderr
    planned = cli("upgrade", "--plan", "-u", any_url)
    assert planned.exit_code == 0, planned.stderr
    assert GARDEN[2] in planned.stdout and GARDEN[1] not in planned.stdout.replace(f"{GARDEN[1]}:", "")
    assert version_ids(any_url) == before  # checkdb, adopt and the plan changed nothing

    done = cli("initdb", "--no-destructive", "-u", any_url)  # judged from where it is taken back
    assert done.exit_code == 0, done.stderr
    assert done.stderr.startswith(f"Note: garden was forgotten with its tables kept (garden_beds); they match its "
                                  f"revision {GARDEN[1]}: taken back there; upgrading garden from there.")
    assert revision_lines(done.stderr) == [f"Applied {GARDEN[2]} (garden): Step 2 of garden"]
    assert version_ids(any_url) == {GARDEN[2], TEMPLATE_HEAD, ACME_HEAD}
    assert rows(any_url, "SELECT id FROM garden_beds") == [(7,)]
    assert cli("checkdb", "-u", any_url).exit_code == 0


#: How each kind of doubt is said, after "garden was forgotten with its tables kept (garden_beds), but ".
DOUBTS = {
    "unrecorded": "its revisions make tables the database holds that janitoo_db did not record as garden's "
                  "(garden_beds); ",
    "altered": f"they match none of its revisions (the closest is {GARDEN[2]}: column garden_beds.planted_by is "
               f"in the database, not at {GARDEN[2]}); ",
    "not the recorded revision": f"they match {GARDEN[2]}, and janitoo_db recorded it at {GARDEN[1]} when it was "
                                 "forgotten; ",
    "edited": f"the file of its revision {GARDEN[2]} changed since it ran; ",
}


@pytest.mark.parametrize("tampering", list(DOUBTS))
def test_initdb_refuses_tables_not_proven_the_extensions_own(
        cli: Run, garden: Path, monkeypatch: pytest.MonkeyPatch, any_url: str, tampering: str) -> None:
    sqlite_url = any_url  # the refusal comes before anything is written, MySQL/MariaDB's committing stamp included
    forgotten_at(cli, garden, monkeypatch, sqlite_url, back=0)
    if tampering == "unrecorded":  # as if another program had made a table of that name
        execute(sqlite_url, "DELETE FROM janitoo_db_tables WHERE table_name = 'garden_beds'")
    elif tampering == "altered":
        execute(sqlite_url, "ALTER TABLE garden_beds ADD COLUMN planted_by VARCHAR(20)")
    elif tampering == "not the recorded revision":  # the tables are at the head, the record says one before
        execute(sqlite_url, f"DELETE FROM janitoo_db_checksums WHERE revision = '{GARDEN[2]}'")
    else:
        step = next((garden / "garden" / "models" / "garden").glob(f"{GARDEN[2]}_*.py"))
        step.write_text(step.read_text() + "\n# edited after it ran\n")
    before = version_ids(sqlite_url)

    for command in ("initdb", "upgrade"):
        refused = cli(command, "-u", sqlite_url)
        assert refused.exit_code == 1, refused.stdout
        message = refused.stderr.strip()
        assert len(refused.stderr.splitlines()) == 1 and message.startswith(
            "Error: garden was forgotten with its tables kept (garden_beds), but " + DOUBTS[tampering])
        assert "; nothing was changed: " in message and "'jnt_dbman stamp garden@REVISION'" in message
        if tampering == "unrecorded":  # forget --drop-tables would not drop a table not recorded as garden's
            assert message.endswith(": rename or drop them if they are not garden's (another program's?); if they "
                                    "are, and match a revision of garden, record it with 'jnt_dbman stamp "
                                    "garden@REVISION'")
        else:
            assert message.endswith("or, to start garden afresh, uninstall it, run 'jnt_dbman forget garden "
                                    "--drop-tables --yes' and install it again")
        assert "already exists" not in message
    other = cli("upgrade", "acme_sensors@head", "-u", sqlite_url)  # an upgrade that does not run garden
    assert other.exit_code == 0 and other.stderr.startswith("Nothing to do"), other.stderr
    check = cli("checkdb", "-u", sqlite_url)
    assert check.exit_code == 3 and "'jnt_dbman stamp " in check.stdout
    adopt = cli("adopt", "-u", sqlite_url)
    assert adopt.exit_code == 1 and "'jnt_dbman stamp " in adopt.stderr
    assert version_ids(sqlite_url) == before
    assert rows(sqlite_url, "SELECT id FROM garden_beds") == [(7,)]
    # The way out the message names: record where the tables are by hand, once checked.
    if tampering in ("not the recorded revision", "edited"):
        stamped = cli("stamp", "garden@head", "-u", sqlite_url)
        assert stamped.exit_code == 0, stamped.stderr
        assert cli("initdb", "-u", sqlite_url).exit_code == 0


def test_the_recorded_revision_chooses_among_revisions_that_leave_the_same_tables(
        cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    """A revision that only inserts rows leaves its parent's tables: the checksums say whether it ran."""
    root = write_extension(tmp_path / "ext", "garden", [
        (GARDEN[0], "op.create_table('garden_beds', sa.Column('id', sa.Integer, primary_key=True))",
         "op.drop_table('garden_beds')"),
        (GARDEN[1], "op.execute('INSERT INTO garden_beds (id) VALUES (1)')",
         "op.execute('DELETE FROM garden_beds WHERE id = 1')"),
    ])
    forgotten_at(cli, root, monkeypatch, sqlite_url, back=1)

    done = cli("initdb", "-u", sqlite_url)
    assert done.exit_code == 0, done.stderr
    assert f"they match its revision {GARDEN[0]}: taken back there" in done.stderr
    assert revision_lines(done.stderr) == [f"Applied {GARDEN[1]} (garden): Step 1 of garden"]
    assert sorted(rows(sqlite_url, "SELECT id FROM garden_beds")) == [(1,), (7,)]

    # Without those records (a database migrated before janitoo_db kept them) it cannot tell: refused.
    uninstalled(root)
    assert cli("forget", "garden", "-u", sqlite_url).exit_code == 0
    execute(sqlite_url, "DELETE FROM janitoo_db_checksums WHERE branch = 'garden'")
    installed(root, monkeypatch)
    refused = cli("initdb", "-u", sqlite_url)
    assert refused.exit_code == 1
    assert (f"they match several of its revisions ({GARDEN[1]}, {GARDEN[0]}) and janitoo_db kept no record of "
            "which it had applied; nothing was changed: once its tables are checked, record where they are with "
            "'jnt_dbman stamp garden@REVISION'") in refused.stderr
    assert "garden_beds" in table_names(sqlite_url)


def test_a_relative_downgrade_of_a_branch_never_applied_says_what_is_applied(
        cli: Run, garden: Path, monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    assert cli("initdb", "-q", "-u", sqlite_url).exit_code == 0
    installed(garden, monkeypatch)
    before = version_ids(sqlite_url)
    for args in (["downgrade", "garden@-1"], ["downgrade", "garden@-2", "--plan"]):
        result = cli(*args, "-u", sqlite_url)
        assert result.exit_code == 1
        assert result.stderr == f"Error: garden has no applied revision: nothing to downgrade ({APPLIED})\n"
    assert version_ids(sqlite_url) == before
    # Applied, the same command reverts as before.
    assert cli("initdb", "-q", "-u", sqlite_url).exit_code == 0
    reverted = cli("downgrade", "garden@-1", "-u", sqlite_url)
    assert reverted.exit_code == 0, reverted.stderr
    assert revision_lines(reverted.stderr) == [f"Reverted {GARDEN[2]} (garden): Step 2 of garden"]


def test_a_relative_downgrade_of_a_branch_never_applied_as_jnt_dbman_runs(
        jnt_dbman: Callable[..., object], garden: Path, sqlite_url: str) -> None:
    env = subprocess_env()
    env["PYTHONPATH"] = f"{garden}:{env['PYTHONPATH']}"
    assert jnt_dbman("initdb", "-q", "-u", sqlite_url).returncode == 0  # type: ignore[attr-defined]
    result = jnt_dbman("downgrade", "garden@-1", "-u", sqlite_url, env=env)
    assert result.returncode == 1, result.stdout  # type: ignore[attr-defined]
    assert result.stderr == f"Error: garden has no applied revision: nothing to downgrade ({APPLIED})\n"  # type: ignore[attr-defined]
    empty = f"{sqlite_url[:-len('janitoo.sqlite')]}empty.sqlite"
    at_base = jnt_dbman("downgrade", "janitoo@-1", "-u", empty, env=env)
    assert at_base.returncode == 1  # type: ignore[attr-defined]
    assert at_base.stderr == ("Error: janitoo has no applied revision: nothing to downgrade "  # type: ignore[attr-defined]
                              "(applied: nothing, the database is at base)\n")


def test_a_branch_at_a_revision_this_release_does_not_have_is_not_taken_for_a_forgotten_one(
        cli: Run, garden: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str) -> None:
    """Its head is still in alembic_version: a newer release's (say what to install), or a squashed one's."""
    installed(garden, monkeypatch)
    assert cli("initdb", "-q", "-u", sqlite_url).exit_code == 0
    older = write_extension(tmp_path / "older", "garden", [
        (GARDEN[0], ""),
        (GARDEN[1], "op.create_table('garden_beds', sa.Column('id', sa.Integer, primary_key=True))"),
    ], depends_on=CORE_HEAD)
    uninstalled(garden)
    installed(older, monkeypatch)
    refused = cli("initdb", "-u", sqlite_url)
    assert refused.exit_code == 1
    assert refused.stderr.startswith(f"Error: the database holds {GARDEN[2]}")
    assert "forgotten" not in refused.stderr

    uninstalled(older)
    installed(garden, monkeypatch)
    squashed = cli("squash", "garden", "--rev-id", "a7000000000f", "-u", sqlite_url)
    assert squashed.exit_code == 0, squashed.stderr
    done = cli("initdb", "-u", sqlite_url)
    assert done.exit_code == 0, done.stderr
    assert "forgotten" not in done.stderr
    assert "a7000000000f" in version_ids(sqlite_url)
