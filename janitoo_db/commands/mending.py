"""Commands that set a database straight: accept edited revisions, repair, check the models, forget."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from alembic.config import Config
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from sqlalchemy.exc import SQLAlchemyError

from janitoo_db.commands.common import _known
from janitoo_db.commands.reading import _require_heads
from janitoo_db.errors import DatabaseError, RefusedError, RevisionError
from janitoo_db.guard import ownership
from janitoo_db.guard.registry import record_branches, recorded_branches
from janitoo_db.history import drift
from janitoo_db.results import DriftReport, Forgotten
from janitoo_db.runtime import checksums, edited, interrupted
from janitoo_db.runtime.running import locked_connection
from janitoo_db.site import Site, graph
from janitoo_db.site.engine import connect, describe_db_error, is_missing_sqlite_file
from janitoo_db.site.reading import current_heads
from janitoo_db.text import some

if TYPE_CHECKING:
    pass


def accept(site: Site | Config, revisions: Sequence[str] = ()) -> list[edited.Edited]:
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
            return edited.accept(connection, script, revisions)
    except SQLAlchemyError as error:
        raise DatabaseError(f"accept failed: {describe_db_error(error, engine.url)}") from None


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
    from janitoo_db.models.loaded import loaded_models  # the models load only for the commands that use them

    metadata, extension_tables = loaded_models()
    engine = site.engine
    try:
        with connect(engine) as connection:
            return drift.compare(connection, metadata, extension_tables, names)
    except SQLAlchemyError as error:
        raise DatabaseError(f"cannot compare the database: {describe_db_error(error, engine.url)}") from None


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
