"""jnt_dbman: the command line over :mod:`janitoo_db.commands`.

Each command only gathers its options, calls one function and prints the
result.  Errors of ours become one line on stderr and an exit code in
:meth:`JanitooGroup.invoke`; nothing here imports SQLAlchemy or Alembic until
a command needs them, so ``--help`` and ``--version`` stay fast.
"""
from __future__ import annotations

import functools
import gc
import math
import os
import sys
from typing import TYPE_CHECKING, Any, Callable

import click

from janitoo_db import __version__, output
from janitoo_db.defaults import DEFAULT_URL, URL_ENVIRONMENT_VARIABLE
from janitoo_db.errors import JanitooDbError
from janitoo_db.results import some

if TYPE_CHECKING:
    from janitoo_db.results import Step
    from janitoo_db.site import Site


DEBUG_KEY = "janitoo_db.debug"
JSON_KEY = "janitoo_db.json"
#: The database URLs this run was given or found, so that errors can hide their passwords.
URLS_KEY = "janitoo_db.urls"


#: Alembic's and Flask-Migrate's commands that jnt_dbman has under another name, or not at all: what to run.
OTHER_TOOLS_VERBS = {
    "revision": "Did you mean 'generate'? It writes a revision for one extension: "
                "jnt_dbman generate -m MESSAGE --head NAME",
    "migrate": "Did you mean 'generate'? It writes a revision for one extension: "
               "jnt_dbman generate -m MESSAGE --head NAME ('upgrade' or 'initdb' applies revisions)",
    "init": "janitoo_db needs no migration directory: 'jnt_dbman generate -m MESSAGE --head NAME' starts an "
            "extension's branch, 'jnt_dbman initdb' builds the database",
    "edit": "Open the file 'jnt_dbman show REVISION' names on its Path: line",
    "ensure_version": "'jnt_dbman initdb' creates alembic_version along with the tables; "
                      "'jnt_dbman stamp' records revisions without running them",
    "list_templates": "jnt_dbman writes revisions with janitoo_db's own template; there is none to choose",
}


class JanitooGroup(click.Group):
    """Turns our errors into ``Error: ...`` and an exit code, in one place."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None,
                                                                          list[str]]:
        """Alembic's command names that are not ours get the one to run instead, not only difflib's guess."""
        name = args[0] if args else ""
        hint = OTHER_TOOLS_VERBS.get(name.replace("-", "_"))
        if hint is not None and self.get_command(ctx, name) is None:
            ctx.fail(f"No such command {name!r}. {hint}.")
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except JanitooDbError as error:
            if ctx.meta.get(DEBUG_KEY):
                raise
            _error(ctx, str(error), error.exit_code)
            ctx.exit(error.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            # Whoever read the output went away (jnt_dbman history | head): nobody is left
            # to tell.  Point stdout at /dev/null so the final flush does not fail again.
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            except (OSError, ValueError):  # stdout is not a file (click's CliRunner)
                pass
            ctx.exit(1)
        except Exception as error:
            if ctx.meta.get(DEBUG_KEY):
                raise
            _error(ctx, f"unexpected {type(error).__name__}: {error} (rerun with --debug for details)", 1)
            ctx.exit(1)
        except SystemExit as error:
            # click ends a command with its own Exit, never SystemExit: this one comes from code a
            # command ran (a revision, a hook), and a command it stopped has failed, whatever its code.
            if ctx.meta.get(DEBUG_KEY):
                raise
            _error(ctx, f"unexpected SystemExit({error.code}) from code a command ran: the command did not "
                        "finish (rerun with --debug for details)", 1)
            ctx.exit(1)


def _error(ctx: click.Context, message: str, exit_code: int, found: dict[str, Any] | None = None) -> None:
    """Print one error line, with every password in it hidden: the URLs of this run's and any lookalike.

    After --json, the error is JSON on stdout, where the script reads the answer,
    beside what the command *found* before it failed.
    """
    from janitoo_db.masking import mask_secrets

    message = mask_secrets(message, *ctx.meta.get(URLS_KEY, ()))
    if ctx.meta.get(JSON_KEY):
        output.print_json({**(found or {}), "error": message, "exit_code": exit_code})
    else:
        click.echo(f"Error: {message}", err=True)


def _notice(message: str) -> None:
    """A line about what a command waits for, as it happens: on stderr, passwords hidden like errors."""
    from janitoo_db.masking import mask_secrets

    ctx = click.get_current_context()
    click.echo(f"Note: {mask_secrets(message, *ctx.meta.get(URLS_KEY, ()))}", err=True)


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[DEBUG_KEY] = True
    return value


debug_option = click.option(
    "--debug", is_flag=True, expose_value=False, is_eager=True, callback=_set_debug,
    help="Show the full traceback when something fails.",
)


DATABASE_KEY = "janitoo_db.database"
#: The branch generate --head names: it may have no revisions yet (generate then writes its root).
NEW_BRANCH_KEY = "janitoo_db.new_branch"


def _url_option(**kwargs: Any) -> Callable[..., Any]:
    return click.option("-u", "--url", metavar="URL", help=(
        f"Database URL. Default: the -c file's, else ${URL_ENVIRONMENT_VARIABLE}, else {DEFAULT_URL}."), **kwargs)


def _conf_file_option(**kwargs: Any) -> Callable[..., Any]:
    # --conf_file: the original janitoo's spelling, kept as an alias.
    return click.option("-c", "--conf-file", "--conf_file", "conf_file", type=click.Path(dir_okay=False), help=(
        "janitoo configuration file whose [database] section holds sqlalchemy.url."), **kwargs)


def _remember_database(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Keep -u/-c given before the command (jnt_dbman -u URL initdb) for the command to use."""
    if value is not None:
        ctx.meta.setdefault(DATABASE_KEY, {})[param.name] = value
    return value


