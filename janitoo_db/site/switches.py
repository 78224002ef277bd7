"""What the environment switches on where no option is given: servers set variables, not options.

Read by the command that needs it, and by a server start at every head
before it answers (:mod:`janitoo_db.cli.starting`): a value the command
would refuse is refused there too.
"""
from __future__ import annotations

import os

from janitoo_db.errors import ConfigError

#: The environment variable that refuses destructive revisions where no option is given (servers).
NO_DESTRUCTIVE_VARIABLE = "JANITOO_DB_NO_DESTRUCTIVE"


_YES, _NO = {"1", "true", "yes", "on"}, {"", "0", "false", "no", "off"}


def refusing(no_destructive: bool | None = None) -> bool:
    """Whether to refuse destructive revisions: *no_destructive* if given, else ``$JANITOO_DB_NO_DESTRUCTIVE``."""
    if no_destructive is not None:
        return no_destructive
    value = os.environ.get(NO_DESTRUCTIVE_VARIABLE, "").strip().lower()
    if value in _YES | _NO:
        return value in _YES
    raise ConfigError(f"${NO_DESTRUCTIVE_VARIABLE} must be 1 or 0 (true/false, yes/no, on/off), "
                      f"not {os.environ[NO_DESTRUCTIVE_VARIABLE]!r}")
