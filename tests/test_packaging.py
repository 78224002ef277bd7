"""What janitoo_db publishes: its wheel and sdist, built as a maintainer builds them, offline.

The wheel and the sdist are built from a copy of the repository (as a clone
has it) with this environment's setuptools, through the same PEP 517 hooks
``pip wheel --no-build-isolation`` and ``python -m build --no-isolation``
call, so that what setuptools prints can be checked too.  The wheel installs
janitoo_db alone: the tutorial's example extension, ``janitoo_template``, is a
distribution of its own that only a clone installs (the README's set-up
command, ``pip install -e ./janitoo_template``).  The sdist carries what it
takes to set up, test and document the project from the unpacked archive.
The packaging docs/extensions.rst recommends to extension authors is built
and installed here too.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from importlib.metadata import distribution, entry_points
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from conftest import pip_install, run_in_venv, subprocess_env, throwaway_venv

REPO = Path(__file__).resolve().parents[1]
OLDEST = REPO / ".ci" / "oldest.txt"
CORE_REVISIONS = {"3b5854d25914", "1266567cc97f", "33b95995b188", "5d2f0a8c91e3"}
#: What a clone does not have, or what running things leaves behind.
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git", ".venv", "_build", "build", "dist", "__pycache__", "*.egg-info", ".pytest_cache", "*.sqlite",
    ".ruff_cache", ".mypy_cache",
)
#: setuptools' warning for a directory of .py files shipped as data that it takes for a package.
IGNORED_PACKAGE = re.compile(r"Package would be ignored|is absent from the `packages` configuration")


def build(project: Path, kind: str, out: Path) -> tuple[Path, str]:
    """Build a *kind* (``wheel`` or ``sdist``) of *project* into *out*; return it and what setuptools printed.

    The PEP 517 hook runs with this environment's setuptools, offline, as a
    build without isolation does.
    """
    hook = f"import sys, setuptools.build_meta as b; print(b.build_{kind}(sys.argv[1]))"
    done = subprocess.run([sys.executable, "-c", hook, str(out)], cwd=project, capture_output=True, text=True,
                          timeout=300, env=subprocess_env())
    assert done.returncode == 0, f"building the {kind} of {project} failed:\n{done.stdout}{done.stderr}"
    return out / done.stdout.strip().splitlines()[-1], done.stdout + done.stderr


def metadata(text: str) -> list[tuple[str, str]]:
    """The fields of a METADATA or PKG-INFO file, in order."""
    return list(Parser().parsestr(text).items())


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository as a clone has it."""
    copy = tmp_path_factory.mktemp("packaging") / "janitoo_db"
    shutil.copytree(REPO, copy, ignore=NOT_IN_A_CLONE)
    return copy


@pytest.fixture(scope="module")
def wheel(checkout: Path) -> tuple[zipfile.ZipFile, str]:
    """janitoo_db's wheel, and what setuptools printed while building it."""
    path, printed = build(checkout, "wheel", checkout / "dist")
    return zipfile.ZipFile(path), printed


@pytest.fixture(scope="module")
def sdist(checkout: Path) -> tuple[Path, list[str]]:
    """janitoo_db's sdist, and the names in it, relative to its top directory."""
    path, _ = build(checkout, "sdist", checkout / "dist")
    with tarfile.open(path) as archive:
        names = archive.getnames()
    top = f"{path.name.removesuffix('.tar.gz')}/"
    assert all(name + "/" == top or name.startswith(top) for name in names)
    return path, [name.removeprefix(top) for name in names if name.startswith(top)]


def test_the_wheel_installs_janitoo_db_alone(wheel: tuple[zipfile.ZipFile, str]) -> None:
    archive, printed = wheel
    names = archive.namelist()
    info = next(name.split("/")[0] for name in names if name.endswith(".dist-info/METADATA"))
    assert {name.split("/")[0] for name in names} == {"janitoo_db", info}
    assert not [name for name in names if "janitoo_template" in name]
    # What janitoo_db reads at run time: its core branch and the Alembic environment.
    core_files = {Path(n).name for n in names if n.startswith("janitoo_db/models/janitoo/")}
    assert {name.split("_")[0] for name in core_files if name.endswith(".py")} == CORE_REVISIONS
    assert core_files - {name for name in core_files if name.endswith(".py")} == {"plan_notes.json"}  # --plan's notes
    assert {"janitoo_db/alembic/env.py", "janitoo_db/alembic/script.py.mako", "janitoo_db/py.typed"} <= set(names)
    assert archive.read(f"{info}/top_level.txt").decode().split() == ["janitoo_db"]

    # No extension registered: a user's initdb creates the core's tables and the installed extensions' only.
    groups = re.findall(r"^\[(.+)\]$", archive.read(f"{info}/entry_points.txt").decode(), re.M)
    assert groups == ["console_scripts", "pytest11"]
    assert not IGNORED_PACKAGE.search(printed)


