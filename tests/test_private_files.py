"""Private files: read back only what this user wrote, from a directory nobody else can write.

tests/test_revision_cache.py runs the same rules through jnt_dbman (directories
others can write, files of another user); these are the rules one by one.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from janitoo_db.site.private_files import KEY_FILE, PrivateFile


def test_what_was_written_is_read_back(tmp_path: Path) -> None:
    file = PrivateFile(tmp_path / "made" / "here" / "data")
    assert file.read() is None
    file.write(b"some\nbytes")
    assert PrivateFile(file.path).read() == b"some\nbytes"
    modes = {path.name: path.stat().st_mode & 0o777 for path in file.path.parent.iterdir()}
    assert modes == {KEY_FILE: 0o600, "data": 0o600}
    assert file.path.parent.stat().st_mode & 0o777 == 0o700
    file.remove()
    assert file.read() is None


def test_an_edited_or_copied_file_reads_as_missing(tmp_path: Path) -> None:
    file = PrivateFile(tmp_path / "one" / "data")
    file.write(b"[1, 2]")
    file.path.write_bytes(file.path.read_bytes().replace(b"1", b"3"))
    assert file.read() is None
    file.write(b"[1, 2]")
    other = PrivateFile(tmp_path / "two" / "data")
    other.write(b"")
    shutil.copy(file.path, other.path)  # signed with the first directory's key
    assert PrivateFile(other.path).read() is None


def test_links_and_directories_that_cannot_be_made_are_not_used(tmp_path: Path) -> None:
    file = PrivateFile(tmp_path / "dir" / "data")
    file.write(b"x")
    target = tmp_path / "dir" / "elsewhere"
    os.replace(file.path, target)
    file.path.symlink_to(target)
    assert PrivateFile(file.path).read() is None
    (tmp_path / "a-file").write_text("")
    blocked = PrivateFile(tmp_path / "a-file" / "dir" / "data")
    blocked.write(b"x")
    assert blocked.read() is None and blocked.key() is None
