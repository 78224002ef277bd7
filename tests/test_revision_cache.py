"""The revision cache: unchanged revision files are not executed again, changed ones always are."""
from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import os
import py_compile
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import jnt_dbman_path, subprocess_env, write_extension
from dbstate import table_names, version_ids
from janitoo_db.site.cached_headers import CACHE_FORMAT
from janitoo_db.site.private_files import KEY_FILE

CORE_HEAD = "5d2f0a8c91e3"
NOBODY = 65534
Run = Callable[..., subprocess.CompletedProcess[str]]
REVISIONS = [("ca0000000001", ""),
             ("ca0000000002", "op.create_table('cached_table', sa.Column('id', sa.Integer, primary_key=True))",
              "op.drop_table('cached_table')")]
EXPECTED_HEADS = ["5d2f0a8c91e3 (janitoo) (head)", "2b3c4d5e6f70 (acme_sensors) (head)",
                  "ca0000000002 (counted) (head)", "c3e9b5a1d274 (janitoo_template) (head)"]
needs_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                                reason="giving a file to another user (chown) needs root")


@dataclass
class Site:
    """An extension ``counted`` whose revision files log each time they are executed, and a cache."""

    root: Path
    log: Path
    cache: Path

    def env(self, cache: Path | str | None = None) -> dict[str, str]:
        return subprocess_env(PYTHONPATH=os.pathsep.join([str(self.root), subprocess_env()["PYTHONPATH"]]),
                              JANITOO_TEST_LOADS=str(self.log),
                              JANITOO_DB_CACHE_DIR=str(self.cache if cache is None else cache))

    def run(self, *args: str, cache: Path | str | None = None) -> subprocess.CompletedProcess[str]:
        """``jnt_dbman ARGS`` in a subprocess, with the cache in *cache* (default: the site's)."""
        return subprocess.run([jnt_dbman_path(), *args], capture_output=True, text=True, timeout=120,
                              env=self.env(cache), input="", check=False)

    def loads(self) -> list[str]:
        """Revision files executed since the last call, and start afresh."""
        executed = self.log.read_text().split() if self.log.exists() else []
        self.log.unlink(missing_ok=True)
        return sorted(executed)

    def revision_file(self, revision: str) -> Path:
        (path,) = (self.root / "counted" / "models" / "counted").glob(f"{revision}_*.py")
        return path


@pytest.fixture
def site(tmp_path: Path) -> Site:
    root = write_extension(tmp_path / "ext", "counted", REVISIONS)
    for path in (root / "counted" / "models" / "counted").glob("*.py"):
        path.write_text(path.read_text() + "\nopen(os.environ['JANITOO_TEST_LOADS'], 'a').write(revision + '\\n')\n")
    return Site(root, tmp_path / "loads.log", tmp_path / "cache")


def cache_file(directory: Path) -> Path:
    (found,) = directory.glob("revisions-*.json")
    return found


def forge(directory: Path, edit: Callable[[dict[str, dict[str, Any]]], None], *, sign: bool = False) -> None:
    """Edit the headers in *directory*'s cache file (by revision id), as a person or program could.

    The file keeps its MAC unless *sign*: then it is signed again with the
    directory's key, as only its owner can.
    """
    path = cache_file(directory)
    mac, _, body = path.read_bytes().partition(b"\n")
    content = json.loads(body)
    edit({header["revision"]: header for _, header in content["files"].values()})
    body = json.dumps(content).encode()
    if sign:
        mac = hmac.new((directory / KEY_FILE).read_bytes(), body, hashlib.sha256).hexdigest().encode()
    path.write_bytes(mac + b"\n" + body)


def swap_counted(headers: dict[str, dict[str, Any]]) -> None:
    """Put ca0000000002 before ca0000000001, so that a database at ca0000000001 looks up to date."""
    headers["ca0000000002"].update(down_revision=None, branch_labels=["counted"])
    headers["ca0000000001"].update(down_revision="ca0000000002", branch_labels=None)


def edit_keeping_size_and_mtime(path: Path, old: str, new: str) -> None:
    """Replace *old* by *new* (as long) in *path* and set its modification time back."""
    assert len(old) == len(new)
    before = path.stat()
    path.write_text(path.read_text().replace(old, new))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)


# -- what the cache saves ---------------------------------------------------------------

