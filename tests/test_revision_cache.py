"""The revision cache: unchanged revision files are not executed again, changed ones always are."""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Callable

from conftest import subprocess_env, write_extension
from dbstate import table_names, version_ids

from janitoo_db.revision_cache import SETTLE_NS

CORE_HEAD = "5d2f0a8c91e3"
Run = Callable[..., subprocess.CompletedProcess[str]]
REVISIONS = [("ca0000000001", ""),
             ("ca0000000002", "op.create_table('cached_table', sa.Column('id', sa.Integer, primary_key=True))",
              "op.drop_table('cached_table')")]


def counting_extension(tmp_path: Path) -> tuple[Path, Path]:
    """An extension whose revision files log each time they are executed; returns (root, log)."""
    root = write_extension(tmp_path / "ext", "counted", REVISIONS)
    for path in (root / "counted" / "models" / "counted").glob("*.py"):
        path.write_text(path.read_text() + "\nopen(os.environ['JANITOO_TEST_LOADS'], 'a').write(revision + '\\n')\n")
    return root, tmp_path / "loads.log"


def settle() -> None:
    """Wait until freshly written files are old enough to be remembered."""
    time.sleep(SETTLE_NS / 1e9 + 0.2)


def loads(log: Path) -> list[str]:
    """Revision files executed since the last call, and start afresh."""
    executed = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return sorted(executed)


def env_for(root: Path, log: Path, cache: Path | str) -> dict[str, str]:
    return subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]),
                          JANITOO_TEST_LOADS=str(log), JANITOO_DB_CACHE_DIR=str(cache))


def test_unchanged_files_are_executed_only_when_their_migration_runs(tmp_path: Path, jnt_dbman: Run) -> None:
    root, log = counting_extension(tmp_path)
    env = env_for(root, log, tmp_path / "cache")
    settle()
    url = f"sqlite:///{tmp_path / 'cached.sqlite'}"

    cold = jnt_dbman("history", env=env)
    assert cold.returncode == 0, cold.stderr
    assert loads(log) == ["ca0000000001", "ca0000000002"]
    assert len(list((tmp_path / "cache").glob("revisions-*.json"))) == 1

    warm = jnt_dbman("history", env=env)
    assert warm.returncode == 0 and warm.stdout == cold.stdout
    assert loads(log) == []
    uncached = jnt_dbman("heads", env={**env, "JANITOO_DB_CACHE_DIR": ""}).stdout
    assert loads(log) == ["ca0000000001", "ca0000000002"]
    assert jnt_dbman("heads", env=env).stdout == uncached
    assert loads(log) == []

    # The migration runs the files' code: each revision file is executed when its upgrade runs.
    initdb = jnt_dbman("initdb", "-u", url, env=env)
    assert initdb.returncode == 0, initdb.stderr
    assert "Applied ca0000000002 (counted): Step 1 of counted" in initdb.stderr.splitlines()
    assert loads(log) == ["ca0000000001", "ca0000000002"]
    assert "cached_table" in table_names(url)
    assert {"ca0000000002", CORE_HEAD} <= version_ids(url)

    # A server start with nothing to do executes no revision file at all.
    again = jnt_dbman("initdb", "-u", url, env=env)
    assert again.returncode == 0 and again.stderr.startswith("Nothing to do")
    assert loads(log) == []
    assert jnt_dbman("checkdb", "-u", url, env=env).returncode == 0
    assert loads(log) == []

    down = jnt_dbman("downgrade", "counted@base", "-u", url, env=env)
    assert down.returncode == 0, down.stderr
    assert loads(log) == ["ca0000000001", "ca0000000002"]
    assert "cached_table" not in table_names(url)


def test_an_edited_file_is_read_again(tmp_path: Path, jnt_dbman: Run) -> None:
    root, log = counting_extension(tmp_path)
    env = env_for(root, log, tmp_path / "cache")
    settle()
    assert "Step 1 of counted" in jnt_dbman("history", env=env).stdout
    loads(log)
    path = next((root / "counted" / "models" / "counted").glob("ca0000000002_*.py"))
    path.write_text(path.read_text().replace("Step 1 of counted", "Renamed step"))
    history = jnt_dbman("history", env=env)
    assert "Renamed step" in history.stdout and "Step 1 of counted" not in history.stdout
    assert loads(log) == ["ca0000000002"]
    # Changed seconds ago: executed again until it has settled, then remembered.
    jnt_dbman("history", env=env)
    assert loads(log) == ["ca0000000002"]
    settle()
    jnt_dbman("history", env=env)
    assert loads(log) == ["ca0000000002"]
    assert "Renamed step" in jnt_dbman("history", env=env).stdout
    assert loads(log) == []


def test_a_damaged_cache_is_ignored_and_rewritten(tmp_path: Path, jnt_dbman: Run) -> None:
    root, log = counting_extension(tmp_path)
    cache = tmp_path / "cache"
    env = env_for(root, log, cache)
    settle()
    expected = jnt_dbman("history", env=env).stdout
    (cache_file,) = cache.glob("revisions-*.json")
    good = json.loads(cache_file.read_text())
    # Right signatures, wrong headers: what a half-edited or foreign file could hold.
    wrong_headers = [{"format": 1, "files": {path: [signature, header] for path, (signature, _) in good["files"].items()}}
                     for header in ({}, {"revision": 5}, {**dict.fromkeys(["down_revision", "branch_labels",
                                                                            "depends_on", "doc"]), "revision": []})]
    for damage in ["{not json", json.dumps({"format": 1, "files": {str(p): "x" for p in root.rglob("*.py")}}), "",
                   *map(json.dumps, wrong_headers)]:
        cache_file.write_text(damage)
        result = jnt_dbman("history", env=env)
        assert (result.returncode, result.stdout, result.stderr) == (0, expected, "")
        assert json.loads(cache_file.read_text())["format"] == 1
    loads(log)
    assert jnt_dbman("history", env=env).stdout == expected
    assert loads(log) == []


def test_the_cache_can_be_turned_off_or_be_unwritable(tmp_path: Path, jnt_dbman: Run) -> None:
    root, log = counting_extension(tmp_path)
    settle()
    off = env_for(root, log, "")
    for _ in range(2):
        assert jnt_dbman("heads", env=off).returncode == 0
        assert loads(log) == ["ca0000000001", "ca0000000002"]
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    unwritable = env_for(root, log, blocker / "cache")
    for _ in range(2):
        result = jnt_dbman("heads", env=unwritable)
        assert (result.returncode, result.stderr) == (0, "")
        assert "ca0000000002 (counted) (head)" in result.stdout.splitlines()
        assert loads(log) == ["ca0000000001", "ca0000000002"]
