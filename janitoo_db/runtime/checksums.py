"""A checksum of each applied revision's file, so that a revision edited after it ran does not go unnoticed.

A revision file that changes once it has been applied no longer says what the
database holds: the next site it runs on gets another schema, and its
``downgrade`` may not undo what its ``upgrade`` did.  So janitoo_db keeps, in
``janitoo_db_checksums``, the SHA-256 of each applied revision's file, with
CRLF and CR line endings read as LF (a checkout on Windows, or an editor that
rewrote the line endings, changes no code).  A revision applied by a command
gets the file as that command executed it; one the database already held gets
the file as it is when janitoo_db first sees it without a checksum (a
database migrated before janitoo_db kept them), and the command says so once
(:func:`announce`).  ``checkdb`` compares them with the files
(:func:`find_edited`); ``jnt_dbman accept`` records the files as they are now,
once someone has reviewed the change (:func:`accept`).

Recording rides on every migration that changes ``alembic_version``, in its
transaction (on MySQL/MariaDB, which commit each revision on its own, in the
transaction of each revision's version: :func:`recording_each`); a migration
that changes nothing only asks whether the table exists, so that a server
start stays cheap.  Rows of revisions no installed
extension provides (an uninstalled extension's) are kept: there is no file to
compare them with.
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Iterable

import sqlalchemy as sa
from alembic.script import Script, ScriptDirectory
from sqlalchemy.engine import Connection

from janitoo_db.defaults import CHECKSUMS_TABLE
from janitoo_db.errors import RevisionError
from janitoo_db.site import graph
from janitoo_db.site.alembic_internals import all_revisions
from janitoo_db.site.reading import current_heads
from janitoo_db.site.revision_cache import executed_source
from janitoo_db.site.revision_files import read_source, source_checksum

logger = logging.getLogger(__name__)


#: Rows per DELETE ... IN (...): old SQLite releases take at most 999 parameters a statement.
CHUNK = 500


_metadata = sa.MetaData()


checksums_table = sa.Table(
    CHECKSUMS_TABLE, _metadata,
    sa.Column("revision", sa.String(32), primary_key=True),
    sa.Column("branch", sa.String(255), nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),
)


def file_checksum(path: str) -> str:
    """:func:`source_checksum` of the file at *path* as it is now."""
    return source_checksum(read_source(path))


def _branch(revision: Script) -> str:
    return ", ".join(sorted(revision.branch_labels)) or "no branch"


def _installed(script: ScriptDirectory) -> dict[str, Script]:
    """Every installed revision by its exact id (Alembic's lookup would also take an id as a prefix of another)."""
    return {revision.revision: revision for revision in all_revisions(script)}


def _applied(script: ScriptDirectory, installed: dict[str, Script], heads: Iterable[str]) -> set[str]:
    """The installed revisions a database at *heads* holds."""
    return {r for r in graph.applied(script, heads) if r in installed}


def recorded(connection: Connection, *, branch: str | None = None) -> dict[str, str]:
    """Revision id to the checksum recorded for its file (of *branch*'s revisions only, if given); empty when none."""
    if not kept(connection):
        return {}
    query = sa.select(checksums_table.c.revision, checksums_table.c.checksum)
    if branch is not None:
        query = query.where(checksums_table.c.branch == branch)
    return {row.revision: row.checksum for row in connection.execute(query)}


def branches(connection: Connection) -> set[str]:
    """The branches with recorded checksums; rows outlive ``forget``, so a forgotten branch is among them."""
    if not kept(connection):
        return set()
    return set(connection.execute(sa.select(checksums_table.c.branch).distinct()).scalars())


def kept(connection: Connection) -> bool:
    """True once janitoo_db keeps checksums in this database (its table exists)."""
    return sa.inspect(connection).has_table(CHECKSUMS_TABLE)


def record(connection: Connection, script: ScriptDirectory, before: Iterable[str]) -> int:
    """Bring the checksums up to date after a command that moved the database from *before*.

    Revisions it applied (or stamped) get the file as this process executed
    it, else as it is now; revisions it reverted lose theirs; revisions that
    were applied already and have none get their file as it is now.  Returns
    how many of those there were, for :func:`announce`.  A file that cannot
    be read gets no row: the next migration tries again.
    """
    after = current_heads(connection)
    installed = _installed(script)
    applied_before, applied_after = _applied(script, installed, before), _applied(script, installed, after)
    rows = recorded(connection)
    newly = applied_after - applied_before
    missing = applied_after - newly - set(rows)
    wanted = {}
    for revision in sorted(newly | missing):
        found = installed[revision]
        checksum = _as_executed(found)
        if checksum is not None and rows.get(revision) != checksum:
            wanted[revision] = {"revision": revision, "branch": _branch(found), "checksum": checksum}
    checksums_table.create(connection, checkfirst=True)
    _delete(connection, ((applied_before - applied_after) | set(wanted)) & set(rows))
    if wanted:
        connection.execute(checksums_table.insert(), list(wanted.values()))
    return len(missing & set(wanted))


def _as_executed(revision: Script) -> str | None:
    """The checksum of the bytes *revision*'s file was executed from, else of the file now; None if unreadable."""
    source = executed_source(revision.module)
    try:
        return source_checksum(source) if source is not None else file_checksum(revision.path)
    except (OSError, RevisionError):
        return None


def _delete(connection: Connection, revisions: Iterable[str]) -> None:
    ordered = sorted(revisions)
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start:start + CHUNK]
        connection.execute(checksums_table.delete().where(checksums_table.c.revision.in_(chunk)))


