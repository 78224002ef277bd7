"""What jnt_dbman prints stays one line at any size; --json keeps the whole lists, errors included."""
from __future__ import annotations

import json
from typing import Callable

from click.testing import Result
from sqlalchemy import create_engine, text

from dbstate import table_names, version_ids

Run = Callable[..., Result]


def test_fifty_two_heads_stay_on_a_few_short_lines(cli: Run, sqlite_url: str) -> None:
    assert cli("initdb", "-q", "-u", sqlite_url).exit_code == 0
    unknown = [f"{n:012x}" for n in range(0xf00000000000, 0xf00000000000 + 52)]
    engine = create_engine(sqlite_url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                           [{"v": revision} for revision in unknown])
    engine.dispose()
    result = cli("checkdb", "-u", sqlite_url)
    assert result.exit_code == 5
    printed = result.stdout.splitlines()
    assert len(printed) == 8 + 1, printed
    assert printed[0] == ("Orphaned head f00000000000 (branch unknown): no installed extension provides it "
                          "(install it again, or 'jnt_dbman forget f00000000000').")
    assert printed[-1] == "And 44 more orphaned heads (--json lists them all)."
    assert all(len(line) < 200 for line in printed), printed
    as_json = cli("checkdb", "--json", "-u", sqlite_url)
    assert as_json.exit_code == 5
    found = json.loads(as_json.stdout)
    assert len(found["orphans"]) == 52 and set(unknown) <= set(found["current"])
    assert len(version_ids(sqlite_url)) == 55
    refused = cli("check", "-u", sqlite_url)
    assert refused.exit_code == 1
    assert refused.stderr == ("Error: the database is not as the installed extensions expect (orphaned heads "
                              f"{', '.join(unknown[:8])} and 44 more); run 'jnt_dbman checkdb' before checking "
                              "the models\n")


def test_dropdb_names_every_table_it_dropped(cli: Run, sqlite_url: str) -> None:
    """What is gone cannot be listed afterwards: dropdb names all of it, on one line, not "and 4 more"."""
    assert cli("initdb", "-q", "-u", sqlite_url).exit_code == 0
    tables = sorted(table_names(sqlite_url))
    assert len(tables) == 12
    dropped = cli("dropdb", "--yes", "-u", sqlite_url)
    assert dropped.exit_code == 0
    assert dropped.stdout == f"Dropped 12 tables: {', '.join(tables)}.\n"


def test_errors_after_json_are_json_on_stdout(cli: Run) -> None:
    for command in ("checkdb", "heads", "current", "versiondb", "history"):
        result = cli(command, "--json", "-u", "postgresql://u:S3cr3tPW@127.0.0.1:1/x")
        if command in ("heads", "history"):
            continue  # they never connect
        assert result.exit_code == 1 and result.stderr == ""
        error = json.loads(result.stdout)
        assert error["exit_code"] == 1 and error["error"].startswith("cannot connect to ")
        assert "S3cr3tPW" not in result.stdout
    bad = cli("heads", "--json", "-u", "nosuchdialect://x")
    assert (bad.exit_code, bad.stderr) == (1, "")
    assert json.loads(bad.stdout) == {"error": "unknown database dialect 'nosuchdialect' in nosuchdialect://x "
                                               "(janitoo_db knows sqlite, postgresql and mysql)", "exit_code": 1}