def test_unchanged_files_are_executed_only_when_their_migration_runs(site: Site, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cached.sqlite'}"
    cold = site.run("history")
    assert cold.returncode == 0, cold.stderr
    assert site.loads() == ["ca0000000001", "ca0000000002"]
    cache_file(site.cache)

    warm = site.run("history")
    assert warm.returncode == 0 and warm.stdout == cold.stdout
    assert site.loads() == []
    uncached = site.run("heads", cache="").stdout
    assert site.loads() == ["ca0000000001", "ca0000000002"]
    assert site.run("heads").stdout == uncached
    assert site.loads() == []

    # The migration runs the files' code: each revision file is executed when its upgrade runs.
    initdb = site.run("initdb", "-u", url)
    assert initdb.returncode == 0, initdb.stderr
    assert "Applied ca0000000002 (counted): Step 1 of counted" in initdb.stderr
    assert site.loads() == ["ca0000000001", "ca0000000002"]
    assert "cached_table" in table_names(url)
    assert {"ca0000000002", CORE_HEAD} <= version_ids(url)

    # A server start with nothing to do executes no revision file at all.
    again = site.run("initdb", "-u", url)
    assert again.returncode == 0 and again.stderr.startswith("Nothing to do")
    assert site.loads() == []
    assert site.run("checkdb", "-u", url).returncode == 0
    assert site.loads() == []

    down = site.run("downgrade", "counted@base", "-u", url)
    assert down.returncode == 0, down.stderr
    assert site.loads() == ["ca0000000001", "ca0000000002"]
    assert "cached_table" not in table_names(url)


def test_an_edited_file_is_read_again(site: Site) -> None:
    assert "Step 1 of counted" in site.run("history").stdout
    site.loads()
    path = site.revision_file("ca0000000002")
    path.write_text(path.read_text().replace("Step 1 of counted", "Renamed step"))
    history = site.run("history")
    assert "Renamed step" in history.stdout and "Step 1 of counted" not in history.stdout
    assert site.loads() == ["ca0000000002"]
    # Remembered at once, though it changed a moment ago: its bytes are what the cache compares.
    path.write_text(path.read_text().replace("Renamed step", "Twice renamed"))
    assert "Twice renamed" in site.run("history").stdout
    assert site.loads() == ["ca0000000002"]
    assert "Twice renamed" in site.run("history").stdout
    assert site.loads() == []


def test_an_edit_keeping_size_and_modification_time_is_noticed(site: Site) -> None:
    """Size, modification time and inode all unchanged, as ``touch -r`` or a coarse file system can leave them."""
    assert site.run("history").returncode == 0
    site.loads()
    edit_keeping_size_and_mtime(site.revision_file("ca0000000002"), "Step 1 of counted", "Step 1 of COUNTED")
    assert "Step 1 of COUNTED" in site.run("history").stdout
    assert site.loads() == ["ca0000000002"]


def test_the_code_on_disk_runs_not_an_older_pycache(site: Site, tmp_path: Path) -> None:
    """Python's own check of a ``__pycache__`` file (whole seconds and size) misses this edit."""
    path = site.revision_file("ca0000000002")
    py_compile.compile(str(path), cfile=importlib.util.cache_from_source(str(path)),
                       invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP, doraise=True)
    edit_keeping_size_and_mtime(path, "cached_table", "edited_table")
    for name, cache in [("cached", None), ("uncached", "")]:
        url = f"sqlite:///{tmp_path / name}.sqlite"
        assert site.run("heads", cache=cache).returncode == 0  # fills the cache
        initdb = site.run("initdb", "-u", url, cache=cache)
        assert initdb.returncode == 0, initdb.stderr
        assert "edited_table" in table_names(url) and "cached_table" not in table_names(url)


# -- what the cache trusts --------------------------------------------------------------

def test_an_edited_cache_entry_is_ignored(site: Site) -> None:
    """No KeyError, no warning: an entry naming revisions that do not exist is not believed."""
    assert site.run("heads").stdout.splitlines() == EXPECTED_HEADS
    damages = [lambda h: h["ca0000000002"].update(down_revision="zzzzzzzzzzzz"),
               lambda h: h["ca0000000002"].update(depends_on=["nothing"]),
               lambda h: h["ca0000000001"].update(revision="ca0000000003"),
               swap_counted]
    for damage in damages:
        for sign in (False, True):  # signed: as only the cache's owner could
            forge(site.cache, damage, sign=sign)
            result = site.run("heads")
            assert (result.returncode, result.stderr) == (0, "")
            if damage is not swap_counted or not sign:  # the owner can fool the graph, not crash it
                assert result.stdout.splitlines() == EXPECTED_HEADS
            cache_file(site.cache).unlink()
            site.run("heads")  # an honest cache again
    site.loads()
    assert site.run("heads").stdout.splitlines() == EXPECTED_HEADS
    assert site.loads() == []


def test_a_damaged_cache_is_ignored_and_rewritten(site: Site) -> None:
    expected = site.run("history").stdout
    path = cache_file(site.cache)
    good = json.loads(path.read_bytes().partition(b"\n")[2])
    # Right signatures, wrong headers: what a half-edited or foreign file could hold.
    wrong_headers = [{"format": CACHE_FORMAT,
                      "files": {p: [signature, header] for p, (signature, _) in good["files"].items()}}
                     for header in ({}, {"revision": 5}, {**dict.fromkeys(["down_revision", "branch_labels",
                                                                            "depends_on", "doc"]), "revision": []})]
    key = (site.cache / KEY_FILE).read_bytes()
    signed = [hmac.new(key, body.encode(), hashlib.sha256).hexdigest() + "\n" + body
              for body in ["{not json", "[]", json.dumps({"format": 1, "files": good["files"]}),
                           json.dumps({"format": CACHE_FORMAT,
                                       "files": {str(p): "x" for p in site.root.rglob("*.py")}}),
                           *map(json.dumps, wrong_headers)]]
    for damage in ["{not json", "", "\n", json.dumps(good), *signed]:
        path.write_text(damage)
        result = site.run("history")
        assert (result.returncode, result.stdout, result.stderr) == (0, expected, "")
        assert json.loads(path.read_bytes().partition(b"\n")[2])["format"] == CACHE_FORMAT
    site.loads()
    assert site.run("history").stdout == expected
    assert site.loads() == []


def test_a_forged_entry_cannot_make_a_revision_look_applied(site: Site, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'forged.sqlite'}"
    assert site.run("initdb", "-u", url).returncode == 0
    assert site.run("downgrade", "counted@-1", "-u", url).returncode == 0
    assert "ca0000000002" not in version_ids(url)
    for check in ("checkdb", "initdb"):
        forge(site.cache, swap_counted)
        result = site.run(check, "-u", url)
        assert "Nothing to do" not in result.stderr
        assert result.returncode == (3 if check == "checkdb" else 0), result.stderr
    assert "Applied ca0000000002 (counted): Step 1 of counted" in result.stderr
    assert {"ca0000000002", CORE_HEAD} <= version_ids(url) and "cached_table" in table_names(url)


def test_a_signed_forgery_stops_the_command_before_its_revision_runs(site: Site, tmp_path: Path) -> None:
    """The owner's own forgery: caught when the file is executed, the cache removed, the rerun right."""
    url = f"sqlite:///{tmp_path / 'signed.sqlite'}"
    assert site.run("heads").returncode == 0
    forge(site.cache, lambda h: h["ca0000000002"].update(depends_on=[CORE_HEAD]), sign=True)
    assert f"Depends on: {CORE_HEAD}" in site.run("show", "-r", "ca0000000002").stdout  # the forged graph
    failed = site.run("initdb", "-u", url)
    path = site.revision_file("ca0000000002")
    assert failed.returncode == 1 and failed.stdout == ""
    assert failed.stderr.splitlines()[-1:] == [
        f"Error: revision file {path}: its depends_on is not what the revision cache said;"
        " the cache was stale or edited and has been removed: run the command again"]
    assert failed.stderr.count("Error") == 1 and "Traceback" not in failed.stderr
    assert list(site.cache.glob("revisions-*.json")) == []
    assert version_ids(url) == set()  # SQLite: the whole initdb is one transaction
    again = site.run("initdb", "-u", url)
    assert again.returncode == 0, again.stderr
    assert {"ca0000000002", CORE_HEAD} <= version_ids(url)


def planted(site: Site, directory: Path) -> None:
    """Fill *directory* with a key and a signed cache file saying ca0000000002 is "Forged step"."""
    assert site.run("heads", cache=directory).returncode == 0
    forge(directory, lambda h: h["ca0000000002"].update(doc="Forged step"), sign=True)
    site.loads()


def trusted(site: Site, directory: Path) -> bool:
    """Whether history believed *directory*'s cache (else it executed every revision file)."""
    history = site.run("history", cache=directory)
    assert history.returncode == 0 and history.stderr == ""
    believed = "Forged step" in history.stdout
    assert site.loads() == ([] if believed else ["ca0000000001", "ca0000000002"])
    return believed


def contents(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in directory.iterdir()}


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o1777, 0o720])
def test_a_cache_directory_others_can_write_is_not_used(site: Site, tmp_path: Path, mode: int) -> None:
    directory = tmp_path / "shared"
    planted(site, directory)
    assert trusted(site, directory)  # the planted cache works where it is trusted
    directory.chmod(mode)
    before = contents(directory)
    assert not trusted(site, directory)
    assert contents(directory) == before  # nor written to


