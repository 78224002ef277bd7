"""One function per jnt_dbman command: each returns data and raises JanitooDbError.

Like ``alembic.command``, every function takes what it works on first: a
:class:`~janitoo_db.site.Site` (or an Alembic ``Config`` janitoo_db made, as
the original's callers hand); none prints or exits.
"""
from __future__ import annotations

import io
import re
from collections import Counter
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script
from sqlalchemy import MetaData, inspect
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from janitoo_db.errors import DatabaseError, ExtensionError, JanitooDbError, RefusedError, RevisionError
from janitoo_db.guard import destructive, ownership, safety, sql_guard
from janitoo_db.guard.registry import record_branches, record_tables, recorded_branches
from janitoo_db.history import drift, returning, unversioned
from janitoo_db.results import (
    Branch,
    CheckResult,
    Created,
    DriftReport,
    Forgotten,
    Orphan,
    RevisionInfo,
    Step,
    first_line,
    some,
)
from janitoo_db.runtime import checksums, interrupted, journal
from janitoo_db.runtime.migration import locked_connection, run_alembic, run_locked, run_stamp
from janitoo_db.site import Site, graph, squashed
from janitoo_db.site.alembic_internals import downgrade_steps, upgrade_steps
from janitoo_db.site.conf import version_locations as branch_version_dirs
from janitoo_db.site.engine import connect, describe_db_error, has_transactional_ddl_dialect, is_missing_sqlite_file
from janitoo_db.site.extensions import Extension, discover
from janitoo_db.site.reading import current_heads, read_current, read_database
from janitoo_db.site.revision_cache import describe_raised
from janitoo_db.site.revisions import alembic_errors

if TYPE_CHECKING:
    from janitoo_db.history import adopt as adopting

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


# -- extensions ------------------------------------------------------------

def collect() -> list[Extension]:
    """The core branch and every installed extension."""
    return discover()


def version_locations(site: Site | Config) -> list[str]:
    """Every branch's version directory, core first, as Alembic is given them."""
    site = Site.of(site)
    site.script  # noqa: B018 - loaded and checked: every directory holds a whole branch
    return branch_version_dirs(site.extensions)


# -- moving the database ---------------------------------------------------

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


def upgrade(site: Site | Config, revision: str = "heads", *, on_step: StepReporter | None = None,
            no_destructive: bool | None = None) -> list[Step]:
    """Upgrade the database to *revision*, every branch by default.

    With *no_destructive* (None: ``$JANITOO_DB_NO_DESTRUCTIVE``), refuse
    before anything runs when a revision to run can destroy data
    (:mod:`janitoo_db.guard.destructive`).
    """
    site = Site.of(site)
    _known_branch_of(site, revision)
    check = destructive.guard(site, revision) if destructive.refusing(no_destructive) else None

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


def plan(site: Site | Config, revision: str, *, upgrade: bool = True, with_sql: bool = False,
         cascade: bool = False) -> list[Step]:
    """The revisions an upgrade (or downgrade) to *revision* would run, in order; nothing is changed.

    With *with_sql*, each step carries the SQL its revision would run.  Each
    carries what it can destroy, with the rows of each table at stake
    (:mod:`janitoo_db.guard.destructive`).  A downgrade that :func:`downgrade`
    would refuse is refused here too.
    """
    site = Site.of(site)
    _, revision_steps = _revision_steps(site, revision, upgrade=upgrade)
    guard = None if upgrade else _loss_guard(site, revision, cascade)
    if guard is not None:
        guard(revision_steps)
    steps = []
    for number, (step, marks) in enumerate(zip(revision_steps, destructive.marks(site, revision_steps),
                                               strict=True), start=1):
        found = step.revision
        note = destructive.plan_note(found, step.is_upgrade)
        sql = _step_sql(site, found, step.is_upgrade, note) if with_sql else None
        steps.append(Step(found.revision, tuple(sorted(found.branch_labels)), first_line(found.doc),
                          step.is_upgrade, sql, number=number, total=len(revision_steps), destructive=marks,
                          note=note))
    return steps


