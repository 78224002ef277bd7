"""jnt_dbman answers a plain server start at every head before click is imported, exactly as click's path would.

Each case runs the installed console script (which looks for that answer
first) and, beside it, the same arguments through the click group alone:
what they print and how they exit must be the same.  The probe also says
whether click was imported, to show which path answered.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import jnt_dbman_path, subprocess_env, write_extension

PROBE = """
import sys
sys.argv = ["jnt_dbman", *sys.argv[2:]]
if {through_click!r}:
    from janitoo_db.cli import main as start
else:
    from janitoo_db.cli import run as start
code = 0
try:
    start()
except SystemExit as exit:
    code = exit.code
print("EXIT:", int(code or 0), "CLICK:", "click" in sys.modules, file=sys.stderr)
"""


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A SQLite file at every head of the core branch, the tests' extensions and one more; the environment."""
    root = tmp_path_factory.mktemp("starting")
    write_extension(root / "site", "start_ext", [("aaaa00000001", ""), ("aaaa00000002", "")])
    env = subprocess_env(JANITOO_DB_CACHE_DIR=str(root / "cache"))
    env["PYTHONPATH"] = f"{root / 'site'}:{env['PYTHONPATH']}"
    for variable in ("JANITOO_DB_LOCK_TIMEOUT", "JANITOO_DB_DDL_LOCK_TIMEOUT", "JANITOO_DB_STATEMENT_TIMEOUT",
                     "JANITOO_DB_RETRIES", "JANITOO_DB_RETRY_WAIT", "JANITOO_DB_NO_DESTRUCTIVE"):
        env.pop(variable, None)
    (root / "janitoo.conf").write_text(f"[database]\nsqlalchemy.url = sqlite:///{root / 'db.sqlite'}\n")
    done = subprocess.run([jnt_dbman_path(), "-u", f"sqlite:///{root / 'db.sqlite'}", "initdb", "-q"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return root, env


def _start(env: dict[str, str], args: list[str], *, through_click: bool) -> tuple[str, str, str]:
    done = subprocess.run([sys.executable, "-c", PROBE.format(through_click=through_click), "jnt_dbman", *args],
                          env=env, capture_output=True, text=True, timeout=300)
    lines = done.stderr.splitlines()
    return done.stdout, "\n".join(lines[:-1]), lines[-1] if lines else ""


PLAIN = [
    ["-u", "{url}", "initdb"],
    ["initdb", "-q", "-u", "{url}"],
    ["-c", "{conf}", "checkdb"],
    ["-u", "sqlite:////nowhere/else.sqlite", "checkdb", "-c", "{conf}"],  # after the command wins
]
NOT_PLAIN = [
    (["--url={url}", "initdb"], {}),
    (["-u", "{url}", "-u", "{url}", "initdb"], {}),
    (["-u", "{url}", "--debug", "initdb"], {}),
    (["-u", "{url}", "initdb", "--no-destructive"], {}),
    (["-u", "{url}", "checkdb", "--json"], {}),
    (["-u", "{url}", "checkdb", "-q"], {}),
    (["-u", "{url}", "initdb"], {"JANITOO_DB_LOCK_TIMEOUT": "soon"}),
    (["-u", "{url}", "initdb"], {"JANITOO_DB_STATEMENT_TIMEOUT": "0"}),
    (["-u", "{url}", "initdb"], {"JANITOO_DB_RETRIES": "2.5"}),
    (["-u", "{url}", "initdb"], {"JANITOO_DB_NO_DESTRUCTIVE": "maybe"}),
    (["-c", "{root}", "initdb"], {}),
    (["-u", "sqlite:////nowhere/else.sqlite", "initdb"], {}),
]


def _args(args: list[str], root: Path) -> list[str]:
    return [arg.format(url=f"sqlite:///{root / 'db.sqlite'}", conf=root / "janitoo.conf", root=root) for arg in args]


@pytest.mark.parametrize("args", PLAIN, ids=" ".join)
def test_a_plain_start_is_answered_without_click_as_click_answers(started: tuple[Path, dict[str, str]],
                                                                  args: list[str]) -> None:
    root, env = started
    env = {**env, "JANITOO_DB_LOCK_TIMEOUT": "30", "JANITOO_DB_RETRIES": "3", "JANITOO_DB_NO_DESTRUCTIVE": "1"}
    early = _start(env, _args(args, root), through_click=False)
    late = _start(env, _args(args, root), through_click=True)
    assert early[2] == "EXIT: 0 CLICK: False", early
    assert late[2] == "EXIT: 0 CLICK: True", late
    assert early[:2] == late[:2]
    assert "-q" in args or "aaaa00000002" in early[0] + early[1]


@pytest.mark.parametrize(("args", "variables"), NOT_PLAIN, ids=lambda value: " ".join(value) if
                         isinstance(value, list) else " ".join(f"{k}={v}" for k, v in value.items()))
def test_anything_else_goes_to_click(started: tuple[Path, dict[str, str]], args: list[str],
                                     variables: dict[str, str]) -> None:
    root, env = started
    env = {**env, **variables}
    early = _start(env, _args(args, root), through_click=False)
    late = _start(env, _args(args, root), through_click=True)
    assert early == late
    assert early[2].endswith("CLICK: True")