def _replace(connection: Connection, row: dict[str, str]) -> None:
    """Write *row* over the revision's checksum in one statement (MySQL/MariaDB, the only users of recording_each)."""
    from sqlalchemy.dialects.mysql import insert as mysql_insert  # only where it runs: no other dialect pays

    upsert = mysql_insert(checksums_table).values(row)
    connection.execute(upsert.on_duplicate_key_update(branch=upsert.inserted.branch,
                                                      checksum=upsert.inserted.checksum))


def recording_each(steps: list[Any], connection: Connection) -> list[Any]:
    """*steps*, each recording its revision's checksum (or forgetting it) in the transaction of its version.

    For MySQL/MariaDB, which commit each revision on its own: a migration that
    fails or is killed half-way leaves the revisions it completed with their
    checksums, as ``alembic_version`` lists them.  Elsewhere :func:`record`
    writes them all at the end, in the migration's one transaction.
    """
    if steps:
        checksums_table.create(connection, checkfirst=True)
    for step in steps:
        step.migration_fn = _recording(step, connection)
    return steps


def _recording(step: Any, connection: Connection) -> Any:
    run, revision, is_upgrade = step.migration_fn, step.revision, step.is_upgrade

    @functools.wraps(run)
    def recording(**kw: Any) -> Any:
        result = run(**kw)
        # After the revision's DDL, which MySQL committed: Alembic commits this with the version row.
        checksum = _as_executed(revision) if is_upgrade else None
        if checksum is None:
            _delete(connection, [revision.revision])
        else:
            _replace(connection, {"revision": revision.revision, "branch": _branch(revision), "checksum": checksum})
        return result

    return recording


def announce(notices: list[str], backfilled: int) -> None:
    """Say once that the checksums of revisions applied earlier were recorded now, from their files as they are.

    The line goes to *notices* (a Site's: jnt_dbman prints them on stderr)
    and to the ``janitoo_db.runtime.checksums`` logger, at INFO.
    """
    if not backfilled:
        return
    plural = "revision" if backfilled == 1 else "revisions"
    notice = (f"Recorded the checksums of {backfilled} applied {plural} that had none (migrated before janitoo_db "
              "kept them), from their files as they are now: 'jnt_dbman checkdb' reports any later edit.")
    notices.append(notice)
    logger.info(notice)
