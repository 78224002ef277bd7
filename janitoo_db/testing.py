"""A pytest plugin for extension authors: ready-made health checks of one branch.

Registered through the ``pytest11`` entry point, so installing janitoo_db is
enough.  An extension's test suite names its branch and imports the tests::

    # conftest.py
    import pytest

    @pytest.fixture
    def janitoo_branch():
        return "acme"

    # test_migrations.py
    from janitoo_db.testing import *  # noqa: F401,F403

The tests run on a throw-away SQLite file by default; ``--janitoo-db-url URL``
(or the ``janitoo_db_url`` ini option) points them at an empty database of
your own, which they leave empty.  The checks are plain functions too, for
tests of your own.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, cast

import pytest

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Table

    from janitoo_db.site import Site

__all__ = [
    "test_janitoo_branch_has_one_root_and_one_head",
    "test_janitoo_branch_files_live_in_its_version_dir",
    "test_janitoo_branch_upgrades_downgrades_and_upgrades_again",
    "test_janitoo_models_match_the_database",
    "test_janitoo_tables_registered_by_extend",
    "test_janitoo_branch_takes_no_lock_squawk_flags",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("janitoo_db", "janitoo_db branch checks")
    group.addoption("--janitoo-db-url", default=None,
                    help="Empty database the janitoo_db branch checks run on (default: a temporary SQLite file).")
    parser.addini("janitoo_db_url", "Empty database the janitoo_db branch checks run on.", default="")
    parser.addini("janitoo_branch", "The branch (extension name) the janitoo_db checks are about.", default="")


@pytest.fixture
def janitoo_branch(request: pytest.FixtureRequest) -> str:
    """The extension whose branch is checked: override this fixture, or set the ``janitoo_branch`` ini option."""
    name = request.config.getini("janitoo_branch")
    if not name:
        pytest.fail("janitoo_db.testing: set the janitoo_branch ini option or override the janitoo_branch fixture")
    return name


@pytest.fixture
def janitoo_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The database the checks use: --janitoo-db-url, the ini option, or a temporary SQLite file."""
    return (request.config.getoption("--janitoo-db-url") or request.config.getini("janitoo_db_url")
            or f"sqlite:///{tmp_path / 'janitoo_branch_checks.sqlite'}")


@pytest.fixture
def janitoo_config(janitoo_db_url: str) -> Iterator[Config]:
    """An Alembic config for every installed branch; the database is emptied afterwards."""
    from janitoo_db.commands import dropdb
    from janitoo_db.config import alembic_config

    config = alembic_config(janitoo_db_url)
    yield config
    dropdb(alembic_config(janitoo_db_url))
    _site(config).dispose()


# -- the checks, usable on their own ---------------------------------------

def _site(config: Config) -> Site:
    """The Site the config was made for (imported once a check runs: the plugin loads in every pytest run)."""
    from janitoo_db.site import Site

    return Site.of(config)


def branch_revisions(config: Config, name: str) -> list[Any]:
    """Every revision of branch *name*."""
    from janitoo_db.site.graph import branch_members

    return branch_members(_site(config).script, name)


def check_one_root_and_one_head(config: Config, name: str) -> None:
    members = branch_revisions(config, name)
    roots = [s for s in members if s.is_base]
    assert len(roots) == 1, f"branch {name} has {len(roots)} roots: {[s.revision for s in roots]}"
    from janitoo_db.site.graph import branch_tips, own_labels

    assert name in own_labels(roots[0]), f"the root of {name} is not labelled {name}"

    heads = branch_tips(members)
    assert len(heads) == 1, f"branch {name} has {len(heads)} heads: {heads}; merge them with jnt_dbman merge"


def check_files_in_version_dir(config: Config, name: str) -> None:
    extension = _site(config).by_name()[name]
    directory = extension.version_dir()
    for revision in branch_revisions(config, name):
        assert Path(revision.path).resolve().parent == directory, \
            f"revision {revision.revision} of {name} is in {revision.path}, not in {directory}"
    for revision in _site(config).script.walk_revisions():
        if Path(revision.path).resolve().parent == directory:
            assert name in revision.branch_labels, \
                f"{revision.path} is in {name}'s version directory but on branch {sorted(revision.branch_labels)}"


