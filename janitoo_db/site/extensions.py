"""Finding extensions, their version directories, and loading their models.

An extension announces itself in the ``janitoo.models`` entry-point group as
``NAME = package.module:extend``.  NAME is its Alembic branch label and the
name of its version directory.  Let PACKAGE be the entry point's top-level
package and ROOT the directory that holds it (``src/`` in a src layout,
``site-packages`` once installed); the directory is looked for here, first
match wins:

1. ``PACKAGE/models/NAME/``: package data, the layout of today's wheels;
2. ``ROOT/models/NAME/``: a source checkout or editable install of today's
   layout (janitoo_template);
3. ``ROOT/config/models/NAME/``: the original janitoo_db's layout in a
   develop or editable install (``src/config/models/NAME``);
4. the copy the original's ``data_files`` installed from ``config/``: where
   the distribution's file list says (pip's ``--user`` and ``--prefix``
   included), else ``<sys.prefix>/config/models/NAME/``.

The original's places come after today's ones, and its source tree before
its installed copy, so that ``generate`` writes into the files a developer
edits.  Only place 4 reads a file (the distribution's RECORD), and only when
the first three are missing.

When none exists, ``jnt_dbman generate --head NAME`` creates one, at the
first place the project's layout already uses: 1 when ``PACKAGE/models/``
exists, else 2 when ``ROOT/models/`` does, else 3 when ``ROOT/config/`` does
(the original's ``src/config``), else 1 (see :meth:`Extension.new_version_dir`).

janitoo_db's own core branch ``janitoo`` follows the same rule and always
comes first.
"""
from __future__ import annotations

import functools
import gc
import importlib
import importlib.util
import os
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from janitoo_db.errors import ExtensionError

if TYPE_CHECKING:
    from importlib.metadata import Distribution, EntryPoint

ENTRY_POINT_GROUP = "janitoo.models"
CORE_NAME = "janitoo"



def _recorded_files(distribution: Distribution) -> list[str]:
    """The paths the distribution's installed file list names, whether or not each file is still there.

    ``Distribution.files`` leaves out missing files from Python 3.12 on; the
    places they were installed to are what the error for a missing version
    directory must name, so RECORD is read as written (an egg-info install
    without one falls back on ``files``).
    """
    import csv

    record = distribution.read_text("RECORD")
    if record is not None:
        return [row[0] for row in csv.reader(record.splitlines()) if row]
    files = distribution.files
    return [str(entry) for entry in files or ()]

@dataclass(frozen=True)
class Extension:
    """One branch of the shared database: its name, code, and distribution."""

    name: str
    #: ``module:attribute`` of its ``extend`` callable.
    target: str
    #: The distribution that declares it: its name, or the importlib.metadata
    #: ``Distribution``, whose name is only read when asked for (parsing every
    #: extension's METADATA would slow down every command of a large site).
    source: str | Distribution | None = field(default=None, compare=False, repr=False)

    @functools.cached_property
    def distribution(self) -> str:
        """The name of the distribution that declares it, as pip knows it."""
        if isinstance(self.source, str):
            return self.source
        if self.source is None:
            return "unknown distribution"
        return self.source.metadata["Name"] or "unknown distribution"

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]

    @property
    def package(self) -> str:
        """The top-level package of the entry point's module."""
        return self.module.split(".")[0]

    def describe(self) -> str:
        return f"extension {self.name!r} ({self.target}, distribution {self.distribution})"

    @functools.cached_property
    def _package_roots(self) -> tuple[Path, ...]:
        """The directories of the entry point's top-level package (several for a namespace package)."""
        try:
            spec = importlib.util.find_spec(self.package)
        except (ImportError, ValueError) as error:
            raise ExtensionError(f"cannot find the package of {self.describe()}: {error}") from None
        if spec is None:
            raise ExtensionError(f"cannot find the package {self.package!r} of {self.describe()}")
        roots = [Path(p) for p in (spec.submodule_search_locations or [])]
        if not roots and spec.origin:
            roots = [Path(spec.origin).parent]
        return tuple(roots)

    def package_dirs(self) -> tuple[Path, ...]:
        """The directories of the entry point's top-level package."""
        return self._package_roots

    def candidate_dirs(self) -> list[Path]:
        """Places 1 and 2, today's layouts: inside the package, then beside it."""
        inside = [root / "models" / self.name for root in self._package_roots]
        beside = [root.parent / "models" / self.name for root in self._package_roots]
        return inside + beside

    def original_dirs(self) -> Iterator[Path]:
        """Places 3 and 4, the original janitoo_db's layout; 4 is worked out only when asked for."""
        for root in self._package_roots:
            yield root.parent / "config" / "models" / self.name
        yield from self.data_files_dirs()

    def data_files_dirs(self) -> list[Path]:
        """Where the distribution's ``data_files`` put ``config/models/NAME/``.

        The installed file list knows the prefix pip used (a venv, ``--user``,
        ``--prefix``); without one, the original's own guess, ``sys.prefix``.
        """
        guessed = [Path(sys.prefix) / "config" / "models" / self.name]
        from importlib.metadata import Distribution

        distribution = self.source
        if not isinstance(distribution, Distribution):
            return guessed
        found: list[Path] = []
        for entry in _recorded_files(distribution):
            parts = PurePosixPath(entry).parts
            if entry.endswith(".py") and parts[-4:-1] == ("config", "models", self.name):
                # RECORD paths are relative to site-packages ("../../../config/..."): say where that is.
                directory = Path(os.path.normpath(str(distribution.locate_file(entry)))).parent
                if directory not in found:
                    found.append(directory)
        return found or guessed

    def search_path(self) -> Iterator[Path]:
        """Every place the version directory may be, in the order it is looked for."""
        yield from self.candidate_dirs()
        yield from self.original_dirs()

    def version_dir(self) -> Path:
        """The first existing place, or an error naming every place tried."""
        return _version_dir(self)

    def new_version_dir(self) -> Path:
        """Where ``generate`` creates the version directory of a branch that has none yet.

        The first place whose parent the project's layout already has, so that
        the new directory is the one :meth:`version_dir` finds afterwards:
        ``PACKAGE/models/NAME`` when ``PACKAGE/models/`` exists, else
        ``ROOT/models/NAME`` beside a ``models/`` of older extensions (as
        janitoo_template's), else ``ROOT/config/models/NAME`` in the original's
        layout (``src/config/``), else ``PACKAGE/models/NAME``, the layout
        wheels use.
        """
        package = self._package_roots[0]
        for parent, directory in ((package / "models", package / "models" / self.name),
                                  (package.parent / "models", package.parent / "models" / self.name),
                                  (package.parent / "config", package.parent / "config" / "models" / self.name)):
            if parent.is_dir():
                return directory
        return package / "models" / self.name

    def load_extend(self) -> Callable[[ModuleType], None]:
        """Import the ``extend`` callable, reporting any import failure by name."""
        module_name, _, attribute = self.target.partition(":")
        try:
            module = importlib.import_module(module_name)
            extend = getattr(module, attribute) if attribute else module
        except Exception as error:
            raise ExtensionError(f"cannot import {self.describe()}: {type(error).__name__}: {error}") from None
        if not callable(extend):
            raise ExtensionError(f"{self.describe()} does not point at a callable")
        return extend


