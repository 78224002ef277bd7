"""How long a migration's own statements may wait on a live PostgreSQL server, and how often to try again.

An ``ALTER TABLE`` waits for every transaction that uses the table, and
while it waits every new query on that table queues behind it: a server
that was only reading stalls.  PostgreSQL's ``lock_timeout`` ends such a
wait early; the whole transaction is then rolled back, and tried again
after a pause (doubling each time), when the readers may be gone.
``statement_timeout`` bounds every statement of the migration.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from janitoo_db.errors import ConfigError

DDL_LOCK_TIMEOUT_VARIABLE = "JANITOO_DB_DDL_LOCK_TIMEOUT"
STATEMENT_TIMEOUT_VARIABLE = "JANITOO_DB_STATEMENT_TIMEOUT"
RETRIES_VARIABLE = "JANITOO_DB_RETRIES"
RETRY_WAIT_VARIABLE = "JANITOO_DB_RETRY_WAIT"
#: Tries after the first, when a statement gave up waiting for a lock.
DEFAULT_RETRIES = 3
#: Seconds before the first retry; each next pause is twice as long, up to :data:`LONGEST_WAIT`.
DEFAULT_RETRY_WAIT = 1.0
LONGEST_WAIT = 60.0
#: PostgreSQL's SQLSTATE for a statement that gave up waiting for a lock (lock_timeout).
LOCK_NOT_AVAILABLE = "55P03"


@dataclass(frozen=True)
class StatementLimits:
    """The limits of one run; seconds, None for the server's own setting."""

    lock_timeout: float | None = None
    statement_timeout: float | None = None
    retries: int = DEFAULT_RETRIES
    retry_wait: float = DEFAULT_RETRY_WAIT

    def settings(self, dialect: str) -> dict[str, str]:
        """The PostgreSQL session settings to apply (none on other databases)."""
        if dialect != "postgresql":
            return {}
        found = {"lock_timeout": self.lock_timeout, "statement_timeout": self.statement_timeout}
        # 0 would mean "no limit" to PostgreSQL: the shortest limit is a millisecond.
        return {name: f"{max(1, round(seconds * 1000))}ms" for name, seconds in found.items() if seconds is not None}

    def waits(self) -> Iterator[float]:
        """The pause before each retry."""
        wait = self.retry_wait
        for _ in range(self.retries):
            yield wait
            wait = min(wait * 2, LONGEST_WAIT)


def statement_limits(attributes: Mapping[str, Any]) -> StatementLimits:
    """The limits given to a command (a Site's ``limit_options``), else the environment's, else the defaults."""

    def read(key: str, variable: str) -> str | float | None:
        value = attributes.get(key)
        return os.environ.get(variable) or None if value is None else value

    retries = read("retries", RETRIES_VARIABLE)
    return StatementLimits(
        lock_timeout=_seconds(read("ddl_lock_timeout", DDL_LOCK_TIMEOUT_VARIABLE), DDL_LOCK_TIMEOUT_VARIABLE),
        statement_timeout=_seconds(read("statement_timeout", STATEMENT_TIMEOUT_VARIABLE), STATEMENT_TIMEOUT_VARIABLE),
        retries=DEFAULT_RETRIES if retries is None else _count(retries, RETRIES_VARIABLE),
        retry_wait=_seconds(read("retry_wait", RETRY_WAIT_VARIABLE), RETRY_WAIT_VARIABLE) or DEFAULT_RETRY_WAIT,
    )


def _seconds(value: str | float | None, variable: str) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ConfigError(f"${variable} must be a positive number of seconds, not {value!r}")
    return seconds


def _count(value: str | float, variable: str) -> int:
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = -1
    if count < 0:
        raise ConfigError(f"${variable} must be a whole number of retries, 0 or more, not {value!r}")
    return count


def is_lock_timeout(error: BaseException) -> bool:
    """True when *error* (or the driver error it wraps) is PostgreSQL giving up on a lock."""
    original = getattr(error, "orig", None) or error
    return getattr(original, "sqlstate", None) == LOCK_NOT_AVAILABLE