def downgrade_empties_database(site: Site | Config, revision: str) -> bool:
    """True when a downgrade to *revision* would undo every revision the database holds."""
    site = Site.of(site)
    current, revision_steps = _revision_steps(site, revision, upgrade=False)
    return safety.empties_database(site.script, current, revision_steps)


def _revision_steps(site: Site, revision: str, *, upgrade: bool) -> tuple[tuple[str, ...], list[Any]]:
    """The database's current revisions, and Alembic's steps from there to *revision*."""
    _known_branch_of(site, revision)
    if not upgrade:
        _refuse_ambiguous_step(site, revision)
    script = site.script
    current = squashed.as_if_restamped(script, read_current(site))
    if upgrade and not current:  # a database the original made: planned from where initdb would adopt it
        current = read_database(site, lambda c: unversioned.planned_from(site, c), (), "read the tables")
    elif upgrade:  # an extension forgotten with its tables kept: planned from where initdb takes it back
        current = read_database(site, lambda c: returning.planned_from(site, c, revision, current), current,
                                "read the tables")
    else:
        _refuse_relative_from_nothing(site, revision, current)
    with _orphans_explained(site), alembic_errors():
        if upgrade:
            return current, upgrade_steps(script, revision, current)
        return current, downgrade_steps(script, revision, current)


def _step_sql(site: Site, revision: Script, is_upgrade: bool, note: str = "") -> str:
    """The offline SQL of one revision, or a comment saying why there is none.

    A revision with a *note* (see :func:`destructive.plan_note`) that cannot
    be written as SQL needs the database's rows: the comment says so, not the error.
    """
    parents = graph.parents(revision)
    if len(parents) > 1:
        return "-- a merge point runs no SQL of its own\n"
    parent = parents[0] if parents else "base"
    span = f"{parent}:{revision.revision}" if is_upgrade else f"{revision.revision}:{parent}"
    try:
        return _offline(site, lambda: run_alembic(site, span, upgrade=is_upgrade, sql=True))
    except RevisionError as error:
        if note:
            return "-- no SQL script: it needs the database's rows (see its note)\n"
        return f"-- no SQL script: {error}\n"


def upgrade_sql(site: Site | Config, revision: str = "heads") -> str:
    """The SQL script of an upgrade (``[START:]END``), written without connecting to the database."""
    site = Site.of(site)
    _symbol(revision)
    return _offline(site, lambda: run_alembic(site, revision, upgrade=True, sql=True))


def downgrade_sql(site: Site | Config, revrange: str) -> str:
    """The SQL script of a downgrade ``FROM:TO``, written without connecting to the database."""
    site = Site.of(site)
    if ":" not in revrange:
        raise RevisionError(f"downgrade --sql needs a range FROM:TO, not {revrange!r}")
    _symbol(revrange)
    return _offline(site, lambda: run_alembic(site, revrange, upgrade=False, sql=True))


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


