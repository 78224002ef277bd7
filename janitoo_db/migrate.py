"""The original janitoo_db's Python API for migrations: ``Config``, ``collect_configs``, ``janitoo_config``.

Test helpers, servers and managers written for the original drive the
database through these names.  They keep the original's signatures and
defaults (its library default database was ``sqlite:////tmp/janitoo_db.sqlite``,
not jnt_dbman's), and run on :mod:`janitoo_db.commands`: the configuration is
built in memory, where the original copied an ini file to the temporary
directory.  ``Config`` is still an Alembic ``Config``, so code that hands it
to ``alembic.command`` directly keeps working too.
"""
from __future__ import annotations

import os
from typing import Any, Callable, TypeVar

from alembic.config import Config as AlembicConfig
from alembic.script import Script

from janitoo_db import commands
from janitoo_db.defaults import CONF_SECTION
from janitoo_db.site import Site
from janitoo_db.site.conf import read_conf_url
from janitoo_db.site.extensions import CORE_NAME, discover

#: The database the original's library used when given none.
ORIGINAL_DEFAULT_URL = "sqlite:////tmp/janitoo_db.sqlite"

T = TypeVar("T")


class Config(AlembicConfig):
    """The Alembic configuration of every branch, with the original's methods.

    *conf_file*, a janitoo INI file, gives the URL from its ``[database]``
    section's ``sqlalchemy.url`` and then wins over *url*, as in the
    original.  *pkg_name* and *ep_name* name the package and branch the
    configuration was made for (``collect_configs`` makes one per
    extension); every configuration knows every branch all the same.
    """

    def __init__(self, url: str = ORIGINAL_DEFAULT_URL, pkg_name: str = "janitoo_db", ep_name: str = CORE_NAME,
                 conf_file: str | os.PathLike[str] | None = None, **kwargs: Any) -> None:
        self.pkg_name = pkg_name
        self.ep_name = ep_name
        if conf_file is not None:
            url = read_conf_url(conf_file)
        kwargs.setdefault("ini_section", CONF_SECTION)
        # Not quiet: alembic.command.heads/current/show/history print on it, as on the original's.
        super().__init__(**kwargs)
        #: What the commands work on; this Config is its Alembic configuration, not a copy of its state.
        self.site = Site(url, stdout=self.stdout, spaced=True, check=False)
        self.site.configure(self)

    @property
    def url(self) -> str:
        """The database URL."""
        return self.site.url

    def initdb(self) -> None:
        """Build the database, or bring it to the head of every branch."""
        self.run(commands.initdb)

    def upgrade(self, revision: str = "heads") -> None:
        """Upgrade the database to *revision*."""
        self.run(commands.upgrade, revision)

    def downgrade(self, revision: str = "base") -> None:
        """Downgrade the database to *revision*; ``base`` empties every branch."""
        self.run(commands.downgrade, revision)

    def versiondb(self) -> tuple[str, ...]:
        """The revision ids in the database's ``alembic_version`` table, as a tuple like the original's."""
        return self.run(commands.versiondb)

    def checkdb(self) -> bool:
        """True when the database is at the head of every branch."""
        return self.run(commands.checkdb).up_to_date

    def heads(self, verbose: bool = False) -> tuple[Script, ...]:
        """The head revision of every branch, as Alembic ``Script`` objects.

        *verbose* is the original's argument; it changes nothing.
        """
        return tuple(self.site.script.get_revisions("heads"))

    def run(self, command: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one of :mod:`janitoo_db.commands` on this configuration, then close its connections.

        A server keeps its configuration for its lifetime: no connection
        should stay open in between.
        """
        try:
            return command(self.site, *args, **kwargs)
        finally:
            self.site.dispose()


def janitoo_config(url: str = ORIGINAL_DEFAULT_URL, pkg_name: str = "janitoo_db",
                   conf_file: str | os.PathLike[str] | None = None) -> Config:
    """The configuration of every branch for *url* (or *conf_file*'s database)."""
    return Config(url=url, pkg_name=pkg_name, conf_file=conf_file)


def collect_configs(url: str = ORIGINAL_DEFAULT_URL) -> list[Config]:
    """One configuration for the core, then one per installed extension, as the original listed them."""
    core, *extensions = discover()
    return [Config(url=url)] + [Config(url=url, pkg_name=e.package, ep_name=e.name) for e in extensions]
