"""Commands that show the extensions, the revisions and where the database is, and check it.

collect, version_locations, heads, branches, history, show, current,
versiondb, checkdb, accept (what checkdb's exit 6 asks for) and check.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from janitoo_db.cli import output, wording
from janitoo_db.cli.group import debug_option, json_option, main
from janitoo_db.cli.options import SHOWN, database_command, reading_command
from janitoo_db.cli.wording import IN_JSON
from janitoo_db.text import some

if TYPE_CHECKING:
    from janitoo_db.site import Site


@main.command()
@debug_option
def collect() -> None:
    """List the core branch and every installed extension."""
    from janitoo_db import commands

    for extension in commands.collect():
        click.echo(f"Found extension {extension.name} provided by module {extension.module} "
                   f"(distribution {extension.distribution})")


@main.command("version_locations")
@reading_command
def version_locations(site: Site) -> None:
    """Print the version_locations line to paste into an Alembic ini file.

    The paths are joined with the system's path separator (: on Linux and
    macOS, ; on Windows), so the ini file also needs the line
    'path_separator = os'.
    """
    import os

    from janitoo_db import commands

    click.echo("version_locations = " + os.pathsep.join(commands.version_locations(site)))


@main.command()
@reading_command
@json_option
def heads(site: Site, as_json: bool) -> None:
    """Show the head revision of every branch."""
    from janitoo_db import commands

    output.print_revisions(commands.heads(site), as_json)


@main.command()
@reading_command
def branches(site: Site) -> None:
    """Show every branch with its root, heads and number of revisions."""
    from janitoo_db import commands

    for branch in commands.branches(site):
        click.echo(f"{branch.label}: root {branch.root}, head {', '.join(branch.heads)}, "
                   f"{branch.revisions} revisions")


@main.command()
@reading_command
@click.option("-r", "--revrange", metavar="[START]:[END]",
              help="Only revisions in this range; 'NAME:' gives the revisions of branch NAME, and current on "
                   "either side stands for the revisions the database is at (current:, :current).")
@click.option("-v", "--verbose", is_flag=True, help="Show each revision's parent, path and description.")
@json_option
def history(site: Site, revrange: str | None, verbose: bool, as_json: bool) -> None:
    """Show the revisions, newest first."""
    from janitoo_db import commands

    output.print_revisions(commands.history(site, revrange), as_json, verbose, with_parent=True)


@main.command()
@reading_command
@click.argument("revision", required=False)
@click.option("-r", "--revision", "revision_option", metavar="REVISION",
              help="REVISION given as an option instead.")
def show(site: Site, revision: str | None, revision_option: str | None) -> None:
    """Show revisions in full: parents, branch, file and description.

    Which ones REVISION says (default: heads): a revision id (or its first
    characters), NAME@head for the head of branch NAME, heads for the head
    of every branch, or current for the revisions the database is at.
    """
    from janitoo_db import commands

    if revision is not None and revision_option is not None and revision != revision_option:
        raise click.UsageError(f"REVISION {revision!r} and -r {revision_option!r} differ: give one of them")
    chosen = next((given for given in (revision, revision_option) if given is not None), "heads")
    for info in commands.show(site, chosen):
        click.echo(output.revision_details(info))


@main.command()
@reading_command
@click.option("-v", "--verbose", is_flag=True, help="Show each revision's parent, path and description.")
@json_option
def current(site: Site, verbose: bool, as_json: bool) -> None:
    """Show the revisions the database is at."""
    from janitoo_db import commands

    found = commands.current(site)
    if not found and not as_json:
        click.echo("The database has no revision (base).", err=True)
    output.print_revisions(found, as_json, verbose)


@main.command()
@reading_command
@json_option
def versiondb(site: Site, as_json: bool) -> None:
    """Print the revision ids stored in the database, one per line."""
    from janitoo_db import commands

    found = commands.versiondb(site)
    if as_json:
        output.print_json(list(found))
        return
    if not found:
        click.echo("The database has no revision (base).", err=True)
    for revision in found:
        click.echo(revision)


@main.command()
@reading_command
@json_option
@click.pass_context
def checkdb(ctx: click.Context, site: Site, as_json: bool) -> None:
    """Check that the database is at the head of every branch.

    Exit 0 when it is. Exit 3 when revisions are pending; also when a
    squashed revision replaces the head it holds (the next initdb re-stamps
    it), and when it has no alembic_version but holds the branches' tables
    (run adopt). Exit 5 when it holds a head no installed extension provides
    (orphaned) or an earlier revision a squashed one replaces, when a branch
    has several heads, or when a migration (or a createdb) was interrupted
    in the middle of a revision (run repair). Exit 6 when none of those
    applies but the file of an applied revision changed since it was
    applied: review the change, then run accept.
    """
    from janitoo_db.site.at_head import plainly_at_every_head

    plain = None if as_json else plainly_at_every_head(site)
    if plain is not None and not plain.edited:  # a server start's check, known without SQLAlchemy or Alembic
        click.echo(wording.up_to_date(sorted(head.revision for head in plain.heads)))
        return
    from janitoo_db import commands
    from janitoo_db.errors import ExitCode

    result = commands.checkdb(site)
    code = ExitCode.BRANCHES if result.orphans or result.split_branches or result.interrupted or result.refused else \
        ExitCode.PENDING if result.pending else ExitCode.EDITED if result.edited else ExitCode.OK
    if as_json:
        output.print_json(result.as_dict())
    elif result.up_to_date and result.edited:
        click.echo(f"The database is at the head of every branch ({some(result.current, everything=IN_JSON)}), "
                   "but revisions it ran were edited since:")
    elif result.up_to_date:
        click.echo(wording.up_to_date(result.current))
    else:
        at = some(result.current, everything=IN_JSON) or "base"
        if result.unversioned:
            tables = some(list(result.unversioned), 5, everything=IN_JSON)
            click.echo(f"The database has no alembic_version but holds tables of the installed branches "
                       f"({tables}): it was made without a version table (by the "
                       "original janitoo's createdb, or by hand). 'jnt_dbman adopt' finds the revisions they "
                       "match and stamps them; 'jnt_dbman initdb' adopts it when they match exactly, "
                       "and refuses otherwise.")
        elif result.pending:
            click.echo(f"The database is not up to date: it is at {at}; "
                       f"missing heads {some(result.pending, everything=IN_JSON)}.")
        for kept in result.kept:
            click.echo(f"{kept.describe()}.")
        for orphan in result.orphans[:SHOWN]:
            click.echo(f"Orphaned head {orphan.describe()}.")
        if len(result.orphans) > SHOWN:
            click.echo(f"And {len(result.orphans) - SHOWN} more orphaned heads (--json lists them all).")
        for branch in result.split_branches:
            click.echo(f"Branch {branch} has more than one head: merge them with 'jnt_dbman merge'.")
        for found in result.interrupted:
            click.echo(f"The {found.describe()}: run 'jnt_dbman repair'.")
        for replaced in result.replaced:
            click.echo(f"Revision {replaced.describe()}.")
    if result.edited and not as_json:
        _print_edited(result.edited)
    ctx.exit(code)


def _print_edited(edited: Any) -> None:
    for one in edited[:SHOWN]:
        click.echo(f"Edited since it was applied: {one.describe()}.")
    if len(edited) > SHOWN:
        click.echo(f"And {len(edited) - SHOWN} more edited revisions (--json lists them all).")
    click.echo("Review the changes, then record the files as they are now with 'jnt_dbman accept'.")


@main.command()
@database_command
@click.argument("revisions", nargs=-1)
@json_option
def accept(site: Site, revisions: tuple[str, ...], as_json: bool) -> None:
    """Record the files of applied revisions edited since they were applied, as they are now.

    checkdb reports such revisions (exit 6); run accept once the changes are
    reviewed, and checkdb no longer reports them. With REVISIONS (ids, or
    their first characters), only those: each must be applied and edited.
    """
    from janitoo_db import commands

    accepted = commands.accept(site, revisions)
    if as_json:
        output.print_json([one.as_dict() for one in accepted])
        return
    if not accepted:
        click.echo("Nothing to accept: no applied revision's file changed since it was applied.")
    for one in accepted:
        click.echo(f"Accepted {one.describe()}.")


@main.command()
@reading_command
@click.argument("names", nargs=-1)
@click.pass_context
def check(ctx: click.Context, site: Site, names: tuple[str, ...]) -> None:
    """Compare the models with the database, per extension; exit 4 when they differ.

    With NAMES, only those extensions count: tables no model declares are
    still listed, apart, but then do not make the check fail.
    """
    from janitoo_db import commands
    from janitoo_db.errors import ExitCode

    report = commands.check(site, names)
    output.print_drift(report)
    failing = report.owned if names else report.differences
    if failing:
        ctx.exit(ExitCode.DRIFT)
