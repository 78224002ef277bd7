"""jnt_dbman against the floor: the same SQL replayed by the database's own client, side by side.

Run by hand from the project's virtual environment (it is not a test)::

    .venv/bin/python bench/floor.py                          # 10 and 50 extensions, all three databases
    .venv/bin/python bench/floor.py --sizes 10,50,100,200 --backends sqlite
    .venv/bin/python bench/floor.py --rst docs/_generated/floor.rst --json floor.json

The floor of a migration is what the database itself needs to build the
schema: the SQL that ``jnt_dbman upgrade --sql`` prints for the tree (offline
mode: the database is not touched), replayed in one transaction by the
database's own client.  For each size (``bench/make_tree.py``: N extensions of
``--revisions`` each, plus the core branch and janitoo_template) and backend it
measures, each on a fresh database:

* ``jnt_dbman initdb -q``;
* the floor: on SQLite the ``sqlite3`` command-line shell reading the script
  between ``BEGIN`` and ``COMMIT``, and Python's own ``sqlite3`` module running
  it with ``executescript`` in one transaction; on PostgreSQL ``psql -1 -f``
  (the script already holds its ``BEGIN`` and ``COMMIT``); on MariaDB the
  ``mariadb`` client sourcing the script (MariaDB commits each DDL statement
  anyway);
* at ``--target-size``, stock Alembic's ``alembic upgrade heads`` on the same
  revision files (the set-up of ``bench/run.py``), unless ``--no-stock``.

The floor's SQL is what jnt_dbman's revisions say; it leaves out jnt_dbman's
own bookkeeping tables (``janitoo_db_*``: tables per branch, branch tips,
checksums).  The first run of each size and backend checks that the floor
built the same tables as ``initdb`` apart from those, and the same
``alembic_version`` rows.

On SQLite, at every size, a database already at every head then gets the
no-op commands, against the no-op floor: a Python process that imports
``sqlite3`` and reads ``alembic_version`` once (the same interpreter, started
the same way):

* ``jnt_dbman initdb -q`` with nothing to do, ``jnt_dbman checkdb``;
* ``python -c 'import sqlite3; ... SELECT version_num FROM alembic_version'``.

Every command is a fresh process, timed by ``bench/run.py``'s launcher (wall
time, CPU time, peak memory).  Within each run the commands of a group take
turns in a rotating order; before each command on a fresh database the disk
is synced (and PostgreSQL checkpointed).  Each figure is the median over
``--runs`` runs (at ``--target-size``; ``--growth-runs`` at the other sizes),
with the fastest and slowest in brackets; ratios are medians over the floor's
median.  The load average is printed at the start and the end.  Growth shows
``initdb``'s milliseconds per revision, on average and between consecutive
sizes.  A command that fails (PostgreSQL's lock table at 200 x 20 in one
transaction, say) is recorded as failed and the run goes on.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_tree import make_tree  # noqa: E402
from run import (  # noqa: E402
    ALEMBIC,
    DEFAULT_MYSQL,
    DEFAULT_PG,
    FIXED_REVISIONS,
    JNT_DBMAN,
    SETTLE_SECONDS,
    CommandFailed,
    Databases,
    Sample,
    add_tree_options,
    git_state,
    measured_env,
    rotated,
    run_once,
    schema_of,
    stock_ini_text,
    write_stock_dir,
    write_stock_ini,
)
from run import Result as MeasuredResult  # noqa: E402

INITDB = "jnt_dbman initdb"
STOCK = "alembic upgrade heads"
NOOP_INITDB = "jnt_dbman initdb (up to date)"
CHECKDB = "jnt_dbman checkdb"
NOOP_FLOOR = "python + sqlite3 SELECT"
FLOORS = {
    "sqlite": ["sqlite3 shell", "python sqlite3 executescript"],
    "postgresql": ["psql -1 -f"],
    "mysql": ["mariadb client"],
}
BACKEND_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MariaDB"}
#: jnt_dbman's bookkeeping, which the offline SQL of the revisions does not hold.
OWN_PREFIX = "janitoo_db_"

EXECUTESCRIPT = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
with open(sys.argv[2]) as script:
    connection.executescript("BEGIN;\\n" + script.read() + "\\nCOMMIT;\\n")
connection.close()
"""
NOOP = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1])
connection.execute("SELECT version_num FROM alembic_version").fetchall()
connection.close()
"""


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found on PATH: the floor needs the database's own client")
    return found


def floor_argv(command: str, url: str, script: Path) -> list[str]:
    """The command line that replays *script* on *url* with the database's own client."""
    from sqlalchemy.engine import make_url

    if command == "sqlite3 shell":
        wrapped = script.with_suffix(".transaction.sql")
        if not wrapped.exists():
            wrapped.write_text("BEGIN;\n" + script.read_text() + "\nCOMMIT;\n")
        return [tool("sqlite3"), "-bail", url.removeprefix("sqlite:///"), f".read {wrapped}"]
    if command == "python sqlite3 executescript":
        return [sys.executable, "-c", EXECUTESCRIPT, url.removeprefix("sqlite:///"), str(script)]
    parsed = make_url(url)
    if command == "psql -1 -f":
        return [tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-h", parsed.host or "127.0.0.1",
                "-p", str(parsed.port or 5432), "-U", parsed.username or "postgres", "-d", str(parsed.database),
                "-f", str(script)]
    if command == "mariadb client":
        argv = [tool("mariadb"), "--batch", "-h", parsed.host or "127.0.0.1", "-P", str(parsed.port or 3306),
                "-u", parsed.username or "root"]
        if parsed.password:
            argv.append(f"--password={parsed.password}")
        return [*argv, str(parsed.database), "-e", f"source {script}"]
    raise ValueError(command)


