"""jnt_dbman: the command line over :mod:`janitoo_db.commands`.

Each command only gathers its options, calls one function and prints the
result.  Errors of ours become one line on stderr and an exit code in
:meth:`JanitooGroup.invoke`; nothing here imports SQLAlchemy or Alembic until
a command needs them, so ``--help`` and ``--version`` stay fast.
"""
from __future__ import annotations

import functools
import sys
from typing import TYPE_CHECKING, Any, Callable

import click

from janitoo_db import __version__
from janitoo_db.errors import JanitooDbError

if TYPE_CHECKING:
    from alembic.config import Config

    from janitoo_db.commands import RevisionInfo, Step

DEBUG_KEY = "janitoo_db.debug"
DEFAULT_URL = "sqlite:////tmp/janitoo_dbman.sqlite"


class JanitooGroup(click.Group):
    """Turns our errors into ``Error: ...`` and an exit code, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except JanitooDbError as error:
            if ctx.meta.get(DEBUG_KEY):
                raise
            click.echo(f"Error: {error}", err=True)
            ctx.exit(error.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            if ctx.meta.get(DEBUG_KEY):
                raise
            click.echo(f"Error: unexpected {type(error).__name__}: {error} (rerun with --debug for details)", err=True)
            ctx.exit(1)


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[DEBUG_KEY] = True
    return value


debug_option = click.option(
    "--debug", is_flag=True, expose_value=False, is_eager=True, callback=_set_debug,
    help="Show the full traceback when something fails.",
)


def database_command(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options that say where the database is, and pass an Alembic Config."""

    @click.option("-u", "--url", metavar="URL",
                  help=f"Database URL. Default: the -c file's, else $JANITOO_DB_URL, else {DEFAULT_URL}.")
    @click.option("-c", "--conf-file", type=click.Path(dir_okay=False),
                  help="janitoo configuration file whose [database] section holds sqlalchemy.url.")
    @debug_option
    @functools.wraps(func)
    def wrapper(*args: Any, url: str | None, conf_file: str | None, **kwargs: Any) -> Any:
        from janitoo_db.config import alembic_config, resolve_url

        return func(alembic_config(resolve_url(url, conf_file)), *args, **kwargs)

    return wrapper


def quiet_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-q", "--quiet", is_flag=True, help="Do not list the revisions applied.")(func)


def _report_steps(quiet: bool) -> Callable[[Step], None] | None:
    if quiet:
        return None

    def report(step: Step) -> None:
        verb = "Applied" if step.is_upgrade else "Reverted"
        click.echo(f"{verb} {step.revision} ({', '.join(step.branches)}): {step.message}", err=True)

    return report


def _line(info: RevisionInfo, with_parent: bool = False) -> str:
    """One-line form, as Alembic prints it: ``33b95995b188 (janitoo) (head)``."""
    text = info.revision
    if with_parent:
        text = f"{', '.join(info.down_revisions) or '<base>'} -> {text}"
    if info.branches:
        text += f" ({', '.join(info.branches)})"
    if info.is_head:
        text += " (head)"
    if info.is_branch_point:
        text += " (branchpoint)"
    if info.is_merge_point:
        text += " (mergepoint)"
    if with_parent and info.message:
        text += f", {info.message}"
    return text


def _verbose(info: RevisionInfo) -> str:
    lines = [f"Rev: {_line(info)}", f"Parent: {', '.join(info.down_revisions) or '<base>'}"]
    if info.depends_on:
        lines.append(f"Depends on: {', '.join(info.depends_on)}")
    if info.branches:
        lines.append(f"Branch names: {', '.join(info.branches)}")
    lines.append(f"Path: {info.path}")
    lines.append("")
    lines.extend(f"    {line}" for line in (info.doc or info.message).splitlines())
    return "\n".join(lines) + "\n"


def _finish_migration(steps: list[Step], quiet: bool, config: Config) -> None:
    if not steps and not quiet:
        click.echo("Nothing to do: the database is already there.", err=True)


