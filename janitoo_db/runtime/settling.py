"""A migration that fails undoes what its failing revision left committed, so that only a kill needs repair.

A revision marked as under way (:mod:`janitoo_db.runtime.interrupted`) commits
statement by statement on MySQL/MariaDB, and in its ``autocommit_block()``
elsewhere.  When it fails, for any reason short of a kill (a SQL error, an
exception of the revision's code, a refusal of ``--no-destructive``,
``SystemExit``), the run still holds the migration lock and its
connection: it undoes what the journal shows its own marked revision did,
with repair's own code (:func:`janitoo_db.runtime.interrupted.settle_own`), before
it reports the error.  The database is then at the last revision applied
whole, and ``checkdb`` says pending (3), not interrupted (5).

What cannot be undone (a drop, a change of data, a statement whose effect
cannot be told) or an undo that fails keeps the mark: the error says that
``jnt_dbman repair`` is needed, and why.  Marks this run did not write
(another run's, killed) are never touched.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from janitoo_db.runtime import interrupted
from janitoo_db.site.engine import describe_db_error
from janitoo_db.site.timeouts import is_lock_timeout

if TYPE_CHECKING:
    from janitoo_db.site import MigrationRun


@dataclass
class Settled:
    """What a failed try did with the marks it wrote."""

    #: Revisions whose work was undone, each with what was undone.
    undone: list[interrupted.Repaired] = field(default_factory=list)
    #: Revisions left marked: what they ran cannot be undone here.
    kept: list[interrupted.Kept] = field(default_factory=list)
    #: The undo itself failed (the database's words, password hidden): every own mark stays.
    failed: str = ""
    #: The revisions whose marks stay, whatever the reason.
    left: tuple[str, ...] = ()

    @property
    def needs_repair(self) -> bool:
        return bool(self.left)

    def describe(self) -> str:
        """What became of the failing revision's work: "undone: dropped table x; " (empty when nothing was marked)."""
        parts = []
        for done in self.undone:
            parts.append(f"undone: {', '.join(done.undone) or 'nothing, it had made nothing'}; ")
        for kept in self.kept:
            parts.append(f"revision {kept.interrupted.revision} stays marked as interrupted (checkdb exits 5) and "
                         f"only 'jnt_dbman repair' gets out, because {kept.why}: {kept.way_out}; ")
        if self.failed:
            parts.append(f"undoing what revision {', '.join(self.left)} had run failed ({self.failed}), so it stays "
                         "marked as interrupted (checkdb exits 5): run 'jnt_dbman repair' once that is fixed; ")
        return "".join(parts)


def settle_own_marks(run: MigrationRun, connection: Connection, notify: Callable[[str], None] | None = None, *,
                     raising: bool = False) -> None:
    """Undo what this command's own marked revisions ran, from their journal; record what was done.

    Called after a failure of a try (and first thing in a retry, in case
    that undo met the lock too), under the migration lock, on the
    migration's connection.  When the undo fails, the mark stays; a lock
    timeout there is raised when *raising* (the retry goes on), else the
    first error is the one reported.  *notify* hears what was undone (before
    a retry; a failure's error says it).
    """
    own = run.own_marks
    if not own:
        return
    settled = run.settled = Settled()
    was_in_transaction = connection.in_transaction()
    try:
        if was_in_transaction:
            connection.rollback()
        settled.undone, settled.kept = interrupted.settle_own(connection, own)
        left = {found.revision for found in interrupted.find(connection)}
    except SQLAlchemyError as error:
        _quietly(connection.rollback)
        if raising and is_lock_timeout(error):
            raise
        settled.failed = describe_db_error(error, connection.engine.url)
        left = set(own)
    # A mark never committed (MySQL: the revision failed before its first DDL statement) is gone with the rest.
    own.intersection_update(left)
    settled.left = tuple(sorted(own))
    for done in settled.undone:
        if notify is not None:
            notify(f"undid what revision {done.interrupted.revision} had run before the lock timeout "
                   f"({'; '.join(done.undone) or 'it had made nothing'})")
    if was_in_transaction and not connection.in_transaction():
        _quietly(connection.begin)


def _quietly(step: Callable[[], Any]) -> None:
    """A step on a connection that may be broken: the failure being reported matters more than this one."""
    try:
        step()
    except SQLAlchemyError:
        pass