@dataclass
class Result(MeasuredResult):
    """run.py's result, with the runs that failed: left out of the medians, which are None when all failed."""

    failures: int = 0

    def median(self) -> float | None:  # type: ignore[override]
        return super().median() if self.samples else None

    def cpu(self) -> float | None:  # type: ignore[override]
        return super().cpu() if self.samples else None

    def cpu_cell(self) -> str:
        cpu = self.cpu()
        return "failed" if cpu is None else f"{cpu:.3f}"

    def cell(self) -> str:
        if not self.samples:
            return "failed"
        values = [s.seconds for s in self.samples]
        text = f"{self.median():.3f} ({min(values):.3f}-{max(values):.3f})"
        return text + (f", {self.failures} failed" if self.failures else "")


class Floor:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work: Path = args.work
        (self.work / "db").mkdir(parents=True, exist_ok=True)
        self.dbs = Databases(self.work / "db", args.postgresql_url, args.mysql_url)
        self.results: dict[tuple[str, int, str], Result] = {}
        self.failures: list[str] = []
        self.checks: list[str] = []

    @staticmethod
    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def result(self, backend: str, size: int, revisions: int, command: str) -> Result:
        return self.results.setdefault((backend, size, command), Result(backend, size, revisions, command))

    def measure(self, backend: str, size: int, revisions: int, command: str, argv: list[str],
                env: dict[str, str], run: int) -> bool:
        result = self.result(backend, size, revisions, command)
        try:
            result.samples.append(run_once(argv, env, self.work))
            return True
        except CommandFailed as failure:
            result.failures += 1
            self.failures.append(f"{BACKEND_NAMES[backend]}, {size} x {self.args.revisions}, run {run + 1}: "
                                 f"{command} failed: {failure.reason}")
            self.log(f"    {self.failures[-1]}")
            return False

    def size(self, size: int) -> None:
        k = self.args.revisions
        revisions = size * k + sum(FIXED_REVISIONS.values())
        runs = self.args.runs if size == self.args.target_size else self.args.growth_runs
        tree = self.work / f"tree_{size}x{k}"
        self.log(f"size {size} x {k} ({revisions} revisions): {tree}")
        site = make_tree(tree, size, k)
        env = measured_env(site, self.args.janitoo_db, self.work / "revision-cache")
        time.sleep(SETTLE_SECONDS)  # the revision cache only remembers files still for a while
        run_once([JNT_DBMAN, "heads"], env, self.work)
        stock_template = None
        if size == self.args.target_size and not self.args.no_stock:
            done = subprocess.run([JNT_DBMAN, "version_locations", "-u", "sqlite://"], capture_output=True,
                                  text=True, env=env, check=True)
            stock = tree / "stock"
            write_stock_dir(stock)
            stock_template = (stock, stock_ini_text(stock, done.stdout.strip().removeprefix("version_locations = ")))
        for backend in self.args.backends:
            if size > self.args.up_to.get(backend, size):
                continue
            self.backend(backend, size, revisions, runs, env, stock_template)
            if backend == "sqlite":
                self.noop(size, revisions, runs, env)

    def script(self, backend: str, size: int, url: str, env: dict[str, str]) -> Path:
        """The SQL ``jnt_dbman upgrade --sql`` prints for *backend* (offline: nothing is touched)."""
        path = self.work / f"floor_{backend}_{size}.sql"
        with path.open("w") as out:
            subprocess.run([JNT_DBMAN, "upgrade", "--sql", "-u", url], stdout=out, env=env, check=True,
                           cwd=self.work)
        return path

    def backend(self, backend: str, size: int, revisions: int, runs: int, env: dict[str, str],
                stock: tuple[Path, str] | None) -> None:
        probe = self.dbs.new(backend)
        script = self.script(backend, size, probe, env)
        self.dbs.drop(probe)
        commands = [INITDB, *FLOORS[backend]] + ([STOCK] if stock else [])
        self.log(f"  {backend}: {' / '.join(commands)} x{runs}, each on a fresh database")
        for run in range(runs):
            urls: dict[str, str] = {}
            done = []
            for command in rotated(commands, run):
                url = urls[command] = self.dbs.new(backend)
                self.dbs.settle(backend)
                ini = None
                if command == INITDB:
                    argv = [JNT_DBMAN, "initdb", "-q", "-u", url]
                elif command == STOCK and stock:
                    ini = write_stock_ini(stock[1], stock[0], url)
                    argv = [ALEMBIC, "-c", str(ini), "upgrade", "heads"]
                else:
                    argv = floor_argv(command, url, script)
                ok = self.measure(backend, size, revisions, command, argv, env, run)
                done.append(f"{command} " + (f"{self.results[(backend, size, command)].samples[-1].seconds:.2f}s"
                                             if ok else "FAILED"))
                if ini is not None:
                    ini.unlink()
                if not ok:
                    urls.pop(command)
                    self.dbs.drop(url)
            if run == 0:
                self.verify(backend, size, urls)
            for url in urls.values():
                self.dbs.drop(url)
            self.log(f"    run {run + 1}: " + ", ".join(done))

    def verify(self, backend: str, size: int, urls: dict[str, str]) -> None:
        """Check once per size that each floor built initdb's tables (bookkeeping aside) and versions."""
        if INITDB not in urls:
            self.checks.append(f"{BACKEND_NAMES[backend]} {size} x {self.args.revisions}: not checked "
                               "(initdb failed)")
            return
        ours = schema_of(urls[INITDB])
        tables = {t for t in ours["tables"] if not t.startswith(OWN_PREFIX)}
        own = len(ours["tables"]) - len(tables)
        for command in FLOORS[backend]:
            if command not in urls:
                continue
            floor = schema_of(urls[command])
            if set(floor["tables"]) != tables or floor["versions"] != ours["versions"]:
                raise SystemExit(f"benchmark aborted: {command} and initdb built different databases at {size}: "
                                 f"tables only in initdb {sorted(tables - set(floor['tables']))[:5]}, only in "
                                 f"the floor {sorted(set(floor['tables']) - tables)[:5]}; "
                                 f"{len(floor['versions'])} against {len(ours['versions'])} versions")
        floors = ", ".join(c for c in FLOORS[backend] if c in urls)
        compared = f"the same for initdb and {floors}" if floors else "initdb's alone (every floor failed)"
        line = (f"{BACKEND_NAMES[backend]} {size} x {self.args.revisions}: {len(tables)} tables "
                f"(alembic_version included) and {len(ours['versions'])} alembic_version rows, {compared}; "
                f"initdb adds {own} {OWN_PREFIX}* tables of its own")
        self.checks.append(line)
        self.log(f"    verified: {line}")

    def noop(self, size: int, revisions: int, runs: int, env: dict[str, str]) -> None:
        url = self.dbs.new("sqlite")
        try:
            run_once([JNT_DBMAN, "initdb", "-q", "-u", url], env, self.work)
        except CommandFailed as failure:
            self.failures.append(f"SQLite, {size} x {self.args.revisions}: no database at heads, no-op not "
                                 f"measured: {failure.reason}")
            return
        path = url.removeprefix("sqlite:///")
        commands = {NOOP_INITDB: [JNT_DBMAN, "initdb", "-q", "-u", url],
                    CHECKDB: [JNT_DBMAN, "checkdb", "-u", url],
                    NOOP_FLOOR: [sys.executable, "-c", NOOP, path]}
        noop_runs = max(runs, self.args.noop_runs)
        self.log(f"  sqlite no-op: {' / '.join(commands)} x{noop_runs}")
        for run in range(noop_runs):
            for command in rotated(list(commands), run):
                self.measure("sqlite", size, revisions, command, commands[command], env, run)
        self.dbs.drop(url)


