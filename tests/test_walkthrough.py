"""The extension author's walkthrough (docs/tutorial.rst), run for real.

Each test copies the repository, as a fresh clone would have it, into a
directory whose name holds a space, and runs there what the tutorial tells a
reader to run: ``./alembic.sh``, plain ``alembic`` and the installed
``jnt_dbman``, as subprocesses; one test runs the tutorial's console examples
themselves and compares their output with the page.  The copy comes first on
PYTHONPATH, so the copy's ``janitoo_template`` (and its
``models/janitoo_template/``) is the one in use, not the one the editable
install points at; nothing is written into this repository.  Databases are
SQLite files of each test's own.
"""
from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy.engine import make_url

from conftest import subprocess_env
from dbstate import table_names, version_ids

REPO = Path(__file__).resolve().parents[1]


def conf_url(path: Path) -> str:
    """The ``[database]`` section's ``sqlalchemy.url`` of a janitoo configuration file."""
    parser = configparser.RawConfigParser()
    parser.read(path, encoding="utf-8")
    return parser.get("database", "sqlalchemy.url")


#: The database janitoo_template.conf names: the tutorial's throw-away file.
TUTORIAL_URL = conf_url(REPO / "janitoo_template.conf")
BIN = Path(sys.executable).parent
JNT_DBMAN = BIN / "jnt_dbman"
ALEMBIC = BIN / "alembic"
TEMPLATE_DIR = Path("models") / "janitoo_template"

CORE_HEAD = "5d2f0a8c91e3 (janitoo) (head)"
TEMPLATE_HEAD = "c3e9b5a1d274 (janitoo_template) (head)"
TEMPLATE_HISTORY = [
    "8f41c2d7a9b0 -> c3e9b5a1d274 (janitoo_template) (head), Initial import",
    "<base> -> 8f41c2d7a9b0 (janitoo_template), Create janitoo_template branch",
]
TEMPLATE_TABLES = {"template_rooms", "template_sensors"}
CORE_TABLES = {"core_groups", "core_users", "core_groups_users", "core_settings_group", "core_settings"}

TUTORIAL = REPO / "docs" / "tutorial.rst"
#: In the tutorial's examples, where the reader's clone is.
CLONE_PLACEHOLDER = "/path/to/your/clone"
#: The tutorial's two generate examples that write a file: test_generate_... runs them.
START_BRANCH = 'jnt_dbman generate -m "Create janitoo_template branch"'
INITIAL_IMPORT = 'jnt_dbman generate -m "Initial import"'
#: Examples of the tutorial the runner leaves out: set-up done already, the
#: database chosen by the test, and the commands that write a file, which
#: the page says not to run in a clone.
NOT_RUN = (
    "python3 -m venv", ". .venv/bin/activate", "export JANITOO_DB_URL",
    "./alembic.sh revision", START_BRANCH, INITIAL_IMPORT,
)

#: Examples that only read revision files, never the database or the conf's
#: version_locations line: they may run while the others do.
READ_ONLY = (
    "jnt_dbman collect", "jnt_dbman heads", "jnt_dbman history", "jnt_dbman version_locations",
    "./alembic.sh heads", "./alembic.sh history",
)

# What a clone does not have, or what running things leaves behind.
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git", ".venv", "_build", "build", "dist", "__pycache__", "*.egg-info", ".pytest_cache", "*.sqlite",
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the repository, in a directory whose name holds a space."""
    copy = tmp_path / "my clone"
    shutil.copytree(REPO, copy, ignore=NOT_IN_A_CLONE)
    return copy


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """The SQLite file the walkthrough works on (not created yet)."""
    return tmp_path / "walkthrough.sqlite"


def environment(project: Path, db: Path | None, with_test_extension: bool = True) -> dict[str, str]:
    """The copy first on PYTHONPATH, this interpreter's bin first on PATH, $JANITOO_DB_URL set.

    The tests' own extension, acme_sensors, is installed too unless *with_test_extension* is false.
    """
    env = subprocess_env()
    if not with_test_extension:
        env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(project), env["PYTHONPATH"]]))
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env.pop("VIRTUAL_ENV", None)
    if db is not None:
        env["JANITOO_DB_URL"] = f"sqlite:///{db}"
    return env


def run(*args: str | Path, env: dict[str, str], cwd: Path, status: int = 0) -> subprocess.CompletedProcess[str]:
    """Run a command without a terminal; check its exit status."""
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, cwd=cwd,
                            stdin=subprocess.DEVNULL, timeout=120)
    assert result.returncode == status, (
        f"{' '.join(map(str, args))} exited {result.returncode}, not {status}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result


def lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return result.stdout.strip().splitlines()


def tutorial_examples() -> list[tuple[str, list[str]]]:
    """Each ``$ COMMAND`` of the tutorial's literal blocks, with the output lines shown under it."""
    found: list[tuple[str, list[str]]] = []
    for line in TUTORIAL.read_text().splitlines():
        match = re.match(r"^    \$ (.*)$", line)
        if match:
            found.append((match.group(1), []))
        elif not line.strip():
            found.append(("", []))  # a blank line ends a command's output
        elif found and line.startswith("    "):
            found[-1][1].append(line[4:])
    return [(command, output) for command, output in found if command]


