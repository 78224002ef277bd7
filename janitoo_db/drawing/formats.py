"""A :class:`~janitoo_db.drawing.lanes.Drawing` written as Mermaid, Graphviz DOT, or SVG drawn by Graphviz.

Mermaid is what GitHub and Sphinx (sphinxcontrib-mermaid) render from text;
DOT is Graphviz's own language; SVG is DOT drawn by Graphviz's ``dot``
program, which must be installed.  Every box says in words what its colour
says, so the text reads the same without a renderer.
"""
from __future__ import annotations

import shutil
import subprocess

from janitoo_db.drawing.lanes import (
    CURRENT,
    NOT_INSTALLED,
    PENDING,
    UNDONE,
    UNDONE_WITH_CASCADE,
    Drawing,
    Node,
)
from janitoo_db.errors import JanitooDbError
from janitoo_db.text import first_line

FORMATS = ("mermaid", "dot", "svg")
#: Longer messages are cut: a box is not the place for a revision's whole first line.
MESSAGE_WIDTH = 48
#: The words under a box, by its state and by what the downgrade does to it.
NOTES = {CURRENT: "database is here", PENDING: "pending", NOT_INSTALLED: "not installed",
         UNDONE: "undone by the downgrade", UNDONE_WITH_CASCADE: "undone only with --cascade"}
#: Mermaid class and Graphviz style of each kind of box (fill, border, border dash).
STYLES = {
    "applied": ("#dcedc8", "#558b2f", ""),
    CURRENT: ("#7cb342", "#33691e", ""),
    PENDING: ("#ffffff", "#757575", "4 3"),
    NOT_INSTALLED: ("#eeeeee", "#c62828", "2 2"),
    UNDONE: ("#ffcdd2", "#c62828", ""),
    UNDONE_WITH_CASCADE: ("#ffe0b2", "#ef6c00", ""),
}


def render(drawing: Drawing, form: str) -> str:
    """*drawing* in *form*: one of :data:`FORMATS`."""
    if form == "mermaid":
        return mermaid(drawing)
    if form == "dot":
        return dot(drawing)
    if form == "svg":
        return svg(drawing)
    raise JanitooDbError(f"unknown picture format {form!r}: use one of {', '.join(FORMATS)}")


def _lines(node: Node) -> list[str]:
    """A box's text: which revision(s), the message, then what its colour means."""
    message = node.message if len(node.message) <= MESSAGE_WIDTH else node.message[:MESSAGE_WIDTH - 3] + "..."
    head = f"{node.revisions[0]} ... {node.revisions[-1]}" if node.folded else node.key
    notes = [NOTES[note] for note in (node.state, node.downgrade) if note in NOTES]
    return [head, message, *([", ".join(notes)] if notes else [])]


def _style(node: Node) -> str:
    """The kind of box: what the downgrade does to it first, then where the database is."""
    return node.downgrade or node.state


def _ids(drawing: Drawing) -> dict[str, str]:
    """A short name per box, the same in every format: revision ids may hold what neither language allows."""
    return {node.key: f"n{index}" for index, node in
            enumerate(node for lane in drawing.lanes for node in lane.nodes)}


def _mermaid_text(text: str) -> str:
    return "".join(f"#{ord(c)};" if c in '"<>&#' else c for c in text)


def mermaid(drawing: Drawing) -> str:
    """A Mermaid flowchart, oldest at the top: a subgraph per branch, dashed arrows for ``depends_on``."""
    ids = _ids(drawing)
    out = ["flowchart TB"]
    for number, lane in enumerate(drawing.lanes):
        out.append(f'    subgraph lane{number}["{_mermaid_text(lane.branch)}"]')
        out.extend(f'        {ids[node.key]}["{"<br/>".join(_mermaid_text(line) for line in _lines(node))}"]'
                   for node in lane.nodes)
        out.append("    end")
    for edge in drawing.edges:
        arrow = " -.->|depends on| " if edge.depends_on else " --> "
        out.append(f"    {ids[edge.older]}{arrow}{ids[edge.newer]}")
    by_style: dict[str, list[str]] = {}
    for lane in drawing.lanes:
        for node in lane.nodes:
            by_style.setdefault(_style(node), []).append(ids[node.key])
    for style, (fill, stroke, dash) in STYLES.items():
        if style in by_style:
            name = _class(style)
            dashed = f",stroke-dasharray:{dash}" if dash else ""
            out.append(f"    classDef {name} fill:{fill},stroke:{stroke}{dashed}")
            out.append(f"    class {','.join(by_style[style])} {name}")
    return "\n".join(out) + "\n"


def _class(style: str) -> str:
    return "".join(c for c in style if c.isalpha())


def _dot_text(*lines: str) -> str:
    """A DOT string of *lines*, joined by Graphviz's line break."""
    return '"' + "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in lines) + '"'


def dot(drawing: Drawing) -> str:
    """A Graphviz digraph, oldest at the top: a cluster per branch, dashed arrows for ``depends_on``."""
    ids = _ids(drawing)
    out = ["digraph revisions {", "    rankdir=TB;",
           '    node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];']
    for number, lane in enumerate(drawing.lanes):
        out.append(f"    subgraph cluster_{number} {{")
        out.append(f"        label={_dot_text(lane.branch)};")
        for node in lane.nodes:
            fill, stroke, dash = STYLES[_style(node)]
            style = '"rounded,filled,dashed"' if dash else '"rounded,filled"'
            out.append(f"        {ids[node.key]} [label={_dot_text(*_lines(node))}, "
                       f'fillcolor="{fill}", color="{stroke}", style={style}];')
        out.append("    }")
    for edge in drawing.edges:
        extra = ' [style=dashed, label="depends on"]' if edge.depends_on else ""
        out.append(f"    {ids[edge.older]} -> {ids[edge.newer]}{extra};")
    out.append("}")
    return "\n".join(out) + "\n"


def svg(drawing: Drawing) -> str:
    """The DOT picture drawn by Graphviz's ``dot`` program."""
    program = shutil.which("dot")
    if program is None:
        raise JanitooDbError("--format svg needs Graphviz's dot program, which is not on PATH: install Graphviz "
                             "(for example 'apt install graphviz' or 'brew install graphviz'), or use --format dot "
                             "or --format mermaid")
    try:
        done = subprocess.run([program, "-Tsvg"], input=dot(drawing), capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise JanitooDbError(f"Graphviz's dot ({program}) could not draw the graph: {error}") from None
    if done.returncode != 0:
        raise JanitooDbError(f"Graphviz's dot ({program}) could not draw the graph: "
                             f"{first_line(done.stderr) or f'exit status {done.returncode}'}")
    return done.stdout
