"""Two janitoo_db checkouts side by side: ``initdb``, ``initdb`` up to date and ``checkdb``, interleaved.

Run by hand from the project's virtual environment (it is not a test)::

    git archive BEFORE janitoo_db | tar -x -C /tmp/before
    .venv/bin/python bench/compare.py /tmp/before . --runs 9 --backends sqlite,postgresql,mysql

``bench/run.py --janitoo-db DIR`` measures one checkout at a time, minutes
apart: on a shared machine the load changes more than a small cost does.
``--after-env NAME=VALUE`` sets a variable for the second checkout only
(``JANITOO_DB_NO_DESTRUCTIVE=1``: what the checksums and the destructive
check cost together).  Here each run measures both checkouts moments apart, in an order that
alternates from run to run, on the same tree of ``--extensions`` x
``--revisions`` (``bench/make_tree.py``), each on a fresh database (a SQLite
file in ``--work``, a PostgreSQL or MariaDB database ``jnt_bench_*`` dropped afterwards)
and with a revision cache of its own, filled before measuring.  It prints,
for each command, the median wall-clock and CPU seconds of each checkout and
the relative difference of the medians, with the spread of the CPU times.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_tree import make_tree  # noqa: E402
from run import (  # noqa: E402
    DEFAULT_MYSQL,
    DEFAULT_PG,
    JNT_DBMAN,
    SETTLE_SECONDS,
    Databases,
    Sample,
    measured_env,
    rotated,
    run_once,
)

COMMANDS = ("initdb", "initdb (up to date)", "checkdb")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="directory holding the janitoo_db/ package measured first")
    parser.add_argument("after", type=Path, help="directory holding the janitoo_db/ package to compare with it")
    parser.add_argument("--extensions", type=int, default=50)
    parser.add_argument("--revisions", type=int, default=20)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--backends", default="sqlite", help="sqlite, postgresql and/or mysql (MariaDB)")
    parser.add_argument("--postgresql-url", default=DEFAULT_PG)
    parser.add_argument("--mysql-url", default=DEFAULT_MYSQL, help="a MariaDB server's URL, without a database")
    parser.add_argument("--work", type=Path)
    parser.add_argument("--after-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable of the second checkout's runs only, such as "
                             "JANITOO_DB_NO_DESTRUCTIVE=1 (repeatable)")
    args = parser.parse_args(argv)
    work = (args.work or Path(tempfile.mkdtemp(prefix="jnt_bench_"))).resolve()
    site = make_tree(work / "tree", args.extensions, args.revisions)
    sides = {name: measured_env(site, path.resolve(), work / f"cache-{name}")
             for name, path in (("before", args.before), ("after", args.after))}
    for setting in args.after_env:
        name, equals, value = setting.partition("=")
        if not equals:
            parser.error(f"--after-env takes NAME=VALUE, not {setting!r}")
        sides["after"][name] = value
    time.sleep(SETTLE_SECONDS)  # the cache only remembers files that have been still for a while
    for env in sides.values():
        run_once([JNT_DBMAN, "heads"], env, work)
    dbs = Databases(work, args.postgresql_url, args.mysql_url)
    samples: dict[tuple[str, str, str], list[Sample]] = {}
    try:
        for backend in args.backends.split(","):
            for run in range(args.runs):
                for side in rotated(list(sides), run):
                    env, url = sides[side], dbs.new(backend)
                    dbs.settle(backend)
                    for command in COMMANDS:  # a fresh initdb, the same again with nothing to do, checkdb
                        words = ["checkdb"] if command == "checkdb" else ["initdb", "-q"]
                        sample = run_once([JNT_DBMAN, *words, "-u", url], env, work)
                        samples.setdefault((backend, command, side), []).append(sample)
                    dbs.drop(url)
                print(f"{backend} run {run + 1}/{args.runs} done", file=sys.stderr)
    finally:
        dbs.drop_all()
    print(f"{args.extensions} x {args.revisions}, {args.runs} runs; median wall / CPU seconds "
          "(CPU min-max); after against before")
    for backend in args.backends.split(","):
        for command in COMMANDS:
            before, after = samples[(backend, command, "before")], samples[(backend, command, "after")]
            wall = [statistics.median(s.seconds for s in x) for x in (before, after)]
            cpu = [statistics.median(s.cpu for s in x) for x in (before, after)]
            spread = [f"{min(s.cpu for s in x):.3f}-{max(s.cpu for s in x):.3f}" for x in (before, after)]
            print(f"{backend:10} {command:20} before {wall[0]:.3f} / {cpu[0]:.3f} ({spread[0]})  "
                  f"after {wall[1]:.3f} / {cpu[1]:.3f} ({spread[1]})  "
                  f"wall {wall[1] / wall[0] - 1:+.1%}, CPU {cpu[1] / cpu[0] - 1:+.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
