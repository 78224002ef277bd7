"""Publishing a revision file whole or not at all: staged, hooked, compiled, then moved in.

It is written in a hidden staging directory first.  And where an extension's
version directory is: only a directory the user can write, never the
installed copy of a package.
"""
from __future__ import annotations

import os
import shutil
import sysconfig
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path
from typing import Any, Callable, Iterator

from janitoo_db.errors import ExtensionError, RefusedError, RevisionError
from janitoo_db.history import hooks
from janitoo_db.results import Destructive, Generated
from janitoo_db.site import Site, location_separator
from janitoo_db.site.cached_headers import REVISION_FILE
from janitoo_db.site.extensions import Extension
from janitoo_db.site.revisions import alembic_errors
from janitoo_db.site.version_dirs import branch_dirs

#: Prefix of the staging directory a revision is rendered into.
STAGING_PREFIX = ".jnt_dbman-writing-"


@dataclass(frozen=True)
class Written(Generated):
    """A revision file generate or merge wrote, and what happened on the way."""

    #: The post-write hooks run on it, in order.
    hooks: tuple[str, ...] = ()
    #: For a branch's root revision, the version directory it starts.
    started: str | None = None
    #: True when that directory did not exist and generate created it.
    created: bool = False
    #: What its upgrade can destroy (generate only; see :mod:`janitoo_db.guard.destructive`).
    destructive: tuple[Destructive, ...] = ()


def _refuse_irregular_files(site: Site) -> None:
    """Alembic's revision and merge list the version directories themselves, and would block on a FIFO ``x.py``."""
    for directory in filter(None, branch_dirs(site).values()):
        for entry in os.scandir(directory):
            if REVISION_FILE.match(entry.name) and not entry.is_file():
                raise RevisionError(f"{entry.path} is not a regular file: remove it from the version directory")


def _publish(site: Site, extension: Extension | None, directory: Path,
             write: Callable[[Path], Any]) -> Written | None:
    """Have *write* render one revision into a staging directory, run the hooks, compile it, move it into *directory*.

    Returns None when *write* wrote nothing.
    """
    site.script  # noqa: B018 - loaded and checked before anything is written
    _check_writable(extension, directory)
    _refuse_irregular_files(site)
    run_hooks = hooks.configured(site.conf_file, directory)
    with _staging(site, directory) as staging:
        with alembic_errors():
            written = write(staging)
        if isinstance(written, list):
            written = written[0] if written else None
        if written is None:
            return None
        staged = Path(written.path)
        hooks.run(run_hooks, staged)
        source = staged.read_bytes()
        try:
            compile(source, str(staged), "exec")
        except SyntaxError as error:
            after = f" after the post-write hooks {', '.join(h.name for h in run_hooks)}" if run_hooks else ""
            raise RevisionError(f"the revision Alembic rendered is not valid Python{after} "
                                f"(line {error.lineno}: {error.msg}); nothing was written") from None
        target = directory / staged.name
        if target.exists():
            raise RevisionError(f"{target} exists already; nothing was written")
        os.replace(staged, target)
        return Written(str(target), hooks=tuple(hook.name for hook in run_hooks))


@contextmanager
def _staging(site: Site, directory: Path) -> Iterator[Path]:
    """A hidden directory inside *directory*, a version location for as long as the write lasts."""
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=directory))
    config = site.alembic_config
    locations = config.get_main_option("version_locations") or ""
    config.set_main_option("version_locations",
                           f"{locations}{location_separator(config)}{staging}".replace("%", "%%"))
    try:
        yield staging
    finally:
        config.set_main_option("version_locations", locations.replace("%", "%%"))
        shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def _creating(directory: Path) -> Iterator[None]:
    """Create *directory* and its missing parents; remove those again if the block fails."""
    missing = [d for d in (directory, *directory.parents) if not d.exists()]
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ExtensionError(f"cannot create the version directory {directory}: {error.strerror}") from None
    try:
        yield
    except BaseException:
        for made in missing:  # deepest first
            try:
                made.rmdir()
            except OSError:
                break
        raise


def _refuse_installed(extension: Extension | None, directory: Path) -> None:
    reason = installed_copy(extension, directory)
    if reason is not None:
        raise RefusedError(f"refusing to write into {directory}: {reason}; revisions are written in the "
                           "extension's source checkout (installed with 'pip install -e')")


def _check_writable(extension: Extension | None, directory: Path) -> None:
    _refuse_installed(extension, directory)
    if not os.access(directory, os.W_OK):
        owner = f"of {extension.name!r} " if extension is not None else ""
        raise ExtensionError(f"the version directory {owner}is not writable: {directory}")


def installed_copy(extension: Extension | None, directory: Path) -> str | None:
    """Why *directory* belongs to an installed, non-editable distribution, or None for a source tree.

    It does when it is under a ``site-packages`` or ``dist-packages``
    directory, or this interpreter's purelib/platlib, or when the
    distribution's list of installed files (its RECORD) has files in it, as
    for the original's ``data_files`` copy under the prefix.  An editable
    install's RECORD lists only the files that point at the source tree.
    """
    directory = directory.resolve()
    who = f"the installed distribution {extension.distribution}" if extension is not None else "an installed package"
    for parent in (directory, *directory.parents):
        if parent.name in ("site-packages", "dist-packages"):
            return f"it is part of {who}, in {parent}"
    for key in ("purelib", "platlib"):
        lib = Path(sysconfig.get_path(key)).resolve()
        if directory.is_relative_to(lib):
            return f"it is part of {who}, in {lib}"
    if extension is None:
        return None
    dist = _distribution(extension)
    for entry in _installed_files(dist) if dist is not None else ():
        located = Path(os.path.normpath(str(entry.locate())))
        if located.parent.name == directory.name and located.parent.resolve() == directory:
            return f"pip installed files of the distribution {extension.distribution} there (its RECORD lists them)"
    return None


def _installed_files(dist: Distribution) -> list[Any]:
    """The files an installer put in place: RECORD's or installed-files.txt's.

    Not an egg-info's SOURCES.txt, which ``Distribution.files`` falls back on:
    ``pip install -e`` leaves that egg-info in the source tree, where Python
    finds it first when run from the checkout, and it lists the sources.
    """
    if dist.read_text("RECORD") is None and dist.read_text("installed-files.txt") is None:
        return []
    return list(dist.files or ())


def _distribution(extension: Extension) -> Distribution | None:
    if isinstance(extension.source, Distribution):
        return extension.source
    try:
        return distribution(extension.distribution)
    except (PackageNotFoundError, ValueError):
        return None
