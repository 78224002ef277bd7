"""Revision files' compiled code is kept between commands, and never stands in for a file whose bytes changed."""
from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from conftest import install_extension, write_extension
from janitoo_db.site import compiled_revisions

BRANCH = "compiled_ext"
TABLE, OTHER = "first_tabl", "other_tabl"  # the same length: an edit that keeps the file's size


def _tables(url: str) -> set[str]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        return {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


@pytest.fixture
def versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = write_extension(tmp_path / "site", BRANCH, [
        ("cc0000000001", ""),
        ("cc0000000002", f"op.create_table('{TABLE}', sa.Column('id', sa.Integer, primary_key=True))"),
    ])
    monkeypatch.setenv("JANITOO_DB_CACHE_DIR", str(tmp_path / "cache"))
    return install_extension(root, BRANCH, monkeypatch)


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The revision files compiled from source, in order."""
    seen: list[str] = []
    real = compiled_revisions.compile_revision_file

    def counting(path: str, source: bytes) -> object:
        seen.append(os.path.basename(path))
        return real(path, source)

    monkeypatch.setattr(compiled_revisions, "compile_revision_file", counting)
    return seen


def test_the_next_command_runs_the_code_compiled_by_the_last(versions: Path, cli: Callable[..., Result],
                                                              compiles: list[str], tmp_path: Path) -> None:
    first, second = (f"sqlite:///{tmp_path / name}.sqlite" for name in ("first", "second"))
    assert cli("-u", first, "initdb", "-q").exit_code == 0
    assert "cc0000000002_step_1.py" in compiles
    compiles.clear()
    assert cli("-u", second, "initdb", "-q").exit_code == 0
    assert compiles == []
    assert TABLE in _tables(second)


def test_an_edit_that_keeps_size_and_time_runs_as_edited(versions: Path, cli: Callable[..., Result],
                                                         compiles: list[str], tmp_path: Path) -> None:
    assert cli("-u", f"sqlite:///{tmp_path / 'first.sqlite'}", "initdb", "-q").exit_code == 0
    path = next(versions.glob("cc0000000002_*.py"))
    stamp = path.stat()
    path.write_text(path.read_text().replace(TABLE, OTHER))
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert path.stat().st_size == stamp.st_size
    compiles.clear()
    url = f"sqlite:///{tmp_path / 'edited.sqlite'}"
    assert cli("-u", url, "initdb", "-q").exit_code == 0
    assert compiles == [path.name]
    assert OTHER in _tables(url) and TABLE not in _tables(url)


def test_a_damaged_cache_is_compiled_again_and_rewritten(versions: Path, cli: Callable[..., Result],
                                                         compiles: list[str], tmp_path: Path) -> None:
    assert cli("-u", f"sqlite:///{tmp_path / 'first.sqlite'}", "initdb", "-q").exit_code == 0
    [stored] = (tmp_path / "cache").glob("compiled-*.marshal")
    stored.write_bytes(stored.read_bytes()[:40] + b"\0" * 64)
    compiles.clear()
    url = f"sqlite:///{tmp_path / 'damaged.sqlite'}"
    assert cli("-u", url, "initdb", "-q").exit_code == 0 and TABLE in _tables(url)
    assert "cc0000000002_step_1.py" in compiles
    compiles.clear()
    assert cli("-u", f"sqlite:///{tmp_path / 'again.sqlite'}", "initdb", "-q").exit_code == 0
    assert compiles == []
