"""What every command needs: branch names checked, revisions found, a failure explained."""
from __future__ import annotations

import io
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from alembic.script import Script
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from janitoo_db.errors import ExtensionError, RevisionError
from janitoo_db.guard.registry import recorded_branches
from janitoo_db.history import returning
from janitoo_db.results import Orphan, RevisionInfo, Step
from janitoo_db.runtime.running import run_locked
from janitoo_db.site import Site, graph, squashed
from janitoo_db.site.reading import read_current, read_database
from janitoo_db.site.revision_files import describe_raised
from janitoo_db.site.revisions import alembic_errors
from janitoo_db.text import some

if TYPE_CHECKING:
    pass


StepReporter = Callable[[Step], None]


def _known(site: Site, names: Iterable[str]) -> None:
    """Raise for any name that is not an installed branch, listing the known ones."""
    known = site.by_name()
    for name in names:
        if name not in known:
            raise ExtensionError(f"unknown extension {name!r}; known: {some(list(known))}")


def _revisions(site: Site, revision: str) -> list[Script]:
    with alembic_errors():
        return [r for r in site.script.get_revisions(revision) if r is not None]


def _in_branch_order(site: Site, infos: list[RevisionInfo]) -> list[RevisionInfo]:
    """Core first, then extensions by name, as collect lists them."""
    order = {name: index for index, name in enumerate(site.by_name())}
    return sorted(infos, key=lambda info: min((order.get(b, len(order)) for b in info.branches), default=len(order)))


def _recorded(site: Site) -> dict[str, str]:
    return read_database(site, recorded_branches, {}, "read the database")


def _offline(site: Site, action: Callable[[], Any]) -> str:
    """Run an Alembic command in offline mode and return the SQL it wrote; never connects."""
    site.script  # noqa: B018 - loaded and checked before Alembic writes anything
    buffer = io.StringIO()
    site.alembic_config.output_buffer = buffer
    try:
        with alembic_errors(lambda error: RevisionError(f"cannot write the SQL script: {describe_raised(error)}")):
            action()
    finally:
        site.alembic_config.output_buffer = None
    return buffer.getvalue()


def _symbol(revision: str) -> str:
    """*revision* when it can denote a revision at all; Alembic answers '', '@' or ':' with an AssertionError."""
    parts = revision.split(":") if ":" in revision else [revision]
    for part in parts:
        name, at, relative = part.partition("@")
        if not part.strip() or (at and not (name.strip() and relative.strip())):
            raise RevisionError(f"{revision!r} is not a revision: give an id, a branch name, NAME@head, "
                                "NAME@base, NAME@-N, heads or base"
                                + (" on each side of ':'" if ":" in revision else ""))
    return revision


def _known_branch_of(site: Site, revision: str) -> None:
    """For ``NAME@...``, raise when NAME is neither a branch nor a revision (Alembic only says it cannot locate it)."""
    _symbol(revision)
    name = revision.partition("@")[0] if "@" in revision else None
    if name and name not in site.by_name() and graph.find(site.script, name) is None:
        _known(site, [name])


def _migrating(site: Site, action: Callable[[Connection], Any], on_step: StepReporter | None = None) -> list[Step]:
    """run_locked, explaining a failure caused by a head no installed extension provides."""
    with _orphans_explained(site):
        return run_locked(site, action, on_step)


@contextmanager
def _orphans_explained(site: Site) -> Iterator[None]:
    """Turn Alembic's "Can't locate revision" about a head no installed extension provides into what to do."""
    try:
        yield
    except RevisionError:
        orphans = _orphans(site, read_current(site))
        if not orphans:
            raise
        first = orphans[0]
        advice = (f"install that release of {first.branch} again" if first.installed else
                  f"install {first.branch} again and run 'jnt_dbman downgrade {first.branch}@base', or forget it "
                  f"('jnt_dbman forget {first.branch}')" if first.branch else
                  f"install the extension that provides it again, or forget it ('jnt_dbman forget {first.revision}')")
        raise RevisionError(f"the database holds {first.describe()}; {advice}") from None


def _orphans(site: Site, current_ids: Iterable[str]) -> list[Orphan]:
    """The heads among *current_ids* that no installed extension provides."""
    script = site.script
    unknown = [revision for revision in current_ids if graph.find(script, revision) is None]
    if unknown:  # a revision a squashed revision replaces is no orphan
        unknown = [revision for revision in unknown if revision not in squashed.replacements(script)]
    if not unknown:
        return []
    recorded = _recorded(site)
    installed = site.by_name()
    return [Orphan(r, recorded.get(r), recorded.get(r) in installed) for r in unknown]


def _table_names(site: Site) -> list[str]:
    return read_database(site, lambda connection: sorted(inspect(connection).get_table_names()), [],
                         "list the tables")


def _kept(site: Site) -> list[returning.Kept]:
    """Branches forgotten with their tables kept and installed again, with where their tables stand."""
    return read_database(site, lambda connection: returning.examine(site, connection), [], "read the database")
