"""jnt_dbman against stock Alembic on the same revision files, side by side.

Run by hand from the project's virtual environment (it is not a test)::

    .venv/bin/python bench/run.py                    # the full run: about 5 minutes
    .venv/bin/python bench/run.py --sizes 50 --runs 3 --backends sqlite   # a quick look, 1 minute
    .venv/bin/python bench/run.py --growth-backends sqlite,postgresql --rst figures.rst   # what the docs show

It writes N extensions of K revisions each (``bench/make_tree.py``: default K
= 20, N = 10, 50 and 100) under ``--work`` and puts them on ``PYTHONPATH``;
nothing is installed.  The core branch and janitoo_template, installed with
janitoo_db, come on top.  Every command runs as a fresh process, and for each
size it measures, in one run:

* ``jnt_dbman initdb`` against ``alembic upgrade heads`` run by a **stock**
  Alembic set-up on the same revision files: the ``env.py`` and
  ``alembic.ini`` of Alembic's own ``generic`` template (``target_metadata =
  None``), the ini's ``version_locations`` listing the directories ``jnt_dbman
  version_locations`` prints, ``path_separator = os``; each on a fresh
  database;
* ``jnt_dbman createdb`` on a fresh database: the floor, the same schema built
  from the models without migrations;
* ``jnt_dbman initdb --no-destructive`` against ``jnt_dbman initdb``, each on
  a fresh database: the cost of dry-running every revision before any runs
  (target: at most 1.05);
* ``jnt_dbman heads`` and ``history`` against ``alembic heads`` and
  ``history``; ``jnt_dbman checkdb`` against ``alembic current``, on a
  database at every head;
* ``jnt_dbman initdb`` against ``alembic upgrade heads`` on a database
  already at every head ("up to date"): a server start with nothing to do;
* jnt_dbman's commands twice: as they run from the second start on, with
  its revision cache filled by one earlier command (it lives in ``--work``,
  never in the user's own cache), and "no cache" (``JANITOO_DB_CACHE_DIR``
  empty), which is what the very first start costs;
* once: ``jnt_dbman --help`` and ``--version`` against ``alembic --help`` and
  ``--version``, and the modules they import (``python -X importtime``).

Databases: SQLite files in ``--work`` (put it on the disk you care about: the
commits are what differ), and PostgreSQL databases ``jnt_bench_*`` created
for each run and dropped after it (``--postgresql-url``).  Before each
command on a fresh database the benchmark waits for the disk (``sync``) and,
on PostgreSQL, for a ``CHECKPOINT``, so that no command pays for the
databases the previous run dropped.  The targets are
checked at ``--target-size`` (50) with ``--runs`` (5) runs on every backend;
the other sizes, which show how the cost grows, get ``--growth-runs`` (3)
runs on ``--growth-backends`` (SQLite; add postgresql for the full picture).
The cheap commands that read (heads, history, checkdb / current) get
``--read-runs`` (7) runs at every size.

Each figure is the median wall-clock time over the runs (min and max shown),
with the median CPU time (user + system, from ``wait4``) beside it: on a
shared machine CPU time is far less noisy than wall time, but it leaves out
what is spent waiting for the disk or the server.  In every run the commands
of a group take turns in a rotating order, so slow moments hit both sides.
Peak memory is the process's maximum resident set size (median), taken by
a bare interpreter that forks the command (see ``LAUNCHER``).  Ratios are
jnt_dbman's median over stock Alembic's.  Growth is judged on CPU time per
revision between consecutive sizes.

The first run of each size and backend also checks that ``initdb``, stock
``upgrade heads`` and ``createdb`` built the same tables, columns, primary
keys and ``alembic_version`` (``--no-verify`` skips it).  ``--janitoo-db
DIR`` measures the janitoo_db package of another checkout (say, a git
worktree with a proposed change) instead of the installed one.  ``--rst``
writes the tables for ``docs/benchmarks.rst``; ``--json`` keeps every
measurement.
"""
from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_tree import make_tree  # noqa: E402

BIN = Path(sys.executable).parent
JNT_DBMAN = str(BIN / "jnt_dbman")
ALEMBIC = str(BIN / "alembic")
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_MYSQL = "mysql+pymysql://root@127.0.0.1:3306/"
#: Revisions of the core branch and of janitoo_template, which every tree also holds.
FIXED_REVISIONS = {"janitoo": 4, "janitoo_template": 2}


# -- running one command ---------------------------------------------------

@dataclass
class Sample:
    seconds: float
    cpu: float
    rss_kb: int


#: Runs the measured command for run_once.  The peak resident set size
#: (``ru_maxrss``) a Linux process reports starts at the size of the process
#: that forked it: launched straight from this script, which grows past 50 MB
#: once SQLAlchemy is loaded, a small command would report this script's size.
#: So a bare interpreter (``-S -I``, about 8 MB) forks the command, times it,
#: and writes wall seconds, CPU seconds and peak KiB to the file descriptor
#: given as its first argument.
LAUNCHER = """
import os, sys, time
fd, argv = int(sys.argv[1]), sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.close(fd)
        os.execve(argv[0], argv, os.environ)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
os.write(fd, f"{seconds} {usage.ru_utime + usage.ru_stime} {usage.ru_maxrss}".encode())
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_once(argv: list[str], env: dict[str, str], cwd: Path, ok_codes: tuple[int, ...] = (0,)) -> Sample:
    """Run *argv* (its program given by absolute path) as a fresh process: wall time, CPU time, peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        read, write = os.pipe()
        try:
            launcher = subprocess.Popen([sys.executable, "-S", "-I", "-c", LAUNCHER, str(write), *argv],
                                        stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd,
                                        pass_fds=(write,))
        finally:
            os.close(write)
        with os.fdopen(read) as report:
            measured = report.read().split()
        code = launcher.wait()
        if code not in ok_codes or len(measured) != 3:
            out.seek(0)
            err.seek(0)
            raise CommandFailed(argv, code, out.read().decode(errors="replace"), err.read().decode(errors="replace"))
    return Sample(float(measured[0]), float(measured[1]), int(measured[2]))


