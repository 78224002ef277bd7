"""Which branches are installed and where their revisions are, remembered for a start at every head.

Finding the extensions means importing ``importlib.metadata`` and reading
every distribution's entry points; finding their version directories, the
packages' places.  That is a third of what a start at every head costs
(:mod:`janitoo_db.site.at_head`), for an answer that changes only when
something is installed, removed or moved.  So the answer is remembered with
a fingerprint of everything it was read from, taken before and after it was
found, and believed only while the fingerprint is the same:

* the interpreter, janitoo_db's version, ``sys.path`` and the types of the
  import system's finders (``sys.meta_path``);
* the names in every directory of ``sys.path``: a package or a distribution
  installed, removed or renamed there changes them;
* the bytes of every distribution's ``entry_points.txt`` there, and of every
  ``.pth`` file and editable-install finder (``__editable__*``): an entry
  point added, or a package moved by an editable install, changes them;
* for each branch, the places its version directory was looked for before
  the one found: none of them may exist now, and the one found must.

A ``sys.path`` entry that is not a directory (a zip file) is not
fingerprinted: then nothing is remembered.  The record is a
:class:`~janitoo_db.site.private_files.PrivateFile` beside the revision
cache, and is ignored when anything about it is wrong.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import janitoo_db
from janitoo_db.site.cached_headers import cache_dir
from janitoo_db.site.extensions import places_looked_at
from janitoo_db.site.private_files import PrivateFile

if TYPE_CHECKING:
    from janitoo_db.site.extensions import Extension

#: Bumped whenever what a record holds changes; other formats are ignored.
RECORD_FORMAT = 1
#: The files read into the fingerprint besides each distribution's entry points.
_READ_PREFIXES = ("__editable__",)
_READ_SUFFIXES = (".pth",)


def fingerprint() -> str | None:
    """A digest of what finding the extensions and their directories depends on; None when it cannot be taken."""
    digest = hashlib.blake2b(digest_size=20)
    finders = [f"{type(finder).__module__}.{type(finder).__qualname__}" for finder in sys.meta_path]
    digest.update(repr((sys.executable, sys.version, janitoo_db.__version__, sys.path, finders)).encode())
    for entry in sys.path:
        directory = entry or os.getcwd()
        try:
            names = sorted(os.listdir(directory))
        except FileNotFoundError:
            digest.update(b"\0missing\0" + directory.encode())
            continue
        except OSError:
            return None  # a zip file, or unreadable: what the import system finds there is not fingerprinted
        digest.update(repr((directory, names)).encode())
        for name in names:
            if name.endswith((".dist-info", ".egg-info")):
                path = os.path.join(directory, name, "entry_points.txt")
            elif name.startswith(_READ_PREFIXES) or name.endswith(_READ_SUFFIXES):
                path = os.path.join(directory, name)
            else:
                continue
            try:
                with open(path, "rb") as stream:
                    digest.update(name.encode() + b"\0" + stream.read())
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                digest.update(name.encode() + b"\0none")
            except OSError:
                return None
    return digest.hexdigest()


def _record() -> PrivateFile | None:
    directory = cache_dir()
    if directory is None:
        return None
    key = hashlib.sha1(repr((sys.executable, sys.path)).encode(), usedforsecurity=False).hexdigest()[:16]
    return PrivateFile(directory / f"branches-{key}.json")


def remembered() -> dict[str, Path] | None:
    """Each installed branch's version directory, core first, as last found; None unless it surely still is."""
    record = _record()
    body = record.read() if record is not None else None
    try:
        content = json.loads(body) if body else None
    except ValueError:
        return None
    if (not isinstance(content, dict) or content.get("format") != RECORD_FORMAT
            or not isinstance(content.get("branches"), list)):
        return None
    found: dict[str, Path] = {}
    for branch in content["branches"]:
        place = _place(branch)
        if place is None or branch[0] in found:
            return None
        found[branch[0]] = place
    # Last, so that a fingerprint taken after the places were looked at covers them too.
    if not found or content.get("fingerprint") != fingerprint():
        return None
    return found


def _place(branch: Any) -> Path | None:
    """The version directory a record's entry names, if the places looked at before it still do not exist."""
    if (not isinstance(branch, list) or len(branch) != 3 or not isinstance(branch[0], str)
            or not isinstance(branch[1], str) or not isinstance(branch[2], list) or not branch[2]
            or not all(isinstance(tried, str) for tried in branch[2])):
        return None
    *before, chosen = branch[2]
    if any(os.path.isdir(tried) for tried in before) or not os.path.isdir(chosen):
        return None
    return Path(branch[1]) if os.path.realpath(chosen) == branch[1] else None


def remember(before: str | None, extensions: list[Extension], dirs: dict[str, Path | None]) -> None:
    """Keep what was found, when the fingerprint taken *before* finding it is still the one now."""
    record = _record()
    if record is None or before is None or any(directory is None for directory in dirs.values()):
        return
    branches = []
    for extension in extensions:
        branches.append([extension.name, str(dirs[extension.name]), [str(p) for p in places_looked_at(extension)]])
    if fingerprint() != before:
        return  # something was installed or moved meanwhile: the next start looks again
    record.write(json.dumps({"format": RECORD_FORMAT, "fingerprint": before, "branches": branches}).encode())