def _finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a number of seconds.", ctx, param)
    return value


def database_command(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options that say where the database is, and pass the Site it names.

    For a command that takes the migration lock (it writes): --lock-timeout
    says how long it waits for another migration's.  -u and -c given after
    the command win over those given before it.
    """
    return _with_database(func, click.option(
        "--lock-timeout", type=click.FloatRange(min=0), metavar="SECONDS", envvar="JANITOO_DB_LOCK_TIMEOUT",
        callback=_finite,
        help="How long to wait for another migration's lock before giving up. Default: $JANITOO_DB_LOCK_TIMEOUT, "
             "else 600."))


def reading_command(func: Callable[..., Any]) -> Callable[..., Any]:
    """:func:`database_command` for a command that takes no migration lock: it only reads the database, if at all.

    --lock-timeout is still accepted, hidden, so that scripts which passed it
    keep working; it changes nothing, and a note says so.  The environment
    variable is not read: servers set it for every command.
    """
    return _with_database(func, click.option("--lock-timeout", "ignored_lock_timeout", hidden=True))


def _with_database(func: Callable[..., Any], lock_option: Callable[..., Any]) -> Callable[..., Any]:
    @_url_option()
    @_conf_file_option()
    @lock_option
    @debug_option
    @functools.wraps(func)
    def wrapper(*args: Any, url: str | None, conf_file: str | None, **kwargs: Any) -> Any:
        from janitoo_db.config import resolve_url
        from janitoo_db.site import Site

        ctx = click.get_current_context()
        meta = ctx.meta
        lock_timeout = kwargs.pop("lock_timeout", None)
        if kwargs.pop("ignored_lock_timeout", None) is not None:
            _notice(f"--lock-timeout is ignored: {ctx.info_name} takes no lock, so it never waits for one "
                    "(the option is deprecated here and a later release will refuse it).")
        if url is None and conf_file is None:
            url, conf_file = meta.get(DATABASE_KEY, {}).get("url"), meta.get(DATABASE_KEY, {}).get("conf_file")
        meta.setdefault(URLS_KEY, []).append(url)
        resolved = resolve_url(url, conf_file)
        meta[URLS_KEY].append(resolved)
        # conf_file: generate and merge read its post-write hooks.
        site = Site(resolved, new_branch=meta.get(NEW_BRANCH_KEY), conf_file=conf_file or None,
                    lock_timeout=lock_timeout, on_notice=_notice)
        try:
            result = func(site, *args, **kwargs)
            _print_notices(site)
            return result
        finally:
            site.dispose()

    return wrapper


def statement_limit_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The PostgreSQL limits of a migration's own statements, and its retries; kept on the Site."""

    @click.option("--ddl-lock-timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
                  envvar="JANITOO_DB_DDL_LOCK_TIMEOUT", callback=_finite,
                  help="PostgreSQL: give up a statement that waits longer than this for a lock held by others "
                       "(lock_timeout), roll back and try again; live servers queue behind a waiting ALTER TABLE. "
                       "Default: the server's setting.")
    @click.option("--statement-timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
                  envvar="JANITOO_DB_STATEMENT_TIMEOUT", callback=_finite,
                  help="PostgreSQL: give up any statement of the migration that runs longer than this "
                       "(statement_timeout); not retried. Default: the server's setting.")
    @click.option("--retries", type=click.IntRange(min=0), metavar="N", envvar="JANITOO_DB_RETRIES",
                  help="How many times to try again after a lock timeout. Default: 3.")
    @click.option("--retry-wait", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
                  envvar="JANITOO_DB_RETRY_WAIT", callback=_finite,
                  help="Pause before the first retry; each next one is twice as long (60 s at most). Default: 1.")
    @functools.wraps(func)
    def wrapper(site: Site, *args: Any, ddl_lock_timeout: float | None, statement_timeout: float | None,
                retries: int | None, retry_wait: float | None, **kwargs: Any) -> Any:
        given = {"ddl_lock_timeout": ddl_lock_timeout, "statement_timeout": statement_timeout,
                 "retries": retries, "retry_wait": retry_wait}
        site.limit_options.update({key: value for key, value in given.items() if value is not None})
        return func(site, *args, **kwargs)

    return wrapper


def _print_notices(site: Site) -> None:
    """Lines a command left to tell besides its result (checksums recorded for the first time), on stderr."""
    for notice in site.take_notices():
        click.echo(notice, err=True)


def quiet_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-q", "--quiet", is_flag=True,
                        help="Print only errors: not each revision as it runs, nor the summary.")(func)


