"""An extension forgotten with its tables kept, then installed again: taken back at the revision its tables are at.

``jnt_dbman forget NAME`` without ``--drop-tables`` takes NAME's heads out
of ``alembic_version`` and keeps its tables, still recorded as NAME's in the
owner ledger (``janitoo_db_tables``).  Installed again, NAME is at base: its
first revision would fail on a table that is already there.  So ``initdb``
and ``upgrade`` look first, under the migration lock and before writing
anything, and stamp NAME where its tables are, then upgrade from there;
``checkdb`` and ``adopt`` say the same.

It is done only on evidence that the tables are NAME's own and where they
stand, and refused otherwise (nothing is dropped or written; the message
names the way out):

* every table NAME's revisions make that the database holds is recorded in
  the ledger as NAME's (a table of that name made by anyone else is not);
* NAME's share of the database (its tables and the columns it adds to other
  branches' tables) matches one of its revisions exactly, as
  :mod:`janitoo_db.history.adopt` matches them;
* the checksums janitoo_db kept of NAME's applied revisions (they outlive
  ``forget``) name that revision as the last it applied, from files that
  have not changed since; without such checksums (a database migrated before
  janitoo_db kept them) the match must be a single revision;
* the revisions of other branches that revision needs are applied.

A database at every head (every server start) pays for one read of
``alembic_version``; only one with a branch at base reads the ledger and the
checksums' branches, and only one that had such a branch before (its tables
or its checksums are recorded) replays the revisions.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import sqlalchemy as sa
from alembic.script import Script, ScriptDirectory
from sqlalchemy.engine import Connection

from janitoo_db.errors import JanitooDbError, RefusedError
from janitoo_db.guard.registry import recorded_branches, recorded_tables
from janitoo_db.runtime import checksums
from janitoo_db.runtime.running import run_stamp
from janitoo_db.site import Site, graph, squashed
from janitoo_db.site.alembic_internals import upgrade_steps
from janitoo_db.site.reading import current_heads
from janitoo_db.site.revisions import alembic_errors
from janitoo_db.text import some

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kept:
    """An installed branch at base whose tables the database kept: where they stand, or why that is not known."""

    branch: str
    #: The tables its revisions make that the database holds.
    tables: tuple[str, ...]
    #: The revision its tables are at, when proven; initdb stamps it.
    revision: str | None = None
    #: Why it cannot be taken back (then revision is None): one line, naming the way out.
    refusal: str = ""

    def describe(self) -> str:
        """One line for checkdb, adopt and initdb."""
        if self.refusal:
            return self.refusal
        return (f"{self.branch} was forgotten with its tables kept ({some(list(self.tables))}); they match its "
                f"revision {self.revision}: 'jnt_dbman initdb' takes them back there and upgrades {self.branch} "
                "from there")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def examine(site: Site, connection: Connection) -> list[Kept]:
    """Every installed branch at base whose recorded tables the database holds, with where they stand; no writes."""
    script = site.script
    current = current_heads(connection)
    if not current or set(script.get_heads()) <= set(current):
        return []  # unversioned (janitoo_db.history.unversioned's), or at every head
    held = graph.applied(script, current)
    members = graph.members_by_branch(script)
    at_base = [name for name, revisions in members.items() if not any(r.revision in held for r in revisions)]
    unknown = [revision for revision in current if graph.find(script, revision) is None]
    if at_base and unknown:
        # A head a squashed revision replaces, or one no installed release has (a newer release's, an
        # uninstalled extension's): its branch is not at base, and what to do about it is said elsewhere.
        by_id = squashed.replacements(script)
        recorded_heads = recorded_branches(connection)
        elsewhere = {label for revision in unknown for label in
                     (by_id[revision].branch_labels if revision in by_id else [recorded_heads.get(revision)])}
        at_base = [name for name in at_base if name not in elsewhere]
    if not at_base:
        return []
    recorded = recorded_tables(connection)
    # Evidence the database had it: its tables in the ledger, or its applied revisions' checksums (both outlive forget).
    had = {name for name in recorded.values()} | checksums.branches(connection)
    found = []
    for name in at_base:
        if name in had:  # else new to this database: the common case of an install, which costs no replay
            kept = _examine_branch(site, connection, script, name, members[name], held, recorded)
            if kept is not None:
                found.append(kept)
    return found


def take_back_or_refuse(site: Site, connection: Connection, revision: str = "heads",
                        before_stamp: Callable[[Sequence[str]], None] | None = None) -> list[Kept]:
    """Before an upgrade to *revision* writes anything: stamp each returning branch it runs where its tables are.

    Refused when one cannot be taken back.  A returning branch the upgrade
    does not run (``upgrade OTHER@head``) is left as it is.  *before_stamp*
    sees alembic_version as it will be after the stamp, and may refuse it
    (``--no-destructive``: on MySQL/MariaDB the stamp commits).
    """
    found = _run_by(site, connection, revision, examine(site, connection))
    if not found:
        return []
    refused = [kept for kept in found if kept.refusal]
    if refused:
        raise RefusedError(refused[0].refusal)
    revisions = [kept.revision for kept in found if kept.revision]
    if before_stamp is not None:
        before_stamp(_after_stamp(site.script, current_heads(connection),
                                  revisions))
    run_stamp(site, revisions)
    for kept in found:
        message = (f"{kept.branch} was forgotten with its tables kept ({some(list(kept.tables))}); they match its "
                   f"revision {kept.revision}: taken back there; "
                   f"upgrading {kept.branch} from there.")
        logger.info(message)
        site.notify(message)
    return found


def planned_from(site: Site, connection: Connection, revision: str,
                 current: Sequence[str]) -> tuple[str, ...]:
    """Where the plan of an upgrade to *revision* starts when a returning branch is taken back first."""
    found = [kept for kept in _run_by(site, connection, revision, examine(site, connection)) if kept.revision]
    if not found:
        return tuple(current)
    for kept in found:
        site.notify(f"{kept.branch} was forgotten with its tables kept; they match its revision "
                       f"{kept.revision}: an upgrade takes them back there and runs this plan from there.")
    return tuple(_after_stamp(site.script, current, [kept.revision for kept in found if kept.revision]))


def _run_by(site: Site, connection: Connection, revision: str, found: list[Kept]) -> list[Kept]:
    """Those of *found* whose revisions an upgrade to *revision* would run from where the database is."""
    if not found or revision == "heads":
        return found
    script = site.script
    with alembic_errors():  # a plan reads outside the migration's own handling of Alembic's errors
        steps = upgrade_steps(script, revision, current_heads(connection))
    running = {label for step in steps for label in step.revision.branch_labels}
    return [kept for kept in found if kept.branch in running]


def _after_stamp(script: ScriptDirectory, current: Sequence[str], revisions: Sequence[str]) -> list[str]:
    """alembic_version once *revisions* are stamped beside *current*: a head they need is implied by them."""
    implied = set().union(*(graph.ancestors(script, revision) for revision in revisions))
    return sorted({*(r for r in current if r not in implied), *revisions})


def _examine_branch(site: Site, connection: Connection, script: ScriptDirectory, name: str,
                    members: list[Script], held: set[str], recorded: dict[str, str]) -> Kept | None:
    """Where *name*'s tables stand, on the evidence the module's docstring lists; None when none is in the way."""
    from janitoo_db.history import adopt as adopting
    from janitoo_db.history import revision_schemas

    afresh = (f"or, to start {name} afresh, uninstall it, run 'jnt_dbman forget {name} --drop-tables --yes' "
              "and install it again")
    existing = set(sa.inspect(connection).get_table_names())
    own = tuple(sorted(t for t, owner in recorded.items() if owner == name and t in existing))

    def refused(tables: Sequence[str], why: str, way_out: str, *, recorded_only: bool = True) -> Kept:
        # forget --drop-tables drops only what the ledger records as its: no way out for a table it does not.
        return Kept(name, tuple(tables), refusal=(
            f"{name} was forgotten with its tables kept ({some(list(tables))}), but {why}; nothing was "
            f"changed: {way_out}" + (f", {afresh}" if recorded_only else "")))

    try:
        schemas = revision_schemas.learn(site)
    except JanitooDbError as error:
        if not own:
            return None  # nothing recorded as its own is there; what else is, its upgrade will meet
        return refused(own, f"janitoo_db cannot learn its revisions' tables ({error})",
                       f"once its tables are checked, record where they are with 'jnt_dbman stamp {name}@REVISION'")
    branch = schemas.branches[name]
    database, _ = revision_schemas.read_tables(connection, branch.footprint)
    tables = sorted(t for t in branch.tables_ever if t in database)
    if not tables and not adopting.holds_any(branch, database):
        return None  # dropped with it (forget --drop-tables): its revisions make them again
    foreign = [t for t in tables if recorded.get(t) != name]
    if foreign:
        return refused(tables, f"its revisions make tables the database holds that janitoo_db did not record as "
                               f"{name}'s ({some(foreign)})",
                       f"rename or drop them if they are not {name}'s (another program's?); if they are, and match "
                       f"a revision of {name}, record it with 'jnt_dbman stamp {name}@REVISION'", recorded_only=False)
    scored = [(adopting.differences(schemas, branch, snapshot, database), snapshot) for snapshot in branch.snapshots]
    matching = [snapshot.revision.revision for found, snapshot in scored if not found]
    if not matching:
        closest = min(scored, key=lambda pair: len(pair[0]), default=None)
        what = (f"the closest is {closest[1].revision.revision}: {closest[0][0]}" if closest is not None
                else "none was learnt")
        return refused(tables, f"they match none of its revisions ({what})",
                       f"make them match one, then record it with 'jnt_dbman stamp {name}@REVISION'")
    revision, problem = _last_applied(connection, script, name, members, matching)
    if revision is None:
        verb = "matches" if len(matching) == 1 else "match"
        return refused(tables, problem, f"once its tables are checked, record where they are with "
                       f"'jnt_dbman stamp {name}@REVISION' ({some(matching)} {verb} them)")
    needed = sorted(r for r in graph.ancestors(script, revision) - {m.revision for m in members} if r not in held)
    if needed:
        return refused(tables, f"they match its revision {revision}, which needs revisions of other branches "
                               f"that are not applied ({some(needed)})",
                       "upgrade those branches first, then run initdb again")
    return Kept(name, tuple(tables), revision)


def _last_applied(connection: Connection, script: ScriptDirectory, name: str, members: list[Script],
                  matching: list[str]) -> tuple[str | None, str]:
    """The revision of *matching* janitoo_db's checksums say *name* was last at; else why it cannot tell."""
    rows = checksums.recorded(connection, branch=name)
    installed = {member.revision: member for member in members}
    if not rows:
        if len(matching) == 1:
            return matching[0], ""
        return None, (f"they match several of its revisions ({some(matching)}) and janitoo_db kept no record of "
                      "which it had applied")
    missing = sorted(r for r in rows if r not in installed)
    if missing:
        return None, (f"it had applied revisions this release of {name} does not have ({some(missing)}): "
                      f"install the release it was at and run initdb again")
    tips = graph.branch_tips([member for member in members if member.revision in rows])
    if len(tips) != 1 or tips[0] not in matching:
        return None, (f"they match {some(matching)}, and janitoo_db recorded it at {some(list(tips))} "
                      "when it was forgotten")
    edited = []
    for revision in sorted(graph.applied(script, tips) & set(rows)):
        try:
            unchanged = checksums.file_checksum(installed[revision].path) == rows[revision]
        except (OSError, JanitooDbError):
            unchanged = False
        if not unchanged:
            edited.append(revision)
    if edited:
        return None, (f"the file of its revision {edited[0]} changed since it ran" if len(edited) == 1 else
                      f"the files of its revisions {some(edited)} changed since they ran")
    return tips[0], ""
