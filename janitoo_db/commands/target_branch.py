"""Which branch ``generate`` writes to when ``--head`` is not given.

An extension author runs ``generate`` from the extension's checkout, while
janitoo_db itself is often an editable install too (the README's set-up
makes one).  Taking the core branch then compares the wrong models and
writes nothing ("No change in the tables of janitoo"), or into the wrong
project.  So the branch is read from the current directory: the project
whose ``pyproject.toml``/``setup.cfg``/``setup.py`` is nearest above it,
when that names an installed branch's distribution, else the one branch in
a source tree whose version directory or package holds the current
directory or lies under it.  Without such a hint, the only branch in a
source tree is the target; with several, ``--head`` is required.
"""
from __future__ import annotations

import configparser
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from janitoo_db.errors import ExtensionError, MissingOptionError
from janitoo_db.site.extensions import Extension, discover

#: Files that make a directory a Python project, nearest first wins.
PROJECT_FILES = ("pyproject.toml", "setup.cfg", "setup.py")
#: ``name="..."`` in a setup.py, as the original janitoo's are written.
SETUP_PY_NAME = re.compile(r"""\bname\s*=\s*['"]([^'"]+)['"]""")


@dataclass(frozen=True)
class Target:
    """The branch chosen and why, for the line that tells the user."""

    name: str
    reason: str


def choose(cwd: Path, extensions: Iterable[Extension] | None = None) -> Target:
    """The branch ``generate`` without ``--head`` is for, seen from *cwd*; raise when it cannot tell."""
    extensions = list(discover() if extensions is None else extensions)
    cwd = cwd.resolve()
    project = _project_of(cwd)
    if project is not None:
        directory, distribution = project
        named = [e for e in extensions if _normalized(e.distribution) == _normalized(distribution)]
        if len(named) == 1:
            return Target(named[0].name, f"the current directory is in the project of {distribution} ({directory})")
    writable = [e for e in extensions if _writable(e)]
    around = [e for e in writable if any(_related(cwd, place) for place in _places(e))]
    if len(around) == 1:
        return Target(around[0].name, "it is the only branch in a source tree at or under the current directory")
    if len(writable) == 1:
        return Target(writable[0].name, "it is the only branch in a source tree")
    if not writable:
        raise MissingOptionError("--head NAME is required: no branch is in a source tree (all are installed "
                                 "distributions); revisions are written in the extension's checkout, "
                                 "installed with 'pip install -e'")
    raise MissingOptionError(f"--head NAME is required: several branches are in source trees "
                             f"({', '.join(e.name for e in writable)}), and the current directory is in none "
                             "of their projects; name one, or run generate from its project's directory")


def _project_of(cwd: Path) -> tuple[Path, str] | None:
    """The nearest directory at or above *cwd* with a project file, and the distribution it names."""
    for directory in (cwd, *cwd.parents):
        present = [directory / f for f in PROJECT_FILES if (directory / f).is_file()]
        if present:
            name = next(filter(None, map(_declared_name, present)), None)
            return (directory, name) if name else None
    return None


def _declared_name(path: Path) -> str | None:
    """The distribution name a project file declares, or None when it declares none we can read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if path.name == "pyproject.toml":
        return _pyproject_name(text)
    if path.name == "setup.cfg":
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(text)
        except configparser.Error:
            return None
        return parser.get("metadata", "name", fallback=None)
    found = SETUP_PY_NAME.search(text)
    return found.group(1) if found else None


def _pyproject_name(text: str) -> str | None:
    try:
        if sys.version_info >= (3, 11):
            import tomllib
        else:
            import tomli as tomllib
    except ImportError:  # Python 3.10 without tomli: the [project] table's name line
        section = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
        found = re.search(r"""^name\s*=\s*['"]([^'"]+)['"]""", section.group(1), re.M) if section else None
        return found.group(1) if found else None
    try:
        project = tomllib.loads(text).get("project", {})
    except tomllib.TOMLDecodeError:
        return None
    name = project.get("name") if isinstance(project, dict) else None
    return name if isinstance(name, str) else None


def _normalized(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): case, '-', '_' and '.' do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _places(extension: Extension) -> list[Path]:
    """Its version directory (or where generate would create it) and its package's directories."""
    try:
        version_dir = extension.version_dir()
    except ExtensionError:
        version_dir = extension.new_version_dir()
    return [version_dir.resolve(), *(p.resolve() for p in extension.package_dirs())]


def _related(cwd: Path, place: Path) -> bool:
    return place.is_relative_to(cwd) or cwd.is_relative_to(place)


def _writable(extension: Extension) -> bool:
    """True when generate may write its revisions: a source tree, not an installed copy, and ours to write."""
    from janitoo_db.commands.publishing import installed_copy

    try:
        directory = _places(extension)[0]
    except ExtensionError:  # its package cannot be found: nothing to write into
        return False
    if installed_copy(extension, directory) is not None:
        return False
    existing = next((d for d in (directory, *directory.parents) if d.exists()), None)
    return existing is not None and os.access(existing, os.W_OK)
