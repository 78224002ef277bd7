"""Run a revision's upgrade or downgrade without touching any database, and keep what it asked for.

What a revision does is only known by running its code: a helper function,
a loop over tables, a branch on the dialect.  So janitoo_db runs it once more
beforehand, the way ``--sql`` does (Alembic's offline mode, for the target
database's dialect), with ``alembic.op`` pointing at an :class:`Operations`
that records each operation instead of running it.  Nothing is rendered
and nothing is sent.  SQL a revision sends past ``op`` is recorded too, as if
it went through ``op.execute``: ``op.get_context().execute``,
``alembic.context.execute`` and ``op.get_bind().execute`` all reach Alembic's
one executor (offline, ``op.get_bind()`` is Alembic's mock connection), which
the dry run stands in for.  Reading gives nothing in an offline run: a
revision that reads the database cannot be dry-run, and says so by failing.

:mod:`janitoo_db.guard.destructive` judges what was recorded.
"""
from __future__ import annotations

import io
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, cast

from alembic.operations import BatchOperations, MigrateOperation, Operations
from alembic.operations.ops import CreateTableOp, ExecuteSQLOp
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData

from janitoo_db.defaults import NAMING_CONVENTION
from janitoo_db.site import Site
from janitoo_db.site.alembic_internals import ddl_executed_by, standing_in
from janitoo_db.site.extensions import gc_paused


@dataclass
class Batch:
    """One ``batch_alter_table`` block: its table, how it was asked to recreate it, and its operations."""

    table_name: str
    schema: str | None
    recreate: str
    operations: list[MigrateOperation] = field(default_factory=list)


class _Recorder(Operations):
    """``op`` for a dry run: each operation is kept, in order, and none runs."""

    def __init__(self, migration_context: MigrationContext) -> None:
        super().__init__(migration_context)
        self.recorded: list[MigrateOperation | Batch] = []

    def invoke(self, operation: MigrateOperation) -> Any:
        self.recorded.append(operation)
        if isinstance(operation, CreateTableOp):
            return _TableOnDemand(operation, self.migration_context)
        return None

    @contextmanager
    def batch_alter_table(self, table_name: str, schema: str | None = None,
                          recreate: str = "auto", *args: Any, **kwargs: Any) -> Iterator[BatchOperations]:
        batch = Batch(table_name, schema, recreate)
        self.recorded.append(batch)
        yield _BatchRecorder(self.migration_context, batch)


class _TableOnDemand:
    """What ``op.create_table`` gives in a dry run: the Table, built only if the revision uses it.

    A revision may use it (``op.bulk_insert(table, rows)``), but most do not,
    and building a thousand Tables would cost more than the rest of the dry run.
    """

    def __init__(self, operation: CreateTableOp, context: MigrationContext) -> None:
        self._operation, self._context = operation, context
        self._table: Any = None

    def _built(self) -> Any:
        if self._table is None:
            self._table = self._operation.to_table(self._context)
        return self._table

    def __getattr__(self, name: str) -> Any:
        return getattr(self._built(), name)

    def __clause_element__(self) -> Any:
        return self._built()


class _BatchRecorder(BatchOperations):
    """``batch_op`` for a dry run: Alembic's batch methods build each operation from the table's name and schema."""

    def __init__(self, migration_context: MigrationContext, batch: Batch) -> None:
        # BatchOperations reads only table_name and schema from its impl to build an operation.
        super().__init__(migration_context, impl=cast(Any, batch))
        self.batch = batch

    def invoke(self, operation: MigrateOperation) -> Any:
        self.batch.operations.append(operation)
        return None


class DryRunFailed(Exception):
    """A revision's code raised during its dry run; what it recorded until then is kept."""

    def __init__(self, error: BaseException, recorded: list[MigrateOperation | Batch]) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error
        self.recorded = recorded


Runner = Callable[[Callable[[], Any]], "list[MigrateOperation | Batch]"]


@contextmanager
def dry_runs(site: Site) -> Iterator[Runner]:
    """A function that dry-runs a revision's ``upgrade``/``downgrade`` for *site*'s database.

    It returns the operations recorded, or raises :class:`DryRunFailed`.
    ``alembic.op`` and ``alembic.context`` point at the dry run only while it
    runs, so a migration in progress (the ``--no-destructive`` guard runs in
    one) finds them as they were.
    """
    environment = EnvironmentContext(site.alembic_config, site.script)
    environment.configure(url=site.engine.url, as_sql=True, output_buffer=io.StringIO(), literal_binds=True,
                          dialect_opts={"paramstyle": "named"}, render_as_batch=True,
                          target_metadata=MetaData(naming_convention=NAMING_CONVENTION))
    recorder = _Recorder(environment.get_context())

    def recording(_: Callable[..., Any]) -> Callable[..., Any]:
        def execute(construct: Any, *args: Any, **kwargs: Any) -> None:
            recorder.recorded.append(ExecuteSQLOp(construct))

        return execute

    def run(function: Callable[[], Any]) -> list[MigrateOperation | Batch]:
        recorded = recorder.recorded = []
        try:
            function()
        except KeyboardInterrupt:  # the operator's Ctrl-C stops the command, not only the dry run
            raise
        except BaseException as error:  # noqa: BLE001 - whatever the revision raises (SystemExit too), the run says so
            raise DryRunFailed(error, recorded) from error
        return recorded

    # Loading the revision files and dry-running them makes thousands of objects that the
    # migration keeps or that die young; a full collection on the way would walk them all.
    with standing_in(recorder, environment), ddl_executed_by(recorder.migration_context, recording), gc_paused():
        yield run
