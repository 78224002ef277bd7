"""Adopting a database that has no ``alembic_version``: the revision each branch's tables are at.

The original janitoo's ``createdb`` made every table from the models and
never wrote ``alembic_version``; people also made tables by hand.  Nothing
in such a database says which revisions its tables came from, so
``jnt_dbman adopt`` compares its tables with the schema each revision of
each branch leaves (:mod:`janitoo_db.history.revision_schemas`) and stamps, for
each branch, the newest revision it matches; the next ``initdb`` runs the
rest from there.

The rules, per branch:

* **Nothing of it in the database**: left at base; ``initdb`` creates it.
* **A match** at revision R: every table the branch has at R is there with
  exactly R's column names and a column type of the same class; no table
  the branch makes at another revision is there; columns the branch adds to
  other branches' tables likewise.  Columns other branches add to its tables
  are theirs, and do not count.
* **Revisions that change no table** (they insert rows, or only carry the
  branch label) leave their parent's schema: the newest of them matches.
  A database cannot show its rows, so the tables are taken to have been
  used: the original's core (tables of 1266567cc97f) is at 33b95995b188,
  whose initial rows the original inserted too, and ``initdb`` then runs
  5d2f0a8c91e3, which converts its pickled settings to JSON.
* **depends_on**: a revision whose dependencies on other branches are not
  applied there (as those branches' own matches say) is passed over for the
  next older match; stamping it would mark them as applied.
* **No match**: the differences from the closest revision are listed, and
  nothing at all is stamped, for any branch.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from janitoo_db.history.revision_schemas import BranchSchemas, Columns, Schemas, Snapshot, read_tables
from janitoo_db.site import graph
from janitoo_db.text import first_line, some

MATCHED, ABSENT, UNMATCHED = "matched", "absent", "unmatched"
#: The tables match a revision, but only revisions that need what other branches' tables show is not applied.
CONFLICTING = "conflicting"


@dataclass(frozen=True)
class Finding:
    """Where one branch's tables are: at a revision, absent, at none, or at one it cannot be stamped at."""

    branch: str
    state: str
    revision: str | None = None
    message: str = ""
    #: The branch's tables at that revision (matched), or those in the database (unmatched).
    tables: tuple[str, ...] = ()
    #: ``table.column`` it adds to other branches' tables, at that revision.
    columns: tuple[str, ...] = ()
    #: Unmatched: how the database differs from the closest revision (``revision``);
    #: conflicting: what the newest matching revision (``revision``) needs.
    differences: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.state == ABSENT:
            return f"{self.branch}: none of its tables is in the database; left at base (initdb creates them)"
        at = f"{self.revision} ({self.message})" if self.message else str(self.revision)
        if self.state == MATCHED:
            count = f"{len(self.tables)} table" + ("" if len(self.tables) == 1 else "s")
            what = [f"its {count}: {some(list(self.tables))}"] if self.tables else []
            what += [f"its columns {some(list(self.columns))}"] if self.columns else []
            return f"{self.branch}: {at} matches {'; and '.join(what)}"
        if self.state == CONFLICTING:
            return (f"{self.branch}: its tables match {at}, which needs revisions of other branches "
                    "that are not applied")
        if self.revision is None:
            return f"{self.branch}: its tables match none of its revisions"
        return (f"{self.branch}: its tables match none of its revisions; the closest is {at}, "
                f"{len(self.differences)} difference(s)")


@dataclass(frozen=True)
class Adoption:
    """What adopt found in a database without alembic_version, and what it stamped."""

    findings: tuple[Finding, ...]
    #: Tables that belong to no branch: left alone.
    other_tables: tuple[str, ...]
    #: alembic_version after stamping; empty when nothing was stamped.
    stamped: tuple[str, ...] = ()

    @property
    def revisions(self) -> tuple[str, ...]:
        """The revision found for each branch that has one."""
        return tuple(f.revision for f in self.findings if f.state == MATCHED and f.revision)

    def chosen(self) -> dict[str, str | None]:
        """Each branch's revision, or its state: what must not change between showing and stamping."""
        return {f.branch: f.revision if f.state == MATCHED else f.state for f in self.findings}

    def refusal(self) -> str | None:
        """Why nothing may be stamped, or None."""
        unmatched = [f.branch for f in self.findings if f.state == UNMATCHED]
        conflicting = [f.branch for f in self.findings if f.state == CONFLICTING]
        if unmatched:
            return (f"the tables of {some(unmatched)} match none of their revisions (the differences are listed); "
                    "nothing was stamped: make the tables match a revision, or drop them, then run adopt again")
        if conflicting:
            return (f"the tables of {some(conflicting)} match only revisions that need revisions of other "
                    "branches that are not applied (listed); nothing was stamped")
        return None

    def owners(self) -> dict[str, str | None]:
        """Each table of a branch found at a revision, and that branch: for janitoo_db's registry."""
        return {table: f.branch for f in self.findings if f.state == MATCHED for table in f.tables}

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "adoptable": self.refusal() is None}