@functools.lru_cache(maxsize=None)
def _version_dir(extension: Extension) -> Path:
    # Looked up once per process: every command asks for each branch's directory several times.
    tried = places_looked_at(extension)
    if tried and tried[-1].is_dir():
        return tried[-1].resolve()
    raise ExtensionError(f"no version directory for {extension.describe()}; start its branch with "
                         f"{start_branch_command(extension.name)}; tried: {', '.join(map(str, tried))}")


def places_looked_at(extension: Extension) -> list[Path]:
    """The places searched for *extension*'s version directory, in order, up to the first that exists."""
    tried: list[Path] = []
    for candidate in extension.search_path():
        tried.append(candidate)
        if candidate.is_dir():
            break
    return tried


def start_branch_command(name: str) -> str:
    """The command that writes branch *name*'s root revision, as error messages suggest it."""
    return f"'jnt_dbman generate -m \"Create {name} branch\" --head {name}'"


CORE = Extension(CORE_NAME, "janitoo_db.models.core:extend", "janitoo_db")


#: What an extension name may be: it is a branch label (``NAME@head``, ``A:B`` ranges) and a directory name.
#: Alembic reads ``@`` (``NAME@head``), ``:`` (ranges) and ``+`` (``+2``) in a revision argument: none is allowed.
VALID_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
#: Alembic's own words for revisions (``heads``, ``NAME@base``), and ``current``, jnt_dbman's for the
#: database's: a branch named so would be read as the word.  Refused in any case: ``HEAD`` beside ``head``
#: would be two names an operator cannot tell apart.
RESERVED_NAMES = frozenset({"base", "head", "heads", "current"})
#: A "-" then a digit is a relative step to Alembic (``NAME@head-1``, ``sensor-2`` is "sensor, two back").
RELATIVE_STEP = re.compile(r"-\d")


def _check_name(extension: Extension) -> None:
    """Refuse a name Alembic would read as something else than a branch, naming the extension."""
    shown = extension.name if len(extension.name) <= 40 else extension.name[:40] + "..."
    where = f"the extension name {shown!r} ({extension.target}, distribution {extension.distribution})"
    if not VALID_NAME.fullmatch(extension.name):
        raise ExtensionError(f"{where} cannot be a branch label: use letters, digits, '_', '.' and '-', "
                             "at most 100 characters")
    if extension.name.lower() in RESERVED_NAMES:
        raise ExtensionError(f"{where} cannot be a branch label: {extension.name.lower()!r} is a revision "
                             f"symbol (reserved, in any case: {', '.join(sorted(RESERVED_NAMES))})")
    if RELATIVE_STEP.search(extension.name):
        raise ExtensionError(f"{where} cannot be a branch label: Alembic reads '-' followed by a digit as a "
                             "relative step (head-1); use '_' instead")


def discover(entry_points_: Iterable[EntryPoint] | None = None) -> list[Extension]:
    """Return the core branch followed by every installed extension, sorted by name.

    Two distributions claiming one name is an error; the same entry point seen
    twice (a package visible through two paths) counts once.
    """
    found: dict[str, Extension] = {CORE.name: CORE}
    if entry_points_ is None:
        from importlib.metadata import entry_points  # its import costs a start at every head a fifth of its time

        entry_points_ = entry_points(group=ENTRY_POINT_GROUP)
    for entry_point in entry_points_:
        extension = Extension(entry_point.name, entry_point.value.replace(" ", ""), getattr(entry_point, "dist", None))
        _check_name(extension)
        known = found.get(extension.name)
        if known is None:
            found[extension.name] = extension
        elif known.target != extension.target or known.distribution != extension.distribution:
            raise ExtensionError(
                f"two extensions claim the branch label {extension.name!r}: "
                f"{known.target} from {known.distribution} and {extension.target} from {extension.distribution}"
            )
    core = found.pop(CORE.name)
    return [core] + sorted(found.values(), key=lambda e: e.name)


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while loading objects that live as long as the process.

    Declaring a thousand models or loading a thousand revisions creates
    millions of objects, none of them garbage; each full collection on the
    way walks all those made so far, which costs a third of the load and
    grows faster than linearly with the number of extensions.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