class CommandFailed(SystemExit):
    """A measured command failed: the benchmark stops, unless the command may fail (see Bench.backend)."""

    def __init__(self, argv: list[str], code: int, stdout: str, stderr: str) -> None:
        # jnt_dbman's one line starts with "Error"; psql's and mariadb's carry "ERROR" after the file name.
        lines = ([line for line in stderr.splitlines() if line.startswith("Error") or "ERROR" in line]
                 or stderr.splitlines()[-1:])
        self.reason = lines[0] if lines else f"exit status {code}"
        super().__init__(f"benchmark aborted: {' '.join(argv)} exited with {code}\n"
                         f"--- stdout\n{stdout[-3000:]}\n--- stderr\n{stderr[-3000:]}")


# -- throw-away databases --------------------------------------------------

class Databases:
    """Fresh, empty databases: SQLite files in a directory, PostgreSQL and MariaDB databases jnt_bench_*."""

    def __init__(self, directory: Path, postgresql_admin_url: str, mysql_admin_url: str = DEFAULT_MYSQL) -> None:
        self.directory = directory
        self.admin_url = postgresql_admin_url
        self.mysql_admin_url = mysql_admin_url
        self.prefix = f"jnt_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.count = 0
        self.live: set[str] = set()
        self._admin = None
        self._mysql_admin = None
        atexit.register(self.drop_all)

    def _pg(self):
        if self._admin is None:
            from sqlalchemy import create_engine

            self._admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT", poolclass=None)
        return self._admin

    def _mysql(self):
        if self._mysql_admin is None:
            from sqlalchemy import create_engine

            self._mysql_admin = create_engine(self.mysql_admin_url, isolation_level="AUTOCOMMIT")
        return self._mysql_admin

    def new(self, backend: str) -> str:
        self.count += 1
        name = f"{self.prefix}_{self.count}"
        if backend == "sqlite":
            path = self.directory / f"{name}.sqlite"
            path.unlink(missing_ok=True)
            self.live.add(str(path))
            return f"sqlite:///{path}"
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        if backend == "mysql":
            with self._mysql().connect() as connection:
                connection.execute(text(f"CREATE DATABASE `{name}`"))
            self.live.add(f"mysql:{name}")
            return make_url(self.mysql_admin_url).set(database=name).render_as_string(hide_password=False)
        with self._pg().connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self.live.add(name)
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def settle(self, backend: str) -> None:
        """Let the disk and the server finish earlier work (dropped databases, dirty pages).

        Called before each command on a fresh database: otherwise the first
        command of a run pays for the databases the previous run dropped.
        """
        if backend == "postgresql":
            from sqlalchemy import text

            with self._pg().connect() as connection:
                connection.execute(text("CHECKPOINT"))
        os.sync()

    def drop(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            path = url[len("sqlite:///"):]
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(path + suffix).unlink(missing_ok=True)
            self.live.discard(path)
            return
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        name = make_url(url).database
        if url.startswith("mysql"):
            with self._mysql().connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
            self.live.discard(f"mysql:{name}")
            return
        with self._pg().connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.live.discard(name)

    def drop_all(self) -> None:
        for item in list(self.live):
            try:
                self.drop(f"sqlite:///{item}" if item.startswith("/") else
                          f"mysql://x/{item[len('mysql:'):]}" if item.startswith("mysql:") else f"postgresql://x/{item}")
            except Exception as error:  # noqa: BLE001 - best effort at exit
                print(f"warning: could not drop {item}: {error}", file=sys.stderr)
        for admin in (self._admin, self._mysql_admin):
            if admin is not None:
                admin.dispose()
        self._admin = self._mysql_admin = None


# -- the stock Alembic set-up ----------------------------------------------

def stock_template() -> Path:
    import alembic

    return Path(alembic.__file__).resolve().parent / "templates" / "generic"


def write_stock_dir(directory: Path) -> None:
    """Alembic's generic env.py (target_metadata = None) and script.py.mako, unchanged."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("env.py", "script.py.mako"):
        shutil.copy(stock_template() / name, directory / name)
    if "target_metadata = None" not in (directory / "env.py").read_text():
        raise SystemExit("Alembic's generic env.py no longer says target_metadata = None; check bench/run.py")


def stock_ini_text(script_location: Path, locations: str) -> str:
    """Alembic's generic alembic.ini, with our version_locations; the URL is left to fill in."""
    from mako.template import Template

    text = Template(filename=str(stock_template() / "alembic.ini.mako")).render(
        script_location=str(script_location))
    text, found = re.subn(r"(?m)^path_separator = os$",
                          lambda m: f"{m.group(0)}\nversion_locations = {locations.replace('%', '%%')}", text)
    if found != 1:
        raise SystemExit("Alembic's generic alembic.ini has no 'path_separator = os' line; check bench/run.py")
    if "sqlalchemy.url = driver://user:pass@localhost/dbname" not in text:
        raise SystemExit("Alembic's generic alembic.ini has no sqlalchemy.url line; check bench/run.py")
    return text


def write_stock_ini(template: str, directory: Path, url: str) -> Path:
    path = directory / f"alembic-{abs(hash(url)):x}.ini"
    path.write_text(template.replace("sqlalchemy.url = driver://user:pass@localhost/dbname",
                                     f"sqlalchemy.url = {url.replace('%', '%%')}"))
    return path


# -- checking that the three databases agree -------------------------------

def schema_of(url: str) -> dict[str, object]:
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            columns = inspector.get_multi_columns()
            pks = inspector.get_multi_pk_constraint()
            tables = {
                key[1]: (
                    # Sorted: a batch migration on SQLite may leave the columns in another order.
                    tuple(sorted((c["name"], str(c["type"]), c["nullable"]) for c in cols)),
                    tuple(pks[key]["constrained_columns"]),
                )
                for key, cols in columns.items()
            }
            versions = sorted(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    finally:
        engine.dispose()
    return {"tables": tables, "versions": versions}


def verify(urls: dict[str, str], expected_tables: int) -> str:
    """Check that jnt_dbman's initdb and createdb built what stock Alembic built.

    Tables stock Alembic did not build must be in both jnt_dbman databases
    (jnt_dbman's own bookkeeping): they are named in the answer, not compared.
    """
    schemas = {name: schema_of(url) for name, url in urls.items()}
    stock_name = next(name for name in schemas if name.startswith("alembic"))
    stock = schemas[stock_name]
    ours = [name for name in schemas if name != stock_name]
    own: set[str] | None = None
    for name in ours:
        tables = schemas[name]["tables"]
        missing = sorted(set(stock["tables"]) - set(tables))[:5]
        differ = sorted(t for t in stock["tables"] if t in tables and tables[t] != stock["tables"][t])[:5]
        if missing or differ or schemas[name]["versions"] != stock["versions"]:
            raise SystemExit(
                f"benchmark aborted: {name} and {stock_name} built different databases; missing tables "
                f"{missing}; differing tables {differ}; versions {schemas[name]['versions'][:3]}... "
                f"vs {stock['versions'][:3]}...")
        extra = set(tables) - set(stock["tables"])
        own = extra if own is None else own
        if extra != own:
            raise SystemExit(f"benchmark aborted: {', '.join(ours)} added different tables: {sorted(own ^ extra)}")
    count = len(stock["tables"]) - 1  # alembic_version
    if count < expected_tables:
        raise SystemExit(f"benchmark aborted: expected at least {expected_tables} tables, found {count}")
    answer = f"{count} tables and {len(stock['versions'])} heads, the same for {', '.join(schemas)}"
    if own:
        answer += f" (jnt_dbman's own tables, not compared: {', '.join(sorted(own))})"
    return answer


# -- the measurements ------------------------------------------------------

@dataclass
class Result:
    backend: str
    size: int
    revisions: int
    command: str
    samples: list[Sample] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    def cpu(self) -> float:
        return statistics.median(s.cpu for s in self.samples)

    def rss_mb(self) -> float:
        return statistics.median(s.rss_kb for s in self.samples) / 1024


@dataclass(frozen=True)
class Pair:
    """What a row of the table compares: jnt_dbman's command against stock Alembic's."""

    ours: str
    stock: str
    #: Largest acceptable ratio of the medians (jnt_dbman / stock), or None.
    target: float | None


PAIRS_START = [
    Pair("jnt_dbman --help", "alembic --help", None),
    Pair("jnt_dbman --version", "alembic --version", None),
]
#: A note after a command says how it runs: NO_CACHE turns jnt_dbman's revision cache
#: off (as on the very first start); UP_TO_DATE runs it on a database already at every head.
NO_CACHE = " (no cache)"
UP_TO_DATE = " (up to date)"
PAIRS_NO_DB = [
    Pair("jnt_dbman heads", "alembic heads", 1.1),
    Pair("jnt_dbman heads" + NO_CACHE, "alembic heads", 1.1),
    Pair("jnt_dbman history", "alembic history", 1.1),
    Pair("jnt_dbman history" + NO_CACHE, "alembic history", 1.1),
]
NO_DESTRUCTIVE = "jnt_dbman initdb --no-destructive"
FRESH = ["jnt_dbman initdb", "jnt_dbman initdb" + NO_CACHE, "alembic upgrade heads", "jnt_dbman createdb",
         NO_DESTRUCTIVE]
PAIRS_FRESH = [
    Pair("jnt_dbman initdb", "alembic upgrade heads", None),  # target set per backend in rows()
    Pair("jnt_dbman initdb" + NO_CACHE, "alembic upgrade heads", None),
    Pair("jnt_dbman createdb", "alembic upgrade heads", None),
    # What checking every revision before it runs costs (issue 14): under 5 %.
    Pair(NO_DESTRUCTIVE, "jnt_dbman initdb", 1.05),
]
PAIRS_AT_HEADS = [
    Pair("jnt_dbman checkdb", "alembic current", 1.1),
    Pair("jnt_dbman checkdb" + NO_CACHE, "alembic current", 1.1),
    Pair("jnt_dbman initdb" + UP_TO_DATE, "alembic upgrade heads" + UP_TO_DATE, None),
]
#: Seconds to wait after writing a tree: jnt_dbman only remembers revision files
#: that have not changed for 3 seconds (janitoo_db.site.revision_cache.SETTLE_NS).
SETTLE_SECONDS = 3.5
BACKEND_ORDER = {"-": 0, "sqlite": 1, "postgresql": 2}


def measured_env(site: Path | None, janitoo_db: Path | None, cache: Path | None = None) -> dict[str, str]:
    """The environment of every measured process: the tree (and --janitoo-db) on PYTHONPATH.

    Bytecode is written and read as usual (PYTHONDONTWRITEBYTECODE is dropped),
    as on a server where the packages were installed by pip.  jnt_dbman's
    revision cache goes in *cache* (off without one), never the user's own.
    """
    env = dict(os.environ)
    for name in ("JANITOO_DB_URL", "PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "PYTHONPROFILEIMPORTTIME"):
        env.pop(name, None)
    env["JANITOO_DB_CACHE_DIR"] = str(cache) if cache is not None else ""
    path = [str(p) for p in (janitoo_db, site) if p is not None]
    if path:
        env["PYTHONPATH"] = os.pathsep.join(path)
    return env


def env_of(command: str, env: dict[str, str]) -> dict[str, str]:
    """The environment *command* runs in: *env*, with the cache turned off for NO_CACHE."""
    return {**env, "JANITOO_DB_CACHE_DIR": ""} if command.endswith(NO_CACHE) else env


def argv_of(command: str, url: str, ini: Path | None) -> list[str]:
    """The command line of *command* ("jnt_dbman initdb", "alembic current", ...)."""
    tool, *words = command.removesuffix(NO_CACHE).removesuffix(UP_TO_DATE).split()
    if tool == "jnt_dbman":
        if words[0].startswith("--"):
            return [JNT_DBMAN, *words]
        return [JNT_DBMAN, words[0], "-u", url, *words[1:]]
    if words[0].startswith("--"):
        return [ALEMBIC, *words]
    return [ALEMBIC, "-c", str(ini), *words]


def rotated(items: list[str], run: int) -> list[str]:
    """*items* starting at a different one in each run, so no command always goes first."""
    shift = run % len(items)
    return items[shift:] + items[:shift]


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work: Path = args.work
        (self.work / "db").mkdir(parents=True, exist_ok=True)
        self.dbs = Databases(self.work / "db", args.postgresql_url)
        self.results: dict[tuple[str, int, str], Result] = {}
        self.imports: dict[str, list[str]] = {}
        self.failures: list[str] = []

    @staticmethod
    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def record(self, backend: str, size: int, revisions: int, command: str, sample: Sample) -> None:
        key = (backend, size, command)
        self.results.setdefault(key, Result(backend, size, revisions, command)).samples.append(sample)

    def env(self, site: Path | None) -> dict[str, str]:
        return measured_env(site, self.args.janitoo_db, self.work / "revision-cache")

    def pairs(self, backend: str, size: int, revisions: int, pairs: list[Pair], runs: int,
              env: dict[str, str], cwd: Path, url: str = "", ini: Path | None = None) -> None:
        for pair in pairs:
            self.log(f"  {backend}: {pair.ours} / {pair.stock} x{runs}")
            for run in range(runs):
                for command in rotated([pair.ours, pair.stock], run):
                    self.record(backend, size, revisions, command,
                                run_once(argv_of(command, url, ini), env_of(command, env), cwd))

    # start-up ------------------------------------------------------------------
    def startup(self) -> None:
        env = self.env(None)
        self.pairs("-", 0, 0, PAIRS_START, self.args.runs, env, self.work)
        for option in ("--help", "--version"):
            done = subprocess.run([sys.executable, "-X", "importtime", JNT_DBMAN, option],
                                  capture_output=True, text=True, env=env, check=True)
            lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")][1:]
            names = [line.split("|")[-1].strip() for line in lines]
            self.imports[option] = sorted({n for n in names if n.split(".")[0] in ("sqlalchemy", "alembic")})
            own_us = sum(int(line.split("|")[0].split(":")[1]) for line in lines)
            tops = sorted({n.split(".")[0] for n in names if not n.startswith("_")
                           and n.split(".")[0] not in sys.stdlib_module_names})
            self.log(f"  python -X importtime jnt_dbman {option}: {len(lines)} modules, {own_us / 1000:.0f} ms "
                     f"of imports; outside the standard library: {', '.join(tops)}; "
                     f"SQLAlchemy/Alembic: {', '.join(self.imports[option]) or 'none'}")

    # one size ------------------------------------------------------------------
    def size(self, size: int) -> None:
        k = self.args.revisions
        revisions = size * k + sum(FIXED_REVISIONS.values())
        runs = self.args.runs if size == self.args.target_size else self.args.growth_runs
        tree = self.work / f"tree_{size}x{k}"
        self.log(f"size {size} x {k} ({revisions} revisions with the core's and janitoo_template's): {tree}")
        site = make_tree(tree, size, k)
        env = self.env(site)
        done = subprocess.run([JNT_DBMAN, "version_locations", "-u", "sqlite://"], capture_output=True,
                              text=True, env=env)
        if done.returncode:
            raise SystemExit(f"benchmark aborted: jnt_dbman version_locations failed:\n{done.stderr}")
        locations = done.stdout.strip().removeprefix("version_locations = ")
        if len(locations.split(os.pathsep)) != size + len(FIXED_REVISIONS):
            raise SystemExit(f"benchmark aborted: expected {size + len(FIXED_REVISIONS)} version directories "
                             f"(is another janitoo.models extension installed?), got: {locations}")
        stock = tree / "stock"
        write_stock_dir(stock)
        template = stock_ini_text(stock, locations)
        # Compile every revision file once: both tools then read the same bytecode.  Then let
        # jnt_dbman remember the revisions, as it does from its second start on.
        run_once([ALEMBIC, "-c", str(write_stock_ini(template, stock, "sqlite://")), "heads"], env, stock)
        time.sleep(SETTLE_SECONDS)
        run_once(argv_of("jnt_dbman heads", "sqlite://", None), env, stock)
        self.pairs("-", size, revisions, PAIRS_NO_DB, self.args.read_runs, env, stock, "sqlite://",
                   write_stock_ini(template, stock, "sqlite://"))
        backends = self.args.backends if size == self.args.target_size else self.args.growth_backends
        for backend in backends:
            self.backend(backend, size, revisions, runs, env, stock, template)

    def backend(self, backend: str, size: int, revisions: int, runs: int,
                env: dict[str, str], stock: Path, template: str) -> None:
        at_heads: str | None = None
        # --read-only: one initdb, only to get a database at every head for checkdb / current.
        fresh, fresh_runs = (["jnt_dbman initdb"], 1) if self.args.read_only else (FRESH, runs)
        self.log(f"  {backend}: {' / '.join(fresh)} x{fresh_runs}, each on a fresh database")
        for run in range(fresh_runs):
            urls, done = {}, []
            for command in rotated(fresh, run):
                url = self.dbs.new(backend)
                ini = write_stock_ini(template, stock, url)
                urls[command] = url
                self.dbs.settle(backend)
                try:
                    self.record(backend, size, revisions, command,
                                run_once(argv_of(command, url, ini), env_of(command, env), stock))
                    done.append(f"{command} {self.results[(backend, size, command)].samples[-1].seconds:.2f}s")
                except CommandFailed as failure:
                    # A server limit (say, PostgreSQL's lock table) is a finding, not a reason to stop.
                    self.failures.append(f"{backend}, {size} x {self.args.revisions}, run {run + 1}: "
                                         f"{command} failed: {failure.reason}")
                    done.append(f"{command} FAILED")
                    self.log(f"    {self.failures[-1]}")
                ini.unlink()
            complete = len(done) == len(FRESH) == len(fresh) and "FAILED" not in str(done)
            if run == 0 and not self.args.no_verify and complete:
                self.log(f"    verified: {verify(urls, size * (self.args.revisions - 1))}")
            for command, url in urls.items():
                if command == "jnt_dbman initdb" and at_heads is None and f"{command} FAILED" not in done:
                    at_heads = url  # kept for checkdb / current
                else:
                    self.dbs.drop(url)
            self.log(f"    run {run + 1}: " + ", ".join(done))
        if at_heads is None:
            self.failures.append(f"{backend}, {size} x {self.args.revisions}: no database at heads, "
                                 "checkdb / current not measured")
            return
        ini = write_stock_ini(template, stock, at_heads)
        self.pairs(backend, size, revisions, PAIRS_AT_HEADS, self.args.read_runs, env, stock, at_heads, ini)
        ini.unlink()
        self.dbs.drop(at_heads)

    # report ------------------------------------------------------------------
    def rows(self) -> list[Row]:
        rows = []
        keys = sorted({(r.backend, r.size, r.revisions) for r in self.results.values()},
                      key=lambda t: (BACKEND_ORDER.get(t[0], 9), t[1]))
        for backend, size, revisions in keys:
            for pair in PAIRS_START + PAIRS_NO_DB + PAIRS_FRESH + PAIRS_AT_HEADS:
                ours = self.results.get((backend, size, pair.ours))
                stock = self.results.get((backend, size, pair.stock))
                if ours is None or stock is None:
                    continue
                target = pair.target
                if pair.ours == "jnt_dbman initdb":
                    target = self.args.initdb_target if backend == "sqlite" else 1.0
                if size not in (0, self.args.target_size):
                    target = None  # targets are checked at the target size; other sizes show growth
                rows.append(Row(backend, size, revisions, ours, stock, target))
        return rows

    def growth(self) -> list[Growth]:
        """Cost per revision between consecutive sizes, from the CPU-time medians."""
        sizes = sorted({r.size for r in self.results.values() if r.size})
        found = []
        for backend, command in sorted({(r.backend, r.command) for r in self.results.values() if r.size},
                                       key=lambda t: (BACKEND_ORDER.get(t[0], 9), t[1])):
            points = [self.results[(backend, s, command)] for s in sizes if (backend, s, command) in self.results]
            if len(points) >= 2:
                found.append(Growth(backend, command, points, self.args.linear_tolerance))
        return found

    def dump_json(self, path: Path, info: list[str]) -> None:
        path.write_text(json.dumps({"machine": info, "arguments": {k: str(v) for k, v in vars(self.args).items()},
                                    "imports": self.imports, "failures": self.failures,
                                    "results": [{"backend": r.backend, "extensions": r.size,
                                                 "revisions": r.revisions, "command": r.command,
                                                 "samples": [s.__dict__ for s in r.samples]}
                                                for r in self.results.values()]}, indent=1))


@dataclass
class Row:
    backend: str
    size: int
    revisions: int
    ours: Result
    stock: Result
    target: float | None

    @property
    def ratio(self) -> float:
        return self.ours.median() / self.stock.median()

    @property
    def fastest_ratio(self) -> float:
        """Ratio of the fastest runs: the least disturbed by other work on the machine."""
        return min(x.seconds for x in self.ours.samples) / min(x.seconds for x in self.stock.samples)

    @property
    def cpu_ratio(self) -> float:
        return self.ours.cpu() / self.stock.cpu() if self.stock.cpu() else float("nan")

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.ratio <= self.target

    def verdict(self) -> str:
        if self.target is None:
            return ""
        return f"<= {self.target:g}: " + ("met" if self.met else "MISSED")

    def size_label(self) -> str:
        return f"{self.size} x {ARGS.revisions}" if self.size else "-"


@dataclass
class Growth:
    """How one command's CPU time grows with the number of revisions.

    ``slopes`` are milliseconds of CPU per revision between consecutive sizes:
    equal when the cost grows linearly (a quadratic cost would multiply the
    last by 2.5 over sizes 10, 50 and 100).  ``excess`` is how much more the
    largest size costs than the first slope predicts; it is compared with the
    noise, the largest spread (max - min) of CPU time at any size, so that a
    command whose revisions are a small part of its cost is not called
    non-linear because of a noisy median.
    """

    backend: str
    command: str
    points: list[Result]
    tolerance: float

    @property
    def slopes(self) -> list[float]:
        return [(b.cpu() - a.cpu()) / (b.revisions - a.revisions) * 1000 for a, b in pairwise(self.points)]

    @property
    def excess(self) -> float:
        """Seconds the largest size costs beyond the first slope's prediction."""
        first, last = self.points[0], self.points[-1]
        return last.cpu() - (first.cpu() + self.slopes[0] / 1000 * (last.revisions - first.revisions))

    @property
    def noise(self) -> float:
        return max(max(s.cpu for s in p.samples) - min(s.cpu for s in p.samples) for p in self.points)

    def verdict(self) -> str:
        slopes = self.slopes
        if len(slopes) < 2:
            return "one step only"
        ratio = slopes[-1] / slopes[0] if slopes[0] > 0 else float("inf")
        if ratio <= self.tolerance:
            return f"linear ({ratio:.2f})"
        if self.excess <= self.noise:
            return f"linear within noise ({ratio:.2f}; {self.excess:+.2f} s <= noise {self.noise:.2f} s)"
        return f"NOT LINEAR ({ratio:.2f}; {self.excess:+.2f} s > noise {self.noise:.2f} s)"


def spread(result: Result) -> str:
    values = [s.seconds for s in result.samples]
    return f"{result.median():.2f} ({min(values):.2f}-{max(values):.2f})"


def print_report(bench: Bench, rows: list[Row], growth: list[Growth]) -> None:
    header = (f"{'backend':10} {'N x K':>8} {'revs':>5}  {'jnt_dbman':22} {'wall s (min-max)':>19} "
              f"{'cpu s':>6}  {'stock alembic':28} {'wall s (min-max)':>19} {'cpu s':>6}  "
              f"{'ratio':>5} {'cpu':>5}  {'target':15} {'peak MB':>9}")
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row.backend:10} {row.size_label():>8} {row.revisions or '':>5}  "
              f"{row.ours.command.removeprefix('jnt_dbman '):22} {spread(row.ours):>19} {row.ours.cpu():6.2f}  "
              f"{row.stock.command.removeprefix('alembic '):28} {spread(row.stock):>19} {row.stock.cpu():6.2f}  "
              f"{row.ratio:5.2f} {row.cpu_ratio:5.2f}  {row.verdict():15} "
              f"{row.ours.rss_mb():4.0f}/{row.stock.rss_mb():<4.0f}")
    if growth:
        print()
        print("Growth: ms of CPU per revision between consecutive sizes (about equal when linear)")
        for line in growth:
            print(f"  {line.backend:10} {line.command:24} "
                  + " -> ".join(f"{s:6.2f}" for s in line.slopes) + f"   {line.verdict()}")
    print()
    print("Targets:")
    for row in rows:
        if row.target is not None:
            print(f"  {row.backend:10} {row.size_label():>8}  {row.ours.command:30} / {row.stock.command:22} "
                  f"{row.ratio:.2f} (cpu {row.cpu_ratio:.2f}, fastest runs {row.fastest_ratio:.2f}) "
                  f"{row.verdict()}")
    for option, heavy in bench.imports.items():
        print(f"  jnt_dbman {option} imports SQLAlchemy or Alembic: "
              + (f"yes ({', '.join(heavy[:5])}...) MISSED" if heavy else "no: met"))
    for line in growth:
        if line.verdict().startswith("NOT"):
            print(f"  {line.backend} {line.command} grows faster than linearly: {line.verdict()}")
    if bench.failures:
        print()
        print("Failures (not in the medians):")
        for failure in bench.failures:
            print(f"  {failure}")


def write_rst(path: Path, rows: list[Row], growth: list[Growth], failures: list[str],
              info: list[str] | None = None) -> None:
    """The figures as reStructuredText list-tables, to paste into docs/benchmarks.rst, *info* lines above."""
    def cells(*values: str) -> list[str]:
        return [f"   * - {values[0]}"] + [f"     - {v}" for v in values[1:]]

    head = [".. Written by bench/run.py --rst; do not edit by hand.", ""]
    head += [*(f"* {line}" for line in info), ""] if info else []

    def command(row: Row) -> str:
        ours = row.ours.command.removeprefix("jnt_dbman ")
        return f"``{ours}`` / ``{row.stock.command.removeprefix('alembic ').removeprefix('jnt_dbman ')}``"

    out = [*head, ".. list-table:: Each command against stock Alembic: median wall-clock seconds (min-max), "
           "ratios of the medians, peak memory",
           "   :header-rows: 1", "",
           # No "jnt_dbman WORD" that is not a command: tests/test_docs.py reads them as commands.
           *cells("Database", "Extensions x revisions (total)", "jnt_dbman / stock Alembic", "jnt_dbman, seconds",
                  "stock Alembic, seconds", "ratio", "CPU ratio", "fastest-run ratio", "peak MB", "target")]
    for row in rows:
        # No cell may be empty or a bare "-" (that would be a nested bullet list).
        out += cells(row.backend if row.backend != "-" else "none",
                     f"{row.size_label()} ({row.revisions})" if row.size else "start-up",
                     command(row), spread(row.ours), spread(row.stock), f"{row.ratio:.2f}",
                     f"{row.cpu_ratio:.2f}", f"{row.fastest_ratio:.2f}",
                     f"{row.ours.rss_mb():.0f} / {row.stock.rss_mb():.0f}",
                     row.verdict() or "\u2013")
    if growth:
        sizes = [p.size for p in growth[0].points]
        out += ["", ".. list-table:: Milliseconds of CPU per revision between consecutive sizes",
                "   :header-rows: 1", "",
                *cells("Database", "command", *[f"{a} to {b} extensions" for a, b in pairwise(sizes)],
                       "growth")]
        for line in growth:
            out += cells(line.backend if line.backend != "-" else "none", f"``{line.command}``",
                         *[f"{s:.2f}" for s in line.slopes], line.verdict())
    if failures:
        out += ["", "Failed runs, left out of the medians:", ""] + [f"* {failure}" for failure in failures]
    path.write_text("\n".join(out) + "\n")


def machine() -> list[str]:
    import sqlite3
    from importlib.metadata import version

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), "0")
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(ARGS.postgresql_url)
        with engine.connect() as connection:
            pg = connection.execute(text("SHOW server_version")).scalar()
        engine.dispose()
    except Exception as error:  # noqa: BLE001 - only described
        pg = f"not reachable ({type(error).__name__})"
    fs = subprocess.run(["df", "-T", str(ARGS.work)], capture_output=True, text=True).stdout.splitlines()[-1].split()
    global JANITOO_DB_ROOT
    janitoo_db = subprocess.run([sys.executable, "-c", "import janitoo_db; print(janitoo_db.__file__)"],
                                capture_output=True, text=True, env=measured_env(None, ARGS.janitoo_db),
                                cwd=ARGS.work).stdout  # not the current directory, which may hold janitoo_db/
    JANITOO_DB_ROOT = Path(janitoo_db.strip()).parent.parent
    return [
        f"CPU: {cpu}, nproc {len(os.sched_getaffinity(0))}; memory {int(memory) / 1024 / 1024:.1f} GiB; "
        f"load average at start {os.getloadavg()[0]:.2f}",
        f"{platform.platform()}; SQLite files on {fs[1]} ({ARGS.work})",
        f"Python {platform.python_version()}, SQLAlchemy {version('sqlalchemy')}, Alembic {version('alembic')}, "
        f"click {version('click')}, psycopg {version('psycopg')}, SQLite {sqlite3.sqlite_version}, "
        f"PostgreSQL server {pg}",
        f"janitoo_db from {JANITOO_DB_ROOT / 'janitoo_db'} at {git_state(JANITOO_DB_ROOT)}",
    ]


