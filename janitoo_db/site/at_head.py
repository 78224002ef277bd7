"""Knowing that a SQLite database is at every head without SQLAlchemy or Alembic.

A janitoo server runs ``jnt_dbman initdb`` at each start, and its database
is almost always at every head already.  Importing SQLAlchemy and Alembic
was most of what such a start cost, though the revision cache
(:mod:`janitoo_db.site.cached_headers`) holds every revision's header.
Here the answer comes from that cache and the database file alone, through
the standard library's ``sqlite3``, in the plain case only:

* the URL names a SQLite file plainly (:mod:`janitoo_db.site.sqlite_file`)
  and the file exists;
* the revision cache is on, authenticated, and remembers every revision
  file of every branch as it is now;
* each branch is one line of revisions, from its one root, labelled with
  its name and nothing else, to its one head: no merge, no branch point, no
  squashed revision, and every ``depends_on`` names a revision;
* ``alembic_version`` holds exactly those heads, and no migration was
  left half done (``janitoo_db_in_progress`` is absent or empty).

Anything else answers None, and the command runs as always, with every
check: a cold or stale cache, another database, a file that cannot be
read or does not belong.  Nothing here writes.
"""
from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from janitoo_db.defaults import CHECKSUMS_TABLE, PROGRESS_TABLE, VERSION_TABLE
from janitoo_db.errors import JanitooDbError
from janitoo_db.site import cached_headers as on_file
from janitoo_db.site import installed_branches
from janitoo_db.site.revision_files import source_checksum
from janitoo_db.site.sqlite_file import plain_sqlite_file
from janitoo_db.site.version_dirs import branch_dirs

if TYPE_CHECKING:
    from janitoo_db.site import Site

#: How long to wait for a writer's lock before leaving the answer to the full command (which waits longer).
BUSY_SECONDS = 1.0


class Head:
    """A branch's head, as the sentence a command ends on names it (a plain class: no dataclass to build)."""

    __slots__ = ("revision", "branches")
    replaced_by = ""
    orphaned = False

    def __init__(self, revision: str, branch: str) -> None:
        self.revision = revision
        self.branches = (branch,)

    def __repr__(self) -> str:
        return f"Head({self.revision!r}, {self.branches[0]!r})"


@dataclass(frozen=True)
class AtEveryHead:
    """A database found at every head, as far as a server start needs to know."""

    #: Each branch's head, core first, then the extensions in the order they were found.
    heads: tuple[Head, ...]
    #: The bytes of every revision file by revision id, and the checksums the database recorded (None: no table).
    sources: dict[str, bytes] = field(repr=False)
    checksums: dict[str, str] | None = field(repr=False)

    @property
    def checksums_kept(self) -> bool:
        """The database keeps the checksums of applied revisions (else the next migration records them)."""
        return self.checksums is not None

    @property
    def edited(self) -> bool:
        """The file of an applied revision is not the one its recorded checksum was made from (checkdb asks)."""
        return any(revision in self.sources and source_checksum(self.sources[revision]) != checksum
                   for revision, checksum in (self.checksums or {}).items())


@dataclass(frozen=True)
class _Revision:
    path: str
    source: bytes
    header: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.header["revision"])


def plainly_at_every_head(site: Site) -> AtEveryHead | None:
    """The heads *site*'s database is at, when the plain case above holds; else None (run the command)."""
    path = plain_sqlite_file(site.url)
    if path is None or not os.path.isfile(path) or site.new_branch is not None:
        return None
    try:
        lines = _branch_lines(site)
        found = _read_database(path) if lines is not None else None
    except (JanitooDbError, OSError):
        return None
    if lines is None or found is None:
        return None
    versions, checksums = found
    heads = {name: line[-1] for name, line in lines.items()}
    if len(versions) != len(heads) or set(versions) != {head.id for head in heads.values()}:
        return None
    sources = {revision.id: revision.source for line in lines.values() for revision in line}
    return AtEveryHead(tuple(Head(head.id, name) for name, head in heads.items()), sources, checksums)


