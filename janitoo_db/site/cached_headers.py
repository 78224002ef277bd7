"""The revision cache's files: where they are, and the headers they remember for files unchanged since.

Read without Alembic or SQLAlchemy: building the revision graph from
these headers is :mod:`janitoo_db.site.revision_cache`'s work, and knowing
that a database is at every head from them alone is
:mod:`janitoo_db.site.at_head`'s.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from janitoo_db.site.private_files import PrivateFile
from janitoo_db.site.revision_files import read_source

CACHE_DIR_VARIABLE = "JANITOO_DB_CACHE_DIR"


#: Bumped whenever what a cache file holds changes; other formats are ignored.
CACHE_FORMAT = 3


#: The revision files Alembic loads from a version directory (its own rule for source files).
REVISION_FILE = re.compile(r"(?!\.#|__init__).*\.py$")


#: The fields of a header that shape the revision graph; the docstring is only shown.
GRAPH_FIELDS = ("revision", "down_revision", "branch_labels", "depends_on")


#: A squashed revision's (see :mod:`janitoo_db.site.squashed`): read on every migration, so cached too.
SQUASH_FIELDS = ("replaces", "replaced_release")


HEADER_FIELDS = (*GRAPH_FIELDS, *SQUASH_FIELDS, "doc")


Header = dict[str, Any]


def cache_dir() -> Path | None:
    """Where the cache files go, or None when caching is turned off."""
    configured = os.environ.get(CACHE_DIR_VARIABLE)
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "janitoo_db"


def directories_key(dirs: list[str]) -> str:
    """What names a set of version directories in the cache files' names."""
    return hashlib.sha1("\0".join(dirs).encode(), usedforsecurity=False).hexdigest()[:16]


def cache_file(dirs: list[str]) -> PrivateFile | None:
    directory = cache_dir()
    if directory is None:
        return None
    return PrivateFile(directory / f"revisions-{directories_key(dirs)}.json")


def read_headers(cache: PrivateFile) -> dict[str, list[Any]]:
    body = cache.read()
    try:
        content = json.loads(body) if body is not None else None
    except ValueError:
        return {}
    if (not isinstance(content, dict) or content.get("format") != CACHE_FORMAT
            or not isinstance(content.get("files"), dict)):
        return {}
    return content["files"]


def digest(source: bytes) -> str:
    return hashlib.blake2b(source, digest_size=16).hexdigest()


def _plain(value: Any) -> Any:
    """*value* as JSON keeps it (a string, None, or a list of strings), or raise ValueError."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError(value)


def _from_json(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def header_value(value: Any) -> Any:
    """A header variable's *value* as a cached header holds it (lists as tuples), or raise ValueError."""
    return _from_json(_plain(value))


def remembered(entry: Any, digest: str) -> Header | None:
    """The header a cache entry holds for a file with *digest*, or None if it holds none that fits."""
    if not isinstance(entry, list) or len(entry) != 2 or entry[0] != digest:
        return None
    stored = entry[1]
    if not isinstance(stored, dict) or set(stored) != set(HEADER_FIELDS) or not isinstance(stored["revision"], str):
        return None
    try:
        return {name: header_value(value) for name, value in stored.items()}
    except ValueError:
        return None


def revision_files(dirs: list[str]) -> Iterator[tuple[str, bytes]]:
    """The path and bytes of each revision file in *dirs*: regular files only (a FIFO would block)."""
    seen: set[str] = set()
    for directory in map(os.path.realpath, dirs):
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except FileNotFoundError:
            continue
        for entry in entries:
            if not REVISION_FILE.match(entry.name) or not entry.is_file():
                continue
            # Only a link needs resolving (realpath on each file would cost as much as reading them all).
            path = os.path.realpath(entry.path) if entry.is_symlink() else entry.path
            if path not in seen:
                seen.add(path)
                try:
                    yield path, read_source(path)
                except FileNotFoundError:  # removed since the directory was listed
                    continue


def names(header: Header) -> set[str]:
    """The names a revision can be referred to by: its id and branch labels."""
    labels = header["branch_labels"]
    return {header["revision"], *((labels,) if isinstance(labels, str) else labels or ())}


def references(header: Header) -> set[str]:
    return {name for field in ("down_revision", "depends_on")
            for name in ((header[field],) if isinstance(header[field], str) else header[field] or ())}
