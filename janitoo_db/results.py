"""What the commands return: plain data a person or a script can read.

The CLI turns these into lines of text, or JSON with ``--json``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class RevisionInfo:
    """One revision, as heads, history, show and current describe it."""

    revision: str
    down_revisions: tuple[str, ...]
    branches: tuple[str, ...]
    message: str
    path: str
    is_head: bool
    is_branch_point: bool
    is_merge_point: bool
    depends_on: tuple[str, ...] = ()
    doc: str = ""
    #: In alembic_version, but no installed extension provides it.
    orphaned: bool = False
    #: In alembic_version, and replaced by this squashed revision (see janitoo_db.site.squashed).
    replaced_by: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Destructive:
    """Something a revision does that can destroy data; ``--plan`` marks it, ``--no-destructive`` refuses it.

    Kinds: drop table, drop column, narrow type, rebuild table, SQL, and
    not checked (the revision could not be dry-run: nobody knows).
    """

    kind: str
    #: ``name`` or ``schema.name``; None when the SQL names no table, or the revision was not checked.
    table: str | None
    column: str | None
    #: In words: ``drops column acme_readings.unit``.
    description: str
    #: How many rows the table holds now; None when not known (not connected, no such table yet).
    rows: int | None = None
    #: True when an earlier revision of the same run creates the table: none of the data it holds now is at stake.
    new_table: bool = False
    schema: str | None = None

    def describe(self) -> str:
        if self.new_table:
            return f"{self.description} (table created earlier in this run)"
        if self.rows is not None:
            return f"{self.description} ({self.rows} row{'' if self.rows == 1 else 's'})"
        return self.description


@dataclass(frozen=True)
class Step:
    """One revision applied, reverted, or planned by upgrade, downgrade or initdb."""

    revision: str
    branches: tuple[str, ...]
    message: str
    is_upgrade: bool
    #: With ``--plan --sql``: the SQL the revision would run.
    sql: str | None = None
    #: Its place in the command's run (or plan), from 1, and how many revisions the run has (0: not known).
    number: int = 0
    total: int = 0
    #: With ``--plan``: what the revision does that can destroy data.
    destructive: tuple[Destructive, ...] = ()
    #: With ``--plan``: what the revision does, in words (from plan_notes.json; see janitoo_db.guard.destructive).
    note: str = ""
    #: With ``--plan --lint``: its statements squawk flags for the locks they take (janitoo_db.guard.lock_lint).
    lint: tuple[LockFinding, ...] = ()


@dataclass(frozen=True)
class LockFinding:
    """One statement of a pending revision that squawk flags: the lock it takes can stall a busy table."""

    revision: str
    branch: str
    rule: str
    message: str
    help: str
    #: The line of the revision's offline SQL the finding points at, on one line.
    statement: str
    #: The reason the revision file gives for allowing it; empty when it is reported.
    allowed_because: str = ""
    #: True when the file names the rule without a reason: reported all the same.
    marker_without_reason: bool = False

    @property
    def reported(self) -> bool:
        return not self.allowed_because

    def describe(self) -> str:
        if self.allowed_because:
            return f"allowed {self.rule}: {self.allowed_because}"
        text = f"{self.rule}: {self.message} {self.help}".rstrip() + f" [{self.statement}]"
        if self.marker_without_reason:
            text += " (the file allows it without a reason: give one after '--')"
        return text


@dataclass(frozen=True)
class Orphan:
    """A head in alembic_version that no installed extension provides."""

    revision: str
    #: The branch it was recorded under, if janitoo_db migrated it.
    branch: str | None
    #: True when that branch is installed: the database was migrated by a newer release.
    installed: bool

    def reason(self) -> str:
        if self.branch is None:
            return f"no installed extension provides it (install it again, or 'jnt_dbman forget {self.revision}')"
        if self.installed:
            return f"the installed {self.branch} does not have it; the database was migrated by a newer release"
        return f"the extension {self.branch} is not installed"

    def describe(self) -> str:
        return f"{self.revision} ({self.branch or 'branch unknown'}): {self.reason()}"


@dataclass(frozen=True)
class Replaced:
    """A revision in alembic_version that an installed squashed revision replaces (see janitoo_db.site.squashed)."""

    revision: str
    branch: str
    #: The squashed revision that replaces it.
    squashed: str
    #: The last revision it replaces: a database there is at the squashed revision's schema.
    head: str
    #: The release that still has the replaced revisions (the squashed revision's ``replaced_release``).
    release: str

    @property
    def restamp(self) -> bool:
        """True when the next migration re-stamps it to the squashed revision; False when it is refused."""
        return self.revision == self.head

    def reason(self) -> str:
        if self.restamp:
            return (f"replaced by the squashed revision {self.squashed}: the next migration re-stamps it, "
                    "running nothing")
        return (f"replaced by the squashed revision {self.squashed}, which cannot upgrade it: upgrade it to "
                f"{self.head} with {self.release} first, then install this release again")

    def describe(self) -> str:
        return f"{self.revision} ({self.branch}) is {self.reason()}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "restamp": self.restamp}


@dataclass(frozen=True)
class Generated:
    """A revision file written by generate, and the dependencies inferred for it."""

    path: str
    #: (extension, its head revision, the table a new foreign key points at)
    inferred: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class Created:
    """What createdb did: the tables it created, and the heads it stamped (none when there was nothing to do)."""

    tables: tuple[str, ...] = ()
    stamped: tuple[str, ...] = ()


@dataclass(frozen=True)
class Forgotten:
    """What forget did for an uninstalled extension."""

    name: str
    #: Its heads, taken out of alembic_version.
    heads: tuple[str, ...]
    #: Other branches' revisions its heads implied, written to alembic_version instead.
    restored: tuple[str, ...]
    #: The tables its revisions made, as janitoo_db recorded them.
    tables: tuple[str, ...]
    #: True when those tables were dropped.
    dropped: bool
    #: Its recorded tables that were no longer in the database: their records were removed.
    stale: tuple[str, ...] = ()


@dataclass(frozen=True)
class Branch:
    """One labelled branch: its root, heads and size."""

    label: str
    root: str
    heads: tuple[str, ...]
    revisions: int


@dataclass(frozen=True)
class CheckResult:
    """Whether the database is at every head, and what stands in the way if not."""

    current: tuple[str, ...]
    heads: tuple[str, ...]
    pending: tuple[str, ...] = field(default=())
    orphans: tuple[Orphan, ...] = field(default=())
    #: Branches with more than one head (they need a merge).
    split_branches: tuple[str, ...] = field(default=())
    #: Revisions a MySQL/MariaDB migration started and never finished (see ``jnt_dbman repair``).
    interrupted: tuple[Any, ...] = field(default=())
    #: Applied revisions whose file changed since (see ``jnt_dbman accept``); they do not make it out of date.
    edited: tuple[Any, ...] = field(default=())
    #: Revisions in alembic_version that an installed squashed revision replaces.
    replaced: tuple[Replaced, ...] = field(default=())
    #: Tables of the installed branches in a database without alembic_version (made by the original's createdb).
    unversioned: tuple[str, ...] = field(default=())
    #: Pending branches forgotten with their tables kept (see :mod:`janitoo_db.history.returning`): where they stand.
    kept: tuple[Any, ...] = field(default=())

    @property
    def up_to_date(self) -> bool:
        return not (self.pending or self.orphans or self.split_branches or self.interrupted or self.replaced)

    @property
    def refused(self) -> tuple[Replaced, ...]:
        """The replaced revisions no migration of this release takes: an earlier release must first."""
        return tuple(r for r in self.replaced if not r.restamp)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "replaced": [r.as_dict() for r in self.replaced],
                "kept": [k.as_dict() for k in self.kept], "up_to_date": self.up_to_date}


@dataclass(frozen=True)
class Difference:
    """One way the database differs from the models, owned by an extension or by none."""

    owner: str | None
    table: str
    description: str


@dataclass(frozen=True)
class DriftReport:
    """The differences between models and database, for the extensions asked about."""

    differences: tuple[Difference, ...]
    extensions: tuple[str, ...]

    @property
    def owned(self) -> tuple[Difference, ...]:
        return tuple(d for d in self.differences if d.owner is not None)

    @property
    def unowned(self) -> tuple[Difference, ...]:
        return tuple(d for d in self.differences if d.owner is None)
