"""Which statements of the pending revisions would lock a busy PostgreSQL table: squawk reads their SQL.

squawk (the ``squawk-cli`` package: ``pip install 'janitoo_db[lint]'``)
knows which lock each PostgreSQL statement takes and which rewrite a table:
an index built without ``CONCURRENTLY``, a constraint added without ``NOT
VALID``, ``SET NOT NULL``, a type change, a statement that waits for its lock
with no ``lock_timeout``.  Its rules about style (``prefer-text-field`` and
the like) are left out: they say nothing about locks.  ``require-lock-timeout``
is left out too when the run sets ``lock_timeout`` itself (``--ddl-lock-timeout``).

A revision file silences a rule for itself with a line that gives the reason::

    # janitoo_db lint: allow require-concurrent-index-creation -- the table is new in this release

A marker without a reason silences nothing: its finding is reported, and says so.
"""
from __future__ import annotations

import bisect
import json
import os
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path
from typing import Sequence

from alembic.script import Script

from janitoo_db.errors import JanitooDbError
from janitoo_db.results import LockFinding
from janitoo_db.text import first_line

#: squawk's rules about how SQL is written rather than what it locks.
STYLE_RULES = ("prefer-text-field", "prefer-bigint-over-int", "prefer-bigint-over-smallint", "prefer-identity",
               "prefer-timestamp-tz", "prefer-timestamptz", "prefer-robust-stmts", "ban-char-field",
               "require-statement-timeout")
LOCK_TIMEOUT_RULE = "require-lock-timeout"
MARKER = re.compile(r"^\s*#\s*janitoo_db\s+lint:\s*allow\s+(?P<rule>[a-z0-9-]+)\s*(?:--\s*(?P<reason>.*?))?\s*$",
                    re.M)
INSTALL_HINT = "pip install 'janitoo_db[lint]'"


def squawk_program() -> str:
    """squawk's path, or an error saying how to install it.

    First where pip put it for this interpreter (a virtual environment's
    ``bin``, which need not be on PATH), then on PATH.
    """
    beside = Path(sysconfig.get_path("scripts")) / "squawk"
    program = str(beside) if beside.is_file() and os.access(beside, os.X_OK) else shutil.which("squawk")
    if program is None:
        raise JanitooDbError(f"--lint needs squawk, which is not installed: {INSTALL_HINT}")
    return program


def lint(revisions: Sequence[tuple[Script, str]], *, lock_timeout_set: bool = False) -> dict[str, list[LockFinding]]:
    """squawk's findings for each (revision, its PostgreSQL SQL), by revision id; revisions with none are left out.

    The revisions are read as one script, in the order they would run, so
    that squawk knows a table made by an earlier one is new (an index on it
    blocks nobody); each finding goes to the revision whose lines it points at.
    """
    if not revisions:
        return {}
    program = squawk_program()
    excluded = list(STYLE_RULES) + ([LOCK_TIMEOUT_RULE] if lock_timeout_set else [])
    # One transaction around the plan, as jnt_dbman runs it on PostgreSQL: a table an earlier revision made is
    # new.  An autocommit block's COMMIT and BEGIN stay inside it, where its statements leave the transaction.
    lines: list[str] = ["BEGIN;"]
    starts: list[int] = []
    for _, sql in revisions:
        starts.append(len(lines))
        lines.extend(_unwrapped(sql.splitlines()))
    lines.append("COMMIT;")
    try:  # squawk reads the script on its standard input: no file is written
        done = subprocess.run([program, "--reporter", "json", "--exclude", ",".join(excluded)],
                              input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=300,
                              env={**os.environ, "NO_COLOR": "1"})
        reported = json.loads(done.stdout or "[]")
    except (OSError, subprocess.TimeoutExpired, ValueError) as error:
        raise JanitooDbError(f"squawk ({program}) could not read the revisions' SQL: "
                             f"{first_line(str(error)) or type(error).__name__}") from None
    if done.returncode not in (0, 1) or not isinstance(reported, list):
        raise JanitooDbError(f"squawk ({program}) could not read the revisions' SQL: "
                             f"{first_line(done.stderr) or f'exit status {done.returncode}'}")
    found: dict[str, list[LockFinding]] = {}
    sources: dict[str, str] = {}  # each revision file read once, however many findings it has
    for item in reported:
        line = int(str(item.get("line", 0)))
        revision = revisions[max(bisect.bisect_right(starts, line) - 1, 0)][0]
        if revision.revision not in sources:
            sources[revision.revision] = _source(revision)
        found.setdefault(revision.revision, []).append(_finding(revision, sources[revision.revision], lines,
                                                                line, item))
    return found


def _unwrapped(lines: list[str]) -> list[str]:
    """A revision's offline SQL without the BEGIN and COMMIT around it: :func:`lint` puts one around the plan.

    The lines are blanked, not removed, so squawk's line numbers still point
    into the revision.
    """
    kept = list(lines)
    filled = [i for i, line in enumerate(kept) if line.strip()]
    if filled and kept[filled[0]].strip().upper() == "BEGIN;":
        kept[filled[0]] = ""
    if len(filled) > 1 and kept[filled[-1]].strip().upper() == "COMMIT;":
        kept[filled[-1]] = ""
    return kept


def _finding(revision: Script, source: str, lines: list[str], line: int, item: dict[str, object]) -> LockFinding:
    statement = ""
    for text in lines[line:line + 8] if line >= 0 else ():  # the flagged line, to the end of its statement
        statement = f"{statement} {' '.join(text.split())}".strip()
        if statement.endswith(";"):
            break
    rule = str(item.get("rule_name", ""))
    reason, bare = _allowed(source, rule)
    return LockFinding(revision.revision, ", ".join(sorted(revision.branch_labels)), rule,
                       str(item.get("message", "")), str(item.get("help", "") or ""), statement[:200],
                       allowed_because=reason, marker_without_reason=bare)


def _source(revision: Script) -> str:
    """*revision*'s file as it is now ("" when it cannot be read: then nothing is allowed)."""
    try:
        return Path(revision.path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _allowed(source: str, rule: str) -> tuple[str, bool]:
    """The reason a revision file's *source* gives for allowing *rule*, and whether it names the rule without one."""
    bare = False
    for marker in MARKER.finditer(source):
        if marker.group("rule") == rule:
            if marker.group("reason"):
                return marker.group("reason"), False
            bare = True
    return "", bare