def git_state(root: Path) -> str:
    """The last commit that changed janitoo_db/, and whether janitoo_db/ has uncommitted changes."""
    try:
        head = subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%h (%cs)", "--", "janitoo_db"],
                              capture_output=True, text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "janitoo_db"],
                                 capture_output=True, text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "an unknown commit (not a git checkout)"
    return f"its last commit {head}" + (f" plus {len(changed)} uncommitted files" if changed else "")


def add_tree_options(parser: argparse.ArgumentParser, sizes: str) -> None:
    """The options of the trees measured and of how often, shared with floor.py."""
    parser.add_argument("--sizes", default=sizes, help="numbers of extensions, comma-separated")
    parser.add_argument("--revisions", type=int, default=20, help="revisions per extension (K), root included")
    parser.add_argument("--runs", type=int, default=5, help="runs of each command at the target size")
    parser.add_argument("--growth-runs", type=int, default=3, help="runs of each command at the other sizes")
    parser.add_argument("--target-size", type=int, default=50, help="the size the targets are checked at")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_tree_options(parser, "10,50,100")
    parser.add_argument("--read-runs", type=int, default=7,
                        help="runs of heads, history and checkdb / current at every size: they are cheap, "
                             "and their small differences need more runs to stand out of the noise")
    parser.add_argument("--backends", default="sqlite,postgresql", help="sqlite and/or postgresql")
    parser.add_argument("--growth-backends", default="sqlite",
                        help="backends measured at the other sizes too (sqlite,postgresql for all: "
                             "about 1.5 more minutes)")
    parser.add_argument("--postgresql-url", default=DEFAULT_PG,
                        help="admin URL of the PostgreSQL server; databases jnt_bench_* are made there")
    parser.add_argument("--work", type=Path,
                        help="directory for the trees and the SQLite files, on the disk to measure "
                             "(default: a new jnt_bench_* directory in the temporary directory)")
    parser.add_argument("--janitoo-db", type=Path, metavar="DIR",
                        help="measure the janitoo_db package in DIR (a checkout or git worktree holding "
                             "janitoo_db/) instead of the installed one, e.g. to compare a change")
    parser.add_argument("--keep", action="store_true", help="keep --work afterwards")
    parser.add_argument("--no-verify", action="store_true", help="skip the check that the databases agree")
    parser.add_argument("--read-only", action="store_true",
                        help="measure start-up and the commands that read only (heads, history, checkdb / "
                             "current, initdb up to date); bench/floor.py measures initdb on a fresh database")
    parser.add_argument("--no-startup", action="store_true", help="skip --help and --version")
    parser.add_argument("--initdb-target", type=float, default=0.6, help="initdb / stock upgrade on SQLite")
    parser.add_argument("--linear-tolerance", type=float, default=1.5,
                        help="largest last/first cost per revision still called linear")
    parser.add_argument("--rst", type=Path, help="write the tables as reStructuredText list-tables here")
    parser.add_argument("--json", type=Path, help="write every single measurement here")
    parser.add_argument("--from-json", type=Path, metavar="FILE",
                        help="measure nothing: print (and --rst) the report of a run saved with --json")
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.backends = [b for b in args.backends.split(",") if b]
    args.growth_backends = [b for b in args.growth_backends.split(",") if b in args.backends]
    for backend in args.backends:
        if backend not in ("sqlite", "postgresql"):
            parser.error(f"unknown backend {backend!r}")
    if args.janitoo_db is not None:
        args.janitoo_db = args.janitoo_db.resolve()
        if not (args.janitoo_db / "janitoo_db" / "__init__.py").is_file():
            parser.error(f"--janitoo-db {args.janitoo_db} holds no janitoo_db package")
    return args


