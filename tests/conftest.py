"""Shared fixtures: the tests' own extension, CLI runners and throw-away databases.

``tests/extensions`` holds ``acme_sensors``, a third-party extension with its
own distribution metadata (a ``*.dist-info`` directory), branch and version
directory, one of whose revisions depends on a core revision.  It is put on
``sys.path`` before janitoo_db.models is first imported, and on PYTHONPATH for
subprocesses, so every test sees it as an installed extension.

Server tests get a database created for them on PostgreSQL (127.0.0.1:5432,
user postgres) or MariaDB (127.0.0.1:3306, user root) and dropped afterwards.
Without a server, or without its driver (psycopg, PyMySQL), they skip with the
reason, unless JANITOO_DB_REQUIRE_SERVERS=1 (set by CI), which turns the skip
into a failure.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest
from click.testing import CliRunner, Result

pytest_plugins = ["pytester"]

TESTS_DIR = Path(__file__).resolve().parent
EXTENSIONS_DIR = TESTS_DIR / "extensions"
REQUIRE_SERVERS = os.environ.get("JANITOO_DB_REQUIRE_SERVERS") == "1"
POSTGRESQL_ADMIN_URL = os.environ.get("JANITOO_TEST_POSTGRESQL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
MYSQL_ADMIN_URL = os.environ.get("JANITOO_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306/")

if str(EXTENSIONS_DIR) not in sys.path:
    sys.path.insert(0, str(EXTENSIONS_DIR))


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a jnt_dbman subprocess: the tests' extension on the path."""
    env = dict(os.environ)
    env.pop("JANITOO_DB_URL", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(EXTENSIONS_DIR), env.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


@pytest.fixture(autouse=True, scope="session")
def revision_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The revision cache of the whole run (in-process and subprocesses), never the user's own."""
    directory = tmp_path_factory.mktemp("revision-cache")
    saved = os.environ.get("JANITOO_DB_CACHE_DIR")
    os.environ["JANITOO_DB_CACHE_DIR"] = str(directory)
    yield directory
    if saved is None:
        os.environ.pop("JANITOO_DB_CACHE_DIR", None)
    else:
        os.environ["JANITOO_DB_CACHE_DIR"] = saved


def jnt_dbman_path() -> str:
    """The installed console script, next to this interpreter."""
    candidate = Path(sys.executable).parent / "jnt_dbman"
    found = str(candidate) if candidate.exists() else shutil.which("jnt_dbman")
    if not found:
        pytest.fail("the jnt_dbman console script is not installed; run the README's set-up command")
    return found


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file of this test's own (not created yet)."""
    return f"sqlite:///{tmp_path / 'janitoo.sqlite'}"


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run ``jnt_dbman ARGS`` in-process with click's CliRunner; stdout and stderr apart."""
    from janitoo_db.cli import main

    monkeypatch.delenv("JANITOO_DB_URL", raising=False)

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(main, list(args), input=input, env=env, catch_exceptions=False,
                                  prog_name="jnt_dbman")

    return run


@pytest.fixture
def jnt_dbman() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the installed ``jnt_dbman`` as a real subprocess."""
    script = jnt_dbman_path()

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
            input: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([script, *args], capture_output=True, text=True, timeout=timeout,
                              env=env or subprocess_env(), input=input if input is not None else "", cwd=cwd)

    return run


def _cannot_test(reason: str) -> None:
    """Skip, with *reason*; fail instead under JANITOO_DB_REQUIRE_SERVERS=1 (CI), where a skip would hide a gap."""
    if REQUIRE_SERVERS:
        pytest.fail(reason + "; JANITOO_DB_REQUIRE_SERVERS=1 forbids skipping")
    pytest.skip(reason)


def _server_unavailable(what: str, error: Exception) -> None:
    _cannot_test(f"{what} is not reachable ({type(error).__name__}: {str(error).splitlines()[0]})")


#: A driver module the server tests need: the distribution that provides it and the extra that installs it.
DRIVER_EXTRAS = {"psycopg": ("psycopg", "postgresql"), "pymysql": ("PyMySQL", "mysql")}


def _require_driver(admin_url: str) -> None:
    """Skip with the way out when *admin_url*'s driver is not installed (rather than erroring in the test)."""
    from sqlalchemy.engine import make_url

    try:
        make_url(admin_url).get_dialect().import_dbapi()
    except ImportError as error:
        module = (error.name or "").split(".")[0]
        if module in DRIVER_EXTRAS:
            distribution, extra = DRIVER_EXTRAS[module]
            _cannot_test(f"{distribution} is not installed (pip install -e '.[test,{extra}]')")
        _cannot_test(f"the driver of {make_url(admin_url).drivername} cannot be imported ({error})")


def _throwaway_database(admin_url: str, what: str) -> Iterator[str]:
    """Create a database named for this test on a server, yield its URL, drop it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    _require_driver(admin_url)
    name = f"jnt_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
    except Exception as error:  # noqa: BLE001 - any failure means no usable server
        admin.dispose()
        _server_unavailable(what, error)
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            if admin.dialect.name == "postgresql":
                connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped after the test."""
    yield from _throwaway_database(POSTGRESQL_ADMIN_URL, "PostgreSQL at 127.0.0.1:5432")


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """A fresh MariaDB/MySQL database, dropped after the test."""
    yield from _throwaway_database(MYSQL_ADMIN_URL, "MariaDB at 127.0.0.1:3306")


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def any_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on SQLite, PostgreSQL and MariaDB."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'janitoo.sqlite'}"
    return request.getfixturevalue(f"{request.param}_url")


def write_extension(root: Path, name: str, revisions: list[tuple[str, ...]], *,
                    models: str = "", depends_on: str | None = None) -> Path:
    """Write an installable-looking extension NAME under *root* and return *root*.

    *revisions* are ``(revision id, body of upgrade()[, body of downgrade()])``
    tuples forming one linear branch whose root carries the label NAME; *models* is Python source
    placed in the package (it may use ``Base``); the entry point is
    ``NAME = NAME:extend``.  Put *root* on PYTHONPATH to install it.
    """
    package = root / name
    versions = package / "models" / name
    versions.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(
        "import sqlalchemy as sa\nfrom janitoo_db.base import Base\n\n" + models
        + "\n\ndef extend(jntmodel):\n    pass\n"
    )
    dist = root / f"{name}-1.0.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[janitoo.models]\n{name} = {name}:extend\n")
    previous: str | None = None
    for index, (revision, body, *down) in enumerate(revisions):
        labels = (name,) if previous is None else None
        depends = depends_on if index == 1 else None
        (versions / f"{revision}_step_{index}.py").write_text(
            f'"""Step {index} of {name}"""\n'
            "import os\nimport time\n\nimport sqlalchemy as sa\nfrom alembic import op\n\n"
            f"revision = {revision!r}\ndown_revision = {previous!r}\n"
            f"branch_labels = {labels!r}\ndepends_on = {depends!r}\n\n\n"
            "def upgrade():\n" + "".join(f"    {line}\n" for line in (body or "pass").splitlines())
            + "\n\ndef downgrade():\n" + "".join(f"    {line}\n" for line in (down[0] if down else "pass").splitlines())
        )
        previous = revision
    return root