# -- report ---------------------------------------------------------------------

def ratio(a: Result | None, b: Result | None) -> str:
    if a is None or b is None or a.median() is None or b.median() is None:
        return "failed" if a is not None and b is not None else "\u2013"
    return f"{a.median() / b.median():.2f}"


def tables(bench: Floor) -> list[tuple[str, list[str], list[list[str]]]]:
    """The report as (title, header, rows): the same for the plain text and the RST."""
    args, results = bench.args, bench.results
    out = []
    rows = []
    for backend in args.backends:
        for size in args.sizes:
            initdb = results.get((backend, size, INITDB))
            if initdb is None:
                continue
            floor = results.get((backend, size, FLOORS[backend][0]))
            stock = results.get((backend, size, STOCK))
            for command in [INITDB, *FLOORS[backend]] + ([STOCK] if stock else []):
                result = results.get((backend, size, command))
                if result is None:
                    continue
                rows.append([BACKEND_NAMES[backend], f"{size} x {args.revisions} ({initdb.revisions})",
                             command, result.cell(), result.cpu_cell(), ratio(result, floor),
                             ratio(initdb, result) if command != INITDB else "\u2013"])
    out.append(("initdb on a fresh database against the floor: median wall-clock seconds (min-max), "
                "median CPU seconds of the client process",
                ["Database", "Extensions x revisions (total)", "Command", "Seconds", "CPU seconds",
                 "Over the floor", "initdb over it"], rows))
    rows = []
    for size in args.sizes:
        floor = results.get(("sqlite", size, NOOP_FLOOR))
        for command in (NOOP_INITDB, CHECKDB, NOOP_FLOOR):
            result = results.get(("sqlite", size, command))
            if result is not None:
                rows.append(["SQLite", f"{size} x {args.revisions} ({result.revisions})", command, result.cell(),
                             result.cpu_cell(), ratio(result, floor)])
    if rows:
        out.append(("A start with nothing to do against Python reading alembic_version with sqlite3: "
                    "median wall-clock seconds (min-max), median CPU seconds",
                    ["Database", "Extensions x revisions (total)", "Command", "Seconds", "CPU seconds",
                     "Over the floor"], rows))
    rows = []
    for backend in args.backends:
        for command in [INITDB, FLOORS[backend][0]]:
            points = [results[(backend, s, command)] for s in args.sizes if (backend, s, command) in results]
            if len(points) < 2:
                continue
            per = [f"{p.median() / p.revisions * 1000:.2f}" if p.median() is not None else "failed"
                   for p in points]
            slopes = []
            for a, b in pairwise(points):
                ma, mb = a.median(), b.median()
                slopes.append("failed" if ma is None or mb is None
                              else f"{(mb - ma) / (b.revisions - a.revisions) * 1000:.2f}")
            rows.append([BACKEND_NAMES[backend], command,
                         ", ".join(f"{p.size}: {v}" for p, v in zip(points, per, strict=True)),
                         ", ".join(f"{a.size} to {b.size}: {v}"
                                   for (a, b), v in zip(pairwise(points), slopes, strict=True))])
    if rows:
        out.append(("Growth: milliseconds of wall-clock time per revision, on average at each size and "
                    "between consecutive sizes (about equal when linear)",
                    ["Database", "Command", "Average per revision", "Between sizes"], rows))
    return out


