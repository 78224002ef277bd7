"""Revision files' compiled code, remembered between runs beside their headers.

Compiling a thousand revision files from source is a tenth of what a fresh
SQLite ``initdb`` costs.  Python's own ``__pycache__`` would save it, but it
believes a file unchanged when its modification time (in whole seconds) and
size are, so revision files are always compiled from their bytes here
(:mod:`janitoo_db.site.revision_files`).  This cache keys each compiled file
by its path and the digest of the very bytes the command read, so an edit is
always seen, and keeps the code objects (``marshal``) in one
:class:`~janitoo_db.site.private_files.PrivateFile` per set of version
directories and Python version: a file nobody else can write, signed with the
user's key, since what it holds is run.

Only entries for the files the command listed are kept when it is written
again, so it does not grow with each edit.  Like the header cache it only
ever saves time: a damaged, foreign or unreadable file is ignored.
"""
from __future__ import annotations

import importlib.util
import marshal
import sys
from types import CodeType

from janitoo_db.site.cached_headers import cache_dir, digest, directories_key
from janitoo_db.site.private_files import PrivateFile
from janitoo_db.site.revision_files import compile_revision_file


class CompiledRevisions:
    """The code of each revision file a command runs: from the cache when its bytes are unchanged, else compiled."""

    def __init__(self, dirs: list[str]) -> None:
        directory = cache_dir()
        tag = f"{sys.implementation.cache_tag}-{importlib.util.MAGIC_NUMBER.hex()}"
        self._file = None if directory is None else PrivateFile(
            directory / f"compiled-{directories_key(dirs)}-{tag}.marshal")
        self._stored: dict[str, bytes] | None = None
        self._compiled: dict[str, bytes] = {}
        #: The entries of the files the command listed: the only ones kept when the cache is written again.
        self.listed: set[str] = set()

    @staticmethod
    def key(path: str, source: bytes) -> str:
        return f"{digest(source)} {path}"

    def code(self, path: str, source: bytes) -> CodeType:
        """The code of the revision file at *path* whose bytes are *source*."""
        key = self.key(path, source)
        stored = self._read().get(key)
        if stored is not None:
            try:
                code = marshal.loads(stored)
                if isinstance(code, CodeType):
                    return code
            except (ValueError, EOFError, TypeError):
                pass
        code = compile_revision_file(path, source)
        self._compiled[key] = marshal.dumps(code)
        return code

    def _read(self) -> dict[str, bytes]:
        if self._stored is None:
            body = self._file.read() if self._file is not None else None
            try:
                content = marshal.loads(body) if body else {}
            except (ValueError, EOFError, TypeError):
                content = {}
            valid = isinstance(content, dict) and all(
                isinstance(key, str) and isinstance(value, bytes) for key, value in content.items())
            self._stored = content if valid else {}
        return self._stored

    def save(self) -> None:
        """Write the cache again when this command compiled a listed file the cache did not hold."""
        fresh = {key: code for key, code in self._compiled.items() if key in self.listed}
        if self._file is None or not fresh:
            return
        kept = {key: code for key, code in self._read().items() if key in self.listed}
        self._file.write(marshal.dumps({**kept, **fresh}))
        self._stored, self._compiled = {**kept, **fresh}, {}
