"""What one checkout's ``initdb`` of the core branch and janitoo_template costs on MariaDB, beside another's.

Run by hand from the project's virtual environment (it is not a test)::

    git archive BEFORE janitoo_db | tar -x -C /tmp/before
    .venv/bin/python bench/mariadb_initdb.py /tmp/before . --runs 9

Each run makes a fresh database for each checkout, in an order that
alternates from run to run, and times ``Config(url).initdb()`` in a process
of its own (imports and revision loading excluded).  It prints the median
seconds of each checkout and their relative difference.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import uuid
from pathlib import Path

import sqlalchemy as sa

TIMED = """
import sys, time
from janitoo_db.migrate import Config
import janitoo_db
assert janitoo_db.__file__.startswith(sys.argv[2]), janitoo_db.__file__
config = Config(url=sys.argv[1])
config.heads()  # loads the revisions, outside the measure
start = time.perf_counter()
config.initdb()
print(time.perf_counter() - start)
"""


def once(checkout: Path, server: str) -> float:
    name = f"jnt_bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(server)
    with engine.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        env = dict(os.environ, PYTHONPATH=str(checkout.resolve()))
        done = subprocess.run([sys.executable, "-c", TIMED, f"{server}{name}", str(checkout.resolve())], env=env,
                              cwd=checkout,
                              capture_output=True, text=True, check=True)
        return float(done.stdout.split()[-1])
    finally:
        with engine.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE {name}")
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--server", default="mysql+pymysql://root@127.0.0.1:3306/")
    args = parser.parse_args(argv)
    times: dict[Path, list[float]] = {args.before: [], args.after: []}
    for run in range(args.runs):
        for checkout in ((args.before, args.after) if run % 2 == 0 else (args.after, args.before)):
            times[checkout].append(once(checkout, args.server))
    before, after = (statistics.median(times[c]) for c in (args.before, args.after))
    print(f"before {before:.3f} s, after {after:.3f} s (median of {args.runs}): {(after - before) / before:+.1%}")
    print("before runs:", " ".join(f"{t:.3f}" for t in times[args.before]))
    print("after runs: ", " ".join(f"{t:.3f}" for t in times[args.after]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
