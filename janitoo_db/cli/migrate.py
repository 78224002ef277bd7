"""Commands that move the database between revisions, or create and drop its tables.

initdb, upgrade, downgrade, stamp, createdb and dropdb.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import click

from janitoo_db.cli import output, wording
from janitoo_db.cli.group import _remember_json, main
from janitoo_db.cli.options import (
    IN_CURRENT,
    _confirm_dropping,
    database_command,
    quiet_option,
    statement_limit_options,
    yes_option,
)
from janitoo_db.text import some

if TYPE_CHECKING:
    from janitoo_db.results import Step
    from janitoo_db.site import Site


def _move(site: Site, revision: str, *, quiet: bool, sql: bool, plan: bool, upgrade: bool,
          cascade: bool = False, no_destructive: bool | None = None, as_json: bool = False,
          lint: bool = False) -> None:
    """upgrade and downgrade: plan, write the SQL script, or migrate."""
    from janitoo_db import commands

    if as_json and not plan:
        raise click.UsageError("--json goes with --plan")
    if lint and not plan:
        raise click.UsageError("--lint goes with --plan")
    if no_destructive is not None and (plan or sql):
        raise click.UsageError("--no-destructive and --allow-destructive are for a migration that runs; "
                               "--plan marks what can destroy data, --sql runs nothing")
    if plan:
        steps = commands.plan(site, revision, upgrade=upgrade, with_sql=sql, cascade=cascade, lint=lint)
        output.print_plan(steps, as_json, lambda: wording.nothing_to_do(commands.current(site), revision, upgrade))
        if any(finding.reported for step in steps for finding in step.lint):
            from janitoo_db.errors import ExitCode

            click.get_current_context().exit(ExitCode.LOCKS)
    elif sql:
        script = commands.upgrade_sql if upgrade else commands.downgrade_sql
        click.echo(script(site, revision), nl=False)
    elif upgrade:
        _migrate(lambda progress: commands.upgrade(site, revision, on_step=progress,
                                                   no_destructive=no_destructive), quiet, site, revision)
    else:
        _migrate(lambda progress: commands.downgrade(site, revision, cascade=cascade, on_step=progress), quiet,
                 site, revision, upgrade=False)


def _migrate(run: Callable[[output.Progress], list[Step]], quiet: bool, site: Site, revision: str = "heads",
             upgrade: bool = True) -> None:
    """Run a migration, reporting each revision and a summary, or which listed revisions a failure kept.

    When it ran nothing, the summary names where the database is (one more read, only then).
    """
    from janitoo_db.errors import MigrationError

    progress = output.Progress(quiet)
    try:
        steps = run(progress)
    except MigrationError as error:
        progress.failed(error.rolled_back, error.committed_partway, error.needs_repair, error.split_commits)
        raise
    for replaced in site.restamped if not quiet else ():
        click.echo(f"Re-stamped {replaced.revision} ({replaced.branch}) as {replaced.squashed}, the squashed "
                   "revision that replaces it: nothing to run for it.", err=True)
    from janitoo_db import commands

    progress.finish(steps, lambda: wording.nothing_to_do(commands.current(site), revision, upgrade))


no_destructive_option = click.option(
    "--no-destructive/--allow-destructive", "no_destructive", default=None,
    help="Refuse, changing nothing, when a revision to run can destroy data: it drops a table or column, "
         "narrows a column's type, rebuilds a table, or cannot be checked (upgrade --plan marks them). "
         "--allow-destructive runs them all the same. Default: $JANITOO_DB_NO_DESTRUCTIVE (1: refuse).")


create_database_option = click.option(
    "--create-database", is_flag=True,
    help="PostgreSQL, MySQL/MariaDB: first create the database on its server when it does not exist "
         "(through the server's postgres database, or no database on MySQL; the URL's user needs the right "
         "to create databases). On SQLite the file is created anyway.")


def _create_database(site: Site, create: bool) -> None:
    from janitoo_db import commands
    from janitoo_db.site.engine import hide_password

    if create and commands.create_database(site):
        click.echo(f"Created the database {hide_password(site.url)}.", err=True)


@main.command()
@database_command
@statement_limit_options
@quiet_option
@no_destructive_option
@create_database_option
def initdb(site: Site, quiet: bool, no_destructive: bool | None, create_database: bool) -> None:
    """Create or upgrade the database to the head of every branch, using the revisions.

    A database without alembic_version that holds the branches' tables (the
    original janitoo's createdb made them) is first adopted, as 'jnt_dbman
    adopt' would, when its tables match revisions exactly; otherwise initdb
    refuses, naming the tables, and changes nothing. An extension forgotten
    with its tables kept and installed again is first stamped at the revision
    its tables match, when they are recorded as its own and the checksums of
    its applied revisions agree; otherwise initdb refuses, naming the way out.
    So does upgrade.
    """
    from janitoo_db.site.at_head import plainly_at_every_head
    from janitoo_db.site.switches import refusing

    refusing(no_destructive)  # a value of $JANITOO_DB_NO_DESTRUCTIVE initdb refuses is refused with nothing to do too
    at = plainly_at_every_head(site)  # on SQLite only, where --create-database has nothing to create
    if at is not None and at.checksums_kept:  # a server start with nothing to do: no SQLAlchemy, no Alembic
        output.Progress(quiet).finish([], lambda: wording.nothing_to_do(at.heads, "heads", True))
        return
    from janitoo_db import commands

    _create_database(site, create_database)
    _migrate(lambda progress: commands.initdb(site, on_step=progress, no_destructive=no_destructive), quiet,
             site)


sql_option = click.option("--sql", is_flag=True,
                          help="Print the SQL script instead of running it; the database is not touched.")
plan_option = click.option("--plan", is_flag=True,
                           help="List, in order, the revisions that would run, and change nothing; "
                                "with --sql, each with its SQL.")
plan_json_option = click.option("--json", "as_json", is_flag=True, callback=_remember_json,
                                help="With --plan: print the plan as JSON, each revision with what it can "
                                     "destroy; an error too, on stdout.")


@main.command()
@database_command
@statement_limit_options
@click.argument("revision", default="heads")
@quiet_option
@sql_option
@plan_option
@plan_json_option
@no_destructive_option
@click.option("--lint", is_flag=True,
              help="With --plan, on PostgreSQL: check each pending revision's SQL with squawk for statements "
                   "whose locks can stall a busy table (pip install 'janitoo_db[lint]'); exit 7 when one is "
                   "found that its revision file does not allow.")
def upgrade(site: Site, revision: str, quiet: bool, sql: bool, plan: bool, as_json: bool,
            no_destructive: bool | None, lint: bool) -> None:
    """Upgrade the database to REVISION (default: heads, the head of every branch).

    REVISION may be an id, NAME@head for one extension's branch, or NAME@+N
    for N more revisions of it; with --sql, also START:END. --plan marks
    each revision that can destroy data; --no-destructive refuses to run one.
    """
    _move(site, revision, quiet=quiet, sql=sql, plan=plan, upgrade=True, no_destructive=no_destructive,
          as_json=as_json, lint=lint)


class RelativeStepCommand(click.Command):
    """A command whose REVISION may be a relative step down, ``-1``, as Alembic's downgrade accepts.

    click reads any word that starts with '-' as an option, and no option of
    such a command is a number: so ``-N`` that is not an option's value is
    moved behind ``--``, where it is REVISION.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        from janitoo_db.commands import BARE_STEP

        takes_value = {name for param in self.get_params(ctx) if isinstance(param, click.Option)
                       and not param.is_flag and not param.count for name in param.opts}
        end = args.index("--") if "--" in args else len(args)
        kept: list[str] = []
        steps: list[str] = []
        for arg in args[:end]:
            if BARE_STEP.fullmatch(arg) and not (kept and kept[-1] in takes_value):
                steps.append(arg)
            else:
                kept.append(arg)
        if steps:
            args = [*kept, "--", *steps, *args[end + 1:]]
        return super().parse_args(ctx, args)


