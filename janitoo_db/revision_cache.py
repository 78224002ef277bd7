"""Revision headers remembered between runs, so commands do not execute every revision file.

To build the revision graph Alembic executes each revision file, yet it only
reads the file's header: ``revision``, ``down_revision``, ``branch_labels``,
``depends_on`` and the docstring.  On a site with a thousand revisions that is
most of what ``heads``, ``checkdb`` or an ``initdb`` with nothing to do spend.
Here the headers are kept in a JSON file per set of version directories, each
keyed by its file's path and ``stat`` signature (size, modification and change
times, inode); a file whose signature changed is executed and remembered
again.  A file changed in the last few seconds is not remembered yet: on a
file system with coarse timestamps a second change within the same tick
would keep its signature (git's "racy clean" problem).  A revision's file is executed when its ``upgrade`` or ``downgrade``
is about to run, so a migration still runs the code on disk.

The cache lives in ``$JANITOO_DB_CACHE_DIR``, else ``$XDG_CACHE_HOME/janitoo_db``,
else ``~/.cache/janitoo_db``; an empty ``JANITOO_DB_CACHE_DIR`` turns it off.
A cache that cannot be read or written is ignored: it only ever saves time.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Iterable, Iterator

from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RevisionMap
from alembic.util import load_python_file

from janitoo_db.errors import RevisionError

CACHE_DIR_VARIABLE = "JANITOO_DB_CACHE_DIR"
#: Bumped whenever what a cache file holds changes; other formats are ignored.
CACHE_FORMAT = 1
#: The revision files Alembic loads from a version directory (its own rule for source files).
REVISION_FILE = re.compile(r"(?!\.#|__init__).*\.py$")
#: A file changed less than this long ago (nanoseconds) is executed, not remembered:
#: FAT keeps modification times to 2 s, older kernels to a clock tick.
SETTLE_NS = 3_000_000_000

Signature = list[int]
Header = dict[str, Any]


def cache_dir() -> Path | None:
    """Where the cache files go, or None when caching is turned off."""
    configured = os.environ.get(CACHE_DIR_VARIABLE)
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "janitoo_db"


def use_cached_headers(script: ScriptDirectory, version_dirs: Iterable[str | os.PathLike[str]]) -> None:
    """Make *script* build its revision graph from the cache, loading only changed files.

    Call it before anything reads ``script.revision_map``.  Configurations this
    module does not handle (sourceless or recursive version locations) are left alone.
    """
    directory = cache_dir()
    if directory is None or script.sourceless or script.recursive_version_locations:
        return
    dirs = [os.fspath(d) for d in version_dirs]
    key = hashlib.sha1("\0".join(dirs).encode(), usedforsecurity=False).hexdigest()[:16]
    cache_file = directory / f"revisions-{key}.json"
    script.revision_map = RevisionMap(lambda: _load_revisions(dirs, cache_file))


class LazyRevisionModule:
    """Stands in for a revision file's module: its header from the cache, the rest from the file.

    The file is executed the first time anything but the header is asked
    for, normally its ``upgrade`` or ``downgrade`` function.
    """

    def __init__(self, path: str, header: Header) -> None:
        self.__file__ = path
        self.revision = header["revision"]
        self.down_revision = header["down_revision"]
        self.branch_labels = header["branch_labels"]
        self.depends_on = header["depends_on"]
        self.__doc__ = header["doc"]
        self._module: ModuleType | None = None

    def __getattr__(self, name: str) -> Any:
        # Only reached for what the header does not hold.  Alembic asks whether a
        # module has a source encoding; files that had one were never cached.
        if name.startswith("__") or name == "_alembic_source_encoding":
            raise AttributeError(name)
        return getattr(self.load(), name)

    def load(self) -> ModuleType:
        """Execute the revision file (once) and return its module."""
        if self._module is None:
            path = Path(self.__file__)
            module = load_python_file(path.parent, path.name)
            if getattr(module, "revision", None) != self.revision:
                raise RevisionError(f"{path} changed while jnt_dbman was running: run the command again")
            self._module = module
        return self._module


def _signature(stat: os.stat_result) -> Signature:
    # The change time is included because tools that restore modification times cannot set it.
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]


def _read(cache_file: Path) -> dict[str, list[Any]]:
    try:
        with open(cache_file, encoding="utf-8") as stream:
            data = json.load(stream)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or not isinstance(data.get("files"), dict):
        return {}
    return data["files"]


def _write(cache_file: Path, files: dict[str, list[Any]]) -> None:
    """Replace the cache file atomically; give up quietly if the directory is not writable."""
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=cache_file.parent, prefix=cache_file.name, suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump({"format": CACHE_FORMAT, "files": files}, stream)
            os.replace(temporary, cache_file)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        pass


def _plain(value: Any) -> Any:
    """*value* as JSON keeps it (a string, None, or a list of strings), or raise ValueError."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError(value)


HEADER_FIELDS = ("revision", "down_revision", "branch_labels", "depends_on", "doc")


def _remembered(entry: Any, signature: Signature) -> Header | None:
    """The header a cache entry holds for a file with *signature*, or None if it holds none that fits."""
    if not isinstance(entry, list) or len(entry) != 2 or entry[0] != signature:
        return None
    stored = entry[1]
    if not isinstance(stored, dict) or set(stored) != set(HEADER_FIELDS) or not isinstance(stored["revision"], str):
        return None
    try:
        return {name: _from_json(_plain(value)) for name, value in stored.items()}
    except ValueError:
        return None


def _from_json(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _header(script: Script) -> Header | None:
    """What the cache keeps of a loaded revision, or None when it cannot stand in for the module."""
    module = script.module
    if hasattr(module, "_alembic_source_encoding"):
        return None
    try:
        return {  # the HEADER_FIELDS
            "revision": _plain(script.revision),
            "down_revision": _plain(module.down_revision),
            "branch_labels": _plain(getattr(module, "branch_labels", None)),
            "depends_on": _plain(getattr(module, "depends_on", None)),
            "doc": _plain(module.__doc__),
        }
    except ValueError:
        return None


def _load_revisions(dirs: list[str], cache_file: Path) -> Iterator[Script]:
    """Every revision in *dirs*, from the cache where the file is unchanged."""
    cached = _read(cache_file)
    fresh: dict[str, list[Any]] = {}
    seen: set[str] = set()
    for directory in dirs:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except FileNotFoundError:
            continue
        for entry in entries:
            if not REVISION_FILE.match(entry.name) or not entry.is_file():
                continue
            path = os.path.realpath(entry.path)
            if path in seen:
                continue
            seen.add(path)
            try:
                signature = _signature(os.stat(path))
            except FileNotFoundError:  # removed since the directory was listed
                continue
            header = _remembered(cached.get(path), signature)
            if header is not None:
                fresh[path] = cached[path]
                yield Script(LazyRevisionModule(path, header), header["revision"], path)  # type: ignore[arg-type]
                continue
            module = load_python_file(os.path.dirname(path), os.path.basename(path))
            if not hasattr(module, "revision"):
                raise RevisionError(f"revision file {path} has no revision variable")
            script = Script(module, module.revision, path)
            header = _header(script)
            settled = time.time_ns() - max(signature[1], signature[2]) > SETTLE_NS
            if header is not None and settled:
                fresh[path] = [signature, header]
            yield script
    if fresh != cached:
        _write(cache_file, fresh)
