"""Every private name of Alembic's that janitoo_db uses, and why no documented API does the job.

Tested against Alembic 1.16.0 (the floor in setup.py, CI's oldest run,
``.ci/oldest.txt``) to 1.20.1.  A release that renames one of these breaks
this module only; the tests that exercise each are named beside it.
(``revision_cache.py`` also relies on Alembic's ways with revision modules,
and says so there.)
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, MutableMapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol, cast

from alembic.operations import Operations
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import HeadMaintainer, MigrationContext, RevisionStep
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import Revision

# -- the steps of a command ---------------------------------------------------
# alembic.command.upgrade/downgrade/stamp compute these same steps, but on a
# ScriptDirectory they load themselves: every revision file read again, past
# the revision cache and janitoo_db's checks.  jnt_dbman also needs the steps
# before anything runs (upgrade --plan, the dropdb guard, MySQL's progress
# marks).  Tests: test_migrate.py, test_alembic_verbs.py, test_safety.py.


def upgrade_steps(script: ScriptDirectory, destination: str, heads: Any) -> list[Any]:
    """The steps Alembic's ``upgrade`` runs from *heads* to *destination*."""
    return list(script._upgrade_revs(destination, heads))


def downgrade_steps(script: ScriptDirectory, destination: str, heads: Any) -> list[Any]:
    """The steps Alembic's ``downgrade`` runs from *heads* to *destination*."""
    return list(script._downgrade_revs(destination, heads))


def stamp_steps(script: ScriptDirectory, destination: tuple[str, ...], heads: Any) -> list[Any]:
    """The steps Alembic's ``stamp`` takes from *heads* to *destination*."""
    return list(script._stamp_revs(destination, heads))


# -- the revision graph -------------------------------------------------------


def all_revisions(script: ScriptDirectory) -> list[Script]:
    """Every revision, in the order Alembic loaded them, loading them if need be.

    ``walk_revisions`` gives the same set, but sorted through the graph (50
    times slower on a thousand revisions) and in another order, which the
    errors about a version directory follow.  Tests: test_extensions.py, test_revision_cache.py.
    """
    # The map also files each revision under its branch labels: keep one per id.  A ScriptDirectory's map
    # holds its Scripts (typed as their base class, Revision).
    return cast("list[Script]", list({r.revision: r for r in script.revision_map._revision_map.values() if r}.values()))


def dependencies(revision: Revision) -> tuple[str, ...]:
    """The ids of the revisions *revision*'s ``depends_on`` names.

    The public ``dependencies`` holds what the file says, where a branch label
    stands for the revision carrying it; ``get_revisions(label)`` would give
    the branch's head instead.  Tests: test_forget.py, test_cli.py (history --verbose).
    """
    return tuple(revision._resolved_dependencies)


# -- writing alembic_version once per transaction ------------------------------
# MigrationContext.run_migrations writes alembic_version after every revision.
# Running the steps and then one MigrationContext.stamp(script, destination)
# does not leave Alembic's rows: stamping a downgrade's target drops the other
# parent of a merge it went through (tests/test_version_writes.py fails), and it
# still writes one statement per head.  So Alembic's own head bookkeeping
# (HeadMaintainer) is kept and only its writes are held back.  Tests:
# test_version_writes.py (the same rows as Alembic's loop through forks, merges
# and dependencies), test_migrate.py.


class _HeadsInMemory(HeadMaintainer):
    """Alembic's own bookkeeping of the heads step by step, without writing each step to alembic_version."""

    def _insert_version(self, version: str) -> None:
        self.heads.add(version)

    def _delete_version(self, version: str) -> None:
        self.heads.remove(version)

    def _update_version(self, from_: str, to_: str) -> None:
        self.heads.remove(from_)
        self.heads.add(to_)


class AutocommitBlocks(Protocol):
    """What a run inside one transaction does around a revision's ``autocommit_block()``."""

    def block(self, step: Any, write_versions: Callable[[], None]) -> AbstractContextManager[None]:
        """Commit what ran before (its versions written by *write_versions*), then run the block outside."""

    def revision_done(self, step: Any, write_versions: Callable[[], None]) -> None:
        """The revision whose block ran has finished: record and commit it."""

    def between(self, step: Any, write_versions: Callable[[], None]) -> None:
        """Another revision has finished: commit here if the run is split (too many locks for one transaction)."""