def print_report(bench: Floor, info: list[str]) -> None:
    for line in info:
        print(line)
    for title, header, rows in tables(bench):
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        print()
        print(title)
        print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
        print("  ".join("-" * w for w in widths))
        for row in rows:
            print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    print()
    for line in bench.checks:
        print(f"checked: {line}")
    for line in bench.failures:
        print(f"failed: {line}")


def write_rst(path: Path, bench: Floor, info: list[str]) -> None:
    """The tables as RST list-tables, with the machine lines above them, to include in the docs."""
    def cells(values: list[str]) -> list[str]:
        return [f"   * - {values[0]}"] + [f"     - {v}" for v in values[1:]]

    out = [".. Written by bench/floor.py --rst; do not edit by hand.", ""]
    out += [f"* {line}" for line in info] + [""]
    for title, header, rows in tables(bench):
        out += [f".. list-table:: {title}", "   :header-rows: 1", "", *cells(header)]
        for row in rows:
            out += cells([f"``{c}``" if c in (INITDB, CHECKDB, NOOP_INITDB, STOCK, *sum(FLOORS.values(), []),
                                               NOOP_FLOOR) else c for c in row])
        out.append("")
    if bench.checks:
        out += ["Checked in the first run of each size:", ""] + [f"* {line}" for line in bench.checks] + [""]
    if bench.failures:
        out += ["Failed runs, left out of the medians:", ""] + [f"* {line}" for line in bench.failures] + [""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out))


