"""Commands that show what a migration would do before it runs: graph."""
from __future__ import annotations

from typing import TYPE_CHECKING

import click

from janitoo_db.cli.group import main
from janitoo_db.cli.options import reading_command

if TYPE_CHECKING:
    from janitoo_db.site import Site

#: The picture formats, as --format takes them (janitoo_db.drawing.formats.FORMATS, without importing it).
FORMATS = ("mermaid", "dot", "svg")


@main.command()
@reading_command
@click.option("-f", "--format", "form", type=click.Choice(FORMATS), default="mermaid", show_default=True,
              help="mermaid: text that GitHub and Sphinx render; dot: Graphviz's language; svg: the picture, "
                   "drawn by Graphviz's dot program (which must be installed).")
@click.option("--downgrade", "downgrade_to", metavar="TARGET",
              help="Also mark what 'jnt_dbman downgrade TARGET' would undo, and, apart, what it would undo in "
                   "other branches only when given --cascade.  Nothing is run.")
@click.option("--no-fold", is_flag=True,
              help="Draw every revision.  By default a long unbranched run shows its first and last revisions "
                   "and one box for those between.")
def graph(site: Site, form: str, downgrade_to: str | None, no_fold: bool) -> None:
    """Draw the revisions of every branch: where the database is, and what is pending.

    Each branch is a lane, oldest revision at the top; a dashed arrow is a
    depends_on between revisions.  The revision(s) in alembic_version say
    "database is here", those an upgrade would run say "pending".  The
    picture goes to stdout: redirect it to a file (graph.mmd, graph.dot,
    graph.svg).
    """
    from janitoo_db import commands

    click.echo(commands.graph_picture(site, form, downgrade=downgrade_to, fold=not no_fold), nl=False)