def shows(shown: str, printed: str) -> bool:
    """True when *printed* is the line the page shows; ``...`` in it stands for any text."""
    pattern = ".*".join(re.escape(part) for part in shown.split("..."))
    return re.fullmatch(pattern, printed) is not None


def paste_version_locations(conf: Path, line: str) -> None:
    """Put *line* (``jnt_dbman version_locations``'s output) in place of the conf's own."""
    text = conf.read_text()
    pasted = re.sub(r"^version_locations = .*$", lambda _: line, text, count=1, flags=re.M)
    assert pasted != text, f"no version_locations line replaced in {conf}"
    conf.write_text(pasted)


def revision_files(directory: Path) -> set[str]:
    return {path.name for path in directory.glob("*.py")}


def test_alembic_sh_runs_every_command_from_anywhere(project: Path, db: Path, tmp_path: Path) -> None:
    env = environment(project, db)
    script = project / "alembic.sh"
    assert os.access(script, os.X_OK)

    # From outside the project (the tutorial's examples run ./alembic.sh from inside it).
    assert lines(run(script, "heads", env=env, cwd=tmp_path)) == [TEMPLATE_HEAD]

    before = revision_files(project / TEMPLATE_DIR)
    created = run(script, "revision", "-m", "Add sensor notes", "--head=janitoo_template@head", env=env, cwd=tmp_path)
    new = revision_files(project / TEMPLATE_DIR) - before
    assert len(new) == 1, created.stdout + created.stderr
    (name,) = new
    assert name.endswith("_add_sensor_notes.py")
    text = (project / TEMPLATE_DIR / name).read_text()
    assert "down_revision = 'c3e9b5a1d274'" in text
    revision = re.search(r"^revision = '(\w+)'", text, re.M).group(1)

    upgraded = run(script, "upgrade", "heads", env=env, cwd=tmp_path)
    assert "Running upgrade 8f41c2d7a9b0 -> c3e9b5a1d274, Initial import" in upgraded.stderr
    assert version_ids(db) == {revision}  # the new revision is the branch's head
    assert TEMPLATE_TABLES | {"alembic_version"} <= table_names(db, sqlite_internal=True)
    assert not CORE_TABLES & table_names(db, sqlite_internal=True)  # this branch alone
    assert not (project / "janitoo_template.sqlite").exists()
    # Alembic's context lines come from the context the revisions ran in, and only that one.
    assert upgraded.stderr.count("Context impl SQLiteImpl.") == 1, upgraded.stderr
    assert upgraded.stderr.count("Will assume non-transactional DDL.") == 1, upgraded.stderr


@pytest.fixture
def tutorial_database(tmp_path: Path) -> Iterator[Path]:
    """The tutorial's SQLite file, which janitoo_template.conf names, absent for the test.

    A file already there (the tutorial run by hand, say) is set aside and put back afterwards.
    """
    path = Path(str(make_url(TUTORIAL_URL).database))
    aside = tmp_path / "set-aside.sqlite"
    if path.exists():
        shutil.move(path, aside)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
        if aside.exists():
            shutil.move(aside, path)


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout


