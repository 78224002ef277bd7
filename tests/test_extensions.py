"""Finding extensions and their version directories, and the errors a broken one gives.

janitoo_db.models is loaded once per process, so every case that changes the
set of installed extensions runs jnt_dbman in a subprocess whose PYTHONPATH
holds extensions built in tmp_path (a package, a ``*.dist-info`` with its
``janitoo.models`` entry point, and a version directory).  The rules of
:mod:`janitoo_db.site.extensions` that need no import run in-process.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import textwrap
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Callable

import pytest

from conftest import EXTENSIONS_DIR, revision_lines, subprocess_env, write_revision
from dbstate import table_names

Jnt = Callable[..., subprocess.CompletedProcess]
HEADS = {"5d2f0a8c91e3", "2b3c4d5e6f70", "c3e9b5a1d274"}


def rev_id(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()[:12]


def make_extension(root: Path, name: str, *, package: str | None = None, dist: str | None = None,
                   layout: str = "inside", label: str | None = None, revision: str | None = None,
                   schema: str | None = None) -> Path:
    """Write extension NAME under *root* (put *root* on PYTHONPATH to install it).

    *layout* is ``inside`` (``PKG/models/NAME/``), ``beside`` (``models/NAME/``
    next to the package) or ``none``; *label* is the branch root's label.
    """
    package = package or f"{name}_pkg"
    dist = dist or f"{name}-dist"
    table = f"{name}_items"
    pkg_dir = root / package
    pkg_dir.mkdir(parents=True)
    (pkg_dir / "__init__.py").write_text("")
    (pkg_dir / "schema.py").write_text(schema if schema is not None else textwrap.dedent(f"""\
        import sqlalchemy as sa
        from sqlalchemy.orm import Mapped, mapped_column

        from janitoo_db.base import Base


        class {name.title().replace('_', '')}Item(Base):
            __tablename__ = {table!r}

            id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)


        def extend(jntmodel):
            jntmodel.{name.title().replace('_', '')}Item = {name.title().replace('_', '')}Item
        """))
    dist_info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(f"[janitoo.models]\n{name} = {package}.schema:extend\n")
    if layout == "none":
        return root
    versions = pkg_dir / "models" / name if layout == "inside" else root / "models" / name
    versions.mkdir(parents=True)
    revision = revision or rev_id(name)
    (versions / f"{revision}_create_{name}.py").write_text(textwrap.dedent(f'''\
        """Create {name}"""
        import sqlalchemy as sa
        from alembic import op

        revision = {revision!r}
        down_revision = None
        branch_labels = ({(label or name)!r},)
        depends_on = None


        def upgrade():
            op.create_table({table!r}, sa.Column("id", sa.Integer(), primary_key=True))


        def downgrade():
            op.drop_table({table!r})
        '''))
    return root


def env_with(*roots: Path) -> dict[str, str]:
    """A subprocess environment with *roots* and the tests' own extension installed."""
    return subprocess_env(PYTHONPATH=os.pathsep.join([*(str(r) for r in roots), str(EXTENSIONS_DIR)]))


def error_line(done: subprocess.CompletedProcess) -> str:
    """The one ``Error: `` line of a failed run, with no traceback."""
    assert done.returncode == 1, (done.stdout, done.stderr)
    err = done.stderr.splitlines()
    assert len(err) == 1, done.stderr
    assert err[0].startswith("Error: ")
    assert "Traceback" not in done.stderr
    return err[0]


# -- the two version-directory rules, end to end ----------------------------------

def test_both_version_directory_rules_end_to_end(tmp_path: Path, jnt_dbman: Jnt) -> None:
    """Rule (a) PKG/models/NAME inside a wheel-like install, rule (b) models/NAME beside a checkout."""
    site = make_extension(tmp_path / "site-packages", "wheelish")
    checkout = make_extension(tmp_path / "checkout", "editable", layout="beside")
    env = env_with(site, checkout)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"

    done = jnt_dbman("version_locations", "-u", url, env=env)
    assert done.returncode == 0, done.stderr
    locations = done.stdout.removeprefix("version_locations = ").rstrip("\n").split(os.pathsep)
    assert str(site / "wheelish_pkg" / "models" / "wheelish") in locations
    assert str(checkout / "models" / "editable") in locations

    done = jnt_dbman("initdb", "-u", url, env=env)
    assert done.returncode == 0, done.stderr
    err = revision_lines(done.stderr)
    assert f"Applied {rev_id('wheelish')} (wheelish): Create wheelish" in err
    assert f"Applied {rev_id('editable')} (editable): Create editable" in err
    made = table_names(tmp_path / "db.sqlite", bookkeeping=False, sqlite_internal=True)
    assert {"wheelish_items", "editable_items", "acme_readings", "core_users"} <= made


