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
transaction; a migration that changes nothing only asks whether the table
exists, so that a server start stays cheap.  Rows of revisions no installed
extension provides (an uninstalled extension's) are kept: there is no file to
compare them with.
"""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Sequence

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy.engine import Connection

from janitoo_db import graph
from janitoo_db.alembic_internals import all_revisions
from janitoo_db.errors import RevisionError
from janitoo_db.registry import CHECKSUMS_TABLE, recorded_branches
from janitoo_db.results import some
from janitoo_db.revision_cache import executed_source, read_source

logger = logging.getLogger(__name__)

#: Config attribute: lines a command has to tell its user besides its result (see :func:`announce`).
NOTICES = "notices"
#: Rows per DELETE ... IN (...): old SQLite releases take at most 999 parameters a statement.
CHUNK = 500

_metadata = sa.MetaData()
checksums_table = sa.Table(
    CHECKSUMS_TABLE, _metadata,
    sa.Column("revision", sa.String(32), primary_key=True),
    sa.Column("branch", sa.String(255), nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),
)


@dataclass(frozen=True)
class Edited:
    """An applied revision whose file is no longer the one recorded when it was applied (or last accepted)."""

    revision: str
    branch: str
    path: str

    def describe(self) -> str:
        return f"{self.revision} ({self.branch}): {self.path}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def source_checksum(source: bytes) -> str:
    """SHA-256 of *source* with its line endings made LF: only the lines count, not how they end."""
    return hashlib.sha256(source.replace(b"\r\n", b"\n").replace(b"\r", b"\n")).hexdigest()


def file_checksum(path: str) -> str:
    """:func:`source_checksum` of the file at *path* as it is now."""
    return source_checksum(read_source(path))


def _branch(revision: Script) -> str:
    return ", ".join(sorted(revision.branch_labels)) or "no branch"


def _installed(script: ScriptDirectory, revision: str) -> Script | None:
    """The installed revision with exactly this id (Alembic would also take it as a prefix of another)."""
    found = graph.find(script, revision)
    return found if found is not None and found.revision == revision else None


def _applied(script: ScriptDirectory, heads: Iterable[str]) -> set[str]:
    """The installed revisions a database at *heads* holds."""
    return {r for r in graph.applied(script, heads) if _installed(script, r) is not None}


def recorded(connection: Connection) -> dict[str, str]:
    """Revision id to the checksum recorded for its file; empty when nothing was."""
    if not sa.inspect(connection).has_table(CHECKSUMS_TABLE):
        return {}
    return {row.revision: row.checksum
            for row in connection.execute(sa.select(checksums_table.c.revision, checksums_table.c.checksum))}


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
    after = MigrationContext.configure(connection).get_current_heads()
    applied_before, applied_after = _applied(script, before), _applied(script, after)
    rows = recorded(connection)
    newly = applied_after - applied_before
    missing = applied_after - newly - set(rows)
    stale = ((applied_before - applied_after) | newly) & set(rows)
    checksums_table.create(connection, checkfirst=True)
    for start in range(0, len(stale), CHUNK):
        chunk = sorted(stale)[start:start + CHUNK]
        connection.execute(checksums_table.delete().where(checksums_table.c.revision.in_(chunk)))
    new_rows = []
    for revision in sorted(newly | missing):
        found = _installed(script, revision)
        assert found is not None  # _applied keeps installed revisions only
        source = executed_source(found.module)
        try:
            checksum = source_checksum(source) if source is not None else file_checksum(found.path)
        except (OSError, RevisionError):
            if revision in missing:
                missing.discard(revision)
            continue
        new_rows.append({"revision": revision, "branch": _branch(found), "checksum": checksum})
    if new_rows:
        connection.execute(checksums_table.insert(), new_rows)
    return len(missing)


def announce(config: Any, backfilled: int) -> None:
    """Say once that the checksums of revisions applied earlier were recorded now, from their files as they are.

    The line goes to the Config's ``notices`` (jnt_dbman prints them on
    stderr) and to the ``janitoo_db.checksums`` logger, at INFO.
    """
    if not backfilled:
        return
    plural = "revision" if backfilled == 1 else "revisions"
    notice = (f"Recorded the checksums of {backfilled} applied {plural} that had none (migrated before janitoo_db "
              "kept them), from their files as they are now: 'jnt_dbman checkdb' reports any later edit.")
    config.attributes.setdefault(NOTICES, []).append(notice)
    logger.info(notice)


def take_notices(config: Any) -> list[str]:
    """The notices a command left in *config*, once: they are removed."""
    return list(config.attributes.pop(NOTICES, ()))


def _held(connection: Connection, script: ScriptDirectory) -> set[str]:
    """The installed revisions the database holds, with those only an orphaned head implied (from the registry)."""
    heads = MigrationContext.configure(connection).get_current_heads()
    held = _applied(script, heads)
    if any(_installed(script, head) is None for head in heads):
        held |= _applied(script, [r for r in recorded_branches(connection) if _installed(script, r) is not None])
    return held


def find_edited(connection: Connection, script: ScriptDirectory) -> list[Edited]:
    """The applied revisions whose file's checksum is not the one recorded, core first, then by branch."""
    return _edited(connection, script, _held(connection, script), recorded(connection))


