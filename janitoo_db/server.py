"""The database half of the original janitoo server: ``JNTDBServer``.

A janitoo server brings its database to the right version when it starts:
constructing :class:`JNTDBServer` runs :meth:`~JNTDBServer.check_db`, which
upgrades every branch when the ``[database]`` section's ``auto_migrate``
allows it, and otherwise refuses to go on with a database that is behind.

It needs no janitoo core package.  When ``janitoo`` is importable,
``JNTDBServer`` also subclasses its ``janitoo.server.JNTServer`` as the
original did, so its threads, signals and MQTT work as before.
"""
from __future__ import annotations

import logging
from typing import Any

from janitoo_db import commands
from janitoo_db.base import create_db_engine
from janitoo_db.defaults import CONF_SECTION
from janitoo_db.errors import ConfigError, DatabaseError
from janitoo_db.migrate import Config
from janitoo_db.results import CheckResult
from janitoo_db.site import Site
from janitoo_db.site.options import as_options, to_bool
from janitoo_db.text import some

try:  # janitoo's own server and error, when janitoo is installed
    from janitoo.server import JNTServer as _ServerBase  # type: ignore[import-not-found]
    from janitoo.utils import JanitooException  # type: ignore[import-not-found]
    _JANITOO_ERRORS: tuple[type[Exception], ...] = (JanitooException,)
except ImportError:
    _ServerBase = object
    _JANITOO_ERRORS = ()

logger = logging.getLogger("janitoo.db")


class DatabaseNotMigratedError(DatabaseError, *_JANITOO_ERRORS):  # type: ignore[misc]
    """The database is behind its revisions and migrating it is not allowed.

    With janitoo installed it is also a ``JanitooException``, which is what
    the original raised.
    """


class JNTDBServer(_ServerBase):
    """A janitoo server with a database: checks or migrates it at start, then serves sessions.

    *options* is janitoo's options object (anything with
    ``get_options("database")``), or the dict janitoo servers are built from,
    ``{"conf_file": PATH}``.
    """

    def __init__(self, options: Any) -> None:
        if _ServerBase is not object:
            _ServerBase.__init__(self, options)
        else:
            self.options = as_options(options)
        self.dbengine: Any = None
        self.dbmaker: Any = None
        self.dbsession: Any = None
        self.dbauto_migrate: bool | None = None
        self.check_db()

    def _database_options(self) -> dict[str, Any]:
        section = dict(self.options.get_options(CONF_SECTION) or {})
        if "sqlalchemy.url" not in section:
            raise ConfigError(f"the [{CONF_SECTION}] configuration has no sqlalchemy.url")
        return section

    def _create_db_engine(self) -> None:
        """(Re)create the engine from the options, and read ``auto_migrate``."""
        self.stop_db()
        database = self._database_options()
        self.dbengine = create_db_engine(database)
        self.dbauto_migrate = to_bool(database["auto_migrate"]) if "auto_migrate" in database else None

    def check_db(self, migrate: bool | None = None) -> None:
        """Upgrade the database to every head, or only check it when migrating is not allowed.

        *migrate* None follows ``auto_migrate`` (absent means allowed). When
        not allowed and the database is behind, raise
        :class:`DatabaseNotMigratedError` naming the missing heads.
        """
        self._create_db_engine()
        config = Config(url=self._database_options()["sqlalchemy.url"])
        if (migrate is not None and not migrate) or (migrate is None and self.dbauto_migrate is False):
            state = config.run(commands.checkdb)
            if not state.up_to_date:
                raise DatabaseNotMigratedError(_behind(config, state))
            logger.debug("[%s] - the database is at every head", type(self).__name__)
            return
        config.initdb()
        logger.debug("[%s] - the database was brought to every head", type(self).__name__)

    def create_session(self) -> Any:
        """A new scoped session on the database, or None before :meth:`start_db`."""
        from sqlalchemy.orm import scoped_session

        return scoped_session(self.dbmaker) if self.dbmaker is not None else None

    def start_db(self) -> None:
        """Open the engine and the session maker, and make :attr:`dbsession`."""
        from sqlalchemy.orm import sessionmaker

        self._create_db_engine()
        self.dbmaker = sessionmaker(bind=self.dbengine)
        self.dbsession = self.create_session()

    def stop_db(self) -> None:
        """Roll back and close the session, and close the engine's connections."""
        if self.dbsession is not None:
            self.dbsession.rollback()
            self.dbsession.remove()
            self.dbsession = None
        self.dbmaker = None
        if self.dbengine is not None:
            self.dbengine.dispose()
            self.dbengine = None

    def start(self) -> None:
        """Start the server (janitoo's part first, when there is one), then the database."""
        if _ServerBase is not object:
            _ServerBase.start(self)
        self.start_db()

    def stop(self) -> None:
        """Stop the database, then the server."""
        self.stop_db()
        if _ServerBase is not object:
            _ServerBase.stop(self)

    def flush(self) -> None:
        """Flush the server's data (janitoo's part; the database has nothing to flush)."""
        if _ServerBase is not object:
            _ServerBase.flush(self)


def _behind(config: Config, state: CheckResult) -> str:
    """Say what the database lacks, and how to fix it."""
    script = Site.of(config).script
    parts = []
    if state.unversioned:
        parts.append(f"no alembic_version, but tables of the installed branches ({some(list(state.unversioned), 5)}): "
                     "it was made without a version table; 'jnt_dbman adopt' stamps the revisions they match")
    if state.pending:
        heads = [f"{head} ({', '.join(sorted(script.get_revision(head).branch_labels))})" for head in state.pending]
        parts.append(f"missing heads {some(heads)}")
    parts += [f"orphaned head {orphan.describe()}" for orphan in state.orphans]
    parts += [f"branch {name} has several heads" for name in state.split_branches]
    return (f"the database is not at every head ({'; '.join(parts)}) and auto_migrate is off; "
            "run 'jnt_dbman initdb', or set auto_migrate = true in the [database] section")
