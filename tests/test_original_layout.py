"""Extensions written for the original janitoo_db, in its layout, installed as pip installs them.

The extension here, ``janitoo_attic``, is laid out as the extensions published
for the original are: a src layout (``package_dir={'': 'src'}``), its models in
``src/janitoo_attic/models.py`` declared inside ``extend(jntmodel)`` with
``sa.Column`` and the original's ``CRUDMixin``, and its revisions in
``src/config/models/janitoo_attic/``, which ``data_files`` copy to
``config/models/janitoo_attic/`` under the install prefix.

It is installed twice, each time into a throw-away virtual environment that
sees janitoo_db and its dependencies through a ``.pth`` file: once editable
(the revisions are found in ``src/config/models/NAME``) and once from a wheel
built from it (they are found in the ``data_files`` copy under the
environment's prefix).  The real ``jnt_dbman`` console script then runs with
that environment's interpreter on SQLite, PostgreSQL and MariaDB.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import Distribution
from pathlib import Path

import pytest

from conftest import pip, pip_install, revision_lines, run_in_venv, subprocess_env, throwaway_venv
from dbstate import rows, table_names, version_ids

NAME = "janitoo_attic"
ROOT_REVISION = "4c1d2e3f5a6b"
TABLES_REVISION = "7e8f9a0b1c2d"
TABLES = {"attic_shelves", "attic_boxes"}
CORE_TABLES = {"core_users", "core_groups", "core_groups_users", "core_settings", "core_settings_group"}


# -- the extension, in the original's layout ---------------------------------------------

SETUP_PY = '''\
import os

from setuptools import find_packages, setup


def data_files_under(target, source):
    """(directory, [files]) pairs copying *source* to *target* under the install prefix."""
    found = []
    for directory, _, files in os.walk(source):
        kept = sorted(os.path.join(directory, f) for f in files if not f.endswith(".pyc"))
        if kept:
            found.append((os.path.join(target, os.path.relpath(directory, source)).rstrip("/."), kept))
    return found


setup(
    name="janitoo_attic",
    version="0.0.1",
    description="An extension laid out as the original janitoo_db's were",
    zip_safe=False,
    packages=find_packages("src", exclude=["config", "config.*"]),
    package_dir={"": "src"},
    include_package_data=True,
    data_files=data_files_under("config", "src/config"),
    entry_points={"janitoo.models": ["janitoo_attic = janitoo_attic.models:extend"]},
)
'''

MODELS_PY = '''\
"""The attic: shelves and the boxes on them."""
import sys

import sqlalchemy as sa
from sqlalchemy.orm import relationship

from janitoo_db.base import Base
from janitoo_db.helpers import CRUDMixin


def extend(jntmodel):
    class AtticShelf(Base, CRUDMixin):
        __tablename__ = "attic_shelves"

        id = sa.Column(sa.Integer, primary_key=True)
        label = sa.Column(sa.String(80), nullable=False, unique=True)
        boxes = relationship("AtticBox", lazy="dynamic", backref="shelf", cascade="all, delete-orphan")

    class AtticBox(Base, CRUDMixin):
        __tablename__ = "attic_boxes"

        id = sa.Column(sa.Integer, primary_key=True)
        shelf_id = sa.Column(sa.Integer, sa.ForeignKey("attic_shelves.id"), nullable=False)
        content = sa.Column(sa.Text, nullable=True)
        fragile = sa.Column(sa.Boolean, nullable=False, default=False)

    jntmodel.AtticShelf = AtticShelf
    jntmodel.AtticBox = AtticBox
    # Reachable by module and name, as pickle looks classes up.
    setattr(sys.modules[__name__], "AtticShelf", AtticShelf)
    setattr(sys.modules[__name__], "AtticBox", AtticBox)
'''

BRANCH_ROOT = f'''\
"""Create janitoo_attic branch

Revision ID: {ROOT_REVISION}
Revises:
"""
revision = {ROOT_REVISION!r}
down_revision = None
branch_labels = ({NAME!r},)
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
'''

TABLES_REVISION_PY = f'''\
"""Shelves and boxes

Revision ID: {TABLES_REVISION}
Revises: {ROOT_REVISION}
"""
import sqlalchemy as sa
from alembic import op

revision = {TABLES_REVISION!r}
down_revision = {ROOT_REVISION!r}
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "attic_shelves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("label"),
    )
    op.create_table(
        "attic_boxes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shelf_id", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("fragile", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["shelf_id"], ["attic_shelves.id"]),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade():
    op.drop_table("attic_boxes")
    op.drop_table("attic_shelves")
'''


def write_original_extension(project: Path) -> Path:
    """Write janitoo_attic's source tree at *project*, in the original's layout; return *project*."""
    files = {
        "setup.py": SETUP_PY,
        "src/janitoo_attic/__init__.py": '"""janitoo_attic: an extension in the original janitoo_db\'s layout."""\n',
        "src/janitoo_attic/models.py": MODELS_PY,
        f"src/config/models/{NAME}/{ROOT_REVISION}_create_janitoo_attic_branch.py": BRANCH_ROOT,
        f"src/config/models/{NAME}/{TABLES_REVISION}_shelves_and_boxes.py": TABLES_REVISION_PY,
    }
    for relative, text in files.items():
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return project


