"""The one place that hides passwords in text janitoo_db shows: errors, prompts, URLs.

It must work on text it cannot parse: a mistyped URL (``postgresql//u:pw@h``),
a configuration file's raw value in an interpolation error, a driver's
message.  So it hides the passwords of the URLs it is given, in every
spelling (as written, percent-decoded, percent-encoded), and then anything
that looks like a password wherever it stands: ``//user:PASSWORD@`` and
``password=VALUE``.  It imports nothing heavy: the CLI uses it on every error.
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, quote_plus, unquote, unquote_plus

MASK = "***"

#: ``//user:secret@``: the credentials of anything URL-like, even when the rest does not parse.
#: The secret runs to the last ``@`` of the word, since a password may hold an ``@`` of its own.
_USERINFO = re.compile(r"(//[^\s/:@'\"]*:)\S*(?=@)")
#: ``password=secret`` in a query string, a DSN or a message; ``pwd``, ``passwd``, ``sslpassword`` too.
_KEYWORD = re.compile(r"((?:ssl)?(?:password|passwd|pwd)\s*=\s*)([^\s&;,'\")]+)", re.IGNORECASE)
_ESCAPE = re.compile(r"%[0-9A-F]{2}")
#: Shorter secrets are hidden only where they stand as passwords: replacing them
#: everywhere would garble the message around them.
SHORTEST_SECRET = 4


def spellings(secret: str) -> set[str]:
    """*secret* as it may appear in text: as given, decoded, and encoded."""
    found = {secret, unquote(secret), unquote_plus(secret), quote(secret, safe=""), quote_plus(secret, safe="")}
    # Percent escapes are case-insensitive: %2F and %2f are the same character.
    found |= {_ESCAPE.sub(lambda m: m.group(0).lower(), s) for s in found}
    return {s for s in found if s}


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


def mask_secrets(text: str, *urls: Any) -> str:
    """*text* with the passwords of *urls*, and anything that looks like a password, shown as ``***``."""
    secrets = set().union(*(_secrets_of(url) for url in urls)) if urls else set()
    # Longest first: a secret may contain a shorter spelling of itself.
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= SHORTEST_SECRET:
            text = text.replace(secret, MASK)
    text = _USERINFO.sub(lambda m: m.group(1) + MASK, text)
    return _KEYWORD.sub(lambda m: m.group(1) + MASK, text)