@needs_root
@pytest.mark.parametrize("whose", ["directory", "key", "cache file"])
def test_a_cache_directory_or_file_of_another_user_is_not_used(site: Site, tmp_path: Path, whose: str) -> None:
    directory = tmp_path / "theirs"
    planted(site, directory)
    os.chown({"directory": directory, "key": directory / KEY_FILE, "cache file": cache_file(directory)}[whose],
             NOBODY, NOBODY)
    assert not trusted(site, directory)


def test_a_key_others_can_read_is_not_used(site: Site, tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    planted(site, directory)
    (directory / KEY_FILE).chmod(0o640)  # whoever reads the key can sign what they like
    assert not trusted(site, directory)


def test_the_cache_directory_is_made_for_the_user_alone(site: Site, tmp_path: Path) -> None:
    directory = tmp_path / "new" / "cache"
    assert site.run("heads", cache=directory).returncode == 0
    assert directory.stat().st_mode & 0o777 == 0o700
    modes = {path.name: path.stat().st_mode & 0o777 for path in directory.iterdir()}
    compiled = [name for name in modes if name.startswith("compiled-") and name.endswith(".marshal")]
    assert len(compiled) == 1, modes  # the revisions heads executed: their code, for the next command
    assert modes == {KEY_FILE: 0o600, cache_file(directory).name: 0o600, compiled[0]: 0o600}


def test_a_fifo_in_a_version_directory_is_skipped(site: Site, tmp_path: Path, jnt_dbman: Run) -> None:
    """Opening a FIFO waits for a writer: it is not listed, with or without the cache."""
    os.mkfifo(site.revision_file("ca0000000001").parent / "x.py")
    for cache in (site.cache, ""):
        url = f"sqlite:///{tmp_path / 'fifo'}{bool(cache)}.sqlite"
        env = site.env(cache)
        for args, code in [(("heads",), 0), (("history",), 0), (("checkdb", "-u", url), 3),
                           (("initdb", "-u", url), 0), (("checkdb", "-u", url), 0)]:
            result = jnt_dbman(*args, env=env, timeout=60)
            assert result.returncode == code, (args, result.stderr)
        assert jnt_dbman("heads", env=env).stdout.splitlines() == EXPECTED_HEADS
        # stamp runs on the revisions janitoo_db loaded; generate refuses before Alembic lists the directory.
        assert jnt_dbman("stamp", "heads", "-u", url, env=env, timeout=60).returncode == 0
        refused = jnt_dbman("generate", "--empty", "-m", "x", "--head", "counted", "-u", url, env=env, timeout=60)
        assert refused.returncode == 1 and refused.stderr.endswith(
            "x.py is not a regular file: remove it from the version directory\n"), refused.stderr


def test_the_cache_can_be_turned_off_or_be_unwritable(site: Site, tmp_path: Path) -> None:
    for _ in range(2):
        assert site.run("heads", cache="").returncode == 0
        assert site.loads() == ["ca0000000001", "ca0000000002"]
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for _ in range(2):
        result = site.run("heads", cache=blocker / "cache")
        assert (result.returncode, result.stderr) == (0, "")
        assert result.stdout.splitlines() == EXPECTED_HEADS
        assert site.loads() == ["ca0000000001", "ca0000000002"]
