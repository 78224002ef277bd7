"""A database without ``alembic_version`` that holds the branches' tables: adopted before an upgrade, or refused.

The original janitoo's ``createdb`` made the tables from the models and never
wrote ``alembic_version``.  Running the revisions on such a database fails on
the first table that is already there, after MySQL/MariaDB has committed
what ran before it.  So ``initdb`` and ``upgrade`` look first, under the
migration lock and before writing anything: when the database has no
version and holds tables a revision or a model declares, they examine it as
``jnt_dbman adopt`` does and stamp what it finds (then upgrade from there),
or refuse, naming ``adopt`` and the tables in the way.

A versioned database, which every server start sees, pays for one read of
``alembic_version``; only a database without a version and with tables
pays for the revisions' replay (:mod:`janitoo_db.history.revision_schemas`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from sqlalchemy.engine import Connection

from janitoo_db.errors import JanitooDbError, RefusedError
from janitoo_db.guard.registry import record_tables
from janitoo_db.runtime.running import run_stamp
from janitoo_db.site import Site
from janitoo_db.site.reading import describe_unversioned, tables_unversioned
from janitoo_db.text import some

if TYPE_CHECKING:
    from janitoo_db.history.adopt import Adoption

logger = logging.getLogger(__name__)

#: How many tables a line names before "and N more".
SHOWN = 5


@dataclass(frozen=True)
class Unversioned:
    """The tables of a database whose ``alembic_version`` is missing or empty."""

    #: Tables a revision or a model of an installed branch declares.
    declared: tuple[str, ...]
    #: Every other table (another program's): never in the way.
    others: tuple[str, ...]
    #: Why the branches' tables could not be told from the others' (then every table counts as declared).
    unknown: str = ""

    def describe(self) -> str:
        """What the database holds, for a message: never "empty" when it has tables."""
        return describe_unversioned(len(self.declared) + len(self.others))




def find(site: Site, connection: Connection) -> Unversioned | None:
    """The tables of a database without a version, sorted into the branches' and the others'; None if versioned.

    Which tables the branches declare is learnt by replaying their revisions,
    and from their models.  When the replay fails, nothing can be told
    apart: every table counts as declared (fail closed).
    """
    tables = tables_unversioned(connection)
    if tables is None:
        return None
    if not tables:
        return Unversioned((), ())
    try:
        declared = _declared(site)
    except JanitooDbError as error:
        return Unversioned(tuple(tables), (), unknown=str(error))
    return Unversioned(tuple(t for t in tables if t in declared), tuple(t for t in tables if t not in declared))


def _declared(site: Site) -> set[str]:
    """Every table an installed branch's revisions ever make (or add columns to), and every model's table."""
    from janitoo_db.history import revision_schemas
    from janitoo_db.models.loaded import loaded_models

    metadata, _ = loaded_models()
    return revision_schemas.learn(site).tables() | {t.name for t in metadata.sorted_tables}


def examine(site: Site, connection: Connection) -> Adoption | None:
    """What adopt finds in an unversioned database holding declared tables; None when there is nothing to adopt.

    None for a versioned database, or one none of whose tables a branch
    declares.  Raises :class:`RefusedError` when adopt's examination does
    not account for every declared table; nothing is written either way.
    """
    found = find(site, connection)
    if found is None or not found.declared:
        return None
    from janitoo_db.history import adopt as adopting
    from janitoo_db.history import revision_schemas

    if found.unknown:
        reason = f"janitoo_db cannot tell which tables are the branches' ({found.unknown})"
        raise RefusedError(_refusal(found, found.declared, reason))
    adoption = adopting.examine(connection, site.script, revision_schemas.learn(site))
    accounted = set(adoption.owners())
    in_the_way = [t for t in found.declared if t not in accounted]
    if adoption.refusal() is not None or in_the_way:
        unmatched = [f for f in adoption.findings if f.state in (adopting.UNMATCHED, adopting.CONFLICTING)]
        reason = "; ".join(_unmatched(f) for f in unmatched) or (
            "no revision of any branch makes them (only the models declare them)")
        raise RefusedError(_refusal(found, in_the_way or found.declared, reason))
    return adoption


def adopt_or_refuse(site: Site, connection: Connection, revision: str,
                    before_stamp: Callable[[Sequence[str]], None] | None = None) -> Adoption | None:
    """Before an upgrade to *revision* writes anything: adopt an unversioned database holding declared tables.

    Returns what was adopted (stamped, and the tables recorded, as
    ``jnt_dbman adopt --yes`` does), or None (see :func:`examine`, which
    also says when it refuses).  *before_stamp* sees the revisions about
    to be stamped and may refuse them.
    """
    adoption = examine(site, connection)
    if adoption is None:
        return None
    if before_stamp is not None:
        before_stamp(destination(site, adoption))
    stamp_adoption(site, connection, adoption)
    message = (f"the database had no alembic_version; its tables match {_matched(adoption)}: adopted "
               f"there (as 'jnt_dbman adopt' would); upgrading to {revision} from there.")
    logger.info(message)
    site.notify(message)
    return adoption


def planned_from(site: Site, connection: Connection) -> tuple[str, ...]:
    """Where an upgrade's plan starts on an unversioned database: where initdb would adopt it (said once)."""
    adoption = examine(site, connection)
    if adoption is None:
        return ()
    site.notify(f"the database has no alembic_version; its tables match {_matched(adoption)}: an upgrade "
                   "adopts it there (as 'jnt_dbman adopt' would) and runs this plan from there.")
    return tuple(destination(site, adoption))


def destination(site: Site, adoption: Adoption) -> list[str]:
    """The revisions a stamp of *adoption* writes."""
    from janitoo_db.history import adopt as adopting

    return adopting.destination(site.script, adoption)


def _matched(adoption: Adoption) -> str:
    """Each branch adopted, with its revision: "janitoo 33b95995b188, ..."."""
    from janitoo_db.history.adopt import MATCHED

    return ", ".join(f"{f.branch} {f.revision}" for f in adoption.findings if f.revision and f.state == MATCHED)


def stamp_adoption(site: Site, connection: Connection, adoption: Adoption) -> None:
    """Stamp what adopt found and record its tables as their branches', under the lock *connection* holds."""
    run_stamp(site, destination(site, adoption))
    record_tables(connection, adoption.owners())


def _unmatched(finding: Any) -> str:
    """A branch adopt cannot stamp, with the first way its tables differ."""
    if not finding.differences:
        return finding.describe()
    more = len(finding.differences) - 1
    return f"{finding.describe()} ({finding.differences[0]}" + (f" and {more} more)" if more else ")")


def _refusal(found: Unversioned, in_the_way: Sequence[str], reason: str) -> str:
    return (f"the database has {found.describe()} and holds tables of the installed branches "
            f"that cannot be adopted as they are: {reason}; tables in the way: {some(list(in_the_way), SHOWN)}. "
            "Nothing was changed. 'jnt_dbman adopt --dry-run' shows how each branch's tables differ from its "
            "revisions; make them match one (or drop them), then run 'jnt_dbman adopt'")
