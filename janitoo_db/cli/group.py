"""The ``jnt_dbman`` group: the one place where our errors become a message and an exit code.

Also the options the group itself takes (-u, -c, --debug before the
command), --json, and what ``jnt_dbman --help`` says about exit codes.
"""
from __future__ import annotations

import importlib
import os
import sys
from typing import Any, Callable

import click

from janitoo_db import __version__
from janitoo_db.cli import output
from janitoo_db.defaults import DEFAULT_URL, URL_ENVIRONMENT_VARIABLE
from janitoo_db.errors import JanitooDbError

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


#: The module of janitoo_db.cli that defines each command.  Only the one a command needs is imported:
#: a server start's ``initdb`` loads no authoring code.  tests/test_cli.py checks the table against the modules.
COMMAND_FAMILIES = {
    **dict.fromkeys(("initdb", "upgrade", "downgrade", "stamp", "createdb", "dropdb"), "migrate"),
    **dict.fromkeys(("collect", "version_locations", "heads", "branches", "history", "show", "current",
                     "versiondb", "checkdb", "accept", "check"), "inspect"),
    **dict.fromkeys(("generate", "merge", "squash"), "author"),
    **dict.fromkeys(("adopt", "forget", "repair"), "operate"),
    "graph": "preview",
}


def load_commands(names: Any = None) -> None:
    """Import the modules defining the commands *names* (all of them by default): each adds its commands."""
    for family in sorted({COMMAND_FAMILIES[name] for name in (COMMAND_FAMILIES if names is None else names)
                          if name in COMMAND_FAMILIES}):
        importlib.import_module(f"janitoo_db.cli.{family}")


class JanitooGroup(click.Group):
    """Turns our errors into ``Error: ...`` and an exit code, in one place; loads each command when asked for."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            load_commands([cmd_name])
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        load_commands()
        return super().list_commands(ctx)

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
    from janitoo_db.site.masking import mask_secrets

    message = mask_secrets(message, *ctx.meta.get(URLS_KEY, ()))
    if ctx.meta.get(JSON_KEY):
        output.print_json({**(found or {}), "error": message, "exit_code": exit_code})
    else:
        click.echo(f"Error: {message}", err=True)


def _notice(message: str) -> None:
    """A line about what a command waits for, as it happens: on stderr, passwords hidden like errors."""
    from janitoo_db.site.masking import mask_secrets

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


def _remember_json(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[JSON_KEY] = True
    return value


json_option = click.option("--json", "as_json", is_flag=True, callback=_remember_json,
                           help="Print JSON for scripts instead of text; an error too, on stdout.")


DATABASE_KEY = "janitoo_db.database"


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
  7  upgrade --plan --lint: a pending revision takes a lock
     squawk flags, and its file does not allow it

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
