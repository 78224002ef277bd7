"""What one command works on: the database, the installed branches, and what is made from them once.

A :class:`Site` is made per command (jnt_dbman makes one per invocation, the
original's ``migrate.Config`` holds one for a server's lifetime).  Commands
take it and hand it down; the revisions are loaded and the engine is created
on first use, once.  Alembic's ``Config`` is made from it only where Alembic
reads one, and carries it to our ``env.py`` under one key: :data:`SITE_KEY`.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, TextIO

from janitoo_db.defaults import CONF_SECTION
from janitoo_db.errors import JanitooDbError
from janitoo_db.site.extensions import Extension, discover
from janitoo_db.site.sqlite_file import plain_sqlite_file
from janitoo_db.site.timeouts import StatementLimits, statement_limits

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection, Engine

    from janitoo_db.site.compiled_revisions import CompiledRevisions

#: Where our ``env.py`` finds the Site in ``Config.attributes``: the one hand-over between the two.
SITE_KEY = "janitoo_db.site"
#: Our packaged ``env.py`` and revision template.
SCRIPT_LOCATION = str(Path(__file__).resolve().parent.parent / "alembic")


@dataclass
class MigrationRun:
    """What one migration keeps while Alembic runs it: a command starts a new one for each run."""

    #: The connection holding the migration lock, which ``env.py`` migrates on.
    connection: Connection | None = None
    #: Alembic's ``on_version_apply`` hook: the command hears of each revision run.
    on_version_apply: Callable[..., None] | None = None
    #: Works out the revision steps (``env.py`` runs them itself, writing the versions once).
    steps: Callable[[Any, Any], Any] | None = None
    #: Running revisions only: the models need not be imported (see ``migration.target_metadata``).
    migrate_only: bool = False
    #: The steps the destructive-change guard worked out, keyed by (destination, heads), not worked out again.
    known_steps: tuple[tuple[str, tuple[str, ...]], list[Any]] | None = None
    #: How many revisions the run is to apply (the "3/7" of the progress lines).
    planned: int = 0
    #: How many times the run was tried again after a lock timeout.
    retried: int = 0
    #: Revisions this run marked as under way and has not settled (see :mod:`janitoo_db.runtime.settling`).
    own_marks: set[str] = field(default_factory=set)
    #: What the last settle of a failed try did (a :class:`janitoo_db.runtime.settling.Settled`).
    settled: Any = None
    #: True once the run committed part of its work (an autocommit block, a split run).
    committed_partway: bool = False
    #: PostgreSQL: the locks the open transaction holds (a :class:`janitoo_db.runtime.lock_budget.Budget`).
    budget: Any = None
    #: How many times a split run committed so far (over every try).
    split_commits: int = 0
    #: generate: which tables autogenerate compares, and the hook that edits the revision it writes.
    include_object: Callable[..., bool] | None = None
    process_revision_directives: Callable[..., None] | None = None


class Site:
    """The database a command works on and the branches installed for it, with what is made from them once.

    *url* is the database; *extensions* the installed branches (discovered
    when not given).  *new_branch* names an extension that may have no
    revisions yet, so that ``generate`` can write its root.  *conf_file* is
    the janitoo INI file the URL came from (its post-write hooks),
    *lock_timeout* and *limits* what the migration lock and PostgreSQL's
    statements may wait, *on_notice* who hears, as it happens, what a
    command waits for.  A URL that cannot be used is refused here, unless
    not to *check* it yet (the original's ``Config`` took any URL).
    """

    def __init__(self, url: str, extensions: list[Extension] | None = None, *, new_branch: str | None = None,
                 conf_file: str | os.PathLike[str] | None = None, lock_timeout: float | None = None,
                 limits: Mapping[str, float | int] | None = None, on_notice: Callable[[str], None] | None = None,
                 stdout: TextIO | None = None, spaced: bool = False, check: bool = True) -> None:
        # A plain SQLite file's URL is checked without SQLAlchemy: a server start at head never imports it.
        if check and plain_sqlite_file(url) is None:
            from janitoo_db.site.engine import check_url

            check_url(url)
        self.url = url
        self._extensions = extensions
        #: The installed extensions are found, none were given (see janitoo_db.site.installed_branches).
        self.discovers = extensions is None
        self.new_branch = new_branch
        self.conf_file = conf_file
        self.lock_timeout = lock_timeout
        self.limit_options: dict[str, float | int] = dict(limits or {})
        self.on_notice = on_notice
        self.stdout = stdout
        self.spaced = spaced
        #: The new branch, once the revisions are loaded and it has none indeed.
        self.unstarted: str | None = None
        #: Lines the command leaves to tell besides its result (jnt_dbman prints them on stderr).
        self.notices: list[str] = []
        #: Revisions a migration re-stamped as the squashed revision that replaces them.
        self.restamped: list[Any] = []
        self.run = MigrationRun()
        self._script: ScriptDirectory | None = None
        self._engine: Engine | None = None
        self._config: Config | None = None
        self.revision_schemas: Any = None
        #: The revision files' compiled code, kept for the next command when this one is done (see dispose).
        self.compiled: CompiledRevisions | None = None

    def __repr__(self) -> str:
        from janitoo_db.site.engine import hide_password

        return f"Site({hide_password(self.url)!r})"

    @property
    def extensions(self) -> list[Extension]:
        """The core branch and every installed extension, core first."""
        if self._extensions is None:
            self._extensions = discover()
        return self._extensions

    def by_name(self) -> dict[str, Extension]:
        """The installed branches by name, in :attr:`extensions`' order."""
        return {extension.name: extension for extension in self.extensions}

    @property
    def script(self) -> ScriptDirectory:
        """The revisions of every branch, loaded and checked on first use."""
        if self._script is None:
            from janitoo_db.site.revisions import load_revisions

            self._script = load_revisions(self)
        return self._script

    @property
    def engine(self) -> Engine:
        """The engine of the site's database, created on first use."""
        if self._engine is None:
            from janitoo_db.site.engine import create_db_engine

            self._engine = create_db_engine(self.url)
        return self._engine

    @property
    def has_engine(self) -> bool:
        """True while an engine is made and not disposed of."""
        return self._engine is not None

    def dispose(self) -> None:
        """Close the pooled connections now, not whenever the interpreter gets to them; keep compiled revisions."""
        if self.compiled is not None:
            self.compiled.save()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @property
    def limits(self) -> StatementLimits:
        """The statement limits given to the command, else the environment's, else the defaults."""
        return statement_limits(self.limit_options)

    def notify(self, message: str) -> None:
        """Tell whoever runs the command what it waits for (jnt_dbman prints it on stderr)."""
        if self.on_notice is not None:
            self.on_notice(message)

    def take_notices(self) -> list[str]:
        """The notices the command left, once: they are removed."""
        found, self.notices = self.notices, []
        return found

    def new_run(self) -> MigrationRun:
        """Start a migration afresh: nothing of an earlier one carries over."""
        self.run = MigrationRun()
        return self.run

    @property
    def alembic_config(self) -> Config:
        """The Alembic ``Config`` of every branch, made once, in memory, for what reads one.

        Quiet: Alembic's own progress lines would go to stdout; jnt_dbman reports itself.
        """
        if self._config is None:
            from argparse import Namespace

            from alembic.config import Config

            config = Config(stdout=self.stdout or sys.stdout, ini_section=CONF_SECTION,
                            cmd_opts=Namespace(quiet=True, x=None))
            self.configure(config)
        assert self._config is not None
        return self._config

    def configure(self, config: Config) -> None:
        """Point an Alembic ``Config`` at our env.py, every branch's revisions and the URL; hand it this Site.

        ``version_locations`` is joined with the system's path separator; for
        a site made *spaced*, with spaces as the original's was, unless a
        directory's path holds a space itself.
        """
        from janitoo_db.site.version_dirs import locations

        found = locations(self)
        spaced = self.spaced and not any(" " in location for location in found)
        config.set_main_option("script_location", SCRIPT_LOCATION)
        config.set_main_option("path_separator", "space" if spaced else "os")
        config.set_main_option("version_locations", _escape(location_separator(config).join(found)))
        # Config options go through ConfigParser interpolation: a URL's %-escapes must be doubled.
        config.set_main_option("sqlalchemy.url", _escape(self.url))
        config.attributes[SITE_KEY] = self
        self._config = config

    @classmethod
    def of(cls, given: Site | Config) -> Site:
        """The Site itself, or the one an Alembic ``Config`` was made for (the original's API hands those)."""
        if isinstance(given, Site):
            return given
        found = handed_over(given)
        if found is None:
            raise JanitooDbError("this Alembic Config was not made by janitoo_db: build one with "
                                 "janitoo_db.config.alembic_config(url) or janitoo_db.migrate.Config(url)")
        return found


def handed_over(config: Config) -> Site | None:
    """The Site an Alembic ``Config`` carries, if janitoo_db made it (plain ``alembic`` makes its own)."""
    found = config.attributes.get(SITE_KEY)
    return found if isinstance(found, Site) else None


def location_separator(config: Config) -> str:
    """What joins the directories of *config*'s ``version_locations``: a space or the system's path separator."""
    return " " if config.get_main_option("path_separator") == "space" else os.pathsep


def _escape(value: str) -> str:
    return value.replace("%", "%%")
