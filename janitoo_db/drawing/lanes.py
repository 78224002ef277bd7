"""What the picture of the revision graph shows: a lane per branch, long runs folded, the database's place.

Every revision stands in the lane of its branch, oldest first.  A run of
revisions that nothing else points at is folded into one box ("7 revisions"):
a revision is drawn on its own when it starts or ends its branch, forks or
merges, when a revision of another branch depends on it (or it on one), when
``alembic_version`` holds it, and where the state changes (applied to
pending, kept to undone), so that a folded box is all of one kind.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

from alembic.script import Script, ScriptDirectory

from janitoo_db.site import graph
from janitoo_db.site.alembic_internals import dependencies
from janitoo_db.text import first_line

#: A revision the database holds, and one of those it lists in alembic_version.
APPLIED, CURRENT = "applied", "current"
#: A revision an upgrade would run; one alembic_version lists that no installed extension provides.
PENDING, NOT_INSTALLED = "pending", "not installed"
#: What a downgrade does to a revision: undoes it, or undoes it only with --cascade (another branch's).
UNDONE, UNDONE_WITH_CASCADE = "undone", "undone with --cascade"
#: The shortest run folded into one box: two boxes would say as much as one.
FOLDED_AT_LEAST = 3
#: The lane of heads in alembic_version that no installed extension provides.
NOT_INSTALLED_LANE = "not installed"


@dataclass(frozen=True)
class Node:
    """One box: a revision, or a folded run of them (oldest first in *revisions*)."""

    key: str
    revisions: tuple[str, ...]
    message: str
    state: str
    downgrade: str = ""

    @property
    def folded(self) -> bool:
        return len(self.revisions) > 1


@dataclass(frozen=True)
class Edge:
    """From the older box to the newer: a parent to its child, or (*depends_on*) a dependency to its dependent."""

    older: str
    newer: str
    depends_on: bool = False


@dataclass(frozen=True)
class Lane:
    """One branch's boxes, oldest first."""

    branch: str
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Drawing:
    """What ``jnt_dbman graph`` draws; the formats in :mod:`janitoo_db.drawing.formats` write it."""

    lanes: tuple[Lane, ...]
    edges: tuple[Edge, ...]


def drawing(script: ScriptDirectory, branches: Sequence[str], current: Sequence[str], applied: Collection[str],
            *, orphans: Iterable[tuple[str, str]] = (), undone: Collection[str] = (),
            undone_with_cascade: Collection[str] = (), fold: bool = True) -> Drawing:
    """The picture of every branch in *branches* (lane order), the database at *current* holding *applied*.

    *orphans* are (revision, branch) pairs of alembic_version that no
    installed extension provides; *undone* and *undone_with_cascade* what
    a downgrade would take.  *fold* False draws every revision.
    """
    by_lane = _revisions_by_lane(script, branches)
    in_lane = {r.revision: lane for lane, members in by_lane.items() for r in members}
    crossing = _crossing_branches(by_lane, in_lane)

    def state(revision: str) -> str:
        return CURRENT if revision in current else APPLIED if revision in applied else PENDING

    def mark(revision: str) -> str:
        return UNDONE_WITH_CASCADE if revision in undone_with_cascade else UNDONE if revision in undone else ""

    lanes: list[Lane] = []
    node_of: dict[str, str] = {}
    for lane, members in by_lane.items():
        nodes = _lane_nodes(members, crossing, state, mark, fold)
        node_of.update((revision, node.key) for node in nodes for revision in node.revisions)
        lanes.append(Lane(lane, tuple(nodes)))
    if orphans:
        lanes.append(Lane(NOT_INSTALLED_LANE, tuple(
            Node(revision, (revision,), f"head of {branch or 'an unknown branch'}, not installed", NOT_INSTALLED)
            for revision, branch in orphans)))
    return Drawing(tuple(lanes), tuple(_edges(by_lane, node_of)))


def _revisions_by_lane(script: ScriptDirectory, branches: Sequence[str]) -> dict[str, list[Script]]:
    """Each branch's revisions, oldest first; a revision with several labels goes to the first branch listed."""
    order = {name: index for index, name in enumerate(branches)}
    by_lane: dict[str, list[Script]] = {name: [] for name in branches}
    for revision in reversed(list(script.walk_revisions())):
        labels = sorted(revision.branch_labels, key=lambda name: (order.get(name, len(order)), name))
        by_lane.setdefault(labels[0] if labels else "no branch", []).append(revision)
    return {lane: members for lane, members in by_lane.items() if members}


def _crossing_branches(by_lane: dict[str, list[Script]], in_lane: dict[str, str]) -> set[str]:
    """The revisions at either end of an arrow between two lanes, or of a ``depends_on``."""
    crossing: set[str] = set()
    for lane, members in by_lane.items():
        for revision in members:
            # A depends_on is always drawn between boxes of their own, in one lane or across two.
            for older in (*(p for p in graph.parents(revision) if in_lane.get(p, lane) != lane),
                          *dependencies(revision)):
                crossing.update((older, revision.revision))
    return crossing


def _lane_nodes(members: list[Script], crossing: set[str], state: Callable[[str], str],
                mark: Callable[[str], str], fold: bool) -> list[Node]:
    """A lane's boxes, oldest first: every revision that must be seen, the runs between them folded."""
    ids = {r.revision for r in members}
    parents = {r.revision: [p for p in graph.parents(r) if p in ids] for r in members}
    children: dict[str, list[str]] = {r.revision: [] for r in members}
    for child, older in parents.items():
        for parent in older:
            children[parent].append(child)
    kind = {r.revision: (state(r.revision), mark(r.revision)) for r in members}

    def seen(revision: Script) -> bool:
        rid = revision.revision
        near = parents[rid] + children[rid]
        # A revision alembic_version lists differs from its parent (applied) and its child (pending).
        return (not fold or len(parents[rid]) != 1 or len(children[rid]) != 1 or rid in crossing
                or any(kind[other] != kind[rid] for other in near))

    nodes: list[Node] = []
    run: list[Script] = []  # a chain: each revision the only child of the one before

    def close_run() -> None:
        if len(run) >= FOLDED_AT_LEAST:
            first, last = run[0].revision, run[-1].revision
            nodes.append(Node(f"{first}..{last}", tuple(r.revision for r in run), f"{len(run)} revisions",
                              *kind[first]))
        else:
            nodes.extend(_one(r, *kind[r.revision]) for r in run)
        run.clear()

    for revision in members:
        if seen(revision):
            close_run()
            nodes.append(_one(revision, *kind[revision.revision]))
        else:
            if run and parents[revision.revision] != [run[-1].revision]:
                close_run()
            run.append(revision)
    close_run()
    return nodes


def _one(revision: Script, state: str, mark: str) -> Node:
    return Node(revision.revision, (revision.revision,), first_line(revision.doc), state, mark)


def _edges(by_lane: dict[str, list[Script]], node_of: dict[str, str]) -> list[Edge]:
    """Parent-to-child and dependency-to-dependent arrows between boxes, each once, none inside a fold."""
    edges: dict[Edge, None] = {}
    for members in by_lane.values():
        for revision in members:
            newer = node_of[revision.revision]
            for older, depends in [(p, False) for p in graph.parents(revision)] + [
                    (d, True) for d in dependencies(revision)]:
                if older in node_of and node_of[older] != newer:
                    edges[Edge(node_of[older], newer, depends)] = None
    return list(edges)
