"""One function per jnt_dbman command: each returns data and raises JanitooDbError.

Like ``alembic.command``, every function takes the Alembic ``Config`` first
(see :func:`janitoo_db.config.alembic_config`); none prints or exits.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from alembic import command as alembic_command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext, MigrationInfo
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RevisionError as AlembicRevisionError
from alembic.util import CommandError
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from janitoo_db.config import script_directory
from janitoo_db.engine import connect, create_db_engine, describe_db_error
from janitoo_db.errors import DatabaseError, ExtensionError, JanitooDbError, MigrationError, RevisionError
from janitoo_db.extensions import Extension, discover
from janitoo_db.migration import migration_connection


@dataclass(frozen=True)
class RevisionInfo:
    """What a person (or a script) wants to know about one revision."""

    revision: str
    down_revisions: tuple[str, ...]
    branches: tuple[str, ...]
    message: str
    path: str
    is_head: bool
    is_branch_point: bool
    is_merge_point: bool
    depends_on: tuple[str, ...] = ()
    doc: str = ""

    @classmethod
    def from_script(cls, script: Script) -> RevisionInfo:
        return cls(
            revision=script.revision,
            down_revisions=tuple(script._versioned_down_revisions),
            branches=tuple(sorted(script.branch_labels)),
            message=(script.doc or "").strip().splitlines()[0] if script.doc else "",
            path=script.path,
            is_head=script.is_head,
            is_branch_point=script.is_branch_point,
            is_merge_point=script.is_merge_point,
            depends_on=tuple(script._resolved_dependencies),
            doc=(script.longdoc or "").strip(),
        )


@dataclass(frozen=True)
class Step:
    """One revision applied or reverted by upgrade, downgrade or initdb."""

    revision: str
    branches: tuple[str, ...]
    message: str
    is_upgrade: bool


@dataclass(frozen=True)
class Branch:
    """One labelled branch: its root, heads and size."""

    label: str
    root: str
    heads: tuple[str, ...]
    revisions: int


@dataclass(frozen=True)
class CheckResult:
    """Whether the database is at every head, and what is missing if not."""

    current: tuple[str, ...]
    heads: tuple[str, ...]
    pending: tuple[str, ...] = field(default=())

    @property
    def up_to_date(self) -> bool:
        return not self.pending and set(self.current) == set(self.heads)


# -- helpers ---------------------------------------------------------------

def _script(config: Config) -> ScriptDirectory:
    """The checked script directory, loaded once per Config."""
    if "script" not in config.attributes:
        config.attributes["script"] = script_directory(config)
    return config.attributes["script"]


def _engine(config: Config) -> Engine:
    if "engine" not in config.attributes:
        config.attributes["engine"] = create_db_engine(config.attributes["url"])
    return config.attributes["engine"]


def _revisions(config: Config, revision: str) -> list[Script]:
    script = _script(config)
    try:
        return [r for r in script.get_revisions(revision) if r is not None]
    except (CommandError, AlembicRevisionError) as error:
        raise RevisionError(str(error)) from None


def _current_heads(connection: Connection) -> tuple[str, ...]:
    return tuple(MigrationContext.configure(connection).get_current_heads())


def _read_current(config: Config) -> tuple[str, ...]:
    try:
        with connect(_engine(config)) as connection:
            return _current_heads(connection)
    except SQLAlchemyError as error:
        raise DatabaseError(f"cannot read the database version: {describe_db_error(error, _engine(config).url)}") from None


def _step(info: MigrationInfo) -> Step:
    revision = info.up_revision
    return Step(
        revision=info.up_revision_id or "",
        branches=tuple(sorted(revision.branch_labels)) if revision is not None else (),
        message=(revision.doc or "").strip().splitlines()[0] if revision is not None and revision.doc else "",
        is_upgrade=info.is_upgrade,
    )


def _failing_revision(config: Config, error: BaseException) -> Script | None:
    """The revision whose file raised *error*, found from the traceback."""
    by_path = {str(Path(s.path).resolve()): s for s in _script(config).walk_revisions()}
    tb, found = error.__traceback__, None
    while tb is not None:
        found = by_path.get(str(Path(tb.tb_frame.f_code.co_filename).resolve()), found)
        tb = tb.tb_next
    return found


def _migrate(config: Config, action: Callable[[], Any], on_step: Callable[[Step], None] | None) -> list[Step]:
    """Run an Alembic action under the migration lock, reporting each revision it applies."""
    steps: list[Step] = []

    def record(ctx: Any, step: MigrationInfo, heads: Any, run_args: Any) -> None:
        if step.is_stamp:
            return
        steps.append(_step(step))
        if on_step is not None:
            on_step(steps[-1])

    _script(config)
    engine = _engine(config)
    config.attributes["on_version_apply"] = record
    try:
        with migration_connection(engine) as connection:
            config.attributes["connection"] = connection
            action()
    except JanitooDbError:
        raise
    except (CommandError, AlembicRevisionError) as error:
        raise RevisionError(str(error)) from None
    except Exception as error:
        raise _migration_error(config, error) from None
    finally:
        config.attributes.pop("connection", None)
        config.attributes.pop("on_version_apply", None)
    return steps


def _migration_error(config: Config, error: Exception) -> MigrationError:
    failing = _failing_revision(config, error)
    engine = _engine(config)
    if isinstance(error, SQLAlchemyError):
        reason = describe_db_error(error, engine.url)
    else:
        reason = f"{type(error).__name__}: {error}"
    try:
        left_at = ", ".join(_read_current(config)) or "base (empty)"
    except JanitooDbError:
        left_at = "unknown"
    if engine.dialect.name in ("mysql", "mariadb"):
        left_at += " (MySQL/MariaDB commit each DDL statement: what the failing revision did before the error stays)"
    if failing is None:
        return MigrationError(f"{reason}; the database is at {left_at}")
    branch = ", ".join(sorted(failing.branch_labels)) or "no branch"
    return MigrationError(
        f"revision {failing.revision} ({branch}, {failing.path}) failed: {reason}; the database is at {left_at}"
    )


def _load_metadata() -> Any:
    """Import every extension's models (this runs their ``extend``) and return the metadata."""
    import janitoo_db.models  # noqa: F401
    from janitoo_db.base import Base

    return Base.metadata