def test_plain_alembic_with_the_example_conf_writes_nothing_into_the_clone(project: Path,
                                                                            tutorial_database: Path) -> None:
    """``alembic -c janitoo_template.conf -n database current`` from the clone's root, as a new user runs it."""
    exported = re.search(r"export JANITOO_DB_URL=(\S+)", (REPO / "docs" / "tutorial.rst").read_text(encoding="utf-8"))
    assert exported and exported.group(1) == TUTORIAL_URL  # the conf's database is the one the tutorial names
    git("init", "-q", cwd=project)
    git("add", "-A", cwd=project)
    git("commit", "-q", "-m", "clone", cwd=project)
    status = ("status", "--porcelain", "--ignored", "--untracked-files=all")
    before = git(*status, cwd=project)  # the copy may hold ignored caches of this checkout's tools
    env = environment(project, None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # Python's own bytecode is not what this test looks for

    current = run(ALEMBIC, "-c", "janitoo_template.conf", "-n", "database", "current", env=env, cwd=project)
    # Once for the one connection, not again for each of janitoo_db's own reads of alembic_version.
    assert current.stderr.count("Context impl SQLiteImpl.") == 1, current.stderr
    assert current.stderr.count("Will assume non-transactional DDL.") == 1, current.stderr
    run(project / "alembic.sh", "current", env=env, cwd=project)

    # The conf's database is the tutorial's throw-away file, not one in the clone: git sees no new file,
    # not even an ignored one.
    assert git(*status, cwd=project) == before
    assert tutorial_database.exists()


def test_plain_alembic_sees_every_branch_with_the_pasted_line(project: Path, db: Path) -> None:
    env = environment(project, db)
    printed = lines(run(JNT_DBMAN, "version_locations", env=env, cwd=project))
    assert len(printed) == 1 and printed[0].startswith("version_locations = ")
    locations = printed[0].removeprefix("version_locations = ").split(os.pathsep)
    assert locations[0] == str(project / "janitoo_db" / "models" / "janitoo")
    assert str(project / TEMPLATE_DIR) in locations
    assert any(location.endswith(os.path.join("acme_sensors", "models", "acme_sensors")) for location in locations)

    all_branches = project / "all_branches.conf"
    shutil.copyfile(project / "janitoo_template.conf", all_branches)
    paste_version_locations(all_branches, printed[0])

    alembic_heads = lines(run(ALEMBIC, "-c", all_branches, "-n", "database", "heads", env=env, cwd=project))
    assert len(alembic_heads) == 3 and {CORE_HEAD, TEMPLATE_HEAD} < set(alembic_heads)
    assert any(line.endswith(" (acme_sensors) (head)") for line in alembic_heads)

    # Plain Alembic builds the whole database, as jnt_dbman initdb does.
    run(ALEMBIC, "-c", all_branches, "-n", "database", "-x", f"url=sqlite:///{db}", "upgrade", "heads",
        env=env, cwd=project)
    assert version_ids(db) == {line.split()[0] for line in alembic_heads}
    assert CORE_TABLES | TEMPLATE_TABLES | {"acme_readings"} <= table_names(db, sqlite_internal=True)

    # With three branches installed, one extension's history is still its own.
    history = run(JNT_DBMAN, "history", "--revrange=janitoo_template:", env=env, cwd=project)
    assert lines(history) == TEMPLATE_HISTORY


def test_the_tutorial_prints_what_it_shows(project: Path, db: Path) -> None:
    """Run the tutorial's ``$ COMMAND`` examples in order; each prints the lines the page shows.

    As the reader would: without the tests' own extension, so only janitoo
    and janitoo_template are installed.  Between commands, check the database
    holds what the page says.  ``...`` in a line the page shows stands for any
    text, as in doctest.  Examples that only read revision files start at
    once, in the background, to save time; their output is checked in turn.
    """
    env = environment(project, db, with_test_extension=False)
    clone = str(project)
    examples = [(command, shown) for command, shown in tutorial_examples() if not command.startswith(NOT_RUN)]
    background = {
        index: subprocess.Popen(shlex.split(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True, env=env, cwd=project)
        for index, (command, _) in enumerate(examples) if command.startswith(READ_ONLY)
    }
    pasted = ""
    try:
        for index, (command, shown) in enumerate(examples):
            if command.startswith("alembic -c janitoo_template.conf"):
                # The page says to paste the version_locations line into the conf
                # first; nothing else may be reading the conf meanwhile.
                for process in background.values():
                    process.wait(timeout=120)
                paste_version_locations(project / "janitoo_template.conf", pasted)
            if command == "jnt_dbman dropdb --yes":
                # Without --yes and without a terminal, dropdb refuses and drops nothing.
                before = table_names(db, sqlite_internal=True)
                refused = run(JNT_DBMAN, "dropdb", env=env, cwd=project, status=1)
                assert "--yes" in refused.stderr and table_names(db, sqlite_internal=True) == before
            if index in background:
                stdout, stderr = background[index].communicate(timeout=120)
                status = background[index].returncode
            else:
                result = subprocess.run(shlex.split(command), capture_output=True, text=True, env=env, cwd=project,
                                        stdin=subprocess.DEVNULL, timeout=120)
                stdout, stderr, status = result.stdout, result.stderr, result.returncode
            assert status == 0, f"$ {command}\nexited {status}\n{stdout}{stderr}"
            output = [line for line in (stdout + stderr).splitlines() if line.strip()]
            expected = [line.replace(CLONE_PLACEHOLDER, clone) for line in shown]
            assert len(output) == len(expected) and all(map(shows, expected, output)), (
                f"$ {command}\nthe page shows:\n" + "\n".join(expected) + "\nit prints:\n" + "\n".join(output))

            if command in ("jnt_dbman initdb", "jnt_dbman createdb"):
                assert CORE_TABLES | TEMPLATE_TABLES | {"alembic_version"} <= table_names(db, sqlite_internal=True)
                assert version_ids(db) == {"5d2f0a8c91e3", "c3e9b5a1d274"}
            elif command == "jnt_dbman dropdb --yes":
                assert table_names(db, sqlite_internal=True) == set()
            elif command == "jnt_dbman version_locations":
                pasted = stdout.strip()
    finally:
        for process in background.values():
            if process.poll() is None:
                process.kill()
            process.communicate()
    commands = [command for command, _ in examples]
    assert len(commands) >= 10 and "jnt_dbman history --revrange=janitoo_template:" in commands, commands


def run_example(start: str, project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the tutorial's one example that starts with *start*; check it prints the lines the page shows."""
    (command, shown), = [(c, o) for c, o in tutorial_examples() if c.startswith(start)]
    result = run(*shlex.split(command), env=env, cwd=project)
    output = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    expected = [line.replace(CLONE_PLACEHOLDER, str(project)) for line in shown]
    assert len(output) == len(expected) and all(map(shows, expected, output)), (
        f"$ {command}\nthe page shows:\n" + "\n".join(expected) + "\nit prints:\n" + "\n".join(output))
    return result


def test_generate_writes_the_initial_import_into_the_extension(project: Path, db: Path) -> None:
    """From no version directory at all: the page's generate starts the branch, then writes the initial import."""
    installed = REPO / TEMPLATE_DIR
    installed_before = {p.name: p.read_bytes() for p in installed.glob("*.py")}
    env = environment(project, db)
    version_dir = project / TEMPLATE_DIR
    shutil.rmtree(version_dir)

    # Until the branch has its root, every command says how to start it.
    refused = run(JNT_DBMAN, "initdb", env=env, cwd=project, status=1)
    assert ("start its branch with 'jnt_dbman generate -m \"Create janitoo_template branch\" "
            "--head janitoo_template'") in refused.stderr
    assert not db.exists()

    run_example(START_BRANCH, project, env)
    (root,) = version_dir.glob("*.py")
    assert "branch_labels = ('janitoo_template',)" in root.read_text() and "down_revision = None" in root.read_text()

    run(JNT_DBMAN, "initdb", env=env, cwd=project)
    assert not TEMPLATE_TABLES & table_names(db, sqlite_internal=True)

    generated = run_example(INITIAL_IMPORT, project, env)
    path = Path(generated.stdout.strip().removeprefix("Generated "))
    assert path.parent == version_dir and path.name.endswith("_initial_import.py")
    text = path.read_text()
    assert "op.create_table('template_rooms'" in text and "op.create_table('template_sensors'" in text
    assert "core_" not in text and "acme_" not in text  # only janitoo_template's tables

    applied = run(JNT_DBMAN, "initdb", env=env, cwd=project)
    assert "(janitoo_template): Initial import" in applied.stderr
    assert TEMPLATE_TABLES <= table_names(db, sqlite_internal=True)
    assert {p.name: p.read_bytes() for p in installed.glob("*.py")} == installed_before