def createdb(site: Site | Config) -> Created:
    """Create the tables from the models and stamp the database at every head.

    Only on a database without ``alembic_version`` that holds none of the
    models' tables, or all of them exactly as the models declare them (then
    it is only stamped): anything else would mark as applied revisions whose
    work is not there.  A versioned database must be at every head already.
    """
    site = Site.of(site)
    from janitoo_db.models.loading import loaded_models  # the models load only for the commands that use them

    metadata, extension_tables = loaded_models()
    script = site.script
    engine = site.engine
    settled: list[str] = []  # what a failure left, said after the error (MySQL/MariaDB)
    try:
        with locked_connection(site) as connection:
            context = MigrationContext.configure(connection)
            current, heads = set(context.get_current_heads()), set(script.get_heads())
            if current and not heads <= graph.applied(script, current):
                raise DatabaseError(f"the database is already versioned at {some(sorted(current))}; "
                                    "use 'jnt_dbman upgrade' instead of createdb")
            if current:
                return Created()
            interrupted.refuse_if_any(connection)
            existing = set(inspect(connection).get_table_names())
            _refuse_views_in_the_way(connection, metadata)
            present = [t.name for t in metadata.sorted_tables if t.name in existing]
            if present:
                _refuse_unversioned_tables(connection, metadata, extension_tables, present)
            # The names are known now: create_all need not ask about each table again.
            missing = [] if present else list(metadata.sorted_tables)
            with _journaled_createdb(connection, settled):
                metadata.create_all(connection, tables=missing, checkfirst=False)
                for head in sorted(heads):
                    context.stamp(script, head)
            record_branches(connection, script)
            checksums.record(connection, script, ())
            record_tables(connection, {t.name: drift.owners(extension_tables).get(t.name) for t in missing})
            if not has_transactional_ddl_dialect(connection.dialect.name):
                interrupted.mark_done(connection, None)  # committed with the rest
            return Created(tuple(t.name for t in missing), tuple(sorted(heads)))
    except SQLAlchemyError as error:
        raise DatabaseError(f"createdb failed: {describe_db_error(error, engine.url)}{''.join(settled)}") from None


def _refuse_views_in_the_way(connection: Any, metadata: MetaData) -> None:
    """Refuse before creating anything when a view has a model table's name.

    Its CREATE TABLE would fail half-way, after MySQL/MariaDB committed the
    tables created before it.
    """
    views = sorted(set(inspect(connection).get_view_names()) & set(metadata.tables))
    if views:
        raise RefusedError(f"createdb refused, nothing was created: the database has views named like the models' "
                           f"tables ({some(views)}); drop or rename them first")


@contextmanager
def _journaled_createdb(connection: Any, settled: list[str]) -> Iterator[None]:
    """On MySQL/MariaDB, mark createdb as under way and journal its CREATE TABLEs: a kill leaves them named.

    A failure short of a kill drops, as repair would and under the same
    lock, the tables this createdb made, and says so in *settled*.
    Elsewhere createdb is one transaction, which a failure or a kill rolls back whole.
    """
    if has_transactional_ddl_dialect(connection.dialect.name):
        yield
        return
    interrupted.mark_createdb(connection)
    try:
        with journal.recording(connection), journal.running(connection, journal.CREATEDB):
            yield
    except BaseException:
        if connection.in_transaction():
            connection.rollback()
        try:
            undone, kept = interrupted.settle_own(connection, {journal.CREATEDB})
        except SQLAlchemyError as error:
            failed = describe_db_error(error, connection.engine.url)
            settled.append(f"; dropping the tables it had created failed ({failed}): run 'jnt_dbman repair'")
        else:
            dropped = [line for done in undone for line in done.undone]
            settled.append(f"; {kept[0].why}: run 'jnt_dbman repair'" if kept else
                           f"; undone: {', '.join(dropped) or 'nothing, it had made nothing'}")
        raise


def _refuse_unversioned_tables(connection: Any, metadata: MetaData, extension_tables: dict[str, tuple[str, ...]],
                               present: list[str]) -> None:
    """Refuse to stamp a database without alembic_version unless its tables are exactly the models'."""
    absent = [t.name for t in metadata.sorted_tables if t.name not in present]
    if absent:
        raise RefusedError(
            f"the database has no alembic_version but already holds {some(present)} and not "
            f"{some(absent)}: createdb cannot tell which revisions made them; 'jnt_dbman adopt' finds "
            "the revision each branch's tables are at and stamps it; then run 'jnt_dbman initdb'")
    differences = drift.compare(connection, metadata, extension_tables).owned
    if differences:
        described = some([f"{d.table}: {d.description}" for d in differences], separator="; ")
        raise RefusedError(
            f"the database has no alembic_version and its tables differ from the models ({described}): "
            "createdb will not mark it as up to date; 'jnt_dbman adopt' finds the revision each branch's "
            "tables are at and stamps it; then run 'jnt_dbman initdb'")


