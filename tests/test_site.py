"""One Site per command: what a command works on is made once, and Alembic's Config only carries it.

A command loads every branch's revisions once and makes one engine for its
database, however many modules look at them on the way.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Callable

import pytest
from click.testing import Result

Run = Callable[..., Result]


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many revision maps (Alembic's ScriptDirectory) and engines of our database a command made."""
    import alembic.script

    import janitoo_db.site.engine

    made: Counter[str] = Counter()
    real_script_init = alembic.script.ScriptDirectory.__init__
    real_create_engine = janitoo_db.site.engine.create_engine

    def count_script(self: Any, *args: Any, **kwargs: Any) -> None:
        made["revision maps"] += 1
        real_script_init(self, *args, **kwargs)

    def count_engine(url: Any, *args: Any, **kwargs: Any) -> Any:
        made["engines"] += 1
        return real_create_engine(url, *args, **kwargs)

    monkeypatch.setattr(alembic.script.ScriptDirectory, "__init__", count_script)
    monkeypatch.setattr(janitoo_db.site.engine, "create_engine", count_engine)
    return made


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_each_command_loads_the_revisions_and_makes_its_engine_once(
        backend: str, cli: Run, builds: Counter[str], request: pytest.FixtureRequest, tmp_path: Any) -> None:
    url = (f"sqlite:///{tmp_path / 'site.sqlite'}" if backend == "sqlite"
           else request.getfixturevalue(f"{backend}_url"))
    commands = [
        ("initdb", "-q"),
        ("downgrade", "-q", "acme_sensors@base"),
        ("upgrade", "-q"),
        ("checkdb",),
        ("downgrade", "-q", "janitoo_template@-1"),
        ("upgrade", "-q", "--no-destructive"),
        ("checkdb",),
    ]
    for command in commands:
        builds.clear()
        result = cli(*command, "-u", url)
        assert result.exit_code == 0, (command, result.output, result.stderr)
        # At every head, SQLite's checkdb answers from the revision cache and the file alone (test_at_head.py).
        plain = backend == "sqlite" and command == ("checkdb",)
        assert builds == ({} if plain else {"revision maps": 1, "engines": 1}), command


def test_the_original_config_keeps_one_site_for_its_lifetime(sqlite_url: str, builds: Counter[str]) -> None:
    """A server's Config loads the revisions once, and makes an engine per call, closed after it."""
    from janitoo_db.migrate import Config

    config = Config(url=sqlite_url)
    config.initdb()
    config.checkdb()
    config.upgrade()
    config.downgrade("janitoo_template@base")
    assert builds == {"revision maps": 1, "engines": 4}
    assert not config.site.has_engine


def test_alembic_reads_the_site_through_one_key(sqlite_url: str) -> None:
    """The Config handed to Alembic carries the Site itself, not copies of its state."""
    from janitoo_db import commands
    from janitoo_db.config import alembic_config
    from janitoo_db.site import SITE_KEY, Site

    config = alembic_config(sqlite_url)
    site = Site.of(config)
    assert list(config.attributes) == [SITE_KEY]
    assert site.alembic_config is config
    commands.initdb(config)
    assert list(config.attributes) == [SITE_KEY]
    assert set(commands.versiondb(site)) == set(site.script.get_heads())
    site.dispose()


def test_a_config_janitoo_db_did_not_make_is_refused_in_one_line(sqlite_url: str) -> None:
    from alembic.config import Config

    from janitoo_db import commands
    from janitoo_db.errors import JanitooDbError

    with pytest.raises(JanitooDbError, match="was not made by janitoo_db"):
        commands.checkdb(Config())


def test_a_callers_own_config_configured_for_a_url_runs_alembic_and_our_commands(sqlite_url: str) -> None:
    """janitoo_db.config.configure, as callers used it before the Site: Alembic's upgrade, then checkdb."""
    from alembic import command
    from alembic.config import Config

    from janitoo_db import commands
    from janitoo_db.config import configure
    from janitoo_db.site import Site

    config = configure(Config(), sqlite_url)
    command.upgrade(config, "heads")
    assert commands.checkdb(config).up_to_date
    assert Site.of(config).alembic_config is config
    Site.of(config).dispose()