@click.group(cls=JanitooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="jnt_dbman")
@debug_option
def main() -> None:
    """Manage the database shared by janitoo and its extensions.

    Every extension owns an Alembic branch named after its entry point in the
    janitoo.models group; these commands work on all branches at once.
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
@database_command
def version_locations(config: Config) -> None:
    """Print the version_locations line to paste into an Alembic ini file.

    The paths are joined with the system's path separator, so the ini file
    also needs ``path_separator = os``.
    """
    import os

    from janitoo_db import commands

    click.echo("version_locations = " + os.pathsep.join(commands.version_locations(config)))


@main.command()
@database_command
@quiet_option
def initdb(config: Config, quiet: bool) -> None:
    """Create or upgrade the database to the head of every branch, using the revisions."""
    from janitoo_db import commands

    _finish_migration(commands.initdb(config, on_step=_report_steps(quiet)), quiet, config)


@main.command()
@database_command
@click.argument("revision", default="heads")
@quiet_option
def upgrade(config: Config, revision: str, quiet: bool) -> None:
    """Upgrade the database to REVISION (default: heads, the head of every branch).

    REVISION may be an id, NAME@head for one extension's branch, or +N.
    """
    from janitoo_db import commands

    _finish_migration(commands.upgrade(config, revision, on_step=_report_steps(quiet)), quiet, config)


@main.command()
@database_command
@click.argument("revision", default="base")
@quiet_option
def downgrade(config: Config, revision: str, quiet: bool) -> None:
    """Downgrade the database to REVISION (default: base, which empties every branch).

    REVISION may be an id, NAME@base to remove one extension's branch, or -N.
    """
    from janitoo_db import commands

    _finish_migration(commands.downgrade(config, revision, on_step=_report_steps(quiet)), quiet, config)


@main.command()
@database_command
def createdb(config: Config) -> None:
    """Create the tables from the models and mark the database as being at every head."""
    from janitoo_db import commands

    created = commands.createdb(config)
    if created:
        click.echo(f"Created {len(created)} tables and stamped the database at heads.")
    else:
        click.echo("Nothing to do: the database is already at heads.")


@main.command()
@database_command
@click.option("-y", "--yes", is_flag=True, help="Drop without asking for confirmation.")
def dropdb(config: Config, yes: bool) -> None:
    """Drop every table the revisions or the models know, and alembic_version."""
    from janitoo_db import commands
    from janitoo_db.engine import hide_password

    if not yes:
        where = hide_password(config.attributes["url"])
        if not sys.stdin.isatty():
            raise click.ClickException(f"refusing to drop {where} without --yes when not run from a terminal")
        click.confirm(f"Drop every janitoo table of {where}?", abort=True)
    dropped = commands.dropdb(config)
    click.echo(f"Dropped {len(dropped)} tables" + (f": {', '.join(dropped)}" if dropped else "."))


@main.command()
@database_command
def heads(config: Config) -> None:
    """Show the head revision of every branch."""
    from janitoo_db import commands

    for info in commands.heads(config):
        click.echo(_line(info))


@main.command()
@database_command
def branches(config: Config) -> None:
    """Show every branch with its root, heads and number of revisions."""
    from janitoo_db import commands

    for branch in commands.branches(config):
        click.echo(f"{branch.label}: root {branch.root}, head {', '.join(branch.heads)}, "
                   f"{branch.revisions} revisions")


@main.command()
@database_command
@click.option("-r", "--revrange", metavar="[START]:[END]",
              help="Only revisions in this range, such as janitoo_template: for one branch.")
@click.option("-v", "--verbose", is_flag=True, help="Show each revision's parent, path and description.")
def history(config: Config, revrange: str | None, verbose: bool) -> None:
    """Show the revisions, newest first."""
    from janitoo_db import commands

    for info in commands.history(config, revrange):
        click.echo(_verbose(info) if verbose else _line(info, with_parent=True))


@main.command()
@database_command
@click.option("-r", "--revision", default="heads", show_default=True,
              help="Revision id, branch label, NAME@head or heads.")
def show(config: Config, revision: str) -> None:
    """Show the revision(s) denoted by a symbol."""
    from janitoo_db import commands

    for info in commands.show(config, revision):
        click.echo(_verbose(info))


@main.command()
@database_command
@click.option("-v", "--verbose", is_flag=True, help="Show each revision's parent, path and description.")
def current(config: Config, verbose: bool) -> None:
    """Show the revisions the database is at."""
    from janitoo_db import commands

    found = commands.current(config)
    if not found:
        click.echo("The database has no revision (base).", err=True)
    for info in found:
        click.echo(_verbose(info) if verbose else _line(info))


@main.command()
@database_command
def versiondb(config: Config) -> None:
    """Print the revision ids stored in the database, one per line."""
    from janitoo_db import commands

    found = commands.versiondb(config)
    if not found:
        click.echo("The database has no revision (base).", err=True)
    for revision in found:
        click.echo(revision)


@main.command()
@database_command
@click.pass_context
def checkdb(ctx: click.Context, config: Config) -> None:
    """Exit 0 when the database is at the head of every branch, 1 otherwise."""
    from janitoo_db import commands

    result = commands.checkdb(config)
    if result.up_to_date:
        click.echo(f"The database is up to date: {', '.join(result.current)}.")
        return
    at = ", ".join(result.current) or "base"
    click.echo(f"The database is not up to date: it is at {at}; missing heads {', '.join(result.pending)}.")
    ctx.exit(1)


@main.command()
@database_command
@click.option("-m", "--message", required=True, help="What the revision does; also names its file.")
@click.option("--head", default="janitoo", show_default=True,
              help="Branch (extension name, or NAME@head) the revision is added to.")
def generate(config: Config, message: str, head: str) -> None:
    """Autogenerate a revision for one extension from the difference between its models and the database."""
    from janitoo_db import commands

    path = commands.generate(config, message, head)
    click.echo(f"Generated {path}")