# -- throw-away virtual environments, for installing extensions as pip does -----------------

def throwaway_venv(path: Path) -> Path:
    """Create a virtual environment at *path* that sees this one's packages; return its interpreter.

    No pip and no copy of janitoo_db or its dependencies: a ``.pth`` file adds
    this environment's site-packages after the new one's own (with
    ``site.addsitedir``, so that the editable install of janitoo_db found
    there works too).  What pip installs into it stays in it, its
    ``sys.prefix`` is *path*, and it is thrown away with its directory.
    """
    import sysconfig
    import venv

    venv.EnvBuilder(with_pip=False, symlinks=True).create(path)
    own = sysconfig.get_path("purelib", vars={"base": str(path), "platbase": str(path)})
    ours = sysconfig.get_path("purelib")
    Path(own, "janitoo_db_tests_parent.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    return path / "bin" / "python"


def pip_install(python: Path, *args: str, timeout: float = 300) -> None:
    """``pip install --no-deps ARGS`` into the environment of *python*, with this environment's pip.

    pip builds a project as it would for a user, in an isolated build
    environment with setuptools and wheel from the package index, unless this
    environment can build wheels itself: then offline, with its own setuptools.
    """
    done = pip(["--python", str(python), "install", "--no-deps", *args], timeout=timeout)
    assert done.returncode == 0, f"pip install {' '.join(args)} failed:\n{done.stdout}{done.stderr}"


def pip(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run this environment's pip with *args*, quietly, building offline when it can (see pip_install)."""
    import importlib.util
    from importlib.metadata import version

    setuptools = tuple(int(part) for part in version("setuptools").split(".")[:2])
    offline = importlib.util.find_spec("wheel") is not None or setuptools >= (70, 1)
    flags = ["--no-build-isolation", "--no-index"] if offline else []
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q",
                           *args, *flags], capture_output=True, text=True, timeout=timeout)


def run_in_venv(python: Path, *args: str, env: dict[str, str] | None = None,
                timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real ``jnt_dbman`` console script with the interpreter of a throw-away environment."""
    return subprocess.run([str(python), jnt_dbman_path(), *args], capture_output=True, text=True,
                          timeout=timeout, env=env or subprocess_env(), input="")


#: The number a migration puts before each revision it lists: ``[12/1006] Applied ...``.
PROGRESS = re.compile(r"^\[(\d+)/(\d+)\] ")


def revision_lines(text: str) -> list[str]:
    """The Applied/Reverted lines a migration printed, without their ``[n/N]`` numbers; its summary left out."""
    return [PROGRESS.sub("", line) for line in text.splitlines() if PROGRESS.match(line)]


def install_extension(root: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put extension *name*, written under *root*, on the path as an editable install would; its version directory.

    An earlier test may have installed an extension of the same name: its
    module, and where this process found its revisions, are forgotten.
    """
    from janitoo_db.site.extensions import _version_dir

    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delitem(sys.modules, name, raising=False)
    _version_dir.cache_clear()
    return root / name / "models" / name


def write_revision(directory: Path, revision: str, down_revision: str, doc: str = "Other",
                   filename: str | None = None) -> Path:
    """Add a revision that does nothing to *directory*: a second head, or one on another branch's revision."""
    path = directory / (filename or f"{revision}_other.py")
    path.write_text(f'"""{doc}"""\nrevision = "{revision}"\ndown_revision = "{down_revision}"\n'
                    "branch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n    pass\n\n\n"
                    "def downgrade():\n    pass\n")
    return path
