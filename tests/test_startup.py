"""Starting jnt_dbman is cheap when no database work is asked for (a server may call it often)."""
from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
sys.argv = ["jnt_dbman", {flag!r}]
from janitoo_db.cli import main
try:
    main()
except SystemExit:
    pass
heavy = sorted(name for name in sys.modules if name.split(".")[0] in ("sqlalchemy", "alembic"))
print("HEAVY:", heavy, file=sys.stderr)
"""


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_import_neither_sqlalchemy_nor_alembic(flag: str) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE.format(flag=flag)], capture_output=True, text=True,
                          timeout=60)
    assert "jnt_dbman" in done.stdout
    assert "HEAVY: []" in done.stderr, done.stderr


def test_each_command_is_loaded_from_the_module_that_defines_it() -> None:
    """jnt_dbman imports only the family of the command it runs: the table it looks in must name every command."""
    from janitoo_db.cli import group, main

    defined = {name: command.callback.__module__ for name, command in main.commands.items() if command.callback}
    assert defined == {name: f"janitoo_db.cli.{family}" for name, family in group.COMMAND_FAMILIES.items()}


def test_a_command_imports_its_own_family_only() -> None:
    probe = ("import sys; sys.argv = ['jnt_dbman', 'initdb', '--help']\n"
             "from janitoo_db.cli import run\ntry:\n    run()\nexcept SystemExit:\n    pass\n"
             "print('FAMILIES:', sorted(m for m in sys.modules if m.startswith('janitoo_db.cli.')), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert "Usage: jnt_dbman initdb" in done.stdout
    loaded = {name.rsplit(".", 1)[1] for name in done.stderr.split("FAMILIES:")[1].strip(" []\n").replace("'", "")
              .split(", ")}
    assert "migrate" in loaded and not loaded & {"author", "inspect", "operate"}, done.stderr