def test_the_wheel_declares_its_license_by_spdx_expression(wheel: tuple[zipfile.ZipFile, str]) -> None:
    archive, _ = wheel
    info = next(name.split("/")[0] for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
    fields = metadata(archive.read(f"{info}/METADATA").decode())
    assert ("License-Expression", "GPL-3.0-or-later") in fields
    assert ("License-File", "LICENSE") in fields
    assert not [value for key, value in fields if key == "Classifier" and value.startswith("License ::")]
    assert not [key for key, _ in fields if key == "License"]
    shipped = archive.read(f"{info}/licenses/LICENSE").decode()
    assert shipped == (REPO / "LICENSE").read_text()
    assert shipped.split("\n", 2)[:2] == ["                    GNU GENERAL PUBLIC LICENSE",
                                          "                       Version 3, 29 June 2007"]


def wheel_extras(wheel: tuple[zipfile.ZipFile, str]) -> dict[str, set[str]]:
    """Each extra of the wheel's metadata ("" for the dependencies) to the distributions it requires."""
    archive, _ = wheel
    info = next(name.split("/")[0] for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
    extras: dict[str, set[str]] = {}
    for key, value in metadata(archive.read(f"{info}/METADATA").decode()):
        if key == "Requires-Dist":
            requirement = Requirement(value)
            extra = re.search(r'extra == "(\w+)"', str(requirement.marker)) if requirement.marker else None
            extras.setdefault(extra.group(1) if extra else "", set()).add(requirement.name.lower())
    return extras


def test_the_docs_extra_can_import_what_autodoc_documents(wheel: tuple[zipfile.ZipFile, str]) -> None:
    """docs/api.rst documents janitoo_db.testing, the pytest plugin: the docs extra brings pytest."""
    extras = wheel_extras(wheel)
    assert {"sphinx", "sphinx-click", "pytest"} <= extras["docs"]
    # Python 3.12+ venvs have no setuptools: the tests that build packages bring their own.
    assert "setuptools" in extras["test"] and "setuptools" in extras["dev"]


def test_the_test_extra_brings_the_server_drivers(wheel: tuple[zipfile.ZipFile, str]) -> None:
    """pip install -e '.[test]' runs the server tests where the servers run, as the README says."""
    extras = wheel_extras(wheel)
    assert {"psycopg", "pymysql"} <= extras["test"]
    assert extras["postgresql"] | extras["mysql"] <= extras["test"]


def test_the_sdist_carries_what_the_tests_and_the_docs_need(sdist: tuple[Path, list[str]]) -> None:
    _, names = sdist
    wanted = {
        "LICENSE", "README.rst", "setup.py", "pyproject.toml", "MANIFEST.in", "janitoo_template.conf", "alembic.sh",
        "tests/conftest.py", "tests/test_packaging.py", "docs/conf.py", "docs/tutorial.rst",
        ".ci/run", ".ci/oldest.txt",
        "janitoo_template/pyproject.toml", "janitoo_template/models.py", "bench/run.py",
        "models/janitoo_template/8f41c2d7a9b0_create_janitoo_template_branch.py",
        "models/janitoo_template/c3e9b5a1d274_initial_import.py",
        "tests/extensions/acme_sensors-1.0.dist-info/entry_points.txt",
    }
    assert wanted <= set(names), sorted(wanted - set(names))
    assert {f"tests/{p.name}" for p in (REPO / "tests").glob("test_*.py")} <= set(names)
    assert {f"docs/{p.name}" for p in (REPO / "docs").glob("*.rst")} <= set(names)
    left_behind = [n for n in names if re.search(r"__pycache__|\.pyc$|\.sqlite$|\.egg-info|_build/|_generated/", n)
                   and not n.startswith("janitoo_db.egg-info")]
    assert not left_behind


def test_the_sdist_installs_janitoo_db_alone(sdist: tuple[Path, list[str]], tmp_path: Path) -> None:
    """What pip installs from the sdist is a wheel built from it: no janitoo_template, no extension registered."""
    path, _ = sdist
    with tarfile.open(path) as archive:
        # The "data" filter (Python 3.10.12+) refuses links and paths that leave tmp_path.
        archive.extractall(tmp_path, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    unpacked = tmp_path / path.name.removesuffix(".tar.gz")
    assert "[janitoo.models]" not in (unpacked / "janitoo_db.egg-info" / "entry_points.txt").read_text()
    built, _ = build(unpacked, "wheel", tmp_path / "dist")
    shipped = zipfile.ZipFile(built).namelist()
    assert {name.split("/")[0] for name in shipped} == {"janitoo_db", built.name.split("-py")[0] + ".dist-info"}


def test_the_readme_set_up_installs_the_template_as_its_own_distribution() -> None:
    """In a clone set up as the README says, janitoo_template comes from its own (editable) distribution."""
    found = [ep for ep in entry_points(group="janitoo.models") if ep.name == "janitoo_template"]
    assert [(ep.value, ep.dist.name if ep.dist else None) for ep in found] == [
        ("janitoo_template.models:extend", "janitoo_template")], "run the README's set-up command again"
    assert not [ep for ep in distribution("janitoo_db").entry_points if ep.group == "janitoo.models"]


def docs_pyproject_example() -> str:
    """The pyproject.toml docs/extensions.rst shows under "Shipping revisions in a wheel"."""
    text = (REPO / "docs" / "extensions.rst").read_text()
    section = text.split("\nShipping revisions in a wheel\n", 1)[1]
    block = re.search(r"^\.\. code-block:: toml\n\n((?:    .*\n|\n)+)", section, re.M)
    assert block, "no toml example in the section"
    return "".join(line[4:] + "\n" for line in block.group(1).splitlines())


REVISION = '''\
"""{message}"""
import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = {down!r}
branch_labels = {labels!r}
depends_on = None


def upgrade():
    {upgrade}


def downgrade():
    {downgrade}
'''


def test_the_documented_pyproject_ships_the_revisions_without_warnings(tmp_path: Path) -> None:
    """Built as docs/extensions.rst says, the wheel holds acme/models/acme/, where janitoo_db looks first."""
    project = tmp_path / "acme-project"
    versions = project / "acme" / "models" / "acme"
    versions.mkdir(parents=True)
    (project / "pyproject.toml").write_text(docs_pyproject_example())
    (project / "acme" / "__init__.py").write_text("")
    (project / "acme" / "schema.py").write_text(
        "import sqlalchemy as sa\nfrom janitoo_db.base import Base\n\n\n"
        "class Reading(Base):\n    __tablename__ = 'acme_doc_readings'\n"
        "    id = sa.Column(sa.Integer, primary_key=True)\n\n\n"
        "def extend(jntmodel):\n    jntmodel.AcmeReading = Reading\n")
    (versions / "1a2b3c4d5e6f_create_acme_branch.py").write_text(REVISION.format(
        message="Create acme branch", revision="1a2b3c4d5e6f", down=None, labels=("acme",),
        upgrade="pass", downgrade="pass"))
    (versions / "2b3c4d5e6f70_readings.py").write_text(REVISION.format(
        message="Readings", revision="2b3c4d5e6f70", down="1a2b3c4d5e6f", labels=None,
        upgrade="op.create_table('acme_doc_readings', sa.Column('id', sa.Integer, primary_key=True))",
        downgrade="op.drop_table('acme_doc_readings')"))

    built, printed = build(project, "wheel", tmp_path / "dist")
    assert not IGNORED_PACKAGE.search(printed), printed
    shipped = set(zipfile.ZipFile(built).namelist())
    assert {f"acme/models/acme/{path.name}" for path in versions.glob("*.py")} <= shipped

    python = throwaway_venv(tmp_path / "venv")
    pip_install(python, "--no-index", str(built))
    env = subprocess_env()
    env["PYTHONPATH"] = ""  # what the environment has installed, not the tests' own extension
    done = run_in_venv(python, "version_locations", env=env)
    assert done.returncode == 0, done.stderr
    locations = done.stdout.removeprefix("version_locations = ").rstrip("\n").split(os.pathsep)
    (found,) = [Path(location) for location in locations if location.endswith("acme")]
    assert found.parts[-3:] == ("acme", "models", "acme") and found.is_relative_to(tmp_path / "venv")
    done = run_in_venv(python, "heads", env=env)
    assert "2b3c4d5e6f70 (acme) (head)" in done.stdout.splitlines(), done.stdout + done.stderr


def test_ci_pins_the_declared_floors_for_its_second_run(wheel: tuple[zipfile.ZipFile, str]) -> None:
    """.ci/oldest.txt pins every dependency of the tests and docs at the floor setup.py declares, no higher."""
    archive, _ = wheel
    info = next(name.split("/")[0] for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
    pins = {}
    for line in OLDEST.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.strip().lower()] = Version(version)
    floors = {}
    for key, value in metadata(archive.read(f"{info}/METADATA").decode()):
        requirement = Requirement(value) if key == "Requires-Dist" else None
        marker = str(requirement.marker) if requirement and requirement.marker else ""
        if requirement and ("extra" not in marker or re.search(r'extra == "(test|docs|postgresql|mysql)"', marker)):
            lowest = [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="]
            if lowest:
                floors[requirement.name.lower()] = lowest[0]
    assert floors and {name: pins.get(name) for name in floors} == floors
    assert pins["psycopg-binary"] == pins["psycopg"]  # psycopg[binary] pins its own release


def test_ci_runs_what_the_readme_says() -> None:
    """.ci/run sets up and tests with the README's own command lines, then again on the oldest releases."""
    readme = (REPO / "README.rst").read_text().splitlines()
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    set_up = [line.strip() for line in readme if line.startswith("    python3 -m venv .venv")]
    tests = [line.strip() for line in readme if line.startswith("    .venv/bin/python -m pytest")]
    assert len(set_up) == 1 and "-e ./janitoo_template" in set_up[0] and set_up[0] in ci
    assert len(tests) == 1 and tests[0] in ci
    assert ci.index(set_up[0]) < ci.index(tests[0])
    assert any("oldest.txt" in line and "pip" in line for line in ci[ci.index(tests[0]):])