# -- commands --------------------------------------------------------------

def collect() -> list[Extension]:
    """The core branch and every installed extension."""
    return discover()


def version_locations(config: Config) -> list[str]:
    """Every branch's version directory, core first, as Alembic is given them."""
    _script(config)
    return [str(e.version_dir()) for e in config.attributes["extensions"]]


def upgrade(config: Config, revision: str = "heads", *, on_step: Callable[[Step], None] | None = None) -> list[Step]:
    """Upgrade the database to *revision*, every branch by default."""
    return _migrate(config, lambda: alembic_command.upgrade(config, revision), on_step)


def initdb(config: Config, *, on_step: Callable[[Step], None] | None = None) -> list[Step]:
    """Build or bring the whole database to the head of every branch."""
    return upgrade(config, "heads", on_step=on_step)


def downgrade(config: Config, revision: str = "base", *, on_step: Callable[[Step], None] | None = None) -> list[Step]:
    """Downgrade the database to *revision*; ``base`` empties every branch."""
    return _migrate(config, lambda: alembic_command.downgrade(config, revision), on_step)


def createdb(config: Config) -> list[str]:
    """Create the tables from the models and stamp the database at every head.

    Refuses a database already under migration control but not at heads;
    returns the tables it created.
    """
    metadata = _load_metadata()
    script = _script(config)
    try:
        with migration_connection(_engine(config)) as connection:
            context = MigrationContext.configure(connection)
            current = set(context.get_current_heads())
            heads = set(script.get_heads())
            if current and current != heads:
                raise DatabaseError(
                    f"the database is already versioned at {', '.join(sorted(current))}; "
                    "use 'jnt_dbman upgrade' instead of createdb"
                )
            if current:
                return []
            existing = set(inspect(connection).get_table_names())
            metadata.create_all(connection)
            for head in sorted(heads):
                context.stamp(script, head)
            return [t.name for t in metadata.sorted_tables if t.name not in existing]
    except SQLAlchemyError as error:
        raise DatabaseError(f"createdb failed: {describe_db_error(error, _engine(config).url)}") from None


def dropdb(config: Config) -> list[str]:
    """Drop every table the migrations or the models know, and ``alembic_version``.

    A versioned database is first downgraded to base, so each revision removes
    what it created; then the models' remaining tables and the version table go.
    """
    metadata = _load_metadata()
    before = _table_names(config)
    if _read_current(config):
        downgrade(config, "base")
    try:
        with migration_connection(_engine(config)) as connection:
            metadata.drop_all(connection)
            if inspect(connection).has_table("alembic_version"):
                connection.exec_driver_sql("DROP TABLE alembic_version")
    except SQLAlchemyError as error:
        raise DatabaseError(f"dropdb failed: {describe_db_error(error, _engine(config).url)}") from None
    after = set(_table_names(config))
    return [name for name in before if name not in after]


def _table_names(config: Config) -> list[str]:
    try:
        with connect(_engine(config)) as connection:
            return sorted(inspect(connection).get_table_names())
    except SQLAlchemyError as error:
        raise DatabaseError(f"cannot list the tables: {describe_db_error(error, _engine(config).url)}") from None


