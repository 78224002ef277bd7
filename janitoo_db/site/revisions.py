"""Loading every branch's revisions once, and checking that each branch is what it claims.

Each version directory must hold exactly one branch root, labelled with the
extension's name, and nothing of another branch; no revision id may appear
twice; every down_revision and depends_on must be installed.  What is wrong
is said in one line naming the extension and the file.
"""
from __future__ import annotations

import os
import re
import warnings
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator

from alembic import util
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError as AlembicRevisionError
from alembic.util import CommandError

from janitoo_db.errors import ExtensionError, JanitooDbError, RevisionError
from janitoo_db.site.alembic_internals import all_revisions
from janitoo_db.site.extensions import gc_paused, start_branch_command
from janitoo_db.site.graph import own_labels
from janitoo_db.site.revision_cache import use_cached_headers
from janitoo_db.site.version_dirs import branch_dirs, locations

if TYPE_CHECKING:
    from janitoo_db.site import Site


def _duplicate_revision(warning: str, site: Site) -> str:
    """Say which extensions' version directories hold a revision id twice."""
    match = re.search(r"Revision (\S+) is present more than once", warning)
    revision = match.group(1) if match else "?"
    holders = []
    dirs = branch_dirs(site)
    for extension in site.extensions:
        directory = dirs[extension.name]
        if directory is None:
            continue
        files = [f.name for f in sorted(directory.glob("*.py")) if revision in f.read_text(encoding="utf-8")]
        if files:
            holders.append(f"{extension.describe()} in {directory} ({', '.join(files)})")
    return f"revision id {revision} appears more than once: " + "; ".join(holders or [warning])


def _missing_parent(warning: str) -> str:
    """Name the revision whose down_revision or depends_on no installed branch provides."""
    match = re.search(r"Revision (\S+) referenced from .*-> (\w+)", warning)
    missing, child = (match.group(1), match.group(2)) if match else ("?", "?")
    return (f"revision {child} names {missing} as its down_revision or depends_on, and no installed branch "
            "provides it")


def _missing_dependency(script: ScriptDirectory, missing: str) -> str:
    """Name the revisions whose depends_on is *missing*, which no installed branch provides."""
    try:
        children = sorted(r.revision for r in script.revision_map._generator()
                          if missing in util.to_tuple(r.dependencies, default=()))
    except Exception:  # noqa: BLE001 - only to name them; the error is raised either way
        children = []
    return (f"revision {', '.join(children) or '?'} names {missing} in its depends_on, and no installed branch "
            f"provides it: install the extension whose revision {missing} is again")


def load_revisions(site: Site) -> ScriptDirectory:
    """Load every branch's revisions and check that each branch is what it claims.

    Each version directory must hold exactly one branch root, labelled with the
    extension's name; no revision id may appear twice.  The new branch (see
    :class:`janitoo_db.site.Site`) may have no revisions at all.
    """
    dirs = branch_dirs(site)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Revision .* is present more than once")
        warnings.filterwarnings("error", message="Revision .* referenced from .* is not present")
        try:
            script = ScriptDirectory.from_config(site.alembic_config)
            site.compiled = use_cached_headers(script, locations(site))
            with gc_paused():
                revisions = all_revisions(script)
        except UserWarning as warning:
            if "is not present" in str(warning):
                raise RevisionError(_missing_parent(str(warning))) from None
            raise RevisionError(_duplicate_revision(str(warning), site)) from None
        except (CommandError, AlembicRevisionError) as error:  # a cycle, a missing down_revision...
            raise RevisionError(str(error)) from None
        except KeyError as error:  # Alembic's map has no entry for a depends_on: its extension is uninstalled
            raise RevisionError(_missing_dependency(script, str(error.args[0]))) from None
        except SyntaxError as error:
            raise RevisionError(
                f"syntax error in revision file {error.filename or '(not named by Python)'}"
                f"{f', line {error.lineno}' if error.lineno else ''}: {error.msg}") from None
    # Alembic builds each path from the (already resolved) version location it was found in.
    by_dir: dict[str, list[Any]] = {}
    for revision in revisions:
        if hasattr(revision, "path"):
            by_dir.setdefault(os.path.dirname(revision.path), []).append(revision)
    for extension in site.extensions:
        directory = dirs[extension.name]
        held = by_dir.get(str(directory), []) if directory is not None else []
        if not held and extension.name == site.new_branch:
            site.unstarted = extension.name  # generate writes its root
            continue
        if not held:
            raise ExtensionError(f"{extension.describe()}: {directory} holds no revision; "
                                 f"start its branch with {start_branch_command(extension.name)}")
        roots = [r for r in held if r.is_base]
        if len(roots) != 1:
            found = ", ".join(r.revision for r in roots) or "none"
            raise ExtensionError(
                f"{extension.describe()}: {directory} must hold exactly one branch root, found {found}"
            )
        labels = own_labels(roots[0])
        if extension.name not in labels:
            shown = ", ".join(sorted(labels)) or "no label"
            raise ExtensionError(
                f"{extension.describe()}: its branch root {roots[0].revision} in {directory} "
                f"is labelled {shown}, not {extension.name!r}"
            )
        # A revision added to another branch from here would outlive this extension's uninstall.
        strays = [r for r in by_dir[str(directory)] if extension.name not in r.branch_labels]
        if strays:
            stray = strays[0]
            raise ExtensionError(
                f"{extension.describe()}: {directory} holds revision {stray.revision} "
                f"({os.path.basename(stray.path)}) of branch {', '.join(sorted(stray.branch_labels)) or 'none'}; "
                f"every revision there must belong to {extension.name!r}"
            )
    return script


@contextmanager
def alembic_errors(otherwise: Callable[[BaseException], JanitooDbError] | None = None, *,
                   raised_by_revision: Callable[[BaseException], bool] | None = None) -> Iterator[None]:
    """Turn what an Alembic command raises into one of our errors.

    Ours pass through, Alembic's revision errors become :class:`RevisionError`,
    anything else becomes ``otherwise(error)``, or passes through without *otherwise*.
    With *otherwise*, that includes ``SystemExit``, ``KeyboardInterrupt`` and any
    other ``BaseException`` a revision raises: a migration they stop has failed,
    and must never end the program with exit code 0.
    """
    try:
        yield
    except JanitooDbError:
        raise
    except (CommandError, AlembicRevisionError) as error:
        if otherwise is not None and raised_by_revision is not None and raised_by_revision(error):
            # An op a revision misused (MySQL's alter_column without existing_type): that revision failed.
            raise otherwise(error) from None
        raise RevisionError(str(error)) from None
    except BaseException as error:
        if otherwise is None:
            raise
        raise otherwise(error) from None
