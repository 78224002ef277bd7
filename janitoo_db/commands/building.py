"""Commands that make or remove a whole database's tables: createdb, adopt, dropdb."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from janitoo_db.commands.common import _kept, _migrating, _table_names
from janitoo_db.errors import DatabaseError, RefusedError
from janitoo_db.guard import ownership
from janitoo_db.guard.registry import record_branches, record_tables
from janitoo_db.history import drift, returning, unversioned
from janitoo_db.results import Created
from janitoo_db.runtime import checksums, edited, interrupted, journal
from janitoo_db.runtime.running import locked_connection, run_alembic, run_locked
from janitoo_db.site import Site, graph
from janitoo_db.site.engine import describe_db_error, has_transactional_ddl_dialect, is_missing_sqlite_file
from janitoo_db.site.reading import current_heads, read_current, read_database
from janitoo_db.text import some

if TYPE_CHECKING:
    from janitoo_db.history import adopt as adopting


def createdb(site: Site | Config) -> Created:
    """Create the tables from the models and stamp the database at every head.

    Only on a database without ``alembic_version`` that holds none of the
    models' tables, or all of them exactly as the models declare them (then
    it is only stamped): anything else would mark as applied revisions whose
    work is not there.  A versioned database must be at every head already.
    """
    site = Site.of(site)
    from janitoo_db.models.loaded import loaded_models  # the models load only for the commands that use them

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
            changed = edited.find_edited(connection, site.script)
            if changed:
                raise RefusedError(
                    f"dropdb refused, nothing was dropped: applied revisions were edited since they ran "
                    f"({some([e.describe() for e in changed], separator='; ')}), so their downgrades may drop "
                    "what they never made; review them, record them with 'jnt_dbman accept', then run dropdb")
            run_alembic(site, "base", upgrade=False)
        ownership.drop(connection, ownership.janitoo_tables(connection).tables, "dropdb")

    _migrating(site, drop_everything)  # a head no installed extension provides is explained, with what to do
    after = set(_table_names(site))
    return [name for name in before if name not in after]