def _tables(config: Config) -> set[str]:
    from sqlalchemy import inspect

    with _site(config).engine.connect() as connection:
        return set(inspect(connection).get_table_names())


def check_up_down_up(config: Config, name: str) -> None:
    """Upgrade to the branch head, step down to base one revision at a time, then up again."""
    import janitoo_db.models
    from janitoo_db import commands

    own_tables = set(janitoo_db.models.extension_tables.get(name, ()))
    members = {s.revision for s in branch_revisions(config, name)}
    commands.upgrade(config, f"{name}@head")
    assert own_tables <= _tables(config), f"after upgrading {name}, missing {sorted(own_tables - _tables(config))}"
    for _ in range(len(members) + 1):
        if not members & set(commands.versiondb(config)):
            break
        commands.downgrade(config, f"{name}@-1")
    assert not members & set(commands.versiondb(config)), f"{name} could not be downgraded to base step by step"
    left = own_tables & _tables(config)
    assert not left, f"at base, {name} left tables behind: {sorted(left)}"
    commands.upgrade(config, f"{name}@head")
    assert own_tables <= _tables(config)


def check_models_match(config: Config, name: str) -> None:
    from janitoo_db import commands

    commands.upgrade(config, "heads")
    report = commands.check(config, [name])
    assert not report.owned, f"{name}'s models and database differ: " + "; ".join(
        d.description for d in report.owned)


def check_tables_registered(config: Config, name: str) -> None:
    import janitoo_db.models
    from janitoo_db.base import Base

    extension = _site(config).by_name()[name]
    registered = set(janitoo_db.models.extension_tables.get(name, ()))
    for mapper in Base.registry.mappers:
        module = mapper.class_.__module__
        if module == extension.package or module.startswith(extension.package + "."):
            table = cast("Table", mapper.local_table).name  # a declarative model's table
            assert table in registered, \
                f"{mapper.class_.__name__} ({table}) is declared by {name} but was not added by its extend()"


def check_locks(config: Config, name: str) -> None:
    """Branch *name*'s revisions take no PostgreSQL lock squawk flags, unless their file allows it with a reason.

    Needs squawk (``pip install 'janitoo_db[lint]'``) but no PostgreSQL: the
    SQL is written offline.  See :mod:`janitoo_db.guard.lock_lint` for the rules and the marker.
    """
    from janitoo_db import commands

    reported = [finding for finding in commands.branch_lock_findings(config, name) if finding.reported]
    assert not reported, f"{name}'s revisions take locks that can stall a busy PostgreSQL table: " + "; ".join(
        f"{finding.revision}: {finding.describe()}" for finding in reported)


# -- ready-made tests --------------------------------------------------------

def test_janitoo_branch_has_one_root_and_one_head(janitoo_config: Config, janitoo_branch: str) -> None:
    check_one_root_and_one_head(janitoo_config, janitoo_branch)


def test_janitoo_branch_files_live_in_its_version_dir(janitoo_config: Config, janitoo_branch: str) -> None:
    check_files_in_version_dir(janitoo_config, janitoo_branch)


def test_janitoo_branch_upgrades_downgrades_and_upgrades_again(janitoo_config: Config, janitoo_branch: str) -> None:
    check_up_down_up(janitoo_config, janitoo_branch)


def test_janitoo_models_match_the_database(janitoo_config: Config, janitoo_branch: str) -> None:
    check_models_match(janitoo_config, janitoo_branch)


def test_janitoo_tables_registered_by_extend(janitoo_config: Config, janitoo_branch: str) -> None:
    check_tables_registered(janitoo_config, janitoo_branch)


def test_janitoo_branch_takes_no_lock_squawk_flags(janitoo_config: Config, janitoo_branch: str) -> None:
    from janitoo_db.errors import JanitooDbError
    from janitoo_db.guard.lock_lint import squawk_program

    try:
        squawk_program()
    except JanitooDbError as error:
        pytest.skip(f"the lock check needs squawk: {error}")
    check_locks(janitoo_config, janitoo_branch)
