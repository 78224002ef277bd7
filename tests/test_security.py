"""Password hashes: current scrypt hashes, and the original janitoo's hashes still verify.

The expected legacy hashes are computed here with hashlib/hmac, independently
of janitoo_db.security, the way werkzeug (which the original used) made them.
"""
from __future__ import annotations

import hashlib
import hmac

import pytest

from janitoo_db.security import check_password_hash, generate_password_hash, needs_rehash


def test_a_new_hash_verifies_and_fits_the_original_column() -> None:
    pwhash = generate_password_hash("correct horse")
    assert pwhash.startswith("scrypt:")
    assert len(pwhash) < 120  # core_users.password is String(120), as in the original
    assert "correct horse" not in pwhash
    assert check_password_hash(pwhash, "correct horse")
    assert not check_password_hash(pwhash, "correct horsE")
    assert not check_password_hash(pwhash, "")
    assert not needs_rehash(pwhash)


def test_each_hash_has_its_own_salt() -> None:
    first, second = generate_password_hash("same"), generate_password_hash("same")
    assert first != second
    assert check_password_hash(first, "same") and check_password_hash(second, "same")


def test_non_ascii_passwords() -> None:
    pwhash = generate_password_hash("pässwörd ☃")
    assert check_password_hash(pwhash, "pässwörd ☃")
    assert not check_password_hash(pwhash, "passwort ☃")


@pytest.mark.parametrize("digest, iterations", [("sha1", 1000), ("sha256", 50000)])
def test_original_pbkdf2_hashes_verify(digest: str, iterations: int) -> None:
    """werkzeug's ``pbkdf2:sha1:1000$salt$hex``, the original janitoo's default."""
    expected = hashlib.pbkdf2_hmac(digest, b"old secret", b"a1B2c3D4", iterations).hex()
    pwhash = f"pbkdf2:{digest}:{iterations}$a1B2c3D4${expected}"
    assert check_password_hash(pwhash, "old secret")
    assert not check_password_hash(pwhash, "old secreT")
    assert needs_rehash(pwhash)


def test_original_salted_digest_hashes_verify() -> None:
    """werkzeug's ``sha1$salt$hmac`` form."""
    pwhash = "sha1$xyz$" + hmac.new(b"xyz", b"old secret", "sha1").hexdigest()
    assert check_password_hash(pwhash, "old secret")
    assert not check_password_hash(pwhash, "other")
    assert needs_rehash(pwhash)


def test_original_unsalted_digest_hashes_verify() -> None:
    pwhash = "md5$$" + hashlib.md5(b"old secret").hexdigest()
    assert check_password_hash(pwhash, "old secret")
    assert not check_password_hash(pwhash, "other")


def test_a_tampered_hash_fails() -> None:
    pwhash = generate_password_hash("secret")
    method, salt, digest = pwhash.split("$")
    flipped = digest[:-1] + ("0" if digest[-1] != "0" else "1")
    assert not check_password_hash(f"{method}${salt}${flipped}", "secret")
    assert not check_password_hash(f"{method}$other{salt}${digest}", "secret")


def test_older_scrypt_parameters_verify_but_need_a_rehash() -> None:
    salt = "saltsaltsaltsalt"
    digest = hashlib.scrypt(b"secret", salt=salt.encode(), n=2**10, r=8, p=1, dklen=32).hex()
    pwhash = f"scrypt:{2**10}:8:1${salt}${digest}"
    assert check_password_hash(pwhash, "secret")
    assert not check_password_hash(pwhash, "Secret")
    assert needs_rehash(pwhash)


@pytest.mark.parametrize("pwhash", [
    "", "secret", "sha1$onlyone", "scrypt:a:b:c$salt$00", "nosuchdigest$salt$00",
    "pbkdf2:nosuchdigest:1000$salt$00", "pbkdf2:sha1:1000$$" + hashlib.sha1(b"secret").hexdigest(),
])
def test_malformed_or_unknown_hashes_never_verify(pwhash: str) -> None:
    """No exception, no accidental success."""
    assert check_password_hash(pwhash, "secret") is False
