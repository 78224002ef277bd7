"""The one place that decides whether a downgrade takes data from a branch it was not aimed at.

A downgrade is aimed at some branches: ``janitoo@-3`` and ``3b5854d25914`` at
the core, ``acme@base`` at acme, ``base`` at all of them.  Alembic also undoes
whatever depends on the revisions it removes, whichever branch that is, so a
downgrade of the core can drop an extension's tables.  The revisions it is
about to undo (the list ``--plan`` shows, worked out inside the migration's
lock) say which other branches would lose revisions; janitoo_db refuses to
run such a downgrade unless told to (``--cascade``).
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from alembic.script import ScriptDirectory

from janitoo_db.errors import RefusedError
from janitoo_db.site import graph
from janitoo_db.text import some


def branches_aimed_at(script: ScriptDirectory, revision: str, branches: Iterable[str]) -> set[str] | None:
    """The branches a downgrade to *revision* is meant to change; None when it is meant for all.

    ``base`` and ``heads`` mean every branch, and so does a relative step
    without a branch (``-1``), which Alembic allows only with a single head.
    """
    known = set(branches)
    name, at, _ = revision.partition("@")
    if not at:
        name = revision
    if name in ("base", "heads", "head", "") or name.startswith(("-", "+")):
        return None
    if name in known:
        return {name}
    found = graph.find(script, name)
    if found is None:
        return None
    return set(found.branch_labels) or None


def undone_elsewhere(steps: Sequence[Any], aimed_at: set[str] | None) -> dict[str, list[str]]:
    """The revisions *steps* (Alembic's revision steps) would undo in other branches, by branch."""
    if aimed_at is None:
        return {}
    found: dict[str, list[str]] = {}
    for step in steps:
        labels = set(step.revision.branch_labels)
        if labels and not labels & aimed_at:
            for label in sorted(labels):
                found.setdefault(label, []).append(step.revision.revision)
    return found


def refuse_losses(script: ScriptDirectory, revision: str, steps: Sequence[Any], branches: Iterable[str]) -> None:
    """Raise :class:`RefusedError` when *steps* undo revisions of branches *revision* is not aimed at."""
    losers = undone_elsewhere(steps, branches_aimed_at(script, revision, branches))
    if not losers:
        return
    described = some([f"{branch} ({some(revisions, 4)})" for branch, revisions in losers.items()], separator="; ")
    first = next(iter(losers))
    raise RefusedError(
        f"downgrading to {revision} would also undo revisions of other branches that depend on it, "
        f"and drop what they hold: {described}; downgrade those first (for example: jnt_dbman downgrade "
        f"{first}@base), or give --cascade to undo them too")


def empties_database(script: ScriptDirectory, current: Iterable[str], steps: Sequence[Any]) -> bool:
    """True when *steps* undo every revision the database at *current* holds."""
    held = graph.applied(script, current)
    return bool(held) and held <= {step.revision.revision for step in steps}


def refuse_unrecording(script: ScriptDirectory, revisions: Sequence[str], before: Iterable[str],
                       after: Iterable[str], branches: Iterable[str]) -> None:
    """Raise when a stamp to *revisions* took out of alembic_version revisions of branches none of them aims at.

    ``stamp janitoo@base`` also unrecords every extension that depends on the
    core; their tables stay, and no initdb gets past them. Like a downgrade,
    such a stamp must name those branches (or ``base``).
    """
    aimed: set[str] = set()
    for revision in revisions:
        one = branches_aimed_at(script, revision, branches)
        if one is None:
            return
        aimed |= one
    losers: dict[str, list[str]] = {}
    for lost in sorted(graph.applied(script, before) - graph.applied(script, after)):
        found = graph.find(script, lost)
        labels = set(found.branch_labels) if found is not None else set()
        if labels and not labels & aimed:
            for label in sorted(labels):
                losers.setdefault(label, []).append(lost)
    if losers:
        described = some([f"{branch} ({some(ids, 4)})" for branch, ids in losers.items()], separator="; ")
        raise RefusedError(
            f"stamping {some(list(revisions))} would also take out of alembic_version revisions of other branches "
            f"that depend on it, whose tables stay: {described}; nothing was stamped: stamp those first "
            f"(for example: jnt_dbman stamp {next(iter(losers))}@base)")