def adopt(site: Site | Config, *, stamp: bool = False, expected: adopting.Adoption | None = None) -> adopting.Adoption:
    """The revision each branch's tables are at, in a database without ``alembic_version``; with *stamp*, stamped.

    See :mod:`janitoo_db.history.adopt` for the rules.  Without *stamp* nothing
    changes.  With it, the database is examined again under the migration
    lock, and the revisions found are stamped and their tables recorded in
    one unit, unless a branch matches none of its revisions, or the findings
    are no longer *expected* (what the caller showed before asking):
    then :class:`RefusedError`, and nothing changes.
    """
    site = Site.of(site)
    # Only adopt replays the revisions: servers starting need not import it.
    from janitoo_db.history import adopt as adopting
    from janitoo_db.history import revision_schemas

    engine = site.engine
    if is_missing_sqlite_file(engine):
        raise DatabaseError(f"nothing to adopt: {engine.url.database} does not exist")
    current = read_current(site)
    if current:
        _refuse_versioned(current, _kept(site))
    read_database(site, interrupted.refuse_if_any, None, "read the database")  # a killed createdb: repair first
    script = site.script
    schemas = revision_schemas.learn(site)
    found = read_database(site, lambda connection: adopting.examine(connection, script, schemas),
                          adopting.Adoption((), ()), "read the tables")
    if not stamp:
        return found
    refusal = found.refusal()
    if refusal:
        raise RefusedError(refusal)
    if not found.revisions:
        return found

    def stamp_found(connection: Connection) -> None:
        _refuse_versioned(current_heads(connection))
        interrupted.refuse_if_any(connection)  # a killed createdb's tables are repair's to drop, not to adopt
        again = adopting.examine(connection, script, schemas)
        if again.chosen() != (expected or found).chosen():
            raise RefusedError("the database's tables changed while adopt looked at them; nothing was stamped: "
                               "run 'jnt_dbman adopt' again")
        unversioned.stamp_adoption(site, connection, again)

    run_locked(site, stamp_found)
    return replace(found, stamped=tuple(sorted(read_current(site))))


def _kept(site: Site) -> list[returning.Kept]:
    """Branches forgotten with their tables kept and installed again, with where their tables stand."""
    return read_database(site, lambda connection: returning.examine(site, connection), [], "read the database")


def _refuse_versioned(current: Sequence[str], kept: Sequence[returning.Kept] = ()) -> None:
    """Refuse adopt on a versioned database, naming what gets out: initdb, or what stands in its way."""
    if current:
        way_out = (kept[0].describe() if kept else
                   "'jnt_dbman checkdb' says where it stands and 'jnt_dbman initdb' upgrades it")
        raise RefusedError(f"the database is already versioned (alembic_version holds {some(sorted(current))}); "
                           f"adopt is for a database without it: {way_out}")


def dropdb(site: Site | Config) -> list[str]:
    """Drop every table janitoo_db owns, and its bookkeeping tables.

    One locked unit: each branch is downgraded to base, so each revision
    removes what it made, then :mod:`janitoo_db.guard.ownership` drops what is left
    of the tables the owner ledger records, with the bookkeeping tables; no
    other migration can run in between and leave a table behind.  Refused,
    before anything is dropped, when a table it keeps has a foreign key into
    one it would drop.
    """
    site = Site.of(site)
    before = _table_names(site)
    if not before:
        return []

    def drop_everything(connection: Connection) -> None:
        # Refused before anything runs: the downgrade would drop what a foreign table still points at.
        ownership.refuse_foreign_references(connection, ownership.janitoo_tables(connection).tables, "dropdb")
        if current_heads(connection):
            # The downgrades run as their files are now: an applied revision edited since is not vouched for.
            edited = checksums.find_edited(connection, site.script)
            if edited:
                raise RefusedError(
                    f"dropdb refused, nothing was dropped: applied revisions were edited since they ran "
                    f"({some([e.describe() for e in edited], separator='; ')}), so their downgrades may drop "
                    "what they never made; review them, record them with 'jnt_dbman accept', then run dropdb")
            run_alembic(site, "base", upgrade=False)
        ownership.drop(connection, ownership.janitoo_tables(connection).tables, "dropdb")

    _migrating(site, drop_everything)  # a head no installed extension provides is explained, with what to do
    after = set(_table_names(site))
    return [name for name in before if name not in after]


