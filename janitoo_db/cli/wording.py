"""The sentences a command ends on when it finds nothing to do, shared with a start answered before click.

No click here: :mod:`janitoo_db.cli.starting` prints them without importing it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence, Union

from janitoo_db.text import some

if TYPE_CHECKING:
    from janitoo_db.results import RevisionInfo
    from janitoo_db.site.at_head import Head

    Revision = Union[RevisionInfo, Head]

#: Where a list cut short in a line of text is whole (see janitoo_db.text.some).
IN_JSON = "--json"


NOTHING_TO_DO = "Nothing to do."


def nothing_to_do(at: Sequence[Revision], revision: str, upgrade: bool) -> str:
    """Why a migration (or a plan) to *revision* runs nothing, naming the revisions the database is *at*."""
    if not at:
        if upgrade and revision != "base":
            # Only a plan gets here: the real run stamps such a database first.
            return (f"Nothing to do: the database has no alembic_version, but its tables already match {revision}: "
                    "initdb and upgrade only record that (as 'jnt_dbman adopt' does).")
        return "Nothing to do: the database holds no revision (base)."
    where = some([_at(info) for info in at], everything="'jnt_dbman current'")
    if upgrade and revision == "heads":
        return f"Nothing to do: every branch is at its head: {where}."
    if upgrade:
        return f"Nothing to do: {revision} is already applied; the database is at {where}."
    return f"Nothing to do: nothing after {revision} is applied; the database is at {where}."


def _at(info: Revision) -> str:
    text = f"{info.revision} ({', '.join(info.branches) or 'branch unknown'})"
    if info.replaced_by:
        return f"{text}, which the next migration re-stamps as {info.replaced_by}"
    return f"{text}, orphaned" if info.orphaned else text


def up_to_date(current: Sequence[str]) -> str:
    """What checkdb says of a database at the head of every branch, its revisions sorted."""
    return f"The database is up to date: {some(current, everything=IN_JSON)}."
