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
