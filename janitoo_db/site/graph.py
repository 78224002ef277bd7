"""Questions about the revision graph of every branch, answered without touching a database.

``alembic_version`` lists only the tips the database is at; what they imply
(their parents and ``depends_on`` targets, transitively) is worked out here.
"""
from __future__ import annotations

from typing import Iterable

from alembic.script import Script, ScriptDirectory
from alembic.script.revision import Revision
from alembic.script.revision import RevisionError as AlembicRevisionError
from alembic.util import CommandError

from janitoo_db.results import RevisionInfo
from janitoo_db.site.alembic_internals import dependencies
from janitoo_db.text import first_line


def parents(revision: Revision) -> tuple[str, ...]:
    """The ids in *revision*'s ``down_revision``: two or more for a merge, none for a root."""
    down = revision.down_revision
    return (down,) if isinstance(down, str) else tuple(down or ())


def own_labels(revision: Script) -> tuple[str, ...]:
    """The branch labels *revision*'s file declares (``branch_labels`` also holds those it inherits)."""
    labels = getattr(revision.module, "branch_labels", None)
    return (labels,) if isinstance(labels, str) else tuple(labels or ())


def find(script: ScriptDirectory, revision: str) -> Script | None:
    """The revision with this id, or None when no installed branch provides it."""
    try:
        return script.get_revision(revision)
    except (CommandError, AlembicRevisionError):
        return None


def ancestors(script: ScriptDirectory, revision: str) -> set[str]:
    """Every revision *revision* needs: its parents and dependencies, transitively."""
    seen: set[str] = set()
    pending = [revision]
    while pending:
        found = find(script, pending.pop())
        for parent in ((*parents(found), *dependencies(found)) if found is not None else ()):
            if parent not in seen:
                seen.add(parent)
                pending.append(parent)
    return seen


def applied(script: ScriptDirectory, current: Iterable[str]) -> set[str]:
    """Every revision a database at *current* holds.

    A head that a current revision depends on is applied, though
    alembic_version no longer lists it.
    """
    tips = set(current)
    return tips.union(*(ancestors(script, revision) for revision in tips))


def branch_members(script: ScriptDirectory, name: str) -> list[Script]:
    """Every revision of branch *name*, newest first."""
    return members_by_branch(script).get(name, [])


def members_by_branch(script: ScriptDirectory) -> dict[str, list[Script]]:
    """Every branch's revisions, newest first, in one walk through the graph."""
    found: dict[str, list[Script]] = {}
    for revision in script.walk_revisions():
        for label in revision.branch_labels:
            found.setdefault(label, []).append(revision)
    return found


def branch_tips(members: list[Script]) -> tuple[str, ...]:
    """The revisions of a branch that no other revision of it follows."""
    ids = {s.revision for s in members}
    return tuple(s.revision for s in members if not set(s.nextrev) & ids)


def revision_info(script: Script) -> RevisionInfo:
    """One revision as heads, history, show and current describe it."""
    return RevisionInfo(
        revision=script.revision,
        down_revisions=parents(script),
        branches=tuple(sorted(script.branch_labels)),
        message=first_line(script.doc),
        path=script.path,
        is_head=script.is_head,
        is_branch_point=script.is_branch_point,
        is_merge_point=script.is_merge_point,
        depends_on=dependencies(script),
        doc=(script.longdoc or "").strip(),
    )