def machine(args: argparse.Namespace, load: float) -> list[str]:
    import sqlite3
    from importlib.metadata import version

    env = measured_env(None, args.janitoo_db)
    found = subprocess.run([sys.executable, "-c", "import janitoo_db; print(janitoo_db.__file__)"],
                           capture_output=True, text=True, env=env, cwd=args.work).stdout.strip()
    root = Path(found).parent.parent
    clients = []
    for name in ("sqlite3", "psql", "mariadb"):
        if shutil.which(name):
            line = subprocess.run([name, "--version"], capture_output=True, text=True).stdout
            found_version = re.search(r"[\d.]+-MariaDB", line) or re.search(r"\d+\.\d+(\.\d+)?", line)
            clients.append(f"{name} {found_version.group(0) if found_version else '?'}")
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return [f"janitoo_db from {root / 'janitoo_db'} at {git_state(root)}",
            f"{cpu}, nproc {len(os.sched_getaffinity(0))}; load average at the start {load:.2f}",
            f"Python {platform.python_version()}, SQLAlchemy {version('sqlalchemy')}, Alembic {version('alembic')}, "
            f"SQLite library {sqlite3.sqlite_version}; clients: {'; '.join(clients)}"]


def dump_json(path: Path, bench: Floor, info: list[str]) -> None:
    path.write_text(json.dumps({
        "machine": info, "arguments": {k: str(v) for k, v in vars(bench.args).items()},
        "checks": bench.checks, "failures": bench.failures,
        "results": [{"backend": r.backend, "extensions": r.size, "revisions": r.revisions, "command": r.command,
                     "failures": r.failures, "samples": [s.__dict__ for s in r.samples]}
                    for r in bench.results.values()]}, indent=1))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_tree_options(parser, "10,50")
    parser.add_argument("--noop-runs", type=int, default=7, help="at least this many runs of the no-op commands")
    parser.add_argument("--backends", default="sqlite,postgresql,mysql", help="sqlite, postgresql and/or mysql")
    parser.add_argument("--up-to", action="append", default=[], metavar="BACKEND=SIZE",
                        help="measure BACKEND only up to SIZE extensions, e.g. mysql=50 (repeatable)")
    parser.add_argument("--no-stock", action="store_true", help="leave out stock Alembic at the target size")
    parser.add_argument("--postgresql-url", default=DEFAULT_PG, help="admin URL of the PostgreSQL server")
    parser.add_argument("--mysql-url", default=DEFAULT_MYSQL, help="URL of the MariaDB server, no database")
    parser.add_argument("--work", type=Path, help="directory for the trees, scripts, cache and SQLite files")
    parser.add_argument("--janitoo-db", type=Path, metavar="DIR",
                        help="measure the janitoo_db package in DIR (a checkout holding janitoo_db/)")
    parser.add_argument("--keep", action="store_true", help="keep --work afterwards")
    parser.add_argument("--rst", type=Path, help="write the tables as RST list-tables here")
    parser.add_argument("--json", type=Path, help="write every measurement here")
    parser.add_argument("--from-json", type=Path, metavar="FILE",
                        help="measure nothing: print (and --rst) the report of a run saved with --json")
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.backends = [b for b in args.backends.split(",") if b]
    for backend in args.backends:
        if backend not in FLOORS:
            parser.error(f"unknown backend {backend!r}")
    limits = [item.partition("=") for item in args.up_to]
    if any(not sep or name not in FLOORS or not size.isdigit() for name, sep, size in limits):
        parser.error(f"--up-to takes BACKEND=SIZE, not {args.up_to}")
    args.up_to = {name: int(size) for name, _, size in limits}
    if args.janitoo_db is not None:
        args.janitoo_db = args.janitoo_db.resolve()
        if not (args.janitoo_db / "janitoo_db" / "__init__.py").is_file():
            parser.error(f"--janitoo-db {args.janitoo_db} holds no janitoo_db package")
    return args