ARGS: argparse.Namespace
JANITOO_DB_ROOT: Path = HERE.parent  # set by machine() to the janitoo_db actually measured


def report_saved(args: argparse.Namespace) -> int:
    """Print the report of a run saved with --json, with the same sizes and targets."""
    saved = json.loads(args.from_json.read_text())
    for name in ("revisions", "target_size"):
        setattr(args, name, int(saved["arguments"][name]))
    bench = Bench.__new__(Bench)
    bench.args, bench.imports, bench.results = args, saved.get("imports", {}), {}
    bench.failures = saved.get("failures", [])
    for item in saved["results"]:
        result = Result(item["backend"], item["extensions"], item["revisions"], item["command"],
                        [Sample(**sample) for sample in item["samples"]])
        bench.results[(result.backend, result.size, result.command)] = result
    for line in saved["machine"]:
        print(line)
    print(f"(report of the run saved in {args.from_json})")
    rows, growth = bench.rows(), bench.growth()
    print_report(bench, rows, growth)
    if args.rst:
        write_rst(args.rst, rows, growth, bench.failures)
        print(f"wrote {args.rst}")
    return 0


def main(argv: list[str] | None = None) -> int:
    global ARGS
    ARGS = args = parse_args(argv)
    if args.from_json:
        return report_saved(args)
    args.work = (args.work or Path(tempfile.mkdtemp(prefix="jnt_bench_"))).resolve()
    for tool in (JNT_DBMAN, ALEMBIC):
        if not Path(tool).exists():
            raise SystemExit(f"{tool} not found: run this with the project's virtual environment's python")
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    info = machine()
    for line in info:
        print(line)
    bench = Bench(args)
    try:
        if not args.no_startup:
            bench.log("start-up")
            bench.startup()
        for size in args.sizes:
            bench.size(size)
    finally:
        bench.dbs.drop_all()
        if not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)
    elapsed = time.perf_counter() - started
    rows, growth = bench.rows(), bench.growth()
    info.append(f"load average at the end {os.getloadavg()[0]:.2f}; whole run {elapsed / 60:.1f} min")
    print(info[-1])
    if not info[-2].endswith(git_state(JANITOO_DB_ROOT)):
        print(f"WARNING: janitoo_db changed during the run: it is now at {git_state(JANITOO_DB_ROOT)}")
    print()
    print(f"{', '.join(map(str, args.sizes))} extensions x {args.revisions} revisions; {args.runs} runs at "
          f"{args.target_size} on {', '.join(args.backends)}, {args.growth_runs} at the other sizes on "
          f"{', '.join(args.growth_backends) or 'no database'}; whole run {elapsed / 60:.1f} min")
    print_report(bench, rows, growth)
    if args.rst:
        write_rst(args.rst, rows, growth, bench.failures, info)
        print(f"wrote {args.rst}")
    if args.json:
        bench.dump_json(args.json, info)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