def table_creators(site: Site | Config) -> dict[str, str]:
    """Each table the revisions create, from base to every head, and the revision that creates it.

    Read from their offline SQL.  A revision that cannot run offline (it reads
    the database) ends the list there: callers fall back on what else they
    know (the models' tables, the branches' heads).
    """
    site = Site.of(site)
    try:
        sql = upgrade_sql(site, "base:heads")
    except JanitooDbError:
        return {}
    creators: dict[str, str] = {}
    running = ""
    for line in sql.splitlines():
        step = _RUNNING.match(line)
        if step:
            running = step.group(1)
            continue
        created = _CREATE_TABLE.match(line)
        if created and running:
            creators.setdefault(created.group(1).strip('`"[]'), running)
    return creators


_RUNNING = re.compile(r"^-- Running upgrade .*-> (\w+)")
_CREATE_TABLE = re.compile(r"^\s*CREATE TABLE (?:IF NOT EXISTS )?([`\"\[]?[\w$]+[`\"\]]?)", re.IGNORECASE)


def _table_names(site: Site) -> list[str]:
    return read_database(site, lambda connection: sorted(inspect(connection).get_table_names()), [],
                         "list the tables")


# -- reading revisions and the database --------------------------------------

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


def edited_revisions(site: Site | Config) -> list[checksums.Edited]:
    """Applied revisions whose file changed since it was applied (or last accepted).

    See :mod:`janitoo_db.runtime.checksums`.
    """
    site = Site.of(site)
    script = site.script
    return read_database(site, lambda connection: checksums.find_edited(connection, script), [],
                         "read the database")


def accept(site: Site | Config, revisions: Sequence[str] = ()) -> list[checksums.Edited]:
    """Record the files of edited applied revisions as they are now (all, or *revisions*), after review.

    ``checkdb`` then no longer reports them.  A named revision that is not
    applied or not edited is an error, and nothing is recorded.
    """
    site = Site.of(site)
    script = site.script
    engine = site.engine
    if is_missing_sqlite_file(engine):
        if revisions:
            raise RevisionError(f"revision {revisions[0]} is not applied: {engine.url.database} does not exist")
        return []
    try:
        with locked_connection(site) as connection:
            return checksums.accept(connection, script, revisions)
    except SQLAlchemyError as error:
        raise DatabaseError(f"accept failed: {describe_db_error(error, engine.url)}") from None


def interrupted_revisions(site: Site | Config) -> list[interrupted.Interrupted]:
    """Revisions a migration started and never finished.

    Only on MySQL/MariaDB, or around a revision's autocommit block elsewhere.
    """
    site = Site.of(site)
    return read_database(site, interrupted.find, [], "read the database")


def repair(site: Site | Config, *, applied: bool = False) -> list[interrupted.Repaired]:
    """Undo what interrupted revisions did (or, with *applied*, record them as done).

    See :mod:`janitoo_db.runtime.interrupted`.
    """
    site = Site.of(site)
    script = site.script
    engine = site.engine
    if is_missing_sqlite_file(engine):
        return []
    try:
        with locked_connection(site) as connection:
            before = current_heads(connection)
            repaired = interrupted.repair(connection, script, applied=applied)
            if repaired:
                record_branches(connection, script)
                checksums.announce(site.notices, checksums.record(connection, script, before))
            return repaired
    except SQLAlchemyError as error:
        raise DatabaseError(f"repair failed: {describe_db_error(error, engine.url)}; "
                            "the database is as the error left it") from None