def examine(connection: Connection, script: ScriptDirectory, schemas: Schemas) -> Adoption:
    """Compare the database's tables with every branch's revisions; change nothing."""
    database, others = read_tables(connection, schemas.tables())
    findings: dict[str, Finding] = {}
    candidates: dict[str, list[Snapshot]] = {}
    for name, branch in schemas.branches.items():
        if not holds_any(branch, database):
            findings[name] = Finding(name, ABSENT)
            continue
        scored = [(differences(schemas, branch, snapshot, database), snapshot) for snapshot in branch.snapshots]
        matching = [snapshot for found, snapshot in scored if not found]
        if matching:
            candidates[name] = matching
            continue
        present = tuple(sorted(t for t in branch.footprint if t in database))
        if not scored:
            findings[name] = Finding(name, UNMATCHED, tables=present)
            continue
        closest, snapshot = min(scored, key=lambda pair: len(pair[0]))  # the newest of the closest
        findings[name] = Finding(name, UNMATCHED, snapshot.revision.revision, first_line(snapshot.revision.doc),
                                 present, differences=tuple(closest))
    findings.update(_settle(script, candidates))
    return Adoption(tuple(findings[name] for name in schemas.branches), tuple(others))


def holds_any(branch: BranchSchemas, database: Mapping[str, Columns]) -> bool:
    """True when the database holds anything of *branch*: one of its tables, or a column it adds."""
    return any(t in database for t in branch.tables_ever) or any(
        column in database.get(table, {}) for table, columns in branch.added_ever.items() for column in columns)


def differences(schemas: Schemas, branch: BranchSchemas, snapshot: Snapshot,
                database: Mapping[str, Columns]) -> list[str]:
    """How the database's share of *branch* differs from *snapshot*, one line each; none for a match."""
    at = snapshot.revision.revision
    found: list[str] = []
    for table in sorted(branch.tables_ever):
        expected, there = snapshot.tables.get(table), database.get(table)
        if expected is None:
            if there is not None:
                found.append(f"table {table} is in the database, not at {at}")
        elif there is None:
            found.append(f"table {table} is missing")
        else:
            found += _columns(table, expected, {c: k for c, k in there.items()
                                                if c in expected or not schemas.theirs(table, c, branch.name)}, at)
    for table, ever in sorted(branch.added_ever.items()):
        expected, there = snapshot.added.get(table, {}), database.get(table)
        if there is None:
            found += [f"table {table} is missing (with {branch.name}'s column {c})" for c in expected]
        else:
            found += _columns(table, expected, {c: k for c, k in there.items() if c in ever}, at)
    return found


def _columns(table: str, expected: Columns, there: Columns, at: str) -> list[str]:
    found = []
    for column, kind in expected.items():
        if column not in there:
            found.append(f"column {table}.{column} is missing")
        elif kind and there[column] and kind != there[column]:
            found.append(f"column {table}.{column} is {there[column]} in the database, {kind} at {at}")
    found += [f"column {table}.{column} is in the database, not at {at}" for column in there if column not in expected]
    return found


def _settle(script: ScriptDirectory, candidates: dict[str, list[Snapshot]]) -> dict[str, Finding]:
    """Each branch's newest match whose dependencies on other branches those branches' matches hold."""
    picks = dict.fromkeys(candidates, 0)
    conflicts: dict[str, Finding] = {}
    moved = True
    while moved:
        moved = False
        held = {name: graph.applied(script, [candidates[name][index].revision.revision])
                for name, index in picks.items()}
        for name, index in list(picks.items()):
            if not _missing(script, name, held[name], held):
                continue
            moved = True
            if index + 1 < len(candidates[name]):
                picks[name] = index + 1
                continue
            del picks[name]
            newest = candidates[name][0].revision
            needs = graph.applied(script, [newest.revision])
            conflicts[name] = Finding(name, CONFLICTING, newest.revision, first_line(newest.doc), differences=tuple(
                f"{newest.revision} needs {needed} of {label}, which the tables of {label} show is not applied"
                for needed, label in _missing(script, name, needs, held)))
            break
    found = {name: _matched(name, candidates[name][index]) for name, index in picks.items()}
    return {**found, **conflicts}


def _missing(script: ScriptDirectory, name: str, needs: set[str],
             held: Mapping[str, set[str]]) -> list[tuple[str, str]]:
    """The newest revision of each other branch in *needs* that the other branch's match does not hold."""
    missing = {revision: label for revision in needs for label in [_branch_of(script, revision)]
               if label is not None and label != name and revision not in held.get(label, set())}
    implied = set().union(*(graph.ancestors(script, revision) for revision in missing))
    return sorted((revision, label) for revision, label in missing.items() if revision not in implied)


def _branch_of(script: ScriptDirectory, revision: str) -> str | None:
    found = graph.find(script, revision)
    labels = sorted(found.branch_labels) if found is not None else []
    return labels[0] if len(labels) == 1 else None


def _matched(name: str, snapshot: Snapshot) -> Finding:
    added = tuple(f"{table}.{column}" for table, columns in sorted(snapshot.added.items()) for column in columns)
    return Finding(name, MATCHED, snapshot.revision.revision, first_line(snapshot.revision.doc),
                   tuple(sorted(snapshot.tables)), added)


def destination(script: ScriptDirectory, adoption: Adoption) -> list[str]:
    """The revisions to stamp: those found, less those another found revision implies (Alembic would drop them)."""
    found = list(adoption.revisions)
    implied = set().union(*(graph.ancestors(script, revision) for revision in found))
    return [revision for revision in found if revision not in implied]