def report_saved(args: argparse.Namespace) -> int:
    """Print (and write as RST) the report of a run saved with --json."""
    saved = json.loads(args.from_json.read_text())
    for name in ("sizes", "backends"):
        setattr(args, name, json.loads(saved["arguments"][name].replace("'", '"')))
    for name in ("revisions", "target_size"):
        setattr(args, name, int(saved["arguments"][name]))
    bench = Floor.__new__(Floor)
    bench.args, bench.checks, bench.failures, bench.results = args, saved["checks"], saved["failures"], {}
    for item in saved["results"]:
        result = Result(item["backend"], item["extensions"], item["revisions"], item["command"],
                        [Sample(**sample) for sample in item["samples"]], item["failures"])
        bench.results[(result.backend, result.size, result.command)] = result
    print_report(bench, saved["machine"])
    if args.rst:
        write_rst(args.rst, bench, saved["machine"])
        print(f"wrote {args.rst}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_json:
        return report_saved(args)
    args.work = (args.work or Path(tempfile.mkdtemp(prefix="jnt_bench_"))).resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    info = machine(args, os.getloadavg()[0])
    bench = Floor(args)
    try:
        for size in args.sizes:
            bench.size(size)
            if args.json:  # kept as the run goes, should a later size stop it
                dump_json(args.json, bench, info)
    finally:
        bench.dbs.drop_all()
        if not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)
    info.append(f"{', '.join(map(str, args.sizes))} extensions x {args.revisions} revisions; {args.runs} runs at "
                f"{args.target_size}, {args.growth_runs} at the other sizes; load average at the end "
                f"{os.getloadavg()[0]:.2f}; whole run {(time.perf_counter() - started) / 60:.1f} min")
    print_report(bench, info)
    if args.rst:
        write_rst(args.rst, bench, info)
        print(f"wrote {args.rst}")
    if args.json:
        dump_json(args.json, bench, info)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
