"""A SQLite file's URL read without SQLAlchemy, for what a server start does when there is nothing to do.

Only the plain form, ``sqlite:///PATH`` with no query, fragment or
%-escape, is read here: SQLAlchemy reads that form as PATH itself, so both
agree on the file.  Any other URL is left to SQLAlchemy (``None``).
"""
from __future__ import annotations

import os
import re

#: ``sqlite:///PATH``, PATH as SQLAlchemy keeps it (no ``?``, ``#``, ``%`` or line break to decode).
_PLAIN = re.compile(r"sqlite:///([^?#%\r\n]+)")


def plain_sqlite_file(url: str) -> str | None:
    """The file a plain SQLite URL names, when its directory exists; else None (SQLAlchemy decides)."""
    match = _PLAIN.fullmatch(url) if isinstance(url, str) else None
    if match is None:
        return None
    path = match.group(1)
    if path == ":memory:" or path.startswith("file:") or not path.strip():
        return None
    return path if os.path.isdir(os.path.dirname(os.path.abspath(path))) else None
