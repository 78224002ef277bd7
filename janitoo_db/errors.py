"""The one exception type janitoo_db raises, with a subclass per kind of failure.

The CLI turns any of them into one line on stderr and the exit code below;
the library itself never prints and never exits.
"""
from __future__ import annotations

from enum import IntEnum


class JanitooDbError(Exception):
    """Base of every error janitoo_db raises on purpose."""

    exit_code = 1


class ConfigError(JanitooDbError):
    """The database URL, the configuration file or an option is unusable."""


class MissingOptionError(ConfigError):
    """The command needs an option here that it can do without elsewhere (generate's --head)."""

    exit_code = 2


class SessionRequiredError(ConfigError):
    """A model method was given no session, and ``Base.query`` is not set."""


class SecretKeyError(ConfigError):
    """A reset token needs a secret key, and the application gave none."""


class ExtensionError(JanitooDbError):
    """An extension cannot be imported, or its version directory is wrong."""


class RevisionError(JanitooDbError):
    """A revision or branch label is unknown, or revision files are inconsistent."""


class DatabaseError(JanitooDbError):
    """The database refused a connection or a statement."""


class MigrationError(DatabaseError):
    """A revision failed while it was being applied."""

    def __init__(self, message: str, *, rolled_back: bool = False, lock_timed_out: bool = False,
                 failing: str = "", committed_partway: bool = False, needs_repair: bool = False,
                 split_commits: int = 0) -> None:
        super().__init__(message)
        #: The transactions a run split for PostgreSQL's lock table committed before the failure.
        self.split_commits = split_commits
        #: True when the failing revision left work it could not undo, marked for ``jnt_dbman repair``.
        self.needs_repair = needs_repair
        #: True when a revision's autocommit block committed part of the work before the failure.
        self.committed_partway = committed_partway
        #: The revision that failed, as "revision ID (branch)", when known.
        self.failing = failing
        #: True when the database's transaction undid everything the command had done.
        self.rolled_back = rolled_back
        #: True when a statement gave up waiting for a lock (PostgreSQL's lock_timeout): worth trying again.
        self.lock_timed_out = lock_timed_out


class LockTimeoutError(DatabaseError):
    """Another migration held the database's migration lock longer than the lock timeout."""


class RefusedError(JanitooDbError):
    """janitoo_db will not do this: it would lose data; the message says how to do it on purpose."""


class ExitCode(IntEnum):
    """jnt_dbman's exit codes: stable, documented, and tested."""

    OK = 0  #: success, or already up to date
    ERROR = 1  #: something failed; the message says what
    USAGE = 2  #: the command line is wrong
    PENDING = 3  #: checkdb: revisions are waiting to be applied
    DRIFT = 4  #: check: models and database differ
    #: checkdb: a head no installed extension provides, a branch with several heads, an interrupted revision
    BRANCHES = 5
    #: checkdb: an applied revision's file changed since it was applied (3 and 5 come first)
    EDITED = 6
    #: upgrade --plan --lint: a pending revision takes a lock squawk flags, and its file does not allow it
    LOCKS = 7