def _branch_lines(site: Site) -> dict[str, list[_Revision]] | None:
    """Each branch's revisions from root to head, from the cache alone; None unless every branch is one line."""
    dirs = _installed(site)
    locations = [str(directory) for directory in dirs.values() if directory is not None]
    cache = on_file.cache_file(locations)
    if cache is None or len(set(locations)) != len(dirs):
        return None
    stored = on_file.read_headers(cache)
    by_dir: dict[str, list[_Revision]] = {}
    for path, source in on_file.revision_files(locations):
        header = on_file.remembered(stored.get(path), on_file.digest(source))
        if header is None:
            return None
        by_dir.setdefault(os.path.dirname(path), []).append(_Revision(path, source, header))
    lines = {}
    for name, directory in dirs.items():
        line = _single_line(name, by_dir.pop(str(directory), []))
        if line is None:
            return None
        lines[name] = line
    every = [revision for line in lines.values() for revision in line]
    ids = {revision.id for revision in every}
    if by_dir or len(ids) != len(every) or ids & set(lines):
        return None  # a file outside the branches' directories, a revision id twice, a label that is an id
    if not all(set(_names(revision.header["depends_on"])) <= ids for revision in every):
        return None
    return lines


def _installed(site: Site) -> dict[str, Path | None]:
    """Each branch's version directory: as remembered when nothing was installed or moved since, else found."""
    if not site.discovers:
        return branch_dirs(site)
    found = installed_branches.remembered()
    if found is not None:
        return dict(found)
    before = installed_branches.fingerprint()
    dirs = branch_dirs(site)
    installed_branches.remember(before, site.extensions, dirs)
    return dirs


def _single_line(name: str, held: list[_Revision]) -> list[_Revision] | None:
    """*held* from its root to its head, when it is one line whose root alone is labelled, with *name*."""
    by_id = {revision.id: revision for revision in held}
    roots = [revision for revision in held if revision.header["down_revision"] is None]
    if (len(by_id) != len(held) or len(roots) != 1 or set(_names(roots[0].header["branch_labels"])) != {name}
            or any(revision.header["replaces"] is not None or revision.header["replaced_release"] is not None
                   for revision in held)):
        return None
    child: dict[str, str] = {}
    for revision in held:
        parent = revision.header["down_revision"]
        if revision is roots[0]:
            continue
        if (not isinstance(parent, str) or parent not in by_id or parent in child
                or _names(revision.header["branch_labels"])):
            return None
        child[parent] = revision.id
    line = [roots[0]]
    while line[-1].id in child and len(line) <= len(held):
        line.append(by_id[child[line[-1].id]])
    return line if len(line) == len(held) else None


def _names(value: Any) -> tuple[str, ...]:
    """A header's label or revision list as a tuple: None, a string, or a tuple of strings."""
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _read_database(path: str) -> tuple[list[str], dict[str, str] | None] | None:
    """alembic_version and the recorded checksums, read once; None when a migration was left half done.

    Opened read-only: a file removed meanwhile is not created again.  Table
    names are compared as SQLite does, whatever their case.
    """
    try:
        connection = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True,
                                     timeout=BUSY_SECONDS, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        connection.execute("BEGIN")  # one snapshot for every read below
        tables = {name.lower() for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if VERSION_TABLE not in tables:
            return None
        if PROGRESS_TABLE in tables and connection.execute(f"SELECT 1 FROM {PROGRESS_TABLE} LIMIT 1").fetchone():
            return None
        versions = [version for (version,) in connection.execute(f"SELECT version_num FROM {VERSION_TABLE}")]
        checksums = (dict(connection.execute(f"SELECT revision, checksum FROM {CHECKSUMS_TABLE}").fetchall())
                     if CHECKSUMS_TABLE in tables else None)
        return versions, checksums
    except sqlite3.Error:
        return None
    finally:
        connection.close()
