"""Commands that only read: the branches, their revisions, and where the database stands."""
from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from alembic.config import Config

from janitoo_db.commands.common import _in_branch_order, _kept, _orphans, _recorded, _revisions, _symbol
from janitoo_db.errors import RevisionError
from janitoo_db.history import unversioned
from janitoo_db.results import Branch, CheckResult, RevisionInfo
from janitoo_db.runtime import edited, interrupted
from janitoo_db.site import Site, graph, squashed
from janitoo_db.site.conf import version_locations as branch_version_dirs
from janitoo_db.site.extensions import Extension, discover
from janitoo_db.site.reading import read_current, read_database
from janitoo_db.site.revisions import alembic_errors
from janitoo_db.text import some

if TYPE_CHECKING:
    pass


def collect() -> list[Extension]:
    """The core branch and every installed extension."""
    return discover()


def version_locations(site: Site | Config) -> list[str]:
    """Every branch's version directory, core first, as Alembic is given them."""
    site = Site.of(site)
    site.script  # noqa: B018 - loaded and checked: every directory holds a whole branch
    return branch_version_dirs(site.extensions)


def heads(site: Site | Config) -> list[RevisionInfo]:
    """The head revision of every branch."""
    site = Site.of(site)
    return _in_branch_order(site, [graph.revision_info(s) for s in _revisions(site, "heads")])


def branches(site: Site | Config) -> list[Branch]:
    """Every labelled branch with its root, heads and number of revisions."""
    site = Site.of(site)
    by_branch = graph.members_by_branch(site.script)
    result = []
    for name in site.by_name():
        members = by_branch.get(name, [])
        root = next((s.revision for s in members if s.is_base), "")
        result.append(Branch(name, root, graph.branch_tips(members), len(members)))
    return result


#: What Alembic's history and show read as the revisions the database is at.
CURRENT = "current"


def history(site: Site | Config, revrange: str | None = None) -> list[RevisionInfo]:
    """Revisions from newest to oldest, limited to ``[start]:[end]`` when given.

    ``current`` on either side is the revisions the database is at, as in
    Alembic (``current:`` is what an upgrade would run, and those).
    """
    site = Site.of(site)
    base, end = "base", "heads"
    if revrange:
        if ":" not in revrange:
            raise RevisionError(f"history range {revrange!r} must be [start]:[end], [start]: or :[end]")
        base, _, end = revrange.partition(":")
        base, end = base or "base", end or "heads"
    applied = _applied_for(site, f"history -r {revrange}", " (or base in its place)") if CURRENT in (base, end) \
        else ()
    lower = applied if base == CURRENT else base
    upper = applied if end == CURRENT else end
    with alembic_errors():
        # A tuple of ids on either side is typed out but works: Alembic's own history passes the current heads so.
        walked = site.script.walk_revisions(base=lower, head=upper)  # type: ignore[arg-type]
        return [graph.revision_info(s) for s in walked]


def _applied_for(site: Site, asking: str, otherwise: str = "") -> tuple[str, ...]:
    """The database's revisions, which ``current`` denotes; an error when it has none (as Alembic shows nothing)."""
    applied = read_current(site)
    if not applied:
        raise RevisionError(f"the database has no revision yet (base), so 'current' in '{asking}' denotes "
                            f"nothing; run 'jnt_dbman initdb' first{otherwise}")
    return applied


def show(site: Site | Config, revision: str = "heads") -> list[RevisionInfo]:
    """The revision(s) a symbol such as ``heads``, an id, ``NAME@head`` or ``current`` denotes."""
    site = Site.of(site)
    if revision == CURRENT:
        _applied_for(site, "show current")
        return current(site)
    found = _revisions(site, _symbol(revision))
    if not found:
        raise RevisionError(f"no revision matches {revision!r}")
    return [graph.revision_info(s) for s in found]


def versiondb(site: Site | Config) -> tuple[str, ...]:
    """The revision ids stored in the database's ``alembic_version`` table."""
    site = Site.of(site)
    return read_current(site)


