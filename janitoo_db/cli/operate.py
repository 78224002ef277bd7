"""Commands that bring a database in an unusual state back under janitoo_db: adopt, repair and forget."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from janitoo_db.cli import output
from janitoo_db.cli.group import _error, json_option, main
from janitoo_db.cli.options import IN_CURRENT, _confirm_dropping, database_command, yes_option
from janitoo_db.cli.wording import IN_JSON
from janitoo_db.text import some

if TYPE_CHECKING:
    from janitoo_db.site import Site


@main.command()
@database_command
@click.option("-y", "--yes", is_flag=True,
              help="Stamp what was found without asking; needed when not run from a terminal.")
@click.option("--dry-run", is_flag=True, help="Only show what was found; change nothing.")
@json_option
@click.pass_context
def adopt(ctx: click.Context, site: Site, yes: bool, dry_run: bool, as_json: bool) -> None:
    """Stamp a database that has no alembic_version at the revisions its tables match.

    For databases made by the original janitoo's createdb, or by hand. For
    each branch it finds the newest revision whose tables and columns the
    database has, shows it, and stamps them all after confirmation (--yes
    without a terminal); 'jnt_dbman initdb' then runs the rest. When a
    branch's tables match none of its revisions it lists the differences,
    stamps nothing and exits with 1. Tables of no branch are left alone.
    """
    from janitoo_db import commands

    found = commands.adopt(site, stamp=False)
    problem = found.refusal()
    if not as_json:
        _print_adoption(found)
    if problem is None and found.revisions and not dry_run:
        try:
            _confirm_dropping(site, yes, "stamp {where}", "Stamp {where} at these revisions?")
        except click.ClickException as refused:
            problem = f"{refused.message} (--dry-run only shows what was found)"
        else:
            found = commands.adopt(site, stamp=True, expected=found)
    if problem is not None:
        _error(ctx, problem, 1, found.as_dict())
        ctx.exit(1)
    if as_json:
        output.print_json(found.as_dict())
    elif found.stamped:
        click.echo(f"Stamped: the database is at {some(found.stamped, everything=IN_CURRENT)}; "
                   "'jnt_dbman initdb' brings it to every head.")
    elif not found.revisions:
        click.echo("Nothing to stamp: no branch's tables are in the database; 'jnt_dbman initdb' creates them.")


def _print_adoption(found: Any) -> None:
    for finding in found.findings:
        click.echo(finding.describe())
        for difference in finding.differences:
            click.echo(f"  {difference}")
    if found.other_tables:
        click.echo(f"Tables of no branch, left alone: {some(list(found.other_tables), everything=IN_JSON)}")


@main.command()
@database_command
@click.option("--applied", is_flag=True,
              help="The interrupted revision was finished by hand: record it as done instead of undoing it.")
@yes_option("undoing what the interrupted revision did (--applied does not ask)")
def repair(site: Site, applied: bool, yes: bool) -> None:
    """Bring a database whose migration was interrupted in a revision back to a known state.

    MySQL and MariaDB keep each DDL statement a killed migration (or a
    killed createdb) had run; elsewhere a revision's autocommit block commits
    what ran before it. janitoo_db journals each such statement as it runs.
    By default repair undoes exactly what the journal shows the interrupted
    run did (drops the tables it created, the columns it added, the indexes
    it made) and nothing else; it refuses, changing nothing, when the run did
    what cannot be undone (a drop, a change of data). The revision stays not
    applied: the next initdb applies it again.
    """
    from janitoo_db import commands

    found = commands.interrupted_revisions(site)
    if not found:
        click.echo("Nothing to repair: no revision was interrupted.")
        return
    for one in found:
        click.echo(f"The {one.describe()}.")
    if not applied:
        _confirm_dropping(site, yes, "undo what the interrupted revision did in {where}",
                          "Undo what the interrupted revision did in {where}?")
    for done in commands.repair(site, applied=applied):
        revision = done.interrupted.revision
        if done.marked_applied:
            click.echo(f"Recorded the {done.interrupted.direction} of {revision} as done.")
            continue
        for line in done.undone:
            click.echo(f"Undone: {line}.")
        for line in done.skipped:
            click.echo(f"Skipped: {line}.")
        if done.interrupted.is_createdb:
            click.echo("Undid what createdb had done: run 'jnt_dbman createdb' or 'jnt_dbman initdb' again.")
        else:
            left = ("it is not applied: run 'jnt_dbman initdb' to apply it again"
                    if done.interrupted.direction == "upgrade" else "it is still applied")
            click.echo(f"Undid what {revision} had done ({len(done.undone)} undone, {len(done.skipped)} skipped); "
                       f"{left}.")


@main.command()
@database_command
@click.argument("name")
@click.option("--drop-tables", is_flag=True,
              help="Also drop the tables janitoo_db recorded as made by NAME's revisions (their data goes).")
@yes_option("dropping NAME's tables (only --drop-tables asks)")
def forget(site: Site, name: str, drop_tables: bool, yes: bool) -> None:
    """Forget NAME, an extension uninstalled before its branch was removed.

    Its heads leave alembic_version, and what they implied of other branches
    is recorded instead. Its tables stay, listed, unless --drop-tables; if
    NAME is installed again, initdb takes them back at the revision they
    match. Refused while NAME is installed: use 'downgrade NAME@base' then.
    """
    from janitoo_db import commands

    if drop_tables:
        _confirm_dropping(site, yes, f"drop the tables of {name} in {{where}}",
                          f"Drop the tables {name}'s revisions made in {{where}}?")
    done = commands.forget(site, name, drop_tables=drop_tables)
    if done.heads:
        click.echo(f"Forgot {name}: its heads {', '.join(done.heads)} left alembic_version"
                   + (f", which now also records {', '.join(done.restored)}." if done.restored else "."))
    if done.stale:
        click.echo(f"No longer in the database, so no longer recorded as {name}'s: {', '.join(done.stale)}.")
    if done.tables and done.dropped:
        click.echo(f"Dropped its tables: {', '.join(done.tables)}.")
    elif done.tables:
        click.echo(f"Its tables stay: {', '.join(done.tables)}; "
                   f"'jnt_dbman forget {name} --drop-tables --yes' drops them.")
