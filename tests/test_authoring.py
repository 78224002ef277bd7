"""An extension author's loop with jnt_dbman alone (janitoo_db.commands.writing, janitoo_db.history.hooks).

Starting a branch with ``generate``, where the version directory is created,
where ``generate`` refuses to write (installed distributions, janitoo_db's own
branch when it is installed), an autogenerate that finds no change, the
post-write hooks and ``--rev-id``.  Every command runs as the real
``jnt_dbman`` console script, with the extensions of each test first on
PYTHONPATH.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from conftest import subprocess_env, write_extension, write_revision

Proc = Callable[..., subprocess.CompletedProcess[str]]

REPO = Path(__file__).resolve().parent.parent
MODEL = ('class Bed(Base):\n    __tablename__ = "garden_beds"\n\n'
         "    id = sa.Column(sa.Integer, primary_key=True)\n")
CREATE_BEDS = ('op.create_table("garden_beds", sa.Column("id", sa.Integer(), nullable=False), '
               'sa.PrimaryKeyConstraint("id"))')


def env_with(*roots: Path) -> dict[str, str]:
    """The subprocess environment with *roots* first on PYTHONPATH (installed extensions, or a janitoo_db copy)."""
    return subprocess_env(PYTHONPATH=os.pathsep.join([*map(str, roots), subprocess_env()["PYTHONPATH"]]))


def write_package(root: Path, name: str, models: str = "") -> Path:
    """An extension NAME whose package is ROOT/NAME, with no version directory; return the package."""
    package = root / name
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("import sqlalchemy as sa\nfrom janitoo_db.base import Base\n\n" + models
                                         + "\n\ndef extend(jntmodel):\n    pass\n")
    dist = root / f"{name}-1.0.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[janitoo.models]\n{name} = {name}:extend\n")
    return package


def files(directory: Path) -> set[str]:
    """Every file and directory under *directory*, relative to it (staging directories included)."""
    return {str(p.relative_to(directory)) for p in directory.rglob("*")} if directory.exists() else set()


def generated_path(done: subprocess.CompletedProcess[str]) -> Path:
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("Generated ")
    return Path(first.removeprefix("Generated "))


def start_command(name: str) -> str:
    return f"'jnt_dbman generate -m \"Create {name} branch\" --head {name}'"


# -- item 1: starting a branch ---------------------------------------------------------------

def test_generate_starts_a_branch_in_a_missing_version_directory(tmp_path: Path, jnt_dbman: Proc) -> None:
    package = write_package(tmp_path / "ext", "garden", MODEL)
    env = env_with(tmp_path / "ext")
    db = tmp_path / "garden.sqlite"
    url = f"sqlite:///{db}"
    version_dir = package / "models" / "garden"

    # Every command fails, and says how to start the branch.
    heads = jnt_dbman("heads", "-u", url, env=env)
    assert heads.returncode == 1 and heads.stdout == ""
    tried = [version_dir, tmp_path / "ext" / "models" / "garden", tmp_path / "ext" / "config" / "models" / "garden"]
    assert heads.stderr.startswith(
        "Error: no version directory for extension 'garden' (garden:extend, distribution garden); "
        f"start its branch with {start_command('garden')}; tried: {', '.join(map(str, tried))}, ")
    assert len(heads.stderr.splitlines()) == 1

    started = jnt_dbman("generate", "-m", "Create garden branch", "--head", "garden", "-u", url, env=env)
    path = generated_path(started)
    assert path.parent == version_dir and path.name.endswith("_create_garden_branch.py")
    assert started.stderr == f"Started branch garden in the new directory {version_dir}.\n"
    text = path.read_text()
    assert "branch_labels = ('garden',)" in text and "down_revision = None" in text
    assert "op." not in text  # a root changes nothing
    assert files(version_dir) == {path.name}
    assert not db.exists()  # starting a branch does not need the database

    root = path.name.split("_", 1)[0]
    assert f"{root} (garden) (head)" in jnt_dbman("heads", "-u", url, env=env).stdout.splitlines()

    # The next generate compares the models: the branch's first table.
    assert jnt_dbman("initdb", "-q", "-u", url, env=env).returncode == 0
    second = generated_path(jnt_dbman("generate", "-m", "Beds", "--head", "garden", "-u", url, env=env))
    assert second.parent == version_dir
    assert f"down_revision = {root!r}" in second.read_text() and "op.create_table('garden_beds'" in second.read_text()


def test_an_empty_version_directory_says_to_run_generate(tmp_path: Path, jnt_dbman: Proc) -> None:
    version_dir = write_package(tmp_path / "ext", "orchard") / "models" / "orchard"
    version_dir.mkdir(parents=True)
    env = env_with(tmp_path / "ext")
    url = f"sqlite:///{tmp_path / 'orchard.sqlite'}"

    for command in (["heads"], ["initdb"], ["generate", "-m", "Trees", "--head", "janitoo_template"]):
        done = jnt_dbman(*command, "-u", url, env=env)
        assert done.returncode == 1, command
        assert done.stderr == (f"Error: extension 'orchard' (orchard:extend, distribution orchard): {version_dir} "
                               f"holds no revision; start its branch with {start_command('orchard')}\n")

    started = jnt_dbman("generate", "-m", "Create orchard branch", "--head", "orchard@head", "-u", url, env=env)
    assert generated_path(started).parent == version_dir
    assert started.stderr == f"Started branch orchard in {version_dir}.\n"
    assert jnt_dbman("initdb", "-q", "-u", url, env=env).returncode == 0
    assert jnt_dbman("checkdb", "-u", url, env=env).returncode == 0


@pytest.mark.parametrize("layout", ["recommended", "package models", "beside", "original"])
def test_the_new_version_directory_follows_the_project_layout(tmp_path: Path, jnt_dbman: Proc, layout: str) -> None:
    """The first place discovery looks at whose parent the layout already has; discovery then finds it."""
    project = tmp_path / "project"
    root = project / "src" if layout == "original" else project
    package = write_package(root, "acme")
    expected = {
        "recommended": package / "models" / "acme",
        "package models": package / "models" / "acme",
        "beside": root / "models" / "acme",
        "original": root / "config" / "models" / "acme",
    }[layout]
    if layout == "package models":
        (package / "models").mkdir()
        (root / "models").mkdir()  # the package's own models/ comes first
    elif layout != "recommended":
        expected.parent.mkdir(parents=True)
    env = env_with(root)
    url = f"sqlite:///{tmp_path / 'acme.sqlite'}"

    started = jnt_dbman("generate", "-m", "Create acme branch", "--head", "acme", "-u", url, env=env)
    assert generated_path(started).parent == expected
    assert started.stderr == f"Started branch acme in the new directory {expected}.\n"
    printed = jnt_dbman("version_locations", "-u", url, env=env).stdout
    assert str(expected) in printed.removeprefix("version_locations = ").strip().split(os.pathsep)


def test_a_root_that_fails_leaves_no_directory(tmp_path: Path, jnt_dbman: Proc) -> None:
    package = write_package(tmp_path / "ext", "garden")
    before = files(package)
    conf = hook_conf(tmp_path, "fail")
    done = jnt_dbman("generate", "-m", "Create garden branch", "--head", "garden", "-c", str(conf),
                     env=env_with(tmp_path / "ext"))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("Error: post-write hook 'fmt' failed with exit code 3")
    assert files(package) == before  # neither models/ nor models/garden/ stays


def test_starting_a_branch_that_has_revisions_adds_a_revision(tmp_path: Path, jnt_dbman: Proc) -> None:
    """--head NAME of an extension with revisions is an ordinary generate: no second root."""
    root = write_extension(tmp_path / "ext", "garden", [("e10000000001", "")])
    env = env_with(root)
    url = f"sqlite:///{tmp_path / 'g.sqlite'}"
    path = generated_path(jnt_dbman("generate", "--empty", "-m", "Create garden branch", "--head", "garden",
                                    "-u", url, env=env))
    assert "down_revision = 'e10000000001'" in path.read_text() and "branch_labels = None" in path.read_text()


# -- item 2: where generate never writes -----------------------------------------------------

def site_packages(prefix: Path) -> Path:
    return prefix / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def test_generate_refuses_a_version_directory_inside_site_packages(tmp_path: Path, jnt_dbman: Proc) -> None:
    site = site_packages(tmp_path / "venv")
    write_extension(site, "garden", [("e20000000001", "")])
    version_dir = site / "garden" / "models" / "garden"
    env = env_with(site)
    url = f"sqlite:///{tmp_path / 'g.sqlite'}"
    before = files(site)
    advice = "revisions are written in the extension's source checkout (installed with 'pip install -e')"

    done = jnt_dbman("generate", "--empty", "-m", "oops", "--head", "garden", "-u", url, env=env)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (f"Error: refusing to write into {version_dir}: it is part of the installed distribution "
                           f"garden, in {site}; {advice}\n")
    merged = jnt_dbman("merge", "garden@head", "-m", "oops", "-u", url, env=env)
    assert merged.returncode == 1 and merged.stderr.startswith(f"Error: refusing to write into {version_dir}: ")
    assert files(site) == before

    # Installed without revisions: no version directory is created in site-packages either.
    other = site_packages(tmp_path / "other")
    write_package(other, "orchard")
    before = files(other)
    done = jnt_dbman("generate", "-m", "Create orchard branch", "--head", "orchard", "-u", url, env=env_with(other))
    assert done.returncode == 1
    assert done.stderr == (f"Error: refusing to write into {other / 'orchard' / 'models' / 'orchard'}: it is part "
                           f"of the installed distribution orchard, in {other}; {advice}\n")
    assert files(other) == before


@pytest.fixture
def janitoo_db_copy(tmp_path: Path) -> Callable[[Path], Path]:
    """Copy the janitoo_db package under a directory; put that first on PYTHONPATH to run the copy."""
    def copy(parent: Path) -> Path:
        shutil.copytree(REPO / "janitoo_db", parent / "janitoo_db",
                        ignore=shutil.ignore_patterns("__pycache__", ".jnt_dbman-*"))
        return parent / "janitoo_db" / "models" / "janitoo"
    return copy


def test_without_head_generate_refuses_an_installed_janitoo_db(
        tmp_path: Path, jnt_dbman: Proc, janitoo_db_copy: Callable[[Path], Path]) -> None:
    site = site_packages(tmp_path / "venv")
    core_dir = janitoo_db_copy(site)
    ext = write_extension(tmp_path / "ext", "garden", [("e30000000001", "")])
    env = env_with(site, ext)
    url = f"sqlite:///{tmp_path / 'g.sqlite'}"
    before = files(core_dir)
    printed = jnt_dbman("version_locations", "-u", url, env=env).stdout
    assert printed.removeprefix("version_locations = ").split(os.pathsep)[0] == str(core_dir)

    # From a directory in no branch's project, with garden, acme_sensors and janitoo_template in source
    # trees: which one is meant cannot be told, and the installed core is not among those listed.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = jnt_dbman("generate", "-m", "oops", "--empty", "-u", url, env=env, cwd=elsewhere)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == ("Error: --head NAME is required: several branches are in source trees (acme_sensors, "
                           "garden, janitoo_template), and the current directory is in none of their projects; "
                           "name one, or run generate from its project's directory\n")
    named = jnt_dbman("generate", "-m", "oops", "--empty", "--head", "janitoo", "-u", url, env=env)
    assert named.returncode == 1 and named.stderr.startswith(f"Error: refusing to write into {core_dir}: ")
    assert files(core_dir) == before

    # Nothing landed in the core branch, so the extension's next revision is written as usual.
    path = generated_path(jnt_dbman("generate", "-m", "fine", "--empty", "--head", "garden", "-u", url, env=env))
    assert path.parent == ext / "garden" / "models" / "garden"


def test_without_head_generate_writes_into_a_source_checkout_of_janitoo_db(
        tmp_path: Path, jnt_dbman: Proc, janitoo_db_copy: Callable[[Path], Path]) -> None:
    core_dir = janitoo_db_copy(tmp_path / "checkout")
    env = env_with(tmp_path / "checkout")
    done = jnt_dbman("generate", "-m", "Core change", "--empty", "-u", f"sqlite:///{tmp_path / 'c.sqlite'}",
                     env=env, cwd=tmp_path / "checkout")
    path = generated_path(done)
    assert path.parent == core_dir and "down_revision = '5d2f0a8c91e3'" in path.read_text()
    assert done.stderr == ("Note: generating for janitoo: it is the only branch in a source tree at or under the "
                           "current directory; --head NAME names another branch.\n")


def test_without_head_generate_writes_for_the_project_of_the_current_directory(
        tmp_path: Path, jnt_dbman: Proc) -> None:
    """janitoo_db is an editable install too (the README's set-up): from garden's checkout, garden is meant."""
    root = write_extension(tmp_path / "ext", "garden", [("e60000000001", "")], models=MODEL)
    (root / "pyproject.toml").write_text('[project]\nname = "Garden"\nversion = "1.0"\n')
    version_dir = root / "garden" / "models" / "garden"
    env = env_with(root)
    url = f"sqlite:///{tmp_path / 'g.sqlite'}"
    assert jnt_dbman("initdb", "-q", "-u", url, env=env).returncode == 0

    done = jnt_dbman("generate", "-m", "Beds", "-u", url, env=env, cwd=root / "garden")
    path = generated_path(done)
    assert path.parent == version_dir and "op.create_table('garden_beds'" in path.read_text()
    assert done.stderr == (f"Note: generating for garden: the current directory is in the project of Garden "
                           f"({root}); --head NAME names another branch.\n")


def test_an_autogenerate_without_change_writes_nothing(tmp_path: Path, jnt_dbman: Proc) -> None:
    root = write_extension(tmp_path / "ext", "garden", [("e40000000001", ""), ("e40000000002", CREATE_BEDS)],
                           models=MODEL)
    version_dir = root / "garden" / "models" / "garden"
    env = env_with(root)
    url = f"sqlite:///{tmp_path / 'g.sqlite'}"
    assert jnt_dbman("initdb", "-q", "-u", url, env=env).returncode == 0
    before = files(version_dir)

    done = jnt_dbman("generate", "-m", "Nothing new", "--head", "garden", "-u", url, env=env)
    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr == "No change in the tables of garden: no revision written (--empty writes one anyway).\n"
    assert files(version_dir) == before

    path = generated_path(jnt_dbman("generate", "-m", "Nothing new", "--head", "garden", "--empty", "-u", url,
                                    env=env))
    assert path.parent == version_dir and "down_revision = 'e40000000002'" in path.read_text()


# -- item 4: post-write hooks and --rev-id ----------------------------------------------------

HOOK = '''\
import sys
from pathlib import Path

mode, path = sys.argv[1], Path(sys.argv[2])
Path(sys.argv[3]).write_text(str(path))  # where it ran
if mode == "fail":
    print("fmt: cannot format", path.name, file=sys.stderr)
    sys.exit(3)
path.write_text(path.read_text() + ("\\ndef broken(:\\n" if mode == "break" else "\\n# formatted\\n"))
'''


def hook_script(tmp_path: Path) -> Path:
    script = tmp_path / "hook.py"
    script.write_text(HOOK)
    return script


def hook_conf(tmp_path: Path, mode: str, url: str | None = None) -> Path:
    """A janitoo conf whose [database] section runs hook.py in *mode* on every revision written."""
    conf = tmp_path / f"{mode}.conf"
    conf.write_text(
        "[database]\n"
        f"sqlalchemy.url = {url or 'sqlite:///%(here)s/hooked.sqlite'}\n"
        "hooks = fmt\n"
        "fmt.type = exec\n"
        f"fmt.executable = {sys.executable}\n"
        f"fmt.options = {hook_script(tmp_path)} {mode} REVISION_SCRIPT_FILENAME %(here)s/{mode}.ran\n")
    return conf


@pytest.fixture
def garden(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """An extension garden of one revision, installed; its version directory."""
    root = write_extension(tmp_path / "ext", "garden", [("e50000000001", "")])
    return root / "garden" / "models" / "garden", env_with(root)


def test_conf_file_hooks_run_on_the_staged_file(tmp_path: Path, jnt_dbman: Proc,
                                                garden: tuple[Path, dict[str, str]]) -> None:
    version_dir, env = garden
    conf = hook_conf(tmp_path, "format")
    done = jnt_dbman("generate", "-m", "Hooked", "--empty", "--head", "garden", "-c", str(conf), env=env)
    path = generated_path(done)
    assert done.stderr == "Ran the post-write hooks fmt on it.\n"
    assert path.read_text().endswith("\n# formatted\n")
    ran = Path((tmp_path / "format.ran").read_text())
    assert ran.name == path.name and ran.parent.parent == version_dir
    assert ran.parent.name.startswith(".jnt_dbman-writing-")  # before it was moved in
    assert files(version_dir) == {"e50000000001_step_0.py", path.name}


@pytest.mark.parametrize("mode, error", [
    ("fail", "Error: post-write hook 'fmt' failed with exit code 3 (fmt: cannot format {name}); nothing was written"),
    ("break", "Error: the revision Alembic rendered is not valid Python after the post-write hooks fmt "
              "(line 26: invalid syntax); nothing was written"),
])
def test_a_failing_hook_writes_nothing(tmp_path: Path, jnt_dbman: Proc, garden: tuple[Path, dict[str, str]],
                                       mode: str, error: str) -> None:
    version_dir, env = garden
    conf = hook_conf(tmp_path, mode)
    before = files(version_dir)
    done = jnt_dbman("generate", "-m", "Hooked", "--empty", "--head", "garden", "-c", str(conf), env=env)
    assert done.returncode == 1 and done.stdout == ""
    name = Path((tmp_path / f"{mode}.ran").read_text()).name
    assert done.stderr == error.format(name=name) + "\n"
    assert files(version_dir) == before


def test_pyproject_hooks_and_the_conf_file_replacing_them(tmp_path: Path, jnt_dbman: Proc,
                                                          garden: tuple[Path, dict[str, str]]) -> None:
    version_dir, env = garden
    (tmp_path / "ext" / "pyproject.toml").write_text(
        '[project]\nname = "garden"\n\n'
        "[[tool.janitoo_db.post_write_hooks]]\n"
        'name = "stamp"\ntype = "exec"\n'
        f"executable = {str(sys.executable)!r}\n"
        f"options = '{hook_script(tmp_path)} format REVISION_SCRIPT_FILENAME {tmp_path / 'project.ran'}'\n")
    url = f"sqlite:///{tmp_path / 'g.sqlite'}"
    done = jnt_dbman("generate", "-m", "Project hook", "--empty", "--head", "garden", "-u", url, env=env)
    assert generated_path(done).read_text().endswith("\n# formatted\n")
    assert done.stderr == "Ran the post-write hooks stamp on it.\n"

    # A -c file that names hooks replaces the project's.
    conf = hook_conf(tmp_path, "fail", url)
    (tmp_path / "project.ran").unlink()
    failed = jnt_dbman("generate", "-m", "Conf hook", "--empty", "--head", "garden", "-c", str(conf), env=env)
    assert failed.returncode == 1 and "post-write hook 'fmt' failed" in failed.stderr
    assert not (tmp_path / "project.ran").exists()
    # An empty list turns the project's hooks off.
    off = tmp_path / "off.conf"
    off.write_text(f"[database]\nsqlalchemy.url = {url}\nhooks =\n")
    done = jnt_dbman("generate", "-m", "No hook", "--empty", "--head", "garden", "-c", str(off), env=env)
    assert "# formatted" not in generated_path(done).read_text() and done.stderr == ""
    assert not (tmp_path / "project.ran").exists()

    # Broken hook configurations are one line each, and nothing is written.
    before = files(version_dir)
    (tmp_path / "ext" / "pyproject.toml").write_text('[tool.janitoo_db]\npost_write_hooks = "ruff"\n')
    bad = jnt_dbman("generate", "-m", "x", "--empty", "--head", "garden", "-u", url, env=env)
    assert bad.returncode == 1 and bad.stderr == (
        f"Error: {tmp_path / 'ext' / 'pyproject.toml'}: tool.janitoo_db.post_write_hooks must be an array of "
        "tables, each with a name ([[tool.janitoo_db.post_write_hooks]])\n")
    (tmp_path / "ext" / "pyproject.toml").write_text('[[tool.janitoo_db.post_write_hooks]]\nname = "fmt"\n')
    untyped = jnt_dbman("generate", "-m", "x", "--empty", "--head", "garden", "-u", url, env=env)
    assert untyped.returncode == 1 and untyped.stderr.startswith("Error: post-write hook 'fmt' (")
    assert "has no type: use exec, module, console_scripts" in untyped.stderr
    missing = tmp_path / "missing.conf"
    missing.write_text(f"[database]\nsqlalchemy.url = {url}\nhooks = fmt\nfmt.type = exec\n"
                       f"fmt.executable = {tmp_path / 'no-such-formatter'}\n")
    absent = jnt_dbman("generate", "-m", "x", "--empty", "--head", "garden", "-c", str(missing), env=env)
    assert absent.returncode == 1 and absent.stderr == (
        f"Error: post-write hook 'fmt' cannot run {tmp_path / 'no-such-formatter'}: No such file or directory; "
        "nothing was written\n")
    assert files(version_dir) == before


def test_a_module_hook_runs_with_this_interpreter(tmp_path: Path, jnt_dbman: Proc,
                                                  garden: tuple[Path, dict[str, str]]) -> None:
    _, env = garden
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "stampfmt.py").write_text(
        "import sys\nopen(sys.argv[1], 'a').write('# stamped by a module\\n')\n")
    env["PYTHONPATH"] = os.pathsep.join([str(modules), env["PYTHONPATH"]])
    conf = tmp_path / "module.conf"
    conf.write_text(f"[database]\nsqlalchemy.url = sqlite:///{tmp_path / 'g.sqlite'}\n"
                    "hooks = stamp\nstamp.type = module\nstamp.module = stampfmt\n")
    path = generated_path(jnt_dbman("generate", "-m", "Stamped", "--empty", "--head", "garden", "-c", str(conf),
                                    env=env))
    assert path.read_text().endswith("# stamped by a module\n")


def test_merge_runs_the_hooks_and_takes_a_rev_id(tmp_path: Path, jnt_dbman: Proc) -> None:
    root = write_extension(tmp_path / "ext", "forked", [("e60000000001", ""), ("e60000000002", "")])
    directory = root / "forked" / "models" / "forked"
    write_revision(directory, "e60000000003", "e60000000001", "Other")
    env = env_with(root)
    conf = hook_conf(tmp_path, "format")
    done = jnt_dbman("merge", "e60000000002", "e60000000003", "-m", "Join", "--rev-id", "forked_join",
                     "-c", str(conf), env=env)
    path = generated_path(done)
    assert path == directory / "forked_join_join.py" and path.read_text().endswith("\n# formatted\n")
    assert "revision = 'forked_join'" in path.read_text()
    assert done.stderr == "Ran the post-write hooks fmt on it.\n"


def test_rev_id(tmp_path: Path, jnt_dbman: Proc, garden: tuple[Path, dict[str, str]]) -> None:
    version_dir, env = garden
    url = f"sqlite:///{tmp_path / 'g.sqlite'}"
    path = generated_path(jnt_dbman("generate", "-m", "Chosen", "--empty", "--head", "garden",
                                    "--rev-id", "e5_chosen", "-u", url, env=env))
    assert path == version_dir / "e5_chosen_chosen.py"
    assert re.search(r"^revision = 'e5_chosen'$", path.read_text(), re.M)
    before = files(version_dir)

    for rev_id, error in [
        ("e5_chosen", f"revision id e5_chosen exists already ({path}); nothing was written"),
        ("5d2f0a8c91e3", "revision id 5d2f0a8c91e3 exists already ("
                         f"{REPO / 'janitoo_db' / 'models' / 'janitoo' / '5d2f0a8c91e3_store_settings_as_json.py'})"
                         "; nothing was written"),
        ("../escape", "'../escape' cannot be a revision id: use letters, digits and '_', at most 32 characters"),
        ("x" * 33, f"'{'x' * 33}' cannot be a revision id: use letters, digits and '_', at most 32 characters"),
        ("garden", "'garden' cannot be a revision id: it is the name of a branch"),
    ]:
        done = jnt_dbman("generate", "-m", "Again", "--empty", "--head", "garden", "--rev-id", rev_id, "-u", url,
                         env=env)
        assert (done.returncode, done.stdout, done.stderr) == (1, "", f"Error: {error}\n"), rev_id
    # A prefix of an existing id is not that id.
    prefix = generated_path(jnt_dbman("generate", "-m", "Prefix", "--empty", "--head", "garden",
                                      "--rev-id", "e5", "-u", url, env=env))
    assert prefix.name == "e5_prefix.py"
    assert files(version_dir) == before | {prefix.name}