def _edited(connection: Connection, script: ScriptDirectory, held: set[str], rows: dict[str, str]) -> list[Edited]:
    found = []
    for revision, checksum in rows.items():
        installed = _installed(script, revision) if revision in held else None
        if installed is None:
            continue
        try:
            now = file_checksum(installed.path)
        except (OSError, RevisionError):
            now = None  # gone or no longer a file since the revisions were loaded: it changed
        if now != checksum:
            found.append(Edited(revision, _branch(installed), installed.path))
    return sorted(found, key=lambda e: (e.branch != "janitoo", e.branch, e.path))


def accept(connection: Connection, script: ScriptDirectory, revisions: Sequence[str] = ()) -> list[Edited]:
    """Record the files of edited applied revisions as they are now: all of them, or the *revisions* named.

    A named revision that is unknown, not applied, or not edited is an error
    and nothing is recorded.
    """
    held, rows = _held(connection, script), recorded(connection)
    edited = {e.revision: e for e in _edited(connection, script, held, rows)}
    chosen = list(edited.values())
    if revisions:
        chosen = []
        for name in dict.fromkeys(revisions):
            revision = _named(script, name)
            if revision.revision not in held:
                raise RevisionError(f"revision {revision.revision} ({_branch(revision)}) is not applied: "
                                    "there is nothing to accept")
            if revision.revision not in rows:
                raise RevisionError(f"revision {revision.revision} ({_branch(revision)}) has no checksum recorded "
                                    "yet (the next migration records it): there is nothing to accept")
            if revision.revision not in edited:
                others = f"; edited: {some(list(edited))}" if edited else ""
                raise RevisionError(f"revision {revision.revision} ({_branch(revision)}) has not changed since it "
                                    f"was applied: there is nothing to accept{others}")
            chosen.append(edited[revision.revision])
    for one in chosen:
        connection.execute(checksums_table.update().where(checksums_table.c.revision == one.revision)
                           .values(checksum=file_checksum(one.path), branch=one.branch))
    return chosen


def _named(script: ScriptDirectory, name: str) -> Script:
    """The installed revision whose id is *name*, or the only one whose id starts with it.

    Ids only: a branch name or ``heads`` would accept more than someone reviewed.
    """
    if not re.fullmatch(r"\w+", name):
        raise RevisionError(f"{name!r} is not a revision id: give the id of an edited revision (letters, digits, _)")
    exact = _installed(script, name)
    if exact is not None:
        return exact
    matching = [r for r in all_revisions(script) if r.revision.startswith(name)]
    if len(matching) == 1:
        return matching[0]
    if matching:
        raise RevisionError(f"{name!r} starts several revision ids: {some(sorted(r.revision for r in matching))}")
    raise RevisionError(f"{name!r} is not the id of an installed revision; 'jnt_dbman checkdb' lists the edited ones")
