"""Password hashing and the original's security helpers, on hashlib, hmac and secrets.

New hashes use scrypt, stored as ``scrypt:N:r:p$salt$hexhash``, short enough
for the original's 120-character column.  The original janitoo's formats
(werkzeug's ``pbkdf2:sha1:1000$salt$hash``, salted HMAC or plain digests,
``plain``) can still be written on request and always verify, and
:func:`needs_rehash` tells when to replace a hash after a successful login.
The original's other names (:func:`gen_salt`, :func:`pbkdf2_hex`,
:func:`pbkdf2_bin`, :func:`safe_str_cmp`, :func:`safe_join`) keep working,
each a thin layer over the standard library.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import posixpath
import secrets
from typing import Any, Callable, Union

SALT_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
DEFAULT_PBKDF2_ITERATIONS = 1000  # the original's; pass a method such as 'pbkdf2:sha256:600000' for more
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SCRYPT_KEY_LENGTH = 32
SALT_LENGTH = 16
CURRENT_METHOD = f"scrypt:{SCRYPT_N}:{SCRYPT_R}:{SCRYPT_P}"

HashFunc = Union[str, Callable[..., Any], None]
"""A hashlib digest name or constructor (``"sha256"``, ``hashlib.sha256``), or None for sha1."""
_ALT_SEPARATORS = [sep for sep in (os.path.sep, os.path.altsep) if sep is not None and sep != "/"]


def _bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def gen_salt(length: int) -> str:
    """A random string of *length* characters from :data:`SALT_CHARS`."""
    if length <= 0:
        raise ValueError("salt length must be positive")
    return "".join(secrets.choice(SALT_CHARS) for _ in range(length))


def _digest_name(hashfunc: HashFunc) -> str:
    """The hashlib name of *hashfunc*: a name, a hashlib constructor, or None for sha1."""
    if hashfunc is None:
        return "sha1"
    if isinstance(hashfunc, str):
        return hashfunc
    return hashfunc().name


def pbkdf2_bin(data: str | bytes, salt: str | bytes, iterations: int = DEFAULT_PBKDF2_ITERATIONS,
               keylen: int | None = None, hashfunc: HashFunc = None) -> bytes:
    """PBKDF2-HMAC of *data* with *salt*: *keylen* bytes (default: the digest's size).

    *hashfunc* is a hashlib name (``"sha256"``) or constructor (``hashlib.sha256``);
    sha1 when not given, as in the original.
    """
    return hashlib.pbkdf2_hmac(_digest_name(hashfunc), _bytes(data), _bytes(salt), iterations, keylen)


def pbkdf2_hex(data: str | bytes, salt: str | bytes, iterations: int = DEFAULT_PBKDF2_ITERATIONS,
               keylen: int | None = None, hashfunc: HashFunc = None) -> str:
    """Like :func:`pbkdf2_bin`, as a hexadecimal string."""
    return pbkdf2_bin(data, salt, iterations, keylen, hashfunc).hex()


def safe_str_cmp(a: str | bytes, b: str | bytes) -> bool:
    """True when *a* equals *b*, compared in time that does not depend on where they differ."""
    return hmac.compare_digest(_bytes(a), _bytes(b))


def safe_join(directory: str, filename: str) -> str | None:
    """*filename* joined below *directory*, or None when it is absolute or would leave it."""
    filename = posixpath.normpath(filename)
    if any(sep in filename for sep in _ALT_SEPARATORS):
        return None
    if os.path.isabs(filename) or posixpath.isabs(filename) or filename == ".." or filename.startswith("../"):
        return None
    return os.path.join(directory, filename)


def _plain_digest(name: str) -> bool:
    """True for a hashlib digest with a fixed size (not shake_*, whose hexdigest needs a length)."""
    return name in hashlib.algorithms_available and not name.startswith("shake_")


def _hash(method: str, salt: str, password: str) -> tuple[str, str]:
    """The hash of *password* by *method* with *salt*, and the method as it is stored.

    Raises ValueError for an unknown method or unusable parameters.
    """
    if method == "plain":
        return password, method
    data = password.encode("utf-8")
    if method == "scrypt" or method.startswith("scrypt:"):
        if method == "scrypt":
            n, r, p = SCRYPT_N, SCRYPT_R, SCRYPT_P
        else:
            n, r, p = (int(part) for part in method.split(":")[1:])  # ValueError unless exactly three
            if min(n, r, p) <= 0:
                raise ValueError(f"invalid scrypt parameters {method!r}")
        digest = hashlib.scrypt(data, salt=salt.encode("utf-8"), n=n, r=r, p=p,
                                maxmem=256 * n * r * 2, dklen=SCRYPT_KEY_LENGTH)
        return digest.hex(), f"scrypt:{n}:{r}:{p}"
    if method.startswith("pbkdf2:"):
        name, _, iterations = method[len("pbkdf2:"):].partition(":")
        if not _plain_digest(name) or ":" in iterations:
            raise ValueError(f"invalid PBKDF2 method {method!r}")
        if not salt:
            raise ValueError("PBKDF2 needs a salt")
        rounds = int(iterations or 0) or DEFAULT_PBKDF2_ITERATIONS
        return pbkdf2_hex(data, salt, rounds, hashfunc=name), f"pbkdf2:{name}:{rounds}"
    if not _plain_digest(method):
        raise ValueError(f"invalid password hash method {method!r}")
    if salt:
        return hmac.new(salt.encode("utf-8"), data, method).hexdigest(), method
    return hashlib.new(method, data).hexdigest(), method


def generate_password_hash(password: str, method: str = "scrypt", salt_length: int = SALT_LENGTH) -> str:
    """Hash *password* with a fresh salt, as ``method$salt$hash``.

    *method* is ``scrypt`` (the default; ``scrypt:N:r:p`` to choose the
    parameters) or one of the original's: ``pbkdf2:DIGEST[:ITERATIONS]``
    (its default was ``pbkdf2:sha1``, 1000 iterations), a hashlib digest name
    for a salted HMAC, or ``plain`` to store the password itself.
    """
    salt = "" if method == "plain" else gen_salt(salt_length)
    hashed, actual_method = _hash(method, salt, password)
    return f"{actual_method}${salt}${hashed}"


def check_password_hash(pwhash: str, password: str) -> bool:
    """True when *password* matches *pwhash*, in the current or an original format.

    A malformed hash or an unknown method is simply no match.
    """
    if not pwhash or pwhash.count("$") < 2:
        return False
    method, salt, expected = pwhash.split("$", 2)
    try:
        actual, _ = _hash(method, salt, password)
    except (ValueError, OverflowError, TypeError):  # an unknown method, or numbers hashlib refuses
        return False
    return safe_str_cmp(actual, expected)


def needs_rehash(pwhash: str) -> bool:
    """True when *pwhash* was not made with the current method and parameters."""
    return not pwhash.startswith(CURRENT_METHOD + "$")
