"""Files only the current user can have written: what the revision cache keeps between runs.

A :class:`PrivateFile` lives in a directory that the user owns and nobody
else can write (made with mode 0700), and is itself a regular file of the
user's.  Its first line is an HMAC-SHA256 of the rest under a random key kept
beside it (``key``, 32 bytes, readable by the user alone and made on first
use), so a file edited by hand or copied from elsewhere reads as missing.
Whoever can write the directory (the user, root) can still forge a file:
they could as well edit the programs that read it.

Anything that fails (no such directory, a directory or file of someone else,
a read-only disk) makes :meth:`PrivateFile.read` return None and
:meth:`PrivateFile.write` do nothing: these files only ever save time.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

#: The file in the directory holding the key the files are authenticated with.
KEY_FILE = "key"
KEY_BYTES = 32
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


class PrivateFile:
    """One file in a directory of the user's own, authenticated with the directory's key."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._key: bytes | None | bool = False  # False: not looked for yet

    def key(self) -> bytes | None:
        """The directory's key (made on first use), or None when the directory is not to be trusted."""
        if self._key is False:
            self._key = _read_key(self.path.parent / KEY_FILE) if trusted_directory(self.path.parent) else None
        return self._key  # type: ignore[return-value]

    def read(self) -> bytes | None:
        """What was last written, or None if the file is missing, someone else's, or edited."""
        key = self.key()
        data = _read_own_file(self.path, 0o022) if key else None
        if data is None or key is None:
            return None
        mac, _, body = data.partition(b"\n")
        return body if hmac.compare_digest(mac, _mac(key, body)) else None

    def write(self, body: bytes) -> None:
        """Replace the file atomically; give up quietly if that cannot be done."""
        key = self.key()
        if key is None:
            return
        try:
            import tempfile  # only to write: reading a file is what a start at every head does

            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as stream:  # mkstemp makes it 0600
                    stream.write(_mac(key, body) + b"\n" + body)
                os.replace(temporary, self.path)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError:
            pass

    def remove(self) -> None:
        try:
            self.path.unlink()
        except OSError:
            pass


def trusted_directory(directory: Path) -> bool:
    """Make *directory* (0700) if missing; whether it is the user's own and writable by nobody else."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        status = os.stat(directory)
    except OSError:
        return False
    return stat.S_ISDIR(status.st_mode) and _mine(status, 0o022)


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).hexdigest().encode()


def _mine(status: os.stat_result, forbidden_mode: int) -> bool:
    """Whether the current user owns what *status* describes, with the *forbidden_mode* bits clear."""
    if not hasattr(os, "geteuid"):  # Windows: a user's profile is their own
        return True
    return status.st_uid == os.geteuid() and not status.st_mode & forbidden_mode


def _read_own_file(path: Path, forbidden_mode: int) -> bytes | None:
    """The bytes of *path* if it is a regular file of the user's (not a link) with *forbidden_mode* clear."""
    try:
        with open(os.open(path, _OPEN_FLAGS), "rb") as stream:
            status = os.fstat(stream.fileno())
            if not stat.S_ISREG(status.st_mode) or not _mine(status, forbidden_mode):
                return None
            return stream.read()
    except OSError:
        return None


def _read_key(path: Path) -> bytes | None:
    """The key in *path*, made first if there is none; a key anyone else can read is no key."""
    if not path.exists():
        try:
            import secrets
            import tempfile

            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".key", suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as stream:
                    stream.write(secrets.token_bytes(KEY_BYTES))
                os.link(temporary, path)  # never replaces a key another process has just made
            finally:
                os.unlink(temporary)
        except OSError:
            pass
    key = _read_own_file(path, 0o077)
    return key if key is not None and len(key) == KEY_BYTES else None
