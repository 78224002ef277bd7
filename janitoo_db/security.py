"""Password hashing with the standard library, still verifying the original's hashes.

New hashes use scrypt, stored as ``scrypt:N:r:p$salt$hexhash``, short enough
for the original's 120-character column.  Hashes written by the original
janitoo (``pbkdf2:sha1:1000$salt$hash``, salted or plain digests) still verify,
and :func:`needs_rehash` tells when to replace one after a successful login.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SCRYPT_KEY_LENGTH = 32
SALT_LENGTH = 16
CURRENT_METHOD = f"scrypt:{SCRYPT_N}:{SCRYPT_R}:{SCRYPT_P}"
_SALT_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _scrypt(password: str, salt: str, n: int, r: int, p: int) -> str:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt.encode("utf-8"), n=n, r=r, p=p,
        maxmem=256 * n * r * 2, dklen=SCRYPT_KEY_LENGTH,
    ).hex()


def generate_password_hash(password: str) -> str:
    """Hash *password* with a fresh salt and the current parameters."""
    salt = "".join(secrets.choice(_SALT_ALPHABET) for _ in range(SALT_LENGTH))
    return f"{CURRENT_METHOD}${salt}${_scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)}"


def _legacy_hash(method: str, salt: str, password: str) -> str | None:
    """Recompute a hash in one of the original janitoo's formats, or None if unknown."""
    data = password.encode("utf-8")
    if method == "plain":
        return password
    if method.startswith("pbkdf2:"):
        digest, _, iterations = method[len("pbkdf2:"):].partition(":")
        if digest not in hashlib.algorithms_available or not salt:
            return None
        rounds = int(iterations) if iterations.isdigit() else 1000
        return hashlib.pbkdf2_hmac(digest, data, salt.encode("utf-8"), rounds).hex()
    if method not in hashlib.algorithms_guaranteed:
        return None
    if salt:
        return hmac.new(salt.encode("utf-8"), data, method).hexdigest()
    return hashlib.new(method, data).hexdigest()


def check_password_hash(pwhash: str, password: str) -> bool:
    """True when *password* matches *pwhash*, in the current or an original format."""
    if not pwhash or pwhash.count("$") < 2:
        return False
    method, salt, expected = pwhash.split("$", 2)
    if method.startswith("scrypt:"):
        try:
            n, r, p = (int(part) for part in method.split(":")[1:4])
        except ValueError:
            return False
        actual: str | None = _scrypt(password, salt, n, r, p)
    else:
        actual = _legacy_hash(method, salt, password)
    return actual is not None and hmac.compare_digest(actual, expected)


def needs_rehash(pwhash: str) -> bool:
    """True when *pwhash* was not made with the current method and parameters."""
    return not pwhash.startswith(CURRENT_METHOD + "$")