# -- installing it as pip does, each kind into a throw-away environment ---------------------------

@dataclass(frozen=True)
class Site:
    """A throw-away environment with janitoo_attic installed, and where its revisions must be found."""

    kind: str
    python: Path
    #: The project janitoo_attic was installed from.
    project: Path
    #: Where jnt_dbman must find the revisions for this kind of install.
    version_dir: Path

    def jnt_dbman(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The real jnt_dbman console script, run by this environment's interpreter."""
        env = subprocess_env()
        # Only what is installed in the environment: not the tests' own acme_sensors.
        env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
        return run_in_venv(self.python, *args, env=env)


@pytest.fixture(scope="session")
def editable_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """``pip install -e`` of the project: its revisions stay in ``src/config/models/NAME``."""
    base = tmp_path_factory.mktemp("attic-editable")
    project = write_original_extension(base / "janitoo_attic")
    python = throwaway_venv(base / "venv")
    pip_install(python, "-e", str(project))
    return Site("editable", python, project, project / "src" / "config" / "models" / NAME)


@pytest.fixture(scope="session")
def wheel_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """``pip install`` of a wheel built from the project: ``data_files`` put the revisions under the prefix."""
    base = tmp_path_factory.mktemp("attic-wheel")
    project = write_original_extension(base / "janitoo_attic")
    built = pip(["wheel", "--no-deps", "--wheel-dir", str(base / "dist"), str(project)])
    assert built.returncode == 0, f"building the wheel failed:\n{built.stdout}{built.stderr}"
    (wheel,) = (base / "dist").glob("janitoo_attic-*.whl")
    python = throwaway_venv(base / "venv")
    pip_install(python, "--no-index", str(wheel))
    return Site("wheel", python, project, base / "venv" / "config" / "models" / NAME)


def _out(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"


@pytest.mark.parametrize("kind", ["editable", "wheel"])
def test_every_command_works_with_an_extension_in_the_original_layout(
        kind: str, any_url: str, request: pytest.FixtureRequest) -> None:
    site: Site = request.getfixturevalue(f"{kind}_site")

    def jnt(*args: str) -> subprocess.CompletedProcess[str]:
        done = site.jnt_dbman(*args, "-u", any_url)
        assert done.returncode == 0, _out(done)
        assert "Traceback" not in done.stderr, _out(done)
        return done

    # The revisions come from where this kind of install put them, not from another copy.
    locations = jnt("version_locations").stdout.removeprefix("version_locations = ").rstrip("\n").split(os.pathsep)
    found = [Path(location) for location in locations if location.endswith(NAME)]
    assert found == [site.version_dir.resolve()]
    if kind == "wheel":
        assert found[0].is_relative_to(site.python.parent.parent)
        assert not found[0].is_relative_to(site.project)

    assert f"{TABLES_REVISION} ({NAME}) (head)" in jnt("heads").stdout.splitlines()

    applied = revision_lines(jnt("initdb").stderr)
    assert f"Applied {ROOT_REVISION} ({NAME}): Create janitoo_attic branch" in applied
    assert f"Applied {TABLES_REVISION} ({NAME}): Shelves and boxes" in applied
    assert TABLES | CORE_TABLES <= table_names(any_url)
    heads = version_ids(any_url)
    assert TABLES_REVISION in heads and "5d2f0a8c91e3" in heads

    assert TABLES_REVISION in jnt("checkdb").stdout
    assert f"{NAME}: models and database agree" in jnt("check").stdout.splitlines()

    reverted = revision_lines(jnt("downgrade", f"{NAME}@base").stderr)
    assert reverted == [f"Reverted {TABLES_REVISION} ({NAME}): Shelves and boxes",
                        f"Reverted {ROOT_REVISION} ({NAME}): Create janitoo_attic branch"]
    tables = table_names(any_url)
    assert not TABLES & tables and CORE_TABLES <= tables
    assert version_ids(any_url) == heads - {TABLES_REVISION}

    jnt("dropdb", "--yes")
    assert table_names(any_url) == set()

    jnt("createdb")
    assert TABLES | CORE_TABLES <= table_names(any_url)
    assert version_ids(any_url) == heads

    # generate: the branch's own drift only, written into the directory the revisions came from,
    # unless pip installed that directory: then nothing is written.
    rows(any_url, "DROP TABLE attic_boxes")
    if kind == "wheel":
        before = sorted(site.version_dir.iterdir())
        refused = site.jnt_dbman("generate", "-m", "Boxes again", "--head", NAME, "-u", any_url)
        assert refused.returncode == 1 and refused.stdout == "", _out(refused)
        # The name as the wheel's METADATA spells it: janitoo-attic or janitoo_attic, by setuptools' version.
        assert re.fullmatch(re.escape(f"Error: refusing to write into {site.version_dir.resolve()}: pip installed "
                                      "files of the distribution janitoo") + "[-_]" + re.escape(
            "attic there (its RECORD lists them); revisions are written in the extension's source checkout "
            "(installed with 'pip install -e')\n"), refused.stderr), refused.stderr
        assert sorted(site.version_dir.iterdir()) == before
        return
    generated = jnt("generate", "-m", "Boxes again", "--head", NAME).stdout
    path = Path(generated.removeprefix("Generated ").strip())
    try:
        assert path.parent == site.version_dir.resolve() and path.name.endswith("_boxes_again.py")
        text = path.read_text()
        assert f"down_revision = {TABLES_REVISION!r}" in text
        assert "op.create_table('attic_boxes'" in text and "attic_shelves'," not in text
        assert "core_" not in text and "template_" not in text
    finally:
        path.unlink()
        for cached in path.parent.glob(f"__pycache__/{path.stem}.*.pyc"):
            cached.unlink()


# -- the order of the places, in-process ----------------------------------------------------------

class RecordedDistribution(Distribution):
    """An installed distribution whose RECORD lists data files, as pip writes it; counts its reads."""

    def __init__(self, site_packages: Path, record: str | None) -> None:
        self.site_packages = site_packages
        self.record = record
        self.reads = 0

    def read_text(self, filename: str) -> str | None:
        if filename == "RECORD":
            self.reads += 1
            return self.record
        return "Metadata-Version: 2.1\nName: attic-order\nVersion: 1.0\n" if filename == "METADATA" else None

    def locate_file(self, path: str | os.PathLike[str]) -> Path:
        return self.site_packages / path


@pytest.fixture
def fresh_lookup() -> Iterator[None]:
    """Forget the version directories looked up so far in this process, before and after."""
    from janitoo_db.site.extensions import _version_dir

    _version_dir.cache_clear()
    yield
    _version_dir.cache_clear()


def _places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, package: str) -> tuple[Path, list[Path]]:
    """A package installed with ``pip install --prefix PREFIX``, and the four places, in order."""
    site = tmp_path / "prefix" / "lib" / "python3" / "site-packages"
    (site / package).mkdir(parents=True)
    (site / package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(site))
    return site, [
        site / package / "models" / NAME,
        site / "models" / NAME,
        site / "config" / "models" / NAME,
        tmp_path / "prefix" / "config" / "models" / NAME,
    ]


RECORD = (f"../../../config/models/{NAME}/{ROOT_REVISION}_create_janitoo_attic_branch.py,sha256=x,10\n"
          f"../../../config/models/{NAME}/__pycache__/{ROOT_REVISION}_create.cpython-311.pyc,,\n"
          "attic_order/__init__.py,sha256=y,0\n")


def test_the_places_are_looked_for_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             fresh_lookup: None) -> None:
    from janitoo_db.site.extensions import Extension, _version_dir

    site, places = _places(tmp_path, monkeypatch, "attic_order")
    distribution = RecordedDistribution(site, RECORD)
    extension = Extension(NAME, "attic_order.models:extend", distribution)
    assert list(extension.search_path()) == places
    for place in places:
        place.mkdir(parents=True)
    for place in places:
        _version_dir.cache_clear()
        assert extension.version_dir() == place.resolve()
        place.rmdir()


