"""A server start at every head, answered before click, SQLAlchemy or Alembic is imported.

A janitoo server runs ``jnt_dbman initdb`` (or ``checkdb``) at each start,
and its database is almost always at every head already.  For the plain
forms of those two commands only, on a SQLite file, the answer is looked
for here first (:func:`janitoo_db.site.at_head.plainly_at_every_head`):

* ``jnt_dbman [-u URL | -c FILE]... initdb [-q] [-u URL | -c FILE]...``
* ``jnt_dbman [-u URL | -c FILE]... checkdb [-u URL | -c FILE]...``

Each option at most once on either side of the command, each value not
starting with ``-``; the variables click reads for initdb's options hold
plain non-negative numbers (``JANITOO_DB_LOCK_TIMEOUT=30``), and
``$JANITOO_DB_NO_DESTRUCTIVE`` one of the words initdb takes.  Anything
else, including any doubt, goes to click and the full command, which
prints the same sentence when the database is at every head, and says
what is wrong otherwise.
"""
from __future__ import annotations

import os
import re
import sys
from typing import Sequence, TextIO

from janitoo_db.errors import JanitooDbError

#: The options that say where the database is, and the parameter each gives.
DATABASE_OPTIONS = {"-u": "url", "--url": "url", "-c": "conf_file", "--conf-file": "conf_file",
                    "--conf_file": "conf_file"}
QUIET_OPTIONS = ("-q", "--quiet")
COMMANDS = ("initdb", "checkdb")

#: initdb's options that click reads from these variables, and whether 0 is refused (a timeout of 0 is not one).
NUMBER_VARIABLES = {"JANITOO_DB_LOCK_TIMEOUT": False, "JANITOO_DB_DDL_LOCK_TIMEOUT": True,
                    "JANITOO_DB_STATEMENT_TIMEOUT": True, "JANITOO_DB_RETRY_WAIT": True}
COUNT_VARIABLE = "JANITOO_DB_RETRIES"
_PLAIN_NUMBER = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9})?")
_PLAIN_COUNT = re.compile(r"[0-9]{1,9}")


def answered_at_every_head(argv: Sequence[str]) -> bool:
    """True when *argv* is a plain initdb or checkdb of a database at every head, and the answer was printed."""
    parsed = _parse(argv)
    if parsed is None:
        return False
    command, quiet, given = parsed
    if command == "initdb" and not _initdb_variables_plain():
        return False
    from janitoo_db.cli.wording import nothing_to_do, up_to_date
    from janitoo_db.site import Site
    from janitoo_db.site.at_head import plainly_at_every_head
    from janitoo_db.site.conf import resolve_url

    conf_file = given.get("conf_file")
    try:
        plain = plainly_at_every_head(Site(resolve_url(given.get("url"), conf_file), conf_file=conf_file or None))
    except JanitooDbError:
        return False  # the full command says the same, the way it says errors
    if plain is None:
        return False
    if command == "checkdb":
        if plain.edited:
            return False
        _say(sys.stdout, up_to_date(sorted(head.revision for head in plain.heads)))
        return True
    if not plain.checksums_kept:
        return False
    if not quiet:
        _say(sys.stderr, nothing_to_do(plain.heads, "heads", True))
    return True


def _parse(argv: Sequence[str]) -> tuple[str, bool, dict[str, str]] | None:
    """The command, -q, and where the database is, as click would read them; None when not a plain form."""
    before: dict[str, str] = {}
    after: dict[str, str] = {}
    command = None
    quiet = False
    tokens = iter(argv)
    for token in tokens:
        if token in DATABASE_OPTIONS:
            value = next(tokens, None)
            where = after if command else before
            name = DATABASE_OPTIONS[token]
            if value is None or value.startswith("-") or name in where:
                return None
            where[name] = value
        elif command is None and token in COMMANDS:
            command = token
        elif command == "initdb" and token in QUIET_OPTIONS and not quiet:
            quiet = True
        else:
            return None
    if command is None:
        return None
    # -u and -c given after the command win, both together, over those given before it.
    return command, quiet, after or before


def _initdb_variables_plain() -> bool:
    """Whether every variable initdb's options read holds a value click surely takes (else click decides)."""
    from janitoo_db.site.switches import refusing

    for variable, zero_refused in NUMBER_VARIABLES.items():
        value = os.environ.get(variable)
        if value and (not _PLAIN_NUMBER.fullmatch(value) or (zero_refused and float(value) == 0)):
            return False
    count = os.environ.get(COUNT_VARIABLE)
    if count and not _PLAIN_COUNT.fullmatch(count):
        return False
    try:
        refusing()
    except JanitooDbError:
        return False
    return True


def _say(stream: TextIO, line: str) -> None:
    """Print *line* as click.echo would; a reader gone away (``| head``) ends the start as jnt_dbman's group does."""
    try:
        stream.write(line + "\n")
        stream.flush()
    except BrokenPipeError:
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        raise SystemExit(1) from None
