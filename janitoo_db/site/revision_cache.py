"""Revision headers remembered between runs, so commands do not execute every revision file.

To build the revision graph Alembic executes each revision file, yet it only
reads the file's header: ``revision``, ``down_revision``, ``branch_labels``,
``depends_on`` and the docstring (and a squashed revision's ``replaces`` and
``replaced_release``, which every migration reads).  On a site with a thousand revisions that is
most of what ``heads``, ``checkdb`` or an ``initdb`` with nothing to do spend.
Here the headers are kept in a JSON file per set of version directories, each
keyed by its file's path and a digest of its bytes (BLAKE2b): a file whose
bytes changed is executed and remembered again.  Reading every file costs
a few milliseconds per thousand revisions (2 % of a ``heads``); it makes the cache
independent of timestamps, which an edit can keep (``touch -r``, a coarse
file system, a change time that is a creation time).

A revision's file is executed when its ``upgrade`` or ``downgrade`` is about
to run, from the bytes read as the files were listed (never from a
``__pycache__`` file that may be older than the source; its compiled code may
come from :mod:`janitoo_db.site.compiled_revisions`, keyed by those bytes'
digest), and its header is compared with the cached one: if they
differ, the graph the command planned with was wrong, so the cache file is
removed and the command stops with an error before that revision runs.
Cached headers that name a revision none of them provides are not believed.

The cache files are :class:`~janitoo_db.site.private_files.PrivateFile` objects: used only from a
directory of the user's own that nobody else can write, and authenticated
with a key of the user's, so an edited, copied or foreign cache file is
ignored.

The cache lives in ``$JANITOO_DB_CACHE_DIR``, else ``$XDG_CACHE_HOME/janitoo_db``,
else ``~/.cache/janitoo_db``; an empty ``JANITOO_DB_CACHE_DIR`` turns it off.
A cache that cannot be used is ignored: it only ever saves time.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import Any

from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RevisionMap

from janitoo_db.errors import RevisionError
from janitoo_db.site import cached_headers as on_file
from janitoo_db.site.cached_headers import GRAPH_FIELDS, HEADER_FIELDS, SQUASH_FIELDS, Header
from janitoo_db.site.compiled_revisions import CompiledRevisions
from janitoo_db.site.private_files import PrivateFile
from janitoo_db.site.revision_files import EXECUTED_SOURCE, execute_revision_file
from janitoo_db.site.squashed import refuse_replaced_files


def use_cached_headers(script: ScriptDirectory, version_dirs: Iterable[str | os.PathLike[str]]) -> CompiledRevisions:
    """Make *script* list its revision files itself and build the graph from the cache where it can.

    Call it before anything reads ``script.revision_map``.  With the cache off
    the files are still listed here (only regular files) and executed from
    the bytes read then.  Configurations this module does not handle
    (sourceless or recursive version locations) are left to Alembic.  Returns
    where the compiled files are kept: save it once the command is done.
    """
    dirs = [os.fspath(d) for d in version_dirs]
    compiled = CompiledRevisions(dirs)
    if script.sourceless or script.recursive_version_locations:
        return compiled
    # RevisionMap(generator) and Script(module, id, path) are the documented classes, but replacing the map
    # ScriptDirectory made relies on every lookup going through script.revision_map, and LazyRevisionModule on
    # what Script reads from a module (tested with Alembic 1.16.0 to 1.20.1; see alembic_internals.py).
    script.revision_map = RevisionMap(lambda: _load_revisions(dirs, on_file.cache_file(dirs), compiled))
    return compiled


class LazyRevisionModule:
    """Stands in for a revision file's module: its header from the cache, the rest from the file.

    The file is executed the first time anything but the header is asked
    for, normally its ``upgrade`` or ``downgrade`` function, from the bytes
    the command read as it listed the files; if its header is not the cached
    one, the cache file is removed and RevisionError raised.
    """

    def __init__(self, path: str, header: Header, cache: PrivateFile, source: bytes,
                 compiled: CompiledRevisions) -> None:
        self.__file__ = path
        self._source = source
        self._compiled = compiled
        self.revision = header["revision"]
        self.down_revision = header["down_revision"]
        self.branch_labels = header["branch_labels"]
        self.depends_on = header["depends_on"]
        self.replaces = header["replaces"]
        self.replaced_release = header["replaced_release"]
        self.__doc__ = header["doc"]
        self._cache = cache
        self._module: ModuleType | None = None

    def __getattr__(self, name: str) -> Any:
        # Only reached for what the header does not hold.  Alembic asks whether a
        # module has a source encoding; files that had one were never cached.
        if name.startswith("__") or name == "_alembic_source_encoding":
            raise AttributeError(name)
        return getattr(self.load(), name)

    def load(self) -> ModuleType:
        """Execute the revision file (once), check its header against the cache's, return its module."""
        if self._module is None:
            module = execute_revision_file(self.__file__, self._source,
                                           self._compiled.code(self.__file__, self._source))
            found = _header(module) or {}
            differing = [name for name in GRAPH_FIELDS if found.get(name) != getattr(self, name)]
            if differing:
                self._cache.remove()
                raise RevisionError(
                    f"revision file {self.__file__}: its {' and '.join(differing)} is not what the revision cache"
                    " said; the cache was stale or edited and has been removed: run the command again")
            self._module = module
        return self._module