@main.command(cls=RelativeStepCommand)
@database_command
@statement_limit_options
@click.argument("revision", default="base")
@quiet_option
@sql_option
@plan_option
@plan_json_option
@click.option("--cascade", is_flag=True,
              help="Also undo the revisions of other branches that depend on what is removed (their data goes too).")
@yes_option("a downgrade that empties every branch (no other downgrade asks)")
def downgrade(site: Site, revision: str, quiet: bool, sql: bool, plan: bool, as_json: bool, cascade: bool,
              yes: bool) -> None:
    """Downgrade the database to REVISION (default: base, which empties every branch).

    REVISION may be an id, NAME@base to remove one extension's branch, or
    NAME@-N for N revisions of it; with --sql it must be a range FROM:TO.
    -N alone (downgrade -1) steps back from where the database is when it
    is at one head only; with several, name the branch.
    A downgrade that would also undo other branches' revisions is refused
    unless --cascade; one that empties the database asks first, like dropdb.
    """
    if not (sql or plan):
        from janitoo_db import commands

        if commands.downgrade_empties_database(site, revision):
            _confirm_dropping(site, yes, "downgrade every branch of {where} to base",
                              "Downgrade every branch of {where} to base, dropping their tables?")
    _move(site, revision, quiet=quiet, sql=sql, plan=plan, upgrade=False, cascade=cascade, as_json=as_json)


@main.command()
@database_command
@click.argument("revisions", nargs=-1, required=True)
def stamp(site: Site, revisions: tuple[str, ...]) -> None:
    """Record REVISIONS (for example: heads) as applied, without running them."""
    from janitoo_db import commands

    now = commands.stamp(site, revisions)
    click.echo(f"The database is now at {some(now, everything=IN_CURRENT) or 'base'}.")


@main.command()
@database_command
@create_database_option
def createdb(site: Site, create_database: bool) -> None:
    """Create the tables from the models and mark the database as being at every head.

    Only for a database without alembic_version that holds none of the
    models' tables, or all of them exactly as the models say (it is then only
    marked); otherwise it refuses and says which tables are in the way.
    """
    from janitoo_db import commands

    _create_database(site, create_database)
    created = commands.createdb(site)
    if created.tables:
        click.echo(f"Created {len(created.tables)} tables and stamped the database at heads.")
    elif created.stamped:
        click.echo("The tables already match the models: stamped the database at heads.")
    else:
        click.echo(wording.nothing_to_do(commands.current(site), "heads", upgrade=True))


@main.command()
@database_command
@statement_limit_options
@yes_option("dropping the tables")
def dropdb(site: Site, yes: bool) -> None:
    """Drop every table janitoo_db made, its bookkeeping tables and alembic_version.

    Each branch is downgraded to base first; then the tables janitoo_db
    recorded as made by a revision or by createdb go, and nothing else.
    Refused, dropping nothing, when another table has a foreign key into one
    of them.
    """
    from janitoo_db import commands

    _confirm_dropping(site, yes, "drop {where}", "Drop every janitoo table of {where}?")
    dropped = commands.dropdb(site)
    # Every name: what is gone cannot be listed again afterwards.
    click.echo(f"Dropped {len(dropped)} tables" + (f": {', '.join(dropped)}." if dropped else "."))
