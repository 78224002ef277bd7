"""What a migration would do, without doing it: its revisions, their SQL, what they can destroy."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from alembic.config import Config
from alembic.script import Script
from sqlalchemy.engine import make_url

from janitoo_db.commands.common import _known_branch_of, _offline, _orphans_explained, _symbol
from janitoo_db.commands.migrating import _loss_guard, _refuse_ambiguous_step, _refuse_relative_from_nothing
from janitoo_db.errors import ConfigError, JanitooDbError, RevisionError
from janitoo_db.guard import destructive, lock_lint, safety
from janitoo_db.guard.judging import plan_note
from janitoo_db.history import returning, unversioned
from janitoo_db.results import LockFinding, Step
from janitoo_db.runtime.running import run_alembic
from janitoo_db.site import Site, graph, squashed
from janitoo_db.site.alembic_internals import downgrade_steps, upgrade_steps
from janitoo_db.site.reading import read_current, read_database
from janitoo_db.site.revisions import alembic_errors
from janitoo_db.text import first_line

if TYPE_CHECKING:
    pass


def plan(site: Site | Config, revision: str, *, upgrade: bool = True, with_sql: bool = False,
         cascade: bool = False, lint: bool = False) -> list[Step]:
    """The revisions an upgrade (or downgrade) to *revision* would run, in order; nothing is changed.

    With *with_sql*, each step carries the SQL its revision would run.  Each
    carries what it can destroy, with the rows of each table at stake
    (:mod:`janitoo_db.guard.destructive`).  A downgrade that :func:`downgrade`
    would refuse is refused here too.  With *lint* (PostgreSQL only), each
    carries the statements squawk flags for their locks (:mod:`janitoo_db.guard.lock_lint`).
    """
    site = Site.of(site)
    if lint:
        _refuse_lint_off_postgresql(site)
        lock_lint.squawk_program()  # before any work: say how to install it
    _, revision_steps = _revision_steps(site, revision, upgrade=upgrade)
    guard = None if upgrade else _loss_guard(site, revision, cascade)
    if guard is not None:
        guard(revision_steps)
    notes = [plan_note(step.revision, step.is_upgrade) for step in revision_steps]
    scripts = [_step_sql(site, step.revision, step.is_upgrade, note) if with_sql or lint else None
               for step, note in zip(revision_steps, notes, strict=True)]
    findings = lock_lint.lint([(step.revision, sql or "") for step, sql in zip(revision_steps, scripts, strict=True)],
                              lock_timeout_set=site.limits.lock_timeout is not None) if lint else {}
    steps = []
    for number, (step, marks, note, sql) in enumerate(zip(revision_steps, destructive.marks(site, revision_steps),
                                                           notes, scripts, strict=True), start=1):
        found = step.revision
        steps.append(Step(found.revision, tuple(sorted(found.branch_labels)), first_line(found.doc),
                          step.is_upgrade, sql if with_sql else None, number=number, total=len(revision_steps),
                          destructive=marks, note=note, lint=tuple(findings.get(found.revision, ()))))
    return steps


#: The database a branch's SQL is written for when it is linted without one: offline, nothing connects.
LINT_DIALECT_URL = "postgresql://lint@localhost/lint"


def branch_lock_findings(site: Site | Config, name: str) -> list[LockFinding]:
    """What squawk flags in branch *name*'s revisions, read from base to head as PostgreSQL would run them.

    Nothing connects: each revision's SQL is written offline for PostgreSQL,
    whatever database *site* names.  A lock timeout is assumed set: that is
    how a run is configured (``--ddl-lock-timeout``), not what a revision says.
    """
    site = Site.of(site)
    lock_lint.squawk_program()
    writer = Site(LINT_DIALECT_URL, site.extensions)  # its revisions are loaded once, for both uses below
    try:
        members = list(reversed(graph.branch_members(writer.script, name)))
        if not members:
            raise RevisionError(f"no revision of branch {name} is installed")
        scripts = [(revision, _step_sql(writer, revision, True, plan_note(revision, True))) for revision in members]
    finally:
        writer.dispose()
    found = lock_lint.lint(scripts, lock_timeout_set=True)
    return [finding for revision in members for finding in found.get(revision.revision, ())]


def _refuse_lint_off_postgresql(site: Site) -> None:
    """--lint reads PostgreSQL's locks: elsewhere it says what can be known instead."""
    backend = make_url(site.url).get_backend_name()
    if backend == "postgresql":
        return
    if backend in ("mysql", "mariadb"):
        raise ConfigError("--lint checks the locks PostgreSQL takes; on MySQL/MariaDB which ALTER TABLE copies "
                          "the table depends on the server and the table, and only running it shows: plan on a "
                          "copy of the database")
    raise ConfigError(f"--lint checks the locks PostgreSQL takes; this database is {backend}, where a migration "
                      "locks the whole database file: run --lint against a PostgreSQL database")


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

    A revision with a *note* (see :func:`janitoo_db.guard.judging.plan_note`) that cannot
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
