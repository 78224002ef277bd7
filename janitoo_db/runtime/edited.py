"""Applied revisions whose file was edited since it ran: found by their checksums, and accepted after review.

``checkdb`` lists them (exit 6) and ``dropdb`` refuses to run their
downgrades; ``jnt_dbman accept`` records the files as they are now.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Sequence

from alembic.script import Script, ScriptDirectory
from sqlalchemy.engine import Connection

from janitoo_db.errors import RevisionError
from janitoo_db.guard.registry import recorded_branches
from janitoo_db.runtime.checksums import _applied, _branch, _installed, checksums_table, file_checksum, recorded
from janitoo_db.site.alembic_internals import all_revisions
from janitoo_db.site.reading import current_heads
from janitoo_db.text import some


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


def _held(connection: Connection, script: ScriptDirectory) -> set[str]:
    """The installed revisions the database holds, with those only an orphaned head implied (from the registry)."""
    heads = current_heads(connection)
    installed = _installed(script)
    held = _applied(script, installed, heads)
    if any(head not in installed for head in heads):
        held |= _applied(script, installed, [r for r in recorded_branches(connection) if r in installed])
    return held


def find_edited(connection: Connection, script: ScriptDirectory) -> list[Edited]:
    """The applied revisions whose file's checksum is not the one recorded, core first, then by branch."""
    return _edited(script, _held(connection, script), recorded(connection))


def _edited(script: ScriptDirectory, held: set[str], rows: dict[str, str]) -> list[Edited]:
    installed = _installed(script)
    found = []
    for revision, checksum in rows.items():
        current = installed.get(revision) if revision in held else None
        if current is None:
            continue  # not applied (any more), or no installed extension provides it: no file to compare
        try:
            now = file_checksum(current.path)
        except (OSError, RevisionError):
            now = None  # gone or no longer a file since the revisions were loaded: it changed
        if now != checksum:
            found.append(Edited(revision, _branch(current), current.path))
    return sorted(found, key=lambda e: (e.branch != "janitoo", e.branch, e.path))


def accept(connection: Connection, script: ScriptDirectory, revisions: Sequence[str] = ()) -> list[Edited]:
    """Record the files of edited applied revisions as they are now: all of them, or the *revisions* named.

    A named revision that is unknown, not applied, or not edited is an error
    and nothing is recorded.
    """
    held, rows = _held(connection, script), recorded(connection)
    edited = {e.revision: e for e in _edited(script, held, rows)}
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
        try:
            checksum = file_checksum(one.path)
        except OSError as error:
            raise RevisionError(f"cannot read the file of revision {one.describe()}: {error.strerror}; "
                                "nothing was accepted") from None
        connection.execute(checksums_table.update().where(checksums_table.c.revision == one.revision)
                           .values(checksum=checksum, branch=one.branch))
    return chosen


def _named(script: ScriptDirectory, name: str) -> Script:
    """The installed revision whose id is *name*, or the only one whose id starts with it.

    Ids only: a branch name or ``heads`` would accept more than someone reviewed.
    """
    if not re.fullmatch(r"\w+", name):
        raise RevisionError(f"{name!r} is not a revision id: give the id of an edited revision (letters, digits, _)")
    exact = _installed(script).get(name)
    if exact is not None:
        return exact
    matching = [r for r in all_revisions(script) if r.revision.startswith(name)]
    if len(matching) == 1:
        return matching[0]
    if matching:
        raise RevisionError(f"{name!r} starts several revision ids: {some(sorted(r.revision for r in matching))}")
    raise RevisionError(f"{name!r} is not the id of an installed revision; 'jnt_dbman checkdb' lists the edited ones")