def _header(module: ModuleType) -> Header | None:
    """A revision module's header as the cache keeps it, or None when the cache cannot stand in for it."""
    if hasattr(module, "_alembic_source_encoding"):
        return None
    header = {}
    for name in HEADER_FIELDS:
        try:
            header[name] = on_file.header_value(getattr(module, "__doc__" if name == "doc" else name, None))
        except ValueError:
            if name not in SQUASH_FIELDS or getattr(module, "replaced_release", None) is not None:
                return None
            header[name] = None  # a variable of that name meaning something else: no squashed revision
    return header


def _executed(path: str, source: bytes, compiled: CompiledRevisions) -> tuple[ModuleType, Header | None]:
    module = execute_revision_file(path, source, compiled.code(path, source))
    if not isinstance(getattr(module, "revision", None), str):
        raise RevisionError(f"revision file {path} has no revision variable holding a string")
    return module, _header(module)


def _load_revisions(dirs: list[str], cache: PrivateFile | None, compiled: CompiledRevisions) -> Iterator[Script]:
    """Every revision in *dirs*, from the cache where the file is unchanged."""
    cached = on_file.read_headers(cache) if cache else {}
    files = {path: (source, on_file.digest(source)) for path, source in on_file.revision_files(dirs)}
    compiled.listed = {compiled.key(path, source) for path, (source, _) in files.items()}
    remembered = {path: on_file.remembered(cached.get(path), digest) for path, (_, digest) in files.items()}

    def run(path: str) -> tuple[ModuleType, Header | None]:
        return _executed(path, files[path][0], compiled)

    executed = {path: run(path) for path, header in remembered.items() if header is None}
    # Headers naming a revision none of them provides would stop Alembic with a KeyError:
    # then the cache is not believed at all, and what the files say decides.
    known = [h for h in [*remembered.values(), *(h for _, h in executed.values())] if h]
    if not set().union(*map(on_file.references, known)) <= set().union(*map(on_file.names, known)):
        executed.update((path, run(path)) for path, h in remembered.items() if h is not None)
        remembered = dict.fromkeys(remembered)
    refuse_replaced_files({**{path: h for path, h in remembered.items() if h is not None},
                           **{path: h or vars(module) for path, (module, h) in executed.items()}})
    fresh: dict[str, list[Any]] = {}
    for path, (_, digest) in files.items():
        header = remembered[path]
        if cache is not None and header is not None:
            fresh[path] = cached[path]
            lazy = LazyRevisionModule(path, header, cache, files[path][0], compiled)
            yield Script(lazy, header["revision"], path)  # type: ignore[arg-type]
            continue
        module, header = executed[path]
        if header is not None:
            fresh[path] = [digest, header]
        yield Script(module, module.revision, path)
    if cache is not None and fresh != cached:
        cache.write(json.dumps({"format": on_file.CACHE_FORMAT, "files": fresh}).encode())


def executed_source(module: Any) -> bytes | None:
    """The bytes a revision file was executed from in this process; None when it was not (yet), or not by us.

    A revision a migration applies is recorded with the file it ran as,
    even if the file changed on disk since.
    """
    if isinstance(module, LazyRevisionModule):
        module = module._module
    source = getattr(module, EXECUTED_SOURCE, None) if module is not None else None
    return source if isinstance(source, bytes) else None
