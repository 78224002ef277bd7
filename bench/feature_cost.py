"""What the checksums of applied revisions and the destructive-step check cost inside one ``initdb``.

Run by hand from the project's virtual environment (it is not a test)::

    .venv/bin/python bench/feature_cost.py --runs 11

Whole-process comparisons (``bench/compare.py``) measure a few per cent
through the noise of a shared machine, where two runs of the same command
differ by more.  This times, inside the process, the work each feature adds
to an ``initdb`` of a fresh SQLite database with ``--no-destructive`` on a tree
of ``--extensions`` x ``--revisions`` (``bench/make_tree.py``), run after run:

* checksums: :func:`janitoo_db.runtime.checksums.record` (hashing what each revision
  ran from and writing the rows) and the MySQL-only per-revision recording;
* the destructive check: :func:`janitoo_db.guard.destructive.examine` (the dry runs)
  and :func:`janitoo_db.guard.destructive.counted` (row counts, when something is
  at stake).  Working out the steps is not counted: Alembic takes them as they
  are instead of working them out again;
* the same check at the connection (:mod:`janitoo_db.guard.sql_guard`): judging
  each statement the revisions send, as it is sent.

It prints the median of each, and its share of the median ``jnt_dbman
initdb -q --no-destructive`` command on the same tree (run as a process, as
a server runs it) and of the part of it that runs inside the process.
"""
from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_tree import make_tree  # noqa: E402
from run import JNT_DBMAN  # noqa: E402


def timed(module: Any, name: str, into: list[float]) -> None:
    """Replace *module.name* by a wrapper adding its time to *into*."""
    original: Callable[..., Any] = getattr(module, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            into.append(time.perf_counter() - start)

    setattr(module, name, wrapper)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extensions", type=int, default=50)
    parser.add_argument("--revisions", type=int, default=20)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--work", type=Path)
    args = parser.parse_args(argv)
    work = (args.work or Path(tempfile.mkdtemp(prefix="jnt_cost_"))).resolve()
    site = make_tree(work / "tree", args.extensions, args.revisions)
    sys.path.insert(0, str(site))
    os.environ["JANITOO_DB_CACHE_DIR"] = str(work / "cache")

    from janitoo_db import commands
    from janitoo_db.config import alembic_config
    from janitoo_db.guard import destructive, sql_guard
    from janitoo_db.runtime import checksums

    spent: dict[str, list[float]] = {"checksums": [], "destructive": [], "connection": []}
    timed(checksums, "record", spent["checksums"])
    timed(destructive, "examine", spent["destructive"])
    timed(destructive, "counted", spent["destructive"])
    timed(sql_guard._Watch, "check", spent["connection"])
    totals, items = [], {name: [] for name in spent}  # type: ignore[var-annotated]
    for run in range(args.runs + 1):  # the first run fills the revision cache and is not counted
        database = work / f"run{run}.sqlite"
        config = alembic_config(f"sqlite:///{database}")
        for into in spent.values():
            into.clear()
        start = time.perf_counter()
        commands.initdb(config, no_destructive=True)
        total = time.perf_counter() - start
        config.attributes["engine"].dispose()
        database.unlink()
        if run:
            totals.append(total)
            for name, into in spent.items():
                items[name].append(sum(into))
    median = statistics.median(totals)
    command = statistics.median(command_seconds(work, site, args.runs))
    print(f"{args.extensions} x {args.revisions}, {args.runs} runs of initdb --no-destructive on SQLite: "
          f"median {median * 1000:.0f} ms inside one process, {command * 1000:.0f} ms for the jnt_dbman command")
    for name, values in [*items.items(), ("together", [sum(values) for values in zip(*items.values(), strict=True)])]:
        cost = statistics.median(values)
        print(f"  {name:12} {cost * 1000:6.1f} ms: {cost / command:5.1%} of the command "
              f"({cost / median:5.1%} of the part inside the process)")
    print("  target: under 5 % of initdb")
    return 0


def command_seconds(work: Path, site: Path, runs: int) -> list[float]:
    """Wall-clock seconds of the real ``jnt_dbman initdb -q --no-destructive``, each on a fresh database."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    seconds = []
    for run in range(runs):
        database = work / f"command{run}.sqlite"
        start = time.perf_counter()
        subprocess.run([JNT_DBMAN, "initdb", "-q", "--no-destructive", "-u", f"sqlite:///{database}"], env=env,
                       check=True, cwd=work)
        seconds.append(time.perf_counter() - start)
        database.unlink()
    return seconds


if __name__ == "__main__":
    sys.exit(main())
