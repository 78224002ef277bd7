"""The picture of every branch's revisions: where the database is, and what a downgrade would take."""
from __future__ import annotations

from alembic.config import Config

from janitoo_db.commands.common import _orphans
from janitoo_db.commands.planning import _revision_steps
from janitoo_db.drawing import formats, lanes
from janitoo_db.guard import safety
from janitoo_db.site import Site, graph, squashed
from janitoo_db.site.reading import read_current


def graph_drawing(site: Site | Config, *, downgrade: str | None = None, fold: bool = True) -> lanes.Drawing:
    """What ``jnt_dbman graph`` draws; with *downgrade*, what ``downgrade DOWNGRADE`` would undo, and where.

    The revisions a downgrade would take from branches it is not aimed at
    are marked apart: the downgrade refuses them unless given ``--cascade``
    (:mod:`janitoo_db.guard.safety` decides, as for the downgrade itself).
    """
    site = Site.of(site)
    script = site.script
    current = read_current(site)
    undone: set[str] = set()
    with_cascade: set[str] = set()
    if downgrade is not None:
        _, steps = _revision_steps(site, downgrade, upgrade=False)
        elsewhere = safety.undone_elsewhere(steps, safety.branches_aimed_at(script, downgrade, site.by_name()))
        with_cascade = {revision for revisions in elsewhere.values() for revision in revisions}
        undone = {step.revision.revision for step in steps} - with_cascade
    applied = graph.applied(script, squashed.as_if_restamped(script, current))
    orphans = [(orphan.revision, orphan.branch or "") for orphan in _orphans(site, current)]
    return lanes.drawing(script, list(site.by_name()), current, applied, orphans=orphans, undone=undone,
                         undone_with_cascade=with_cascade, fold=fold)


def graph_picture(site: Site | Config, form: str = "mermaid", *, downgrade: str | None = None,
                  fold: bool = True) -> str:
    """The picture of :func:`graph_drawing` as text: Mermaid, Graphviz DOT, or SVG (drawn by Graphviz's dot)."""
    return formats.render(graph_drawing(site, downgrade=downgrade, fold=fold), form)