def check(site: Site | Config, names: Sequence[str] = ()) -> DriftReport:
    """Compare the models with the database (at every head), per extension.

    With *names*, only those extensions' tables are compared; tables that no
    model declares are always listed, apart.
    """
    site = Site.of(site)
    _known(site, names)
    _require_heads(site, "checking the models")
    from janitoo_db.models.loading import loaded_models  # the models load only for the commands that use them

    metadata, extension_tables = loaded_models()
    engine = site.engine
    try:
        with connect(engine) as connection:
            return drift.compare(connection, metadata, extension_tables, names)
    except SQLAlchemyError as error:
        raise DatabaseError(f"cannot compare the database: {describe_db_error(error, engine.url)}") from None


# -- an extension that is gone ----------------------------------------------------

def forget(site: Site | Config, name: str, *, drop_tables: bool = False) -> Forgotten:
    """Forget extension *name*, uninstalled without its branch being removed first.

    Its heads leave ``alembic_version``; what they implied of other branches
    (a core revision they depend on) is written there instead, from
    janitoo_db's registry.  The tables janitoo_db recorded as made by its
    revisions stay, listed, unless *drop_tables*: then exactly those go
    (:mod:`janitoo_db.guard.ownership`), each with its record.  Records of its
    tables that are no longer in the database are removed.  Refused while
    *name* is installed: then ``downgrade NAME@base`` removes it properly.
    """
    site = Site.of(site)
    if name in site.by_name():
        raise RefusedError(f"{name} is installed: remove its branch with 'jnt_dbman downgrade {name}@base', "
                           "then uninstall it")
    script = site.script
    engine = site.engine
    if is_missing_sqlite_file(engine):
        raise RevisionError(f"the database holds nothing of {name}: {engine.url.database} does not exist")
    try:
        with locked_connection(site) as connection:
            current = current_heads(connection)
            recorded = recorded_branches(connection)
            # NAME may also be the id of a head no branch was ever recorded for (a run that failed before
            # recording its branches, an id written by hand): nothing else can take it out.
            heads = [r for r in current if graph.find(script, r) is None
                     and (recorded.get(r) == name or (r == name and r not in recorded))]
            owned = ownership.branch_tables(connection, name, site.by_name())
            if not heads and not owned.tables and not owned.stale:
                known = sorted({b for r, b in recorded.items() if graph.find(script, r) is None})
                raise RevisionError(f"the database holds nothing janitoo_db recorded as {name}'s"
                                    + (f"; uninstalled extensions it knows: {some(known)}" if known else ""))
            if drop_tables:
                ownership.refuse_foreign_references(connection, owned.tables, f"forget {name} --drop-tables")
            restored = _restore_implied(connection, script, current, heads, recorded)
            record_branches(connection, script)
            # A record whose table is gone could later claim a table someone else makes under that name.
            ownership.forget_records(connection, owned.stale)
            if drop_tables:
                ownership.drop(connection, owned.tables, f"forget {name} --drop-tables")
            return Forgotten(name, tuple(heads), restored, owned.tables, drop_tables, owned.stale)
    except SQLAlchemyError as error:
        raise DatabaseError(f"forget failed: {describe_db_error(error, engine.url)}") from None


def _restore_implied(connection: Any, script: Any, current: Sequence[str], heads: list[str],
                     recorded: dict[str, str]) -> tuple[str, ...]:
    """Take *heads* out of alembic_version, putting back the installed branches' tips they implied."""
    remaining = [r for r in current if r not in heads]
    held = graph.applied(script, [r for r in remaining if graph.find(script, r) is not None])
    tips = [r for r in recorded if r not in current and r not in held and graph.find(script, r) is not None]
    # Keep the newest of them: a tip another restored tip needs is implied by it.
    implied = set().union(*(graph.ancestors(script, r) for r in tips)) if tips else set()
    restored = tuple(sorted(r for r in tips if r not in implied))
    version = sa_table("alembic_version", sa_column("version_num"))
    if heads:
        connection.execute(version.delete().where(version.c.version_num.in_(heads)))
    if restored:
        connection.execute(version.insert(), [{"version_num": r} for r in restored])
    return restored
