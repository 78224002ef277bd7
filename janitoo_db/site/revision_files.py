"""Running a revision file, and the source it ran: what a checksum and an error message are made from.

A revision file is run as its own module, from its bytes as read once; the
source that ran is kept, so a checksum is of what ran, not of what is on
disk later.
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
from types import CodeType, ModuleType
from typing import Any

from janitoo_db.errors import RevisionError


def execute_revision_file(path: str, source: bytes | None = None, code: CodeType | None = None) -> ModuleType:
    """Execute the revision file at *path* from its source and return its module.

    Alembic's loader may run a ``__pycache__`` file instead, whose check (the
    source's modification time in whole seconds, and its size) misses an edit
    within the same second that keeps the size.  *source* is the file's
    bytes if they were read already, *code* what they compile to if known
    (:mod:`janitoo_db.site.compiled_revisions`).
    """
    if source is None:
        source = read_source(path)
    module = ModuleType(re.sub(r"\W", "_", os.path.basename(path)))
    module.__file__ = path
    if code is None:
        code = compile_revision_file(path, source)
    try:
        exec(code, module.__dict__)  # noqa: S102 - it is a revision file
    except BaseException as error:  # SystemExit and KeyboardInterrupt too: loading a revision never ends the program
        raise RevisionError(f"revision file {path} failed as it was loaded: {describe_raised(error)}") from None
    setattr(module, EXECUTED_SOURCE, source)
    return module


def compile_revision_file(path: str, source: bytes) -> Any:
    """Compile a revision file's *source*, naming the file in any error: NUL bytes, syntax, encoding."""
    try:
        return compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as error:  # and IndentationError; a bad encoding or a NUL byte on Python 3.12+
        raise RevisionError(f"syntax error in revision file {path}{_line(error)}: {error.msg}") from None
    except ValueError as error:  # "source code string cannot contain null bytes" before Python 3.12
        raise RevisionError(f"revision file {path} is not Python source: {error}") from None


def _line(error: SyntaxError) -> str:
    return f", line {error.lineno}" if error.lineno else ""


def describe_raised(error: BaseException) -> str:
    """``ValueError: bad``; ``SystemExit(0)``: what a revision raised, in a few words."""
    if isinstance(error, Exception):
        return f"{type(error).__name__}: {error}"
    return f"{type(error).__name__}({error}) (a revision may not exit or stop the program)"


#: The attribute of a revision module holding the bytes it was executed from (see janitoo_db.runtime.checksums).
EXECUTED_SOURCE = "__janitoo_db_source__"


def read_source(path: str) -> bytes:
    """The bytes of a revision file; a path that is not a regular file (a FIFO, say) is refused at once."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise RevisionError(f"revision file {path} is not a regular file")
        chunks = []  # os.read, not a file object: a thousand of these are half the cost
        while chunk := os.read(descriptor, status.st_size + 1):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(descriptor)


def source_checksum(source: bytes) -> str:
    """SHA-256 of *source* with its line endings made LF: only the lines count, not how they end."""
    return hashlib.sha256(source.replace(b"\r\n", b"\n").replace(b"\r", b"\n")).hexdigest()
