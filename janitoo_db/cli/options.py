"""Options and wrappers the commands of several families share.

:func:`database_command` and :func:`reading_command` turn -u/-c into the
Site a command receives; the rest are options that mean the same
wherever they appear.
"""
from __future__ import annotations

import functools
import math
import sys
from typing import TYPE_CHECKING, Any, Callable

import click

from janitoo_db.cli.group import (
    DATABASE_KEY,
    URLS_KEY,
    _conf_file_option,
    _notice,
    _url_option,
    debug_option,
)

if TYPE_CHECKING:
    from janitoo_db.site import Site


#: The branch generate --head names: it may have no revisions yet (generate then writes its root).
NEW_BRANCH_KEY = "janitoo_db.new_branch"


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
        from janitoo_db.site import Site
        from janitoo_db.site.conf import resolve_url

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


#: How many lines of a list (orphaned heads...) the text output shows; --json shows them all.
SHOWN = 8
IN_CURRENT = "'jnt_dbman current'"


def _confirm_dropping(site: Site, yes: bool, refusal: str, question: str) -> None:
    """Ask before a command removes every janitoo table; without a terminal, only --yes will do.

    *refusal* and *question* name the database as ``{where}`` (its password hidden).
    """
    from janitoo_db.site.engine import hide_password

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
