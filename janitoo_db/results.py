"""What the commands return: plain data a person or a script can read.

The CLI turns these into lines of text, or JSON with ``--json``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from alembic.script import Script


def first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


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

    @classmethod
    def from_script(cls, script: Script) -> RevisionInfo:
        return cls(
            revision=script.revision,
            down_revisions=tuple(script._versioned_down_revisions),
            branches=tuple(sorted(script.branch_labels)),
            message=first_line(script.doc),
            path=script.path,
            is_head=script.is_head,
            is_branch_point=script.is_branch_point,
            is_merge_point=script.is_merge_point,
            depends_on=tuple(script._resolved_dependencies),
            doc=(script.longdoc or "").strip(),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Step:
    """One revision applied or reverted by upgrade, downgrade or initdb."""

    revision: str
    branches: tuple[str, ...]
    message: str
    is_upgrade: bool


@dataclass(frozen=True)
class Branch:
    """One labelled branch: its root, heads and size."""

    label: str
    root: str
    heads: tuple[str, ...]
    revisions: int


@dataclass(frozen=True)
class CheckResult:
    """Whether the database is at every head, and what is missing if not."""

    current: tuple[str, ...]
    heads: tuple[str, ...]
    pending: tuple[str, ...] = field(default=())

    @property
    def up_to_date(self) -> bool:
        return not self.pending and set(self.current) == set(self.heads)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "up_to_date": self.up_to_date}


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