# -- errors a broken extension gives, end to end -------------------------------------

def test_no_version_directory_names_the_extension_and_the_paths_tried(tmp_path: Path, jnt_dbman: Jnt) -> None:
    root = make_extension(tmp_path / "site", "lost", layout="none")
    line = error_line(jnt_dbman("heads", "-u", f"sqlite:///{tmp_path / 'db.sqlite'}", env=env_with(root)))
    assert "'lost'" in line and "lost-dist" in line
    assert str(root / "lost_pkg" / "models" / "lost") in line
    assert str(root / "models" / "lost") in line


def test_a_branch_root_labelled_otherwise(tmp_path: Path, jnt_dbman: Jnt) -> None:
    root = make_extension(tmp_path / "site", "mislabelled", label="wrong_label")
    line = error_line(jnt_dbman("heads", "-u", f"sqlite:///{tmp_path / 'db.sqlite'}", env=env_with(root)))
    assert "'mislabelled'" in line and "mislabelled-dist" in line
    assert "wrong_label" in line and rev_id("mislabelled") in line


def test_a_revision_for_another_branch_in_an_extensions_directory(tmp_path: Path, jnt_dbman: Jnt) -> None:
    """An extension may not grow the core's branch from its own directory: it would outlive its uninstall."""
    root = make_extension(tmp_path / "site", "grafter")
    versions = root / "grafter_pkg" / "models" / "grafter"
    write_revision(versions, "e40000000001", "5d2f0a8c91e3", "Extra core table",
                   filename="e40000000001_core_extra.py")
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    for command in (["heads"], ["initdb"], ["checkdb"]):
        line = error_line(jnt_dbman(*command, "-u", url, env=env_with(root)))
        assert line == (f"Error: extension 'grafter' (grafter_pkg.schema:extend, distribution grafter-dist): "
                        f"{versions} holds revision e40000000001 (e40000000001_core_extra.py) of branch janitoo; "
                        "every revision there must belong to 'grafter'")
    assert not (tmp_path / "db.sqlite").exists()


def test_two_distributions_claiming_one_name(tmp_path: Path, jnt_dbman: Jnt) -> None:
    first = make_extension(tmp_path / "one", "dup", package="dup_one", dist="dup-one")
    second = make_extension(tmp_path / "two", "dup", package="dup_two", dist="dup-two")
    line = error_line(jnt_dbman("heads", "-u", f"sqlite:///{tmp_path / 'db.sqlite'}", env=env_with(first, second)))
    assert "'dup'" in line
    assert "dup-one" in line and "dup-two" in line
    assert "dup_one.schema:extend" in line and "dup_two.schema:extend" in line


def test_an_extension_claiming_the_core_name(tmp_path: Path, jnt_dbman: Jnt) -> None:
    root = make_extension(tmp_path / "site", "janitoo", package="usurper", dist="usurper-dist")
    line = error_line(jnt_dbman("heads", "-u", f"sqlite:///{tmp_path / 'db.sqlite'}", env=env_with(root)))
    assert "'janitoo'" in line and "usurper-dist" in line and "janitoo_db" in line


def test_a_revision_id_appearing_twice(tmp_path: Path, jnt_dbman: Jnt) -> None:
    """An extension reusing the core's root id must not silently replace it.

    Like every version-directory error, the message names the extension and
    its distribution, not only the directories.
    """
    root = make_extension(tmp_path / "site", "twin", revision="3b5854d25914")
    line = error_line(jnt_dbman("heads", "-u", f"sqlite:///{tmp_path / 'db.sqlite'}", env=env_with(root)))
    assert "3b5854d25914" in line
    assert str(root / "twin_pkg" / "models" / "twin") in line
    assert "'twin'" in line and "twin-dist" in line


