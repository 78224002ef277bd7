"""Squashed revisions at run time: recognising the revisions they replace in a database.

``jnt_dbman squash NAME`` (:mod:`janitoo_db.commands.squashing`) writes one root revision
that builds branch NAME's head schema, naming the revisions it stands for in
``replaces`` (oldest first) and the release that still has them in
``replaced_release``; the release that ships it ships none of them.  A fresh
database runs only that revision.  A database that an earlier release
migrated holds one of the replaced ids in ``alembic_version``, which no
installed branch provides any more:

* the last one (the replaced head): its schema is the squashed revision's,
  so every migration first re-stamps it to the squashed revision, under the
  migration lock, running nothing (:func:`janitoo_db.runtime.environment.restamp`);
* an earlier one: the squashed revision cannot bring it to the head, and
  the revisions that could are gone, so migrations refuse, naming the
  release to upgrade it with first.

``checkdb`` and ``current`` report both (:func:`find_replaced`) instead of
calling them orphans.  A replaced revision's file still in a version
directory beside its squashed revision stops every command
(:func:`refuse_replaced_files`): Alembic would see two roots of one branch.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from alembic.script import Script, ScriptDirectory

from janitoo_db.errors import RefusedError, RevisionError
from janitoo_db.results import Replaced
from janitoo_db.site import graph
from janitoo_db.site.alembic_internals import all_revisions
from janitoo_db.text import some


def replaced_ids(value: Any, release: Any, where: str) -> tuple[str, ...]:
    """The ids a squashed revision replaces, from its ``replaces`` and ``replaced_release``.

    A revision is a squashed one when it has both: a module variable named
    ``replaces`` alone may mean anything in a data migration.  A squashed
    revision whose values are not a tuple of ids and a release is refused,
    naming *where* it was found.
    """
    if release is None:
        return ()
    if (isinstance(value, (list, tuple)) and value and all(isinstance(v, str) and v for v in value)
            and isinstance(release, str)):
        return tuple(value)
    raise RevisionError(f"{where}: a squashed revision needs replaces, a tuple of the revision ids it replaces, "
                        f"and replaced_release, a release; not {value!r} and {release!r}")


def refuse_replaced_files(headers: Mapping[str, Mapping[str, Any]]) -> None:
    """Refuse revision files whose id a squashed revision replaces; *headers* maps each file to its header."""
    by_id = {header.get("revision"): path for path, header in headers.items()}
    for path, header in headers.items():
        ids = replaced_ids(header.get("replaces"), header.get("replaced_release"), f"revision file {path}")
        left = [os.path.basename(by_id[i]) for i in ids if i in by_id]
        if left:
            raise RevisionError(
                f"the squashed revision {header.get('revision')} ({path}) replaces {some(list(ids))}, but "
                f"{some(left)} {'is' if len(left) == 1 else 'are'} still in the version directories: delete "
                f"{'it' if len(left) == 1 else 'them'}; the release that ships a squashed revision ships none of the "
                "revisions it replaces")


def replaces(revision: Script) -> tuple[str, ...]:
    """The ids *revision* replaces, oldest first; empty for a revision that is not squashed."""
    module = revision.module
    return replaced_ids(getattr(module, "replaces", None), getattr(module, "replaced_release", None),
                        f"revision {revision.revision}")


def replacements(script: ScriptDirectory) -> dict[str, Script]:
    """Each replaced id, and the installed squashed revision that replaces it."""
    return {replaced: revision for revision in all_revisions(script) for replaced in replaces(revision)}


def find_replaced(script: ScriptDirectory, current: Iterable[str]) -> list[Replaced]:
    """The ids among *current* that an installed squashed revision replaces."""
    unknown = [revision for revision in current if graph.find(script, revision) is None]
    if not unknown:
        return []
    by_id = replacements(script)
    return [_replaced(revision, by_id[revision]) for revision in unknown if revision in by_id]


def _replaced(revision: str, squashed: Script) -> Replaced:
    return Replaced(revision, ", ".join(sorted(squashed.branch_labels)), squashed.revision, replaces(squashed)[-1],
                    getattr(squashed.module, "replaced_release", None) or "the release that has it")


def refusal(replaced: Replaced) -> RefusedError:
    """The error a migration stops with on a database at an earlier replaced revision."""
    return RefusedError(
        f"the database is at {replaced.revision} ({replaced.branch}), which the squashed revision "
        f"{replaced.squashed} replaces: upgrade it to {replaced.head} with {replaced.release} first (that release "
        f"still has the revisions after {replaced.revision}), then install this release of {replaced.branch} again")


def as_if_restamped(script: ScriptDirectory, current: Iterable[str]) -> tuple[str, ...]:
    """*current* as a migration will find it once re-stamped (for plans); raise as it would."""
    current = tuple(current)
    found = {r.revision: r for r in find_replaced(script, current)}
    for replaced in found.values():
        if not replaced.restamp:
            raise refusal(replaced)
    return tuple(dict.fromkeys(found[r].squashed if r in found else r for r in current))
