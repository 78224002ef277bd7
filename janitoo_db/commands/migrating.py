"""Commands that move the database between revisions: upgrade, initdb, downgrade, stamp."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable, Sequence

from alembic.config import Config
from sqlalchemy.engine import Connection

from janitoo_db.commands.common import StepReporter, _known_branch_of, _migrating
from janitoo_db.commands.reading import current
from janitoo_db.errors import RevisionError
from janitoo_db.guard import destructive, safety, sql_guard
from janitoo_db.history import returning, unversioned
from janitoo_db.results import Step
from janitoo_db.runtime import interrupted
from janitoo_db.runtime.running import run_alembic, run_stamp
from janitoo_db.site import Site, graph, squashed
from janitoo_db.site.engine import is_missing_sqlite_file
from janitoo_db.site.reading import current_heads, read_current
from janitoo_db.site.switches import refusing
from janitoo_db.text import some

if TYPE_CHECKING:
    pass


def upgrade(site: Site | Config, revision: str = "heads", *, on_step: StepReporter | None = None,
            no_destructive: bool | None = None) -> list[Step]:
    """Upgrade the database to *revision*, every branch by default.

    With *no_destructive* (None: ``$JANITOO_DB_NO_DESTRUCTIVE``), refuse
    before anything runs when a revision to run can destroy data
    (:mod:`janitoo_db.guard.destructive`).
    """
    site = Site.of(site)
    _known_branch_of(site, revision)
    check = destructive.guard(site, revision) if refusing(no_destructive) else None

    def run(connection: Connection) -> None:
        # A killed createdb leaves tables and no alembic_version too: named as such, not taken for the original's.
        interrupted.refuse_if_any(connection)
        # --no-destructive judges alembic_version as a stamp below would leave it, before the stamp is written.
        before_stamp = None if check is None else (
            lambda current: destructive.refuse_from(site, revision, current, connection))
        # A database the original janitoo made (tables, no alembic_version): adopted first, or refused.
        unversioned.adopt_or_refuse(site, connection, revision, before_stamp)
        # An extension forgotten with its tables kept, installed again: taken back where its tables are, or refused.
        returning.take_back_or_refuse(site, connection, revision, before_stamp)
        if check is None:
            run_alembic(site, revision, upgrade=True)
            return
        check(connection)
        # What the dry run could not see is judged as it is sent (janitoo_db.guard.sql_guard).
        with sql_guard.watching(connection):
            run_alembic(site, revision, upgrade=True)

    return _migrating(site, run, on_step)


def create_database(site: Site | Config) -> bool:
    """Create *site*'s database on its PostgreSQL or MySQL/MariaDB server when it does not exist.

    True when it was created; False when it existed, or on SQLite, whose file
    the command creates anyway.  See :mod:`janitoo_db.runtime.database_creation`.
    """
    site = Site.of(site)
    from janitoo_db.runtime.database_creation import create_if_missing

    return create_if_missing(site.engine)


def initdb(site: Site | Config, *, on_step: StepReporter | None = None,
           no_destructive: bool | None = None) -> list[Step]:
    """Build or bring the whole database to the head of every branch."""
    site = Site.of(site)
    return upgrade(site, "heads", on_step=on_step, no_destructive=no_destructive)


def downgrade(site: Site | Config, revision: str = "base", *, cascade: bool = False,
              on_step: StepReporter | None = None) -> list[Step]:
    """Downgrade the database to *revision*; ``base`` empties every branch.

    A downgrade that would also undo revisions of branches it is not aimed at
    (they depend on what it removes) is refused, naming them, unless *cascade*.
    """
    site = Site.of(site)
    _known_branch_of(site, revision)
    _refuse_ambiguous_step(site, revision)

    def run(connection: Connection) -> None:
        # As the migration will find it: a head a squashed revision replaces counts as that revision.
        current = squashed.as_if_restamped(site.script, current_heads(connection))
        _refuse_relative_from_nothing(site, revision, current)
        run_alembic(site, revision, upgrade=False, guard=_loss_guard(site, revision, cascade))

    return _migrating(site, run, on_step)


#: ``NAME@-N``: N revisions below where branch NAME is now.
_BELOW_CURRENT = re.compile(r"^(.+?)@-\d+$")


def _refuse_relative_from_nothing(site: Site, revision: str, current: Sequence[str]) -> None:
    """Refuse ``NAME@-N`` when NAME has no applied revision: Alembic fails there on a bare AssertionError."""
    script = site.script
    for part in revision.split(":"):
        below = _BELOW_CURRENT.match(part.strip())
        name = below.group(1) if below else ""
        members = graph.branch_members(script, name) if name else []
        held = graph.applied(script, current) if members else set()
        if members and not any(member.revision in held for member in members):
            raise RevisionError(f"{name} has no applied revision: nothing to downgrade "
                                f"(applied: {_applied_tips(site, held) or 'nothing, the database is at base'})")


def _applied_tips(site: Site, held: set[str]) -> str:
    """Each branch with an applied revision, and the newest it holds: "janitoo 5d2f0a8c91e3, acme_sensors ..."."""
    by_branch = graph.members_by_branch(site.script)
    return ", ".join(f"{name} {' '.join(tips)}" for name in site.by_name()
                     for tips in [graph.branch_tips([m for m in by_branch.get(name, []) if m.revision in held])]
                     if tips)


#: Alembic's relative step down from where the database is, on no branch in particular: ``-1``.
BARE_STEP = re.compile(r"-\d+")


def _refuse_ambiguous_step(site: Site, revision: str) -> None:
    """``-N`` from several heads: Alembic picks one branch and warns; say which ``NAME@-N`` to give instead."""
    if not BARE_STEP.fullmatch(revision):
        return
    at = current(site)
    branches = list(dict.fromkeys(b for info in at for b in info.branches[:1]))
    if len(at) > 1:
        example = branches[0] if branches else "NAME"
        raise RevisionError(f"{revision} is ambiguous: the database is at the heads of several branches "
                            f"({some(branches)}); name one, as in 'jnt_dbman downgrade {example}@{revision}'")


def _loss_guard(site: Site, revision: str, cascade: bool) -> Callable[[Any], None] | None:
    if cascade:
        return None
    return lambda steps: safety.refuse_losses(site.script, revision, steps, site.by_name())


def stamp(site: Site | Config, revisions: Sequence[str]) -> tuple[str, ...]:
    """Record *revisions* in ``alembic_version`` without running them; return the new version.

    Stamping a SQLite file that does not exist at base changes nothing, so
    the file is not created.
    """
    site = Site.of(site)
    for revision in revisions:
        _known_branch_of(site, revision)
    if is_missing_sqlite_file(site.engine) and all(r == "base" or r.endswith("@base") for r in revisions):
        return ()

    def stamping(connection: Connection) -> None:
        before = current_heads(connection)
        run_stamp(site, list(revisions))
        after = current_heads(connection)
        safety.refuse_unrecording(site.script, revisions, before, after, site.by_name())

    _migrating(site, stamping)
    return read_current(site)
