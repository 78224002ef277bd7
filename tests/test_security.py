"""Password hashes: current scrypt hashes, the original janitoo's hashes, and its other security helpers.

The expected legacy hashes are computed here with hashlib/hmac, independently
of janitoo_db.security, the way werkzeug (which the original used) made them;
PBKDF2 is also checked against RFC 6070's published vectors.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import string

import pytest

from janitoo_db.security import (
    DEFAULT_PBKDF2_ITERATIONS,
    SALT_CHARS,
    check_password_hash,
    gen_salt,
    generate_password_hash,
    needs_rehash,
    pbkdf2_bin,
    pbkdf2_hex,
    safe_join,
    safe_str_cmp,
)


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


# -- the original's names --------------------------------------------------------------

def test_the_originals_constants() -> None:
    assert sorted(SALT_CHARS) == sorted(string.ascii_letters + string.digits)
    assert DEFAULT_PBKDF2_ITERATIONS == 1000


def test_gen_salt_draws_the_asked_length_from_salt_chars() -> None:
    salts = {gen_salt(12) for _ in range(20)}
    assert len(salts) == 20
    assert all(len(salt) == 12 and set(salt) <= set(SALT_CHARS) for salt in salts)
    assert len(gen_salt(1)) == 1


@pytest.mark.parametrize("length", [0, -1])
def test_gen_salt_refuses_a_length_that_is_not_positive(length: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        gen_salt(length)


@pytest.mark.parametrize("password, salt, iterations, keylen, expected", [
    # RFC 6070, PBKDF2-HMAC-SHA1 test vectors.
    ("password", "salt", 1, 20, "0c60c80f961f0e71f3a9b524af6012062fe037a6"),
    ("password", "salt", 2, 20, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"),
    ("passwordPASSWORDpassword", "saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096, 25,
     "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038"),
])
def test_pbkdf2_matches_rfc_6070(password: str, salt: str, iterations: int, keylen: int, expected: str) -> None:
    assert pbkdf2_hex(password, salt, iterations, keylen) == expected
    assert pbkdf2_bin(password.encode(), salt.encode(), iterations, keylen) == bytes.fromhex(expected)


def test_pbkdf2_defaults_are_the_originals_sha1_1000_rounds() -> None:
    expected = hashlib.pbkdf2_hmac("sha1", b"secret", b"NaCl", 1000)
    assert pbkdf2_bin("secret", "NaCl") == expected
    assert pbkdf2_hex("secret", "NaCl") == expected.hex()
    assert len(pbkdf2_bin("secret", "NaCl")) == 20  # keylen defaults to the digest size


@pytest.mark.parametrize("hashfunc", ["sha256", hashlib.sha256])
def test_pbkdf2_takes_a_digest_name_or_a_hashlib_constructor(hashfunc: object) -> None:
    expected = hashlib.pbkdf2_hmac("sha256", b"secret", b"NaCl", 50)
    assert pbkdf2_bin("secret", "NaCl", 50, hashfunc=hashfunc) == expected
    assert pbkdf2_hex("secret", "NaCl", 50, keylen=8, hashfunc=hashfunc) == expected[:8].hex()


def test_safe_str_cmp_compares_text_and_bytes() -> None:
    assert safe_str_cmp("abc", "abc") and safe_str_cmp(b"abc", "abc") and safe_str_cmp("é", "é".encode())
    assert not safe_str_cmp("abc", "abd")
    assert not safe_str_cmp("abc", "abcd")


@pytest.mark.parametrize("filename, expected", [
    ("file.txt", os.path.join("/srv/data", "file.txt")),
    ("sub/./file.txt", os.path.join("/srv/data", "sub/file.txt")),
    ("sub/../file.txt", os.path.join("/srv/data", "file.txt")),
    ("/etc/passwd", None),
    ("../secret", None),
    ("sub/../../secret", None),
    ("..", None),
])
def test_safe_join_refuses_absolute_and_escaping_names(filename: str, expected: str | None) -> None:
    assert safe_join("/srv/data", filename) == expected


def test_the_default_method_is_still_scrypt() -> None:
    assert generate_password_hash("secret").startswith("scrypt:16384:8:1$")
    assert generate_password_hash("secret", "scrypt").startswith("scrypt:16384:8:1$")
    chosen = generate_password_hash("secret", "scrypt:1024:8:1", salt_length=4)
    method, salt, digest = chosen.split("$")
    assert method == "scrypt:1024:8:1" and len(salt) == 4
    assert digest == hashlib.scrypt(b"secret", salt=salt.encode(), n=1024, r=8, p=1, dklen=32).hex()
    assert check_password_hash(chosen, "secret") and needs_rehash(chosen)


def test_the_originals_default_method_writes_pbkdf2_sha1_1000() -> None:
    """generate_password_hash(pw, 'pbkdf2:sha1', 8), the original's defaults, and what werkzeug stored."""
    pwhash = generate_password_hash("secret", method="pbkdf2:sha1", salt_length=8)
    found = re.fullmatch(r"pbkdf2:sha1:1000\$([A-Za-z0-9]{8})\$([0-9a-f]{40})", pwhash)
    assert found, pwhash
    salt, digest = found.groups()
    assert digest == hashlib.pbkdf2_hmac("sha1", b"secret", salt.encode(), 1000).hex()
    assert check_password_hash(pwhash, "secret") and not check_password_hash(pwhash, "Secret")
    assert needs_rehash(pwhash)