def test_an_extension_whose_import_fails(tmp_path: Path, jnt_dbman: Jnt) -> None:
    """Commands that load the models say so in one line naming the extension and its distribution;
    running revisions does not import models, so initdb is not blocked by it."""
    root = make_extension(tmp_path / "site", "broken", schema="1 / 0\n\ndef extend(jntmodel):\n    pass\n")
    db = tmp_path / "db.sqlite"
    url = f"sqlite:///{db}"

    def says_broken(*command: str) -> None:
        line = error_line(jnt_dbman(*command, "-u", url, env=env_with(root)))
        assert "'broken'" in line and "broken-dist" in line and "ZeroDivisionError" in line, (command, line)

    says_broken("createdb")
    assert table_names(db, bookkeeping=False, sqlite_internal=True) <= {"alembic_version"}
    if "alembic_version" in table_names(db, bookkeeping=False, sqlite_internal=True):
        connection = sqlite3.connect(db)
        assert connection.execute("SELECT * FROM alembic_version").fetchall() == []
        connection.close()

    assert jnt_dbman("initdb", "-q", "-u", url, env=env_with(root)).returncode == 0
    assert "broken_items" in table_names(db)
    says_broken("check")
    says_broken("generate", "-m", "x", "--head", "broken")
    assert list((root / "broken" / "models" / "broken").glob("*_x.py")) == []

    done = jnt_dbman("--debug", "createdb", "-u", f"sqlite:///{tmp_path / 'other.sqlite'}", env=env_with(root))
    assert done.returncode != 0
    assert "Traceback" in done.stderr and "ZeroDivisionError" in done.stderr


# -- the rules in-process --------------------------------------------------------------

