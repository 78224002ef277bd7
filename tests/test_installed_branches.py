"""A start at every head remembers which branches are installed, and never misses one installed or moved since.

Each test lets a start remember what it found, then changes what is
installed in a way a server's operator might, and checks that the next start
sees the change as the full command does: it migrates what is new, and
refuses what is gone.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import jnt_dbman_path, subprocess_env, write_extension
from dbstate import table_names, version_ids


class Server:
    """A directory of extensions on the path, a cache of its own, and a SQLite file."""

    def __init__(self, root: Path) -> None:
        self.root = root / "site"
        self.root.mkdir()
        self.url = f"sqlite:///{root / 'server.sqlite'}"
        self.env = subprocess_env(JANITOO_DB_CACHE_DIR=str(root / "cache"))
        self.env["PYTHONPATH"] = f"{self.root}:{self.env['PYTHONPATH']}"

    def start(self, command: str = "initdb") -> subprocess.CompletedProcess[str]:
        return subprocess.run([jnt_dbman_path(), "-u", self.url, command], env=self.env, capture_output=True,
                              text=True, timeout=300)

    def settled(self) -> None:
        """Two starts: the first finds and remembers, the second answers from what was remembered."""
        assert self.start().returncode == 0
        again = self.start()
        assert again.returncode == 0 and "Nothing to do" in again.stderr, again.stderr
        assert list((self.root.parent / "cache").glob("branches-*.json"))


def _extension(root: Path, name: str, prefix: str, table: str, revisions: int = 2) -> Path:
    steps = [(f"{prefix}{0:010d}", "")] + [
        (f"{prefix}{n:010d}", f"op.create_table('{table}{n}', sa.Column('id', sa.Integer, primary_key=True))")
        for n in range(1, revisions)]
    write_extension(root, name, steps)
    return root / name / "models" / name


@pytest.fixture
def server(tmp_path: Path) -> Server:
    found = Server(tmp_path)
    _extension(found.root, "first_ext", "f1", "first_t")
    return found


def test_an_extension_installed_since_is_migrated(server: Server) -> None:
    server.settled()
    _extension(server.root, "late_ext", "l1", "late_t")
    done = server.start()
    assert done.returncode == 0, done.stderr
    assert "Applied l10000000001 (late_ext)" in done.stderr
    assert "late_t1" in table_names(server.url)


def test_an_entry_point_added_to_an_installed_distribution_is_migrated(server: Server) -> None:
    # The package is there from the start; only the distribution's entry points change (the same names on disk).
    _extension(server.root, "added_ext", "a1", "added_t")
    shutil.rmtree(server.root / "added_ext-1.0.dist-info")
    server.settled()
    entry_points = server.root / "first_ext-1.0.dist-info" / "entry_points.txt"
    entry_points.write_text(entry_points.read_text() + "added_ext = added_ext:extend\n")
    done = server.start()
    assert done.returncode == 0, done.stderr
    assert "a10000000001" in version_ids(server.url) and "added_t1" in table_names(server.url)


def test_a_version_directory_found_earlier_in_the_search_is_used(server: Server) -> None:
    # The revisions beside the package (models/NAME next to it) first; then a release puts them inside it.
    versions = _extension(server.root, "moved_ext", "m1", "moved_t")
    beside = server.root / "models" / "moved_ext"
    beside.parent.mkdir()
    versions.rename(beside)
    server.settled()
    shutil.copytree(beside, versions)
    (versions / "m10000000002_step_2.py").write_text(
        (versions / "m10000000001_step_1.py").read_text().replace("m10000000001", "m10000000002")
        .replace("down_revision = 'm10000000000'", "down_revision = 'm10000000001'").replace("moved_t1", "moved_t2"))
    done = server.start()
    assert done.returncode == 0, done.stderr
    assert "m10000000002" in version_ids(server.url) and "moved_t2" in table_names(server.url)


def test_an_extension_removed_since_is_named_an_orphan(server: Server) -> None:
    _extension(server.root, "gone_ext", "g1", "gone_t")
    server.settled()
    shutil.rmtree(server.root / "gone_ext-1.0.dist-info")
    done = server.start("checkdb")
    assert done.returncode == 5 and "g10000000001" in done.stdout, done.stdout + done.stderr
