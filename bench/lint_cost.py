"""What ``--lint`` adds to ``jnt_dbman upgrade --plan`` on PostgreSQL, at N extensions x K revisions.

Run by hand from the project's virtual environment (it is not a test), with
PostgreSQL on 127.0.0.1:5432 and squawk installed (``pip install -e '.[lint]'``)::

    .venv/bin/python bench/lint_cost.py --extensions 50 --runs 5

It writes the tree of ``bench/make_tree.py``, makes an empty database
(every revision pending), and times ``upgrade --plan`` and ``upgrade --plan
--lint`` as fresh processes, taking turns, with the revision cache filled by
one earlier command.  It prints the medians (min-max), the difference, and
how many findings the plan had.  The database is dropped at the end.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_tree import make_tree  # noqa: E402

JNT_DBMAN = str(Path(sys.executable).with_name("jnt_dbman"))


def timed(command: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    return time.perf_counter() - start, done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extensions", type=int, default=50)
    parser.add_argument("--revisions", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--server", default="postgresql+psycopg://postgres@127.0.0.1:5432/")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="jnt_bench_"))
    site = make_tree(work / "tree", args.extensions, args.revisions)
    env = dict(os.environ, PYTHONPATH=str(site), JANITOO_DB_CACHE_DIR=str(work / "cache"))
    name = f"jnt_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(args.server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    url = f"{args.server}{name}"
    plan = [JNT_DBMAN, "upgrade", "--plan", "-u", url]
    commands = {"upgrade --plan": plan, "upgrade --plan --lint": [*plan, "--lint"]}
    times: dict[str, list[float]] = {label: [] for label in commands}
    findings = 0
    try:
        subprocess.run(plan, capture_output=True, text=True, env=env, check=True)  # fills the revision cache
        load = os.getloadavg()[0]
        for run in range(args.runs):
            for label in (list(commands) if run % 2 == 0 else list(reversed(commands))):
                seconds, done = timed(commands[label], env)
                if done.returncode not in (0, 7):
                    raise SystemExit(f"{label} failed ({done.returncode}): {done.stderr.strip()}")
                times[label].append(seconds)
                findings = done.stdout.count("\n  lock: ") if "--lint" in commands[label] else findings
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()
    total = args.extensions * args.revisions + 6
    print(f"{args.extensions} x {args.revisions} ({total} revisions, all pending), PostgreSQL, {args.runs} runs each, "
          f"load average {load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end")
    medians = {}
    for label, measured in times.items():
        medians[label] = statistics.median(measured)
        print(f"  {label:24} {medians[label]:.3f} s ({min(measured):.3f}-{max(measured):.3f})")
    plain, linted = medians.values()
    print(f"  --lint adds {linted - plain:.3f} s ({(linted - plain) / plain:+.0%}); {findings} findings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