def test_the_package_s_own_models_directory_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With both PKG/models/NAME and models/NAME beside PKG, rule (a) is used."""
    from janitoo_db.site.extensions import Extension

    root = make_extension(tmp_path / "both", "both_rules")
    (root / "models" / "both_rules").mkdir(parents=True)
    monkeypatch.syspath_prepend(str(root))
    extension = Extension("both_rules", "both_rules_pkg.schema:extend", "both-dist")
    inside = root / "both_rules_pkg" / "models" / "both_rules"
    assert extension.candidate_dirs() == [inside, root / "models" / "both_rules"]
    assert extension.version_dir() == inside.resolve()


def test_the_project_root_directory_is_the_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from janitoo_db.site.extensions import Extension

    root = make_extension(tmp_path / "checkout", "fallback", layout="beside")
    monkeypatch.syspath_prepend(str(root))
    extension = Extension("fallback", "fallback_pkg.schema:extend", "fallback-dist")
    assert extension.version_dir() == (root / "models" / "fallback").resolve()


def test_the_shipped_branches_follow_the_rules() -> None:
    """The core is found inside janitoo_db (rule a), janitoo_template beside its package (rule b)."""
    from janitoo_db.site.extensions import discover

    found = {extension.name: extension for extension in discover()}
    repo = Path(__file__).resolve().parent.parent
    assert found["janitoo"].version_dir() == repo / "janitoo_db" / "models" / "janitoo"
    assert found["janitoo_template"].version_dir() == repo / "models" / "janitoo_template"
    assert found["acme_sensors"].version_dir() == EXTENSIONS_DIR / "acme_sensors" / "models" / "acme_sensors"


def test_a_package_that_cannot_be_found(tmp_path: Path) -> None:
    from janitoo_db.errors import ExtensionError
    from janitoo_db.site.extensions import Extension

    extension = Extension("ghost", "ghost_pkg_not_installed.schema:extend", "ghost-dist")
    with pytest.raises(ExtensionError, match=r"'ghost_pkg_not_installed'.*'ghost'.*ghost-dist"):
        extension.version_dir()


def _entry_point(name: str, value: str, dist: str | None) -> SimpleNamespace:
    return SimpleNamespace(name=name, value=value,
                           dist=None if dist is None else SimpleNamespace(metadata={"Name": dist}))


def test_discover_puts_the_core_first_then_sorts_by_name() -> None:
    from janitoo_db.site.extensions import discover

    found = discover([
        _entry_point("zeta", "zeta.schema:extend", "zeta-dist"),
        _entry_point("alpha", "alpha.schema : extend", "alpha-dist"),
        _entry_point("zeta", "zeta.schema:extend", "zeta-dist"),  # seen twice through two paths: once
    ])
    assert [(e.name, e.target, e.distribution) for e in found] == [
        ("janitoo", "janitoo_db.models.core:extend", "janitoo_db"),
        ("alpha", "alpha.schema:extend", "alpha-dist"),
        ("zeta", "zeta.schema:extend", "zeta-dist"),
    ]
    assert found[1].package == "alpha" and found[1].module == "alpha.schema"


def test_discover_with_real_entry_point_objects() -> None:
    from importlib.metadata import EntryPoint

    from janitoo_db.site.extensions import ENTRY_POINT_GROUP, discover

    found = discover([EntryPoint("solo", "solo_pkg.schema:extend", ENTRY_POINT_GROUP)])
    assert [e.name for e in found] == ["janitoo", "solo"]
    assert found[1].distribution == "unknown distribution"


def test_discover_refuses_two_claims_on_one_name() -> None:
    from janitoo_db.errors import ExtensionError
    from janitoo_db.site.extensions import discover

    with pytest.raises(ExtensionError) as raised:
        discover([_entry_point("dup", "a.schema:extend", "dist-a"), _entry_point("dup", "b.schema:extend", "dist-b")])
    message = str(raised.value)
    assert "'dup'" in message and "dist-a" in message and "dist-b" in message and "\n" not in message
    with pytest.raises(ExtensionError, match="'janitoo'"):
        discover([_entry_point("janitoo", "other.schema:extend", "other-dist")])


def test_load_models_reports_failures_by_extension(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Import errors, a failing extend() and a non-callable target each name the extension."""
    from janitoo_db.errors import ExtensionError
    from janitoo_db.models.loading import load_models
    from janitoo_db.site.extensions import Extension

    package = tmp_path / "loadcheck_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "failing.py").write_text("def extend(jntmodel):\n    raise ValueError('bad model')\n")
    (package / "empty.py").write_text("NOT_CALLABLE = 3\n\ndef extend(jntmodel):\n    jntmodel.Marker = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    target = ModuleType("fake_models")

    owned = load_models(target, [Extension("empty", "loadcheck_pkg.empty:extend", "empty-dist")])
    assert owned == {"empty": ()} and target.Marker == 42
    with pytest.raises(ExtensionError, match=r"'failing'.*failing-dist.*extend\(\).*ValueError: bad model"):
        load_models(target, [Extension("failing", "loadcheck_pkg.failing:extend", "failing-dist")])
    with pytest.raises(ExtensionError, match=r"'nomod'.*nomod-dist.*ModuleNotFoundError"):
        load_models(target, [Extension("nomod", "loadcheck_pkg.nosuchmodule:extend", "nomod-dist")])
    with pytest.raises(ExtensionError, match=r"'notcallable'.*callable"):
        load_models(target, [Extension("notcallable", "loadcheck_pkg.empty:NOT_CALLABLE", "x-dist")])


# -- names Alembic would read as something else than a branch ---------------------------------

REFUSED_NAMES = ["base", "head", "heads", "current", "Base", "HEAD", "Heads", "CURRENT", "sensor-2", "a-0b"]


@pytest.mark.parametrize("name", REFUSED_NAMES)
def test_discover_refuses_names_alembic_reads_as_symbols(name: str) -> None:
    from janitoo_db.errors import ExtensionError
    from janitoo_db.site.extensions import discover

    with pytest.raises(ExtensionError) as raised:
        discover([_entry_point("fine", "fine.schema:extend", "fine-dist"),
                  _entry_point(name, "odd_pkg.schema:extend", "odd-dist")])
    message = str(raised.value)
    assert message.startswith(f"the extension name {name!r} (odd_pkg.schema:extend, distribution odd-dist) "
                              "cannot be a branch label: "), message
    assert "\n" not in message


@pytest.mark.parametrize("name", ["base_station", "headless", "current_meter", "my-ext", "v2", "x.y", "heads_up"])
def test_discover_accepts_names_that_only_contain_a_symbol(name: str) -> None:
    from janitoo_db.site.extensions import discover

    assert [e.name for e in discover([_entry_point(name, "ok_pkg.schema:extend", "ok-dist")])] == ["janitoo", name]


@pytest.mark.parametrize("name", ["base", "heads", "Head"])
def test_every_command_refuses_an_extension_named_like_a_symbol(tmp_path: Path, jnt_dbman: Jnt, name: str) -> None:
    root = make_extension(tmp_path / "site", name, package="symbolic", dist="symbolic-dist")
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    for command in (["collect"], ["heads", "-u", url], ["checkdb", "-u", url], ["initdb", "-u", url],
                    ["generate", "--head", name, "-m", "more", "-u", url],
                    ["generate", "--head", name.lower(), "-m", "more", "-u", url]):
        done = jnt_dbman(*command, env=env_with(root))
        line = error_line(done)
        assert line.startswith(f"Error: the extension name {name!r} (symbolic.schema:extend, "
                               "distribution symbolic-dist) cannot be a branch label: "), (command, line)
        assert "Multiple heads" not in done.stderr
    assert not (tmp_path / "db.sqlite").exists()
    assert [p.name for p in (root / "symbolic" / "models" / name).iterdir()] == [f"{rev_id(name)}_create_{name}.py"]
