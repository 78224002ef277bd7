"""The one place that hides passwords in text janitoo_db shows: errors, prompts, URLs.

It must work on text it cannot parse: a mistyped URL (``postgresql//u:pw@h``),
a configuration file's raw value in an interpolation error, a driver's
message.  So it hides the passwords of the URLs it is given, in every
spelling (as written, percent-decoded, percent-encoded), and then anything
that looks like a password wherever it stands: ``//user:PASSWORD@`` and
``password=VALUE``.  It imports nothing heavy: the CLI uses it on every error.

A password holding an unescaped ``@`` (``postgresql://u:pa@ss@host/db``) is
cut by SQLAlchemy at its first ``@``: the rest lands in the host or the
database name, and the driver echoes it back ("cannot resolve host
'ss@host'").  So the password meant is taken to run from ``//user:`` to the
last ``@`` before the host, and each piece of it (split at ``@ : / ? # %``) is
hidden too: long pieces everywhere, short ones where they stand as a word.
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, quote_plus, unquote, unquote_plus

MASK = "***"

#: ``//user:secret@``: the credentials of anything URL-like, even when the rest does not parse.
#: The secret runs to the last ``@`` of the word, since a password may hold an ``@`` of its own;
#: the user name may hold one too (``user@server``, as Azure spells it).
_USERINFO = re.compile(r"(//[^\s/:'\"]*:)\S*(?=@)")
#: ``password=secret`` in a query string, a DSN or a message; ``pwd``, ``passwd``, ``sslpassword`` too.
_KEYWORD = re.compile(r"((?:ssl)?(?:password|passwd|pwd)\s*=\s*)([^\s&;,'\")]+)", re.IGNORECASE)
_ESCAPE = re.compile(r"%[0-9A-F]{2}")
#: Shorter secrets are hidden only where they stand as passwords, or as a word of their
#: own: replacing them everywhere would garble the message around them.
SHORTEST_SECRET = 4
#: Where SQLAlchemy or a driver may cut a password it misread into pieces.
_PIECE_SEPARATORS = re.compile(r"[@:/?#%]")


def spellings(secret: str) -> set[str]:
    """*secret* as it may appear in text: as given, decoded, and encoded."""
    found = {secret, unquote(secret), unquote_plus(secret), quote(secret, safe=""), quote_plus(secret, safe="")}
    # Percent escapes are case-insensitive: %2F and %2f are the same character.
    found |= {_ESCAPE.sub(lambda m: m.group(0).lower(), s) for s in found}
    return {s for s in found if s}


def _meant_password(url: Any) -> str:
    """The password the writer of parsed *url* meant, when SQLAlchemy cut it at an ``@`` of its own.

    The rest of it then sits in the host (``pa@ss@host``: host ``ss@host``),
    in the database name (``p@ss/w0rd@host/db``: database ``w0rd@host/db``),
    or, with no database, in the query: the password runs to the last ``@``
    of those.
    """
    password = str(getattr(url, "password", None) or "")
    host, port, database = (getattr(url, name, None) for name in ("host", "port", "database"))
    if not host:  # a SQLite file's path may hold an "@" of its own
        return password
    after = f"{host}{f':{port}' if port else ''}"
    if database:
        if "/" in database.rpartition("@")[2]:  # not a name written my%40db: a host and a database
            after += f"/{database}"
    elif isinstance(getattr(url, "query", None), dict):
        query = "&".join(f"{key}={value}" for key, value in url.query.items())
        after += f"?{query}" if query else ""
    if "@" in after:
        return f"{password}@{after.rsplit('@', 1)[0]}"
    return password


def _meant_passwords_of_text(url: str) -> set[str]:
    """The passwords *url*, a string, may mean: as SQLAlchemy reads it, and to the last ``@``."""
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - any URL SQLAlchemy cannot read: the text's own reading is all there is
        parsed = None
    found = {_meant_password(parsed)} if parsed is not None else set()
    if parsed is None or not parsed.database:
        # A password cut at "@" before a "?" leaves SQLAlchemy nothing to show for it.
        found |= {url[match.end(1):match.end()] for match in _USERINFO.finditer(url)}
    return {password for password in found if password}


def _pieces(passwords: set[str]) -> set[str]:
    """Every piece of *passwords* a driver may echo back on its own (a host, a database name)."""
    pieces = set()
    for password in passwords:
        for spelling in (password, unquote(password)):  # not the encoded spellings: their "%2F" is no piece
            pieces |= {piece for piece in _PIECE_SEPARATORS.split(spelling) if piece}
    return pieces


def _secrets_of(url: Any) -> set[str]:
    """The password of *url* (a string or a SQLAlchemy URL) and any password in its query."""
    secrets: set[str] = set()
    if url is None:
        return secrets
    password = getattr(url, "password", None)
    if password:
        secrets |= spellings(str(password))
    query = getattr(url, "query", None)
    if isinstance(query, dict):
        for key, value in query.items():
            if _KEYWORD.match(f"{key}="):
                values = value if isinstance(value, tuple) else (value,)
                for one in values:
                    secrets |= spellings(str(one))
    if isinstance(url, str):
        for match in _USERINFO.finditer(url):
            secrets |= spellings(url[match.end(1):match.end()])
        for match in _KEYWORD.finditer(url):
            secrets |= spellings(match.group(2))
    return secrets


def _meant_passwords(url: Any) -> set[str]:
    """The passwords *url* (a string or a SQLAlchemy URL) may have been meant to hold."""
    if isinstance(url, str):
        return _meant_passwords_of_text(url)
    if getattr(url, "drivername", None):
        return {_meant_password(url)} - {""}
    return set()


def mask_secrets(text: str, *urls: Any) -> str:
    """*text* with the passwords of *urls*, and anything that looks like a password, shown as ``***``."""
    secrets = set().union(*(_secrets_of(url) for url in urls)) if urls else set()
    meant = set().union(*(_meant_passwords(url) for url in urls)) if urls else set()
    for password in meant:
        secrets |= spellings(password)
    pieces = _pieces(meant)
    # Longest first: a secret may contain a shorter spelling of itself.
    for secret in sorted(secrets | pieces, key=len, reverse=True):
        if len(secret) >= SHORTEST_SECRET:
            text = text.replace(secret, MASK)
    for piece in sorted(pieces, key=len, reverse=True):
        if len(piece) < SHORTEST_SECRET:
            text = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(piece)}(?![A-Za-z0-9_])", MASK, text)
    text = _USERINFO.sub(lambda m: m.group(1) + MASK, text)
    return _KEYWORD.sub(lambda m: m.group(1) + MASK, text)
