"""generate and merge write a valid revision file, or none at all (janitoo_db.commands.writing)."""
from __future__ import annotations

import ast
import os
import subprocess
from pathlib import Path
from typing import Callable

import pytest
from click.testing import Result

from conftest import subprocess_env, write_extension, write_revision

Run = Callable[..., Result]
Proc = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def garden(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """An extension ``garden`` of two revisions, installed for subprocesses; its version directory."""
    root = write_extension(tmp_path / "ext", "garden", [("d10000000001", ""), ("d10000000002", "")])
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    return root / "garden" / "models" / "garden", env


def revision_files(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


@pytest.mark.parametrize("message", [
    'a """ b', "ends with a quote\"", "back\\slash \\N{oops} \\x", "two\nlines", "tab\tand snow ☃", "''' single",
])
def test_any_message_gives_a_valid_revision(garden: tuple[Path, dict[str, str]], jnt_dbman: Proc,
                                            tmp_path: Path, message: str) -> None:
    directory, env = garden
    url = f"sqlite:///{tmp_path / 'garden.sqlite'}"
    before = revision_files(directory)
    done = jnt_dbman("generate", "--empty", "-m", message, "--head", "garden", "-u", url, env=env)
    assert done.returncode == 0, done.stderr
    (new,) = revision_files(directory) - before
    module = ast.parse((directory / new).read_text())
    assert ast.get_docstring(module, clean=False).startswith(message)
    assert jnt_dbman("initdb", "-q", "-u", url, env=env).returncode == 0
    history = jnt_dbman("history", "-r", "garden:", "-u", url, env=env)
    assert history.returncode == 0 and new.split("_", 1)[0] in history.stdout
    assert not [p for p in directory.iterdir() if p.name.startswith(".jnt_dbman")]


def test_a_revision_that_does_not_compile_is_never_written(
        garden: tuple[Path, dict[str, str]], cli: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from janitoo_db.commands import publishing

    directory, _ = garden
    monkeypatch.syspath_prepend(str(directory.parent.parent.parent))

    def broken(source: bytes, filename: str, mode: str) -> None:
        raise SyntaxError("invalid syntax", (filename, 3, 1, ""))

    monkeypatch.setattr(publishing, "compile", broken, raising=False)
    before = revision_files(directory)
    result = cli("generate", "--empty", "-m", "fails", "--head", "garden", "-u", f"sqlite:///{tmp_path / 'g.sqlite'}")
    assert result.exit_code == 1
    assert result.stderr == ("Error: the revision Alembic rendered is not valid Python (line 3: invalid syntax); "
                             "nothing was written\n")
    assert revision_files(directory) == before
    monkeypatch.undo()
    assert cli("heads", "-u", f"sqlite:///{tmp_path / 'g.sqlite'}").exit_code == 0


def test_without_head_generate_takes_the_branch_under_the_current_directory(
        garden: tuple[Path, dict[str, str]], cli: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Not the core branch of the editable janitoo_db: the one extension in a source tree below the directory."""
    directory, _ = garden
    checkout = directory.parent.parent.parent
    monkeypatch.syspath_prepend(str(checkout))
    url = f"sqlite:///{tmp_path / 'g.sqlite'}"
    assert cli("initdb", "-q", "-u", url).exit_code == 0
    before = revision_files(directory)

    monkeypatch.chdir(checkout)
    result = cli("generate", "-m", "Beds", "-u", url)
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == ("Note: generating for garden: it is the only branch in a source tree at or under the "
                             "current directory; --head NAME names another branch.\n"
                             "No change in the tables of garden: no revision written (--empty writes one anyway).\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    refused = cli("generate", "-m", "Beds", "-u", url)
    assert (refused.exit_code, refused.stdout) == (2, "")
    assert refused.stderr == ("Error: --head NAME is required: several branches are in source trees (janitoo, "
                              "acme_sensors, garden, janitoo_template), and the current directory is in none of "
                              "their projects; name one, or run generate from its project's directory\n")
    assert revision_files(directory) == before


def test_a_failing_autogenerate_leaves_nothing(garden: tuple[Path, dict[str, str]], jnt_dbman: Proc,
                                               tmp_path: Path) -> None:
    directory, env = garden
    before = revision_files(directory)
    url = f"sqlite:///{tmp_path / 'behind.sqlite'}"
    done = jnt_dbman("generate", "-m", "too early", "--head", "garden", "-u", url, env=env)
    assert done.returncode == 1 and "not at every head" in done.stderr
    assert revision_files(directory) == before


def test_merge_writes_into_the_first_revisions_directory(tmp_path: Path, jnt_dbman: Proc) -> None:
    root = write_extension(tmp_path / "ext", "forked", [("d20000000001", ""), ("d20000000002", "")])
    directory = root / "forked" / "models" / "forked"
    write_revision(directory, "d20000000003", "d20000000001", "Other")
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(root), subprocess_env()["PYTHONPATH"]]))
    url = f"sqlite:///{tmp_path / 'forked.sqlite'}"
    merged = jnt_dbman("merge", "d20000000002", "d20000000003", "-m", 'join """ them', "-u", url, env=env)
    assert merged.returncode == 0, merged.stderr
    path = Path(merged.stdout.strip().removeprefix("Generated "))
    assert path.parent == directory and path.name.endswith("_join_them.py")
    ast.parse(path.read_text())
    assert jnt_dbman("initdb", "-q", "-u", url, env=env).returncode == 0
    assert jnt_dbman("checkdb", "-u", url, env=env).returncode == 0
