"""jnt_dbman: the command line over :mod:`janitoo_db.commands`.

Each command only gathers its options, calls one function and prints the
result.  Errors of ours become one line on stderr and an exit code in
:meth:`~janitoo_db.cli.group.JanitooGroup.invoke`; nothing here imports
SQLAlchemy or Alembic until a command needs them, so ``--help`` and
``--version`` stay fast.

The commands live by family: :mod:`~janitoo_db.cli.migrate` changes the
database, :mod:`~janitoo_db.cli.inspect` reads it and the revisions,
:mod:`~janitoo_db.cli.author` writes revision files and
:mod:`~janitoo_db.cli.operate` mends a database in an unusual state.  Importing
one is what adds its commands to the group.  ``jnt_dbman`` imports only the
family of the command it runs; ``janitoo_db.cli.main`` (for click's
``CliRunner``, sphinx-click, a program of its own) comes with every command.
"""
from __future__ import annotations

import gc
import sys
from typing import Any

__all__ = ["main", "run"]


def __getattr__(name: str) -> Any:
    if name == "main":
        from janitoo_db.cli import group

        group.load_commands()
        return group.main
    raise AttributeError(f"module 'janitoo_db.cli' has no attribute {name!r}")


def run() -> None:
    """The ``jnt_dbman`` console script: :func:`main`, then an exit that skips needless work.

    A server start at every head is answered first, without click
    (:mod:`janitoo_db.cli.starting`).

    At exit the interpreter's garbage collector walks every object still
    alive: a thousand revision modules, SQLAlchemy's and Alembic's caches.
    That is a tenth of a second (bench/run.py) spent on memory the operating
    system is about to take back, so the objects are frozen out of its reach
    first; atexit handlers, flushing and the rest of the shutdown still run.
    """
    from janitoo_db.cli.starting import answered_at_every_head

    try:
        if not answered_at_every_head(sys.argv[1:]):
            from janitoo_db.cli import group

            group.main()
    finally:
        gc.freeze()