def test_pbkdf2_with_chosen_iterations() -> None:
    pwhash = generate_password_hash("secret", method="pbkdf2:sha256:50000")
    method, salt, digest = pwhash.split("$")
    assert method == "pbkdf2:sha256:50000"
    assert digest == hashlib.pbkdf2_hmac("sha256", b"secret", salt.encode(), 50000).hex()
    assert check_password_hash(pwhash, "secret")


@pytest.mark.parametrize("digest", ["md5", "sha1", "sha256"])
def test_salted_hmac_methods(digest: str) -> None:
    pwhash = generate_password_hash("secret", method=digest, salt_length=8)
    method, salt, hashed = pwhash.split("$")
    assert method == digest and len(salt) == 8
    assert hashed == hmac.new(salt.encode(), b"secret", digest).hexdigest()
    assert check_password_hash(pwhash, "secret") and not check_password_hash(pwhash, "other")


def test_plain_stores_the_password_itself() -> None:
    assert generate_password_hash("secret", method="plain") == "plain$$secret"
    assert check_password_hash("plain$$secret", "secret")
    assert not check_password_hash("plain$$secret", "Secret")


def test_reference_hashes_written_by_the_original_verify() -> None:
    """Stored strings built by hand, as the original's werkzeug code wrote them."""
    sha1_1000 = hashlib.pbkdf2_hmac("sha1", "pässwörd".encode(), b"Zx8yW7vU", 1000).hex()
    hmac_md5 = hmac.new(b"Qr5sT6uV", b"old secret", "md5").hexdigest()
    hmac_sha1 = hmac.new(b"Qr5sT6uV", b"old secret", "sha1").hexdigest()
    no_rounds = hashlib.pbkdf2_hmac("sha1", b"old secret", b"Qr5sT6uV", 1000).hex()
    assert check_password_hash(f"pbkdf2:sha1:1000$Zx8yW7vU${sha1_1000}", "pässwörd")
    assert check_password_hash(f"md5$Qr5sT6uV${hmac_md5}", "old secret")
    assert check_password_hash(f"sha1$Qr5sT6uV${hmac_sha1}", "old secret")
    assert check_password_hash(f"pbkdf2:sha1$Qr5sT6uV${no_rounds}", "old secret")  # rounds left to the default
    assert not check_password_hash(f"md5$Qr5sT6uV${hmac_sha1}", "old secret")


@pytest.mark.parametrize("method", ["nosuchdigest", "pbkdf2:nosuchdigest", "pbkdf2:sha1:1000:7", "pbkdf2:sha1:x",
                                    "scrypt:1024:8", "shake_128"])
def test_an_unknown_method_is_refused(method: str) -> None:
    with pytest.raises(ValueError):
        generate_password_hash("secret", method=method)