def _remember_json(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[JSON_KEY] = True
    return value


json_option = click.option("--json", "as_json", is_flag=True, callback=_remember_json,
                           help="Print JSON for scripts instead of text; an error too, on stdout.")
#: How many lines of a list (orphaned heads...) the text output shows; --json shows them all.
SHOWN = 8
#: Where a list cut short in a line of text is whole (see results.some).
IN_JSON = "--json"
IN_CURRENT = "'jnt_dbman current'"


def _move(site: Site, revision: str, *, quiet: bool, sql: bool, plan: bool, upgrade: bool,
          cascade: bool = False, no_destructive: bool | None = None, as_json: bool = False) -> None:
    """upgrade and downgrade: plan, write the SQL script, or migrate."""
    from janitoo_db import commands

    if as_json and not plan:
        raise click.UsageError("--json goes with --plan")
    if no_destructive is not None and (plan or sql):
        raise click.UsageError("--no-destructive and --allow-destructive are for a migration that runs; "
                               "--plan marks what can destroy data, --sql runs nothing")
    if plan:
        output.print_plan(commands.plan(site, revision, upgrade=upgrade, with_sql=sql, cascade=cascade), as_json,
                          lambda: output.nothing_to_do(commands.current(site), revision, upgrade))
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
        progress.failed(error.rolled_back, error.committed_partway, error.needs_repair)
        raise
    for replaced in site.restamped if not quiet else ():
        click.echo(f"Re-stamped {replaced.revision} ({replaced.branch}) as {replaced.squashed}, the squashed "
                   "revision that replaces it: nothing to run for it.", err=True)
    from janitoo_db import commands

    progress.finish(steps, lambda: output.nothing_to_do(commands.current(site), revision, upgrade))


def _confirm_dropping(site: Site, yes: bool, refusal: str, question: str) -> None:
    """Ask before a command removes every janitoo table; without a terminal, only --yes will do.

    *refusal* and *question* name the database as ``{where}`` (its password hidden).
    """
    from janitoo_db.engine import hide_password

    if yes:
        return
    where = hide_password(site.url)
    if not sys.stdin.isatty():
        raise click.ClickException(f"refusing to {refusal.format(where=where)} without --yes "
                                   "when not run from a terminal")
    click.confirm(question.format(where=where), abort=True)


def yes_option(before: str) -> Callable[..., Any]:
    """-y/--yes, saying what it answers for: the question is asked *before* something."""
    return click.option("-y", "--yes", is_flag=True,
                        help=f"Do not ask for confirmation before {before}; needed when not run from a terminal.")


EXIT_CODES = """\b
Exit codes:
  0  success, or already up to date
  1  error (one line on stderr says what)
  2  usage error
  3  checkdb: revisions are pending
  4  check: models and database differ
  5  checkdb: orphaned head, a branch with more than one head,
     an interrupted revision (see repair), or a revision a
     squashed revision replaces that it cannot upgrade
  6  checkdb: an applied revision's file changed since it was
     applied (see accept); only when neither 3 nor 5 applies

\b
Environment:
  JANITOO_DB_URL           database URL when neither -u nor -c is given
  JANITOO_DB_LOCK_TIMEOUT  seconds to wait for another migration's lock
                           (default 600)
  JANITOO_DB_DDL_LOCK_TIMEOUT, JANITOO_DB_STATEMENT_TIMEOUT,
  JANITOO_DB_RETRIES, JANITOO_DB_RETRY_WAIT
                           PostgreSQL limits of a migration's statements
                           (see --ddl-lock-timeout)
  JANITOO_DB_CACHE_DIR     where revision headers are remembered between runs
                           (default ~/.cache/janitoo_db; empty: not at all)
  JANITOO_DB_NO_DESTRUCTIVE
                           1: initdb and upgrade refuse revisions that can
                           destroy data, as with --no-destructive
"""


@click.group(cls=JanitooGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES)
@click.version_option(__version__, prog_name="jnt_dbman")
@_url_option(expose_value=False, callback=_remember_database)
@_conf_file_option(expose_value=False, callback=_remember_database)
@debug_option
def main() -> None:
    """Manage the database shared by janitoo and its extensions.

    Every extension owns an Alembic branch named after its entry point in the
    janitoo.models group; these commands work on all branches at once.

    -u and -c may also be given here, before the command, for every command
    that works on the database.
    """


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
    from janitoo_db.engine import hide_password

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
def upgrade(site: Site, revision: str, quiet: bool, sql: bool, plan: bool, as_json: bool,
            no_destructive: bool | None) -> None:
    """Upgrade the database to REVISION (default: heads, the head of every branch).

    REVISION may be an id, NAME@head for one extension's branch, or NAME@+N
    for N more revisions of it; with --sql, also START:END. --plan marks
    each revision that can destroy data; --no-destructive refuses to run one.
    """
    _move(site, revision, quiet=quiet, sql=sql, plan=plan, upgrade=True, no_destructive=no_destructive,
          as_json=as_json)


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
        click.echo(output.nothing_to_do(commands.current(site), "heads", upgrade=True))


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
        click.echo(f"The database is up to date: {some(result.current, everything=IN_JSON)}.")
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


def _remember_head(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    """Let the branch named by --head have no revisions yet: generate then writes its root.

    Without --head, the branch is the current directory's project's (see
    :mod:`janitoo_db.target_branch`), said on stderr.
    """
    if value is None:
        from pathlib import Path

        from janitoo_db import target_branch

        target = target_branch.choose(Path.cwd())
        _notice(f"generating for {target.name}: {target.reason}; --head NAME names another branch.")
        value = target.name
    ctx.meta[NEW_BRANCH_KEY] = value.split("@", 1)[0]
    return value


rev_id_option = click.option("--rev-id", metavar="ID",
                             help="Use ID as the revision id instead of a random one "
                                  "(letters, digits and _, at most 32 characters).")


def _report_written(written: Any) -> None:
    click.echo(f"Generated {written.path}")
    if written.hooks:
        click.echo(f"Ran the post-write hooks {', '.join(written.hooks)} on it.", err=True)
    for mark in getattr(written, "destructive", ()):
        click.echo(f"Warning: it can destroy data: {mark.describe()}.", err=True)


@main.command()
@database_command
@click.option("-m", "--message", required=True, help="What the revision does; also names its file.")
@click.option("--head", metavar="NAME", callback=_remember_head,
              help="The extension whose branch gets the revision (NAME or NAME@head). Default: the "
                   "branch of the project the current directory is in (its pyproject.toml, setup.cfg or "
                   "setup.py names the distribution, or the version directory or package is at or under "
                   "it), else the only branch in a source tree; with several, --head is required.")
@click.option("--empty", is_flag=True, help="Write a revision with no operations instead of comparing.")
@click.option("--depends-on", "depends_on", multiple=True, metavar="REV",
              help="Record a dependency on another branch's revision (repeatable).")
@rev_id_option
def generate(site: Site, message: str, head: str, empty: bool, depends_on: tuple[str, ...],
             rev_id: str | None) -> None:
    """Write a revision for one extension, autogenerated from its own models only.

    Other extensions' tables and tables no model declares never appear in it.
    The database must be at every head. When its tables show no change, no
    file is written, unless --empty.

    For an extension with no revisions yet, it writes the root of its branch
    instead (labelled NAME, no operations; the database is not read), creating
    the version directory where janitoo_db looks for it if there is none.

    Nothing is written into an installed, non-editable distribution. The
    post-write hooks of the -c file's [database] section, else of the
    project's pyproject.toml [tool.janitoo_db], run on the file first.
    """
    from janitoo_db import writing

    name = head.split("@", 1)[0]
    generated = writing.generate(site, message, head, empty=empty, depends_on=depends_on, rev_id=rev_id)
    if generated is None:
        click.echo(f"No change in the tables of {name}: no revision written (--empty writes one anyway).", err=True)
        return
    _report_written(generated)
    if generated.started:
        where = "the new directory " if generated.created else ""
        click.echo(f"Started branch {name} in {where}{generated.started}.", err=True)
    for extension, revision, table in generated.inferred:
        click.echo(f"It depends on {revision} ({extension}): a new foreign key points at {table}.", err=True)


@main.command()
@reading_command
@click.argument("revisions", nargs=-1, required=True)
@click.option("-m", "--message", help="What the merge is for; also names its file.")
@rev_id_option
def merge(site: Site, revisions: tuple[str, ...], message: str | None, rev_id: str | None) -> None:
    """Write a revision that merges REVISIONS, for example two heads of one branch.

    Like generate, it runs the post-write hooks and writes nothing into an
    installed, non-editable distribution.
    """
    from janitoo_db import writing

    _report_written(writing.merge(site, revisions, message, rev_id=rev_id))


@main.command()
@reading_command
@click.argument("name")
@click.option("-m", "--message", help="What the revision is; also names its file. Default: 'Squashed NAME'.")
@click.option("--replaced-release", metavar="'DIST VERSION'",
              help="The release that has the revisions squashed, named to operators whose database is at an "
                   "earlier one. Default: the installed distribution of NAME and its version.")
@rev_id_option
@json_option
def squash(site: Site, name: str, message: str | None, replaced_release: str | None, rev_id: str | None,
           as_json: bool) -> None:
    """Replace the revisions of NAME's branch by one that builds its head.

    The squashed revision creates the tables (and inserts the rows) NAME's
    revisions leave, learned by running them on a scratch SQLite database;
    the database is not read. It lists the revisions it replaces, whose files
    are then deleted: ship it without them. A fresh database runs only it; a
    database at the last revision replaced is re-stamped to it; one at an
    earlier revision is refused, naming the release to upgrade with first.

    Like generate, it runs the post-write hooks and writes nothing into an
    installed, non-editable distribution. It warns about what the replaced
    revisions did that it does not do (to other branches' tables, say).
    """
    from janitoo_db import squash as squashing

    done = squashing.squash(site, name, message=message, rev_id=rev_id, replaced_release=replaced_release)
    if as_json:
        output.print_json(done.as_dict())
        return
    _report_written(done)
    click.echo(f"It replaces {len(done.replaces)} revisions of {name} ({done.replaces[0]} to {done.replaces[-1]}), "
               f"whose files were deleted: {some(list(done.removed), everything=IN_JSON)}.", err=True)
    click.echo(f"A database at {done.replaces[-1]} is re-stamped to {done.revision}; one at an earlier revision "
               f"must be upgraded with {done.replaced_release} first.", err=True)
    tables = [f"{table} ({rows} row{'' if rows == 1 else 's'})" if rows else table for table, rows in done.tables]
    click.echo(f"It creates {some(tables, everything=IN_JSON) or 'no table'}.", err=True)
    for dependency in done.depends_on:
        click.echo(f"It depends on {dependency}.", err=True)
    for warning in done.warnings:
        click.echo(f"Warning: {warning}.", err=True)


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


def run() -> None:
    """The ``jnt_dbman`` console script: :func:`main`, then an exit that skips needless work.

    At exit the interpreter's garbage collector walks every object still
    alive: a thousand revision modules, SQLAlchemy's and Alembic's caches.
    That is a tenth of a second (bench/run.py) spent on memory the operating
    system is about to take back, so the objects are frozen out of its reach
    first; atexit handlers, flushing and the rest of the shutdown still run.
    """
    try:
        main()
    finally:
        gc.freeze()
