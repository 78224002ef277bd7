"""``jnt_dbman squash NAME``: one revision that builds branch NAME's head schema, in place of its whole history.

An extension with a long history makes every fresh database run all of it.
Like Django's ``squashmigrations``, squash writes one revision that stands
for the branch's revisions: a root labelled NAME that creates the tables
(and rows) the branch's head has, learned by running the revisions on a
scratch SQLite database (:mod:`janitoo_db.history.squash_schema`).  It lists the
revisions it replaces in ``replaces`` and names, in ``replaced_release``,
the release that still has them; databases that release migrated are then
recognised (:mod:`janitoo_db.site.squashed`).

The file is written as ``generate`` writes one (staging directory, post-write
hooks, compiled, moved in; never into an installed non-editable
distribution).  Before the replaced files are deleted, the new file is run
on a scratch SQLite database and must build exactly the tables and rows the
history built: otherwise it is removed again and nothing has changed.
Deleting the replaced files is what makes the branch loadable (one root);
the version control system, and the release named, keep them.
"""
from __future__ import annotations

import datetime
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import Script
from alembic.util import rev_id as random_rev_id
from sqlalchemy.pool import StaticPool

from janitoo_db.commands.common import _known
from janitoo_db.commands.publishing import Written, _check_writable, _distribution, _publish
from janitoo_db.commands.writing import _check_rev_id
from janitoo_db.defaults import NAMING_CONVENTION
from janitoo_db.errors import RefusedError, RevisionError
from janitoo_db.history.replay import replay
from janitoo_db.history.squash_render import render
from janitoo_db.history.squash_rows import read_rows, shape
from janitoo_db.history.squash_schema import Learner
from janitoo_db.site import Site, graph, squashed
from janitoo_db.site.alembic_internals import dependencies
from janitoo_db.site.extensions import CORE_NAME
from janitoo_db.site.revision_files import execute_revision_file


@dataclass(frozen=True)
class Squashed(Written):
    """The squashed revision squash wrote, and what it stands for."""

    revision: str = ""
    branch: str = ""
    #: The revisions it replaces, oldest first; their files were deleted.
    replaces: tuple[str, ...] = ()
    replaced_release: str = ""
    depends_on: tuple[str, ...] = ()
    #: The tables it creates, parents first, and how many rows it inserts into each.
    tables: tuple[tuple[str, int], ...] = ()
    #: The files deleted from the version directory.
    removed: tuple[str, ...] = ()
    #: What replaced revisions did that the squashed revision does not do.
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found["tables"] = [{"table": table, "rows": rows} for table, rows in self.tables]
        found["inferred"] = [{"branch": b, "revision": r, "table": t} for b, r, t in self.inferred]
        return found


def squash(site: Site | Config, name: str, *, message: str | None = None, rev_id: str | None = None,
           replaced_release: str | None = None) -> Squashed:
    """Replace the revisions of extension *name*'s branch by one revision that builds its head; see the module."""
    site = Site.of(site)
    _known(site, [name])
    if name == CORE_NAME:
        raise RefusedError(f"{CORE_NAME} is janitoo_db's own branch: its revisions are the original janitoo's, "
                           "which upgrade the databases it made; only an extension's branch is squashed")
    script = site.script
    members = list(reversed(graph.branch_members(script, name)))
    _check_branch(script, name, members)
    extension = site.by_name()[name]
    directory = extension.version_dir()
    _check_writable(extension, directory)
    if rev_id is not None:
        _check_rev_id(site, script, rev_id)
    release = _release(extension, replaced_release)
    learner = Learner(name, members[-1].revision)
    with learner.watching():
        replay(site, learner.after_each, f"{name}@head")
    replaces = tuple(r for member in members for r in (*squashed.replaces(member), member.revision))
    depends_on, inferred = _depends_on(script, name, members, learner)
    revision = rev_id or random_rev_id()
    source = render(revision=revision, message=message or f"Squashed {name}", name=name, depends_on=depends_on,
                    replaces=replaces, release=release, tables=learner.tables, rows=learner.rows,
                    created=datetime.datetime.now())

    def write(staging: Path) -> Written:
        path = staging / f"{revision}_{_slug(message or f'squashed {name}')}.py"
        path.write_text(source, encoding="utf-8")
        return Written(str(path))

    written = _publish(site, extension, directory, write)
    assert written is not None  # write always writes
    try:
        _verify(written.path, learner)
    except BaseException:
        os.remove(written.path)
        raise
    removed = []
    for member in members:
        os.remove(member.path)
        removed.append(os.path.basename(member.path))
    return Squashed(written.path, inferred, written.hooks, revision=revision, branch=name, replaces=replaces,
                    replaced_release=release, depends_on=depends_on,
                    tables=tuple((t.name, len(learner.rows.get(t.name, ()))) for t in learner.tables),
                    removed=tuple(removed), warnings=tuple(learner.warnings))


