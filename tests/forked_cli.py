"""Run ``jnt_dbman`` through click's CliRunner in a forked child: the real CLI, with a fresh set of models.

A process imports its extensions' models once (``janitoo_db.models``), so a
test that installs and uninstalls extensions cannot run ``createdb`` or
``dropdb`` in-process: the models of an extension uninstalled since would
still be loaded.  A child forked for each command starts from the test
process as it is (nothing to import again), forgets the models and the
extension packages it was told about, runs the command, and sends back its
exit code and output; whatever it imported dies with it.  POSIX only.
"""
from __future__ import annotations

import os
import pickle
import sys
import traceback
from dataclasses import dataclass
from typing import Iterable

#: Modules a child forgets before running a command, so that the models are loaded afresh.
MODEL_MODULES = ("janitoo_db.base", "janitoo_db.models", "acme_sensors", "janitoo_template")


@dataclass(frozen=True)
class Outcome:
    """What one command did: its exit code and output, and a traceback when it crashed in the test's own code."""

    args: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str
    crash: str | None = None


def _forget(packages: Iterable[str]) -> None:
    prefixes = tuple(MODEL_MODULES) + tuple(packages)
    for name in list(sys.modules):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            del sys.modules[name]
    from janitoo_db.site.extensions import _version_dir

    _version_dir.cache_clear()


def _child(args: list[str], packages: Iterable[str], env: dict[str, str] | None) -> Outcome:
    from click.testing import CliRunner

    _forget(packages)
    from janitoo_db.cli import main

    result = CliRunner().invoke(main, args, env=env, catch_exceptions=True, prog_name="jnt_dbman")
    crash = None
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        crash = "".join(traceback.format_exception(*result.exc_info)) if result.exc_info else repr(result.exception)
    return Outcome(tuple(args), result.exit_code, result.stdout, result.stderr, crash)


def warm_up(directory: str) -> None:
    """Run the commands once in this process, so that each child finds what they import already imported.

    Against a scratch SQLite database, with the extensions always installed:
    otherwise each forked command would import Alembic and SQLAlchemy again.
    """
    from click.testing import CliRunner

    from janitoo_db.cli import main

    url = f"sqlite:///{directory}/warm-up.sqlite"
    for args in (["initdb", "-q"], ["checkdb", "--json"], ["upgrade", "--plan", "--json"],
                 ["downgrade", "--plan", "--json", "acme_sensors@-1"], ["adopt", "--yes"],
                 ["forget", "gone", "--drop-tables", "--yes"], ["createdb"], ["dropdb", "--yes"],
                 ["createdb"], ["downgrade", "-q", "--yes", "acme_sensors@-1"]):
        CliRunner().invoke(main, [*args, "-u", url], catch_exceptions=True)


def run(args: list[str], packages: Iterable[str] = (), env: dict[str, str] | None = None) -> Outcome:
    """Run ``jnt_dbman ARGS`` in a forked child that forgot the models and *packages*; wait for it."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into the test runner
        os.close(read)
        try:
            payload = pickle.dumps(_child(args, list(packages), env))
        except BaseException:  # noqa: BLE001 - reported to the parent, which fails the test
            payload = pickle.dumps(Outcome(tuple(args), -1, "", "", traceback.format_exc()))
        with os.fdopen(write, "wb") as pipe:
            pipe.write(payload)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        payload = pipe.read()
    os.waitpid(pid, 0)
    if not payload:
        return Outcome(tuple(args), -1, "", "", "the child died without an answer")
    outcome: Outcome = pickle.loads(payload)
    return outcome