def test_the_installed_file_list_is_read_only_when_the_other_places_are_missing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_lookup: None) -> None:
    from janitoo_db.site.extensions import Extension, _version_dir

    site, places = _places(tmp_path, monkeypatch, "attic_lazy")
    distribution = RecordedDistribution(site, RECORD)
    extension = Extension(NAME, "attic_lazy.models:extend", distribution)
    places[2].mkdir(parents=True)
    assert extension.version_dir() == places[2].resolve()
    assert distribution.reads == 0
    places[2].rmdir()
    places[3].mkdir(parents=True)
    _version_dir.cache_clear()
    assert extension.version_dir() == places[3].resolve()
    assert distribution.reads == 1


def test_without_an_installed_file_list_the_data_files_are_looked_for_under_sys_prefix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from janitoo_db.site.extensions import Extension

    site, _ = _places(tmp_path, monkeypatch, "attic_norecord")
    expected = [Path(sys.prefix) / "config" / "models" / NAME]
    recorded = RecordedDistribution(site, None)
    assert Extension(NAME, "attic_norecord.models:extend", recorded).data_files_dirs() == expected
    assert Extension(NAME, "attic_norecord.models:extend", "attic-norecord").data_files_dirs() == expected


def test_a_missing_version_directory_names_every_place_tried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             fresh_lookup: None) -> None:
    from janitoo_db.errors import ExtensionError
    from janitoo_db.site.extensions import Extension

    site, places = _places(tmp_path, monkeypatch, "attic_missing")
    extension = Extension(NAME, "attic_missing.models:extend", RecordedDistribution(site, RECORD))
    with pytest.raises(ExtensionError) as raised:
        extension.version_dir()
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"no version directory for extension {NAME!r} (attic_missing.models:extend, "
                              f"distribution attic-order); start its branch with 'jnt_dbman generate "
                              f"-m \"Create {NAME} branch\" --head {NAME}'; tried: ")
    assert message.endswith("tried: " + ", ".join(str(place) for place in places))
