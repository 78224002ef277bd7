"""How a list of names or a docstring reads in one line of text.

Kept apart from :mod:`janitoo_db.results` (plain data, many dataclasses) so
that a server start at every head can word its answer without building them.
"""
from __future__ import annotations

from typing import Sequence


def first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


def some(names: Sequence[str], shown: int = 8, separator: str = ", ", everything: str = "") -> str:
    """*names* for one line of text: the first few, then how many more.

    *everything* says where the whole list is (``--json``, another command),
    so that a reader knows how to see the names left out.
    """
    if len(names) <= shown:
        return separator.join(names)
    where = f" ({everything} lists them all)" if everything else ""
    return f"{separator.join(names[:shown])} and {len(names) - shown} more{where}"