def current(site: Site | Config) -> list[RevisionInfo]:
    """The revisions the database is at; heads no installed extension provides are marked orphaned."""
    site = Site.of(site)
    script = site.script
    current_ids = read_current(site)
    found = []
    for revision in current_ids:
        script_revision = graph.find(script, revision)
        if script_revision is not None:
            found.append(graph.revision_info(script_revision))
    orphans = [RevisionInfo(o.revision, (), (o.branch,) if o.branch else (), o.reason(), "", False, False, False,
                            orphaned=True) for o in _orphans(site, current_ids)]
    replaced = [RevisionInfo(r.revision, (), (r.branch,), r.reason(), "", False, False, False, replaced_by=r.squashed)
                for r in squashed.find_replaced(script, current_ids)]
    return _in_branch_order(site, found) + replaced + orphans


def checkdb(site: Site | Config) -> CheckResult:
    """Compare the database's revisions with every branch's head.

    Also reports heads no installed extension provides (orphans) and branches
    that have more than one head.
    """
    site = Site.of(site)
    script = site.script
    head_ids = tuple(sorted(script.get_heads()))
    current_ids = tuple(sorted(read_current(site)))
    orphans = tuple(_orphans(site, current_ids))
    # A branch the database holds a newer head of cannot be upgraded: its head is not pending.
    ahead = {o.branch for o in orphans if o.installed}
    missing = [h for h in head_ids if h not in current_ids]
    # Only a head alembic_version does not list needs the walk through every ancestor.
    applied = graph.applied(script, current_ids) if missing else set()
    if missing and orphans:
        # What an orphan implied (a core revision it depends on) only the registry still knows.
        applied |= graph.applied(script, [r for r in _recorded(site) if graph.find(script, r) is not None])
    pending = tuple(h for h in missing if h not in applied
                    and not (set(script.get_revision(h).branch_labels) & ahead))
    heads_per_branch = Counter(label for h in head_ids for label in script.get_revision(h).branch_labels)
    split = tuple(name for name in site.by_name() if heads_per_branch[name] > 1)
    # Only a database without a version is looked at for tables made without one (by the original's createdb).
    found = None if current_ids else read_database(site, lambda c: unversioned.find(site, c), None,
                                                   "list the tables")
    # Only a pending branch can be one forgotten with its tables kept and installed again.
    kept = _kept(site) if pending else []
    return CheckResult(current=current_ids, heads=head_ids, pending=pending, orphans=orphans, split_branches=split,
                       interrupted=tuple(interrupted_revisions(site)), edited=tuple(edited_revisions(site)),
                       replaced=tuple(squashed.find_replaced(script, current_ids)),
                       unversioned=found.declared if found is not None else (), kept=tuple(kept))


def _require_heads(site: Site, doing: str) -> None:
    state = checkdb(site)
    if state.pending:
        raise RevisionError(f"the database is not at every head (missing {some(state.pending)}); "
                            f"run 'jnt_dbman upgrade' before {doing}")
    if not state.up_to_date:
        raise RevisionError(f"the database is not as the installed extensions expect "
                            f"({_trouble(state)}); run 'jnt_dbman checkdb' before {doing}")


def _trouble(state: CheckResult) -> str:
    """What keeps a database whose heads are all applied from being up to date."""
    if state.orphans:
        return f"orphaned heads {some([o.revision for o in state.orphans])}"
    if state.split_branches:
        return f"branches with several heads: {some(state.split_branches)}"
    if state.replaced:
        return f"revisions replaced by a squashed revision: {some([r.revision for r in state.replaced])}"
    return f"interrupted revisions {some([i.revision for i in state.interrupted])}"


def edited_revisions(site: Site | Config) -> list[edited.Edited]:
    """Applied revisions whose file changed since it was applied (or last accepted).

    See :mod:`janitoo_db.runtime.checksums`.
    """
    site = Site.of(site)
    script = site.script
    return read_database(site, lambda connection: edited.find_edited(connection, script), [],
                         "read the database")


def interrupted_revisions(site: Site | Config) -> list[interrupted.Interrupted]:
    """Revisions a migration started and never finished.

    Only on MySQL/MariaDB, or around a revision's autocommit block elsewhere.
    """
    site = Site.of(site)
    return read_database(site, interrupted.find, [], "read the database")