def migrate_writing_versions_once(migration_context: MigrationContext, before: tuple[str, ...],
                                  steps: Callable[[Any, Any], Iterable[Any]],
                                  autocommit: AutocommitBlocks | None = None) -> None:
    """Alembic's ``run_migrations``, writing ``alembic_version`` once, at the end.

    Inside one transaction nobody sees the rows in between, yet Alembic writes
    them after every revision: a thousand uncacheable statements on a site of
    a thousand revisions, 12 to 17 % of an ``initdb``.  For databases whose
    DDL commits by itself (MySQL/MariaDB) Alembic's own loop runs instead, so
    the table stays true after each revision.

    A revision's ``op.get_context().autocommit_block()`` runs in
    ``autocommit.block``, which commits what ran before it: the versions so
    far are written first, and again once that revision is done.  After any
    other revision ``autocommit.between`` may commit the same way.
    """
    if not before:
        migration_context._ensure_version_table()
    heads = _HeadsInMemory(migration_context, before)
    version_table = migration_context._version
    connection = migration_context.connection
    assert connection is not None
    written = set(before)

    def write_versions() -> None:
        nonlocal written
        removed, added = written - heads.heads, heads.heads - written
        if removed:
            connection.execute(version_table.delete().where(version_table.c.version_num.in_(sorted(removed))))
        if added:
            connection.execute(version_table.insert(), [{"version_num": revision} for revision in sorted(added)])
        written = set(heads.heads)

    running: list[Any] = []  # the step running now, once it opened an autocommit block

    def block() -> AbstractContextManager[None]:
        assert autocommit is not None
        running.append(step)
        return autocommit.block(step, write_versions)

    migration_context.impl.start_migrations()
    with replacing_autocommit_block(migration_context, block if autocommit is not None else None):
        for step in steps(before, migration_context):
            step.migration_fn()
            heads.update_to_step(step)
            for callback in migration_context.on_version_apply_callbacks:
                callback(ctx=migration_context, step=step.info, heads=set(heads.heads), run_args={})
            if running and autocommit is not None:
                autocommit.revision_done(step, write_versions)
                running.clear()
            elif autocommit is not None:
                autocommit.between(step, write_versions)
    write_versions()


# -- autocommit blocks ------------------------------------------------------------
# MigrationContext.autocommit_block commits the transaction Alembic's
# begin_transaction() began; janitoo_db begins the transaction itself (it
# holds the lock, writes alembic_version once, and records its bookkeeping in
# the same transaction), so Alembic finds none and fails an assertion.  The
# method is replaced on the one MigrationContext of the run, which is how a
# revision reaches it (op.get_context()).  Tests: test_autocommit_block.py.


@contextmanager
def replacing_autocommit_block(migration_context: MigrationContext,
                               block: Callable[[], AbstractContextManager[None]] | None) -> Iterator[None]:
    """Make ``op.get_context().autocommit_block()`` run *block()* while inside (None: Alembic's own)."""
    if block is None:
        yield
        return
    migration_context.autocommit_block = block  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        del migration_context.autocommit_block


def record_step(context: MigrationContext, script: ScriptDirectory, revision: Script, current: Iterable[str], *,
                upgrade: bool) -> None:
    """Write to alembic_version what *revision*'s upgrade (or downgrade) from *current* does, and run nothing.

    ``MigrationContext.stamp`` moves branches towards a target, which is not
    the same as one step through a merge or a dependency.  Tests: test_interrupted.py.
    """
    HeadMaintainer(context, current).update_to_step(RevisionStep(script.revision_map, revision, upgrade))


# -- running DDL ----------------------------------------------------------------


@contextmanager
def ddl_executed_by(context: MigrationContext,
                    wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Iterator[None]:
    """Run every DDL construct of *context*'s operations through ``wrap(Alembic's own executor)``.

    ``DefaultImpl._exec`` is Alembic's one place that runs a DDL construct;
    no hook reaches all of them (``before_cursor_execute`` sees SQL, not the
    construct, and cannot skip it).  Offline, it is also where
    ``op.get_context().execute``, ``alembic.context.execute`` and
    ``op.get_bind().execute`` end: the dry run of janitoo_db.guard.dry_run records
    them there.  Tests: test_interrupted.py, test_sql_guard.py.
    """
    impl = context.impl
    impl._exec = wrap(impl._exec)  # type: ignore[method-assign]
    try:
        yield
    finally:
        del impl._exec


# -- standing in for alembic.op and alembic.context ----------------------------
# A revision reaches Alembic through the modules ``alembic.op`` and
# ``alembic.context``, which Alembic points at one Operations and one
# EnvironmentContext (through ModuleClsProxy).  The only public ways to point
# them, ``Operations.context()`` and ``with EnvironmentContext(...)``, always
# install a plain Operations, and on leaving remove the functions instead of
# putting back those of a migration already running.  The dry run of
# janitoo_db.guard.dry_run needs a recording subclass of Operations, and must leave
# both modules as they were (a recorder left behind would silently swallow
# the operations of whatever calls alembic.op next, a migration in progress
# included): so it installs them as Alembic does, and puts back exactly what
# was there.  Tests: test_destructive.py (op and context after a plan).


@contextmanager
def standing_in(operations: Operations, environment: EnvironmentContext) -> Iterator[None]:
    """Make ``alembic.op`` call *operations* and ``alembic.context`` *environment*, then what they called before."""
    saved: list[tuple[MutableMapping[str, Any], dict[str, Any], set[str]]] = []
    for cls, stand_in in ((Operations, operations), (EnvironmentContext, environment)):
        names, modules = cls._setups[cls]
        for module_globals, _ in modules:
            present = {name for name in (*names, "_proxy") if name in module_globals}
            saved.append((module_globals, {name: module_globals[name] for name in present}, {*names, "_proxy"}))
            module_globals["_proxy"] = stand_in
            for name in names:
                module_globals[name] = getattr(stand_in, name)
    try:
        yield
    finally:
        for module_globals, before, touched in saved:
            for name in touched - before.keys():
                module_globals.pop(name, None)
            module_globals.update(before)


# -- batch operations ---------------------------------------------------------------
# On SQLite, batch_alter_table copies a table into a new one named with this
# prefix, drops the old one and renames the copy; nothing documented names the
# copy.  jnt_dbman squash follows a column's type through such copies to the
# type its revision gave it.  Tests: test_squash.py.

#: The prefix of the table a batch operation copies a table into.
BATCH_TABLE_PREFIX = "_alembic_tmp_"