def _in_branch_order(config: Config, infos: list[RevisionInfo]) -> list[RevisionInfo]:
    """Core first, then extensions by name, as collect lists them."""
    order = {e.name: i for i, e in enumerate(config.attributes["extensions"])}
    return sorted(infos, key=lambda info: min((order.get(b, len(order)) for b in info.branches), default=len(order)))


def heads(config: Config) -> list[RevisionInfo]:
    """The head revision of every branch."""
    return _in_branch_order(config, [RevisionInfo.from_script(s) for s in _revisions(config, "heads")])


def branches(config: Config) -> list[Branch]:
    """Every labelled branch with its root, heads and number of revisions."""
    script = _script(config)
    result = []
    for extension in config.attributes["extensions"]:
        members = [s for s in script.walk_revisions() if extension.name in s.branch_labels]
        root = next((s.revision for s in members if s.is_base), "")
        tips = tuple(s.revision for s in members if not any(
            extension.name in c.branch_labels for c in _children(script, s)))
        result.append(Branch(extension.name, root, tips, len(members)))
    return result


def _children(script: ScriptDirectory, revision: Script) -> Iterator[Script]:
    for child in revision.nextrev:
        found = script.get_revision(child)
        if found is not None:
            yield found


def history(config: Config, revrange: str | None = None) -> list[RevisionInfo]:
    """Revisions from newest to oldest, limited to ``[start]:[end]`` when given."""
    base, end = "base", "heads"
    if revrange:
        if ":" not in revrange:
            raise RevisionError(f"history range {revrange!r} must be [start]:[end], [start]: or :[end]")
        base, _, end = revrange.partition(":")
        base, end = base or "base", end or "heads"
    try:
        return [RevisionInfo.from_script(s) for s in _script(config).walk_revisions(base=base, head=end)]
    except (CommandError, AlembicRevisionError) as error:
        raise RevisionError(str(error)) from None


def show(config: Config, revision: str = "heads") -> list[RevisionInfo]:
    """The revision(s) a symbol such as ``heads``, an id or ``NAME@head`` denotes."""
    found = _revisions(config, revision)
    if not found:
        raise RevisionError(f"no revision matches {revision!r}")
    return [RevisionInfo.from_script(s) for s in found]


def versiondb(config: Config) -> tuple[str, ...]:
    """The revision ids stored in the database's ``alembic_version`` table."""
    return _read_current(config)


def current(config: Config) -> list[RevisionInfo]:
    """The revisions the database is at, described from the revision files."""
    current_ids = _read_current(config)
    script = _script(config)
    found = []
    for revision in current_ids:
        try:
            found.append(RevisionInfo.from_script(script.get_revision(revision)))
        except (CommandError, AlembicRevisionError):
            raise RevisionError(
                f"the database is at revision {revision}, which no installed extension provides"
            ) from None
    return _in_branch_order(config, found)


def checkdb(config: Config) -> CheckResult:
    """Compare the database's revisions with every branch's head."""
    head_ids = tuple(sorted(_script(config).get_heads()))
    current_ids = tuple(sorted(_read_current(config)))
    pending = tuple(h for h in head_ids if h not in current_ids)
    return CheckResult(current=current_ids, heads=head_ids, pending=pending)


def generate(config: Config, message: str, head: str = "janitoo") -> Path:
    """Autogenerate a revision on one extension's branch from its models only.

    Only tables the extension's ``extend`` registered are compared, so other
    extensions' drift never lands in its revision.
    """
    name = head.split("@", 1)[0]
    extensions = {e.name: e for e in config.attributes["extensions"]}
    if name not in extensions:
        raise ExtensionError(f"unknown extension {name!r}; known: {', '.join(extensions)}")
    directory = extensions[name].version_dir()
    if not os.access(directory, os.W_OK):
        raise ExtensionError(f"the version directory of {name!r} is not writable: {directory}")
    state = checkdb(config)
    if not state.up_to_date:
        raise RevisionError(
            f"the database is not at every head (missing {', '.join(state.pending)}); "
            "run 'jnt_dbman upgrade' before generating a revision"
        )
    _load_metadata()
    from janitoo_db.models import extension_tables

    owned = set(extension_tables.get(name, ()))

    def include_object(obj: Any, obj_name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        table_name = obj_name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table_name in owned

    config.attributes["include_object"] = include_object
    created: list[Script] = []
    try:
        _migrate(config, lambda: created.append(
            alembic_command.revision(config, message=message, autogenerate=True, head=f"{name}@head")), None)
    finally:
        config.attributes.pop("include_object", None)
    if not created or created[0] is None:
        raise RevisionError("Alembic did not write a revision")
    return Path(created[0].path)