def _check_branch(script: Any, name: str, members: list[Script]) -> None:
    """Refuse a branch squash cannot stand for: one revision, several heads, revisions others depend on."""
    if len(members) < 2:
        raise RevisionError(f"branch {name} has one revision ({members[0].revision}): there is nothing to squash")
    tips = graph.branch_tips(members)
    if len(tips) > 1:
        raise RevisionError(f"branch {name} has several heads ({', '.join(tips)}): merge them first "
                            f"('jnt_dbman merge {' '.join(tips)}'), then squash")
    ids = {member.revision for member in members}
    for revision in script.walk_revisions():
        if name in revision.branch_labels:
            continue
        needed = sorted(ids & {*graph.parents(revision), *dependencies(revision)})
        if needed:
            raise RefusedError(
                f"revision {revision.revision} ({', '.join(sorted(revision.branch_labels)) or 'no branch'}) depends "
                f"on {', '.join(needed)} of {name}: squashing {name} would remove what it names; "
                "that extension must first depend on a release of it that has the squashed revision")


def _release(extension: Any, given: str | None) -> str:
    if given is None:
        dist = _distribution(extension)
        if dist is None or not dist.version:
            raise RevisionError(f"cannot tell the release of {extension.describe()}: name the release that has "
                                "the revisions squashed with --replaced-release 'DISTRIBUTION VERSION'")
        given = f"{extension.distribution} {dist.version}"
    if not given.strip() or not given.isprintable():
        raise RevisionError(f"{given!r} cannot name a release: give one line, such as 'acme 1.4'")
    return given.strip()


def _depends_on(script: Any, name: str, members: list[Script],
                learner: Learner) -> tuple[tuple[str, ...], tuple[tuple[str, str, str], ...]]:
    """What the replaced revisions need of other branches, and the creators of the tables their keys point at.

    A revision another one already implies is left out.
    """
    ids = {member.revision for member in members}
    needed = [r for member in members for r in (*graph.parents(member), *dependencies(member)) if r not in ids]
    inferred = []
    own = {table.name for table in learner.tables}
    for table in learner.tables:
        for key in table.foreign_keys:
            referred = key.target_fullname.split(".")[-2]
            creator = learner.creators.get(referred)
            if referred not in own and creator is not None and creator not in needed:
                needed.append(creator)
                inferred.append((", ".join(sorted(script.get_revision(creator).branch_labels)), creator, referred))
    needed = list(dict.fromkeys(needed))
    implied = set().union(*(graph.ancestors(script, r) for r in needed)) if needed else set()
    kept = tuple(r for r in needed if r not in implied)
    return kept, tuple(i for i in inferred if i[1] in kept)


def _slug(message: str) -> str:
    words = re.sub(r"\W", " ", message).lower().split()
    slug = ""
    for word in words:
        if len(slug) + len(word) + 1 > 40:
            break
        slug = f"{slug}_{word}" if slug else word
    return slug or "squashed"


def _verify(path: str, learner: Learner) -> None:
    """Run the written file on a scratch SQLite database: it must build the history's tables and rows, and undo them."""
    module = execute_revision_file(path)
    engine = sa.create_engine("sqlite://", poolclass=StaticPool)
    try:
        with engine.begin() as connection:
            context = MigrationContext.configure(
                connection, opts={"target_metadata": sa.MetaData(naming_convention=NAMING_CONVENTION)})
            with Operations.context(context):
                module.upgrade()
            for table in learner.tables:
                expected, built = learner.shapes[table.name], shape(connection, table.name)
                if expected != built:
                    _differs(path, f"table {table.name} is {built}, not {expected}")
                if read_rows(connection, table) != learner.rows[table.name]:
                    _differs(path, f"the rows of {table.name} differ")
            with Operations.context(context):
                module.downgrade()
            left = set(sa.inspect(connection).get_table_names()) & {t.name for t in learner.tables}
            if left:
                _differs(path, f"its downgrade leaves {', '.join(sorted(left))}")
            connection.rollback()
    finally:
        engine.dispose()


def _differs(path: str, difference: str) -> None:
    raise RevisionError(f"the squashed revision janitoo_db rendered does not rebuild the branch ({difference}); "
                        f"nothing was written (it was {path})")
