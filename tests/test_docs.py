"""The documentation names real commands, and CI builds it as the README says.

Building the documentation (``python -m sphinx -W``) is CI's job; running the
tutorial's examples is tests/test_walkthrough.py's.  These checks are cheap.
"""
from __future__ import annotations

import re
from pathlib import Path

from janitoo_db.cli import main

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
BUILD_COMMAND = ".venv/bin/python -m sphinx -W -b html docs docs/_build/html"


def test_every_jnt_dbman_command_the_docs_name_exists() -> None:
    named = set()
    for page in [*DOCS.glob("*.rst"), REPO / "README.rst"]:
        named |= set(re.findall(r"\bjnt_dbman ([a-z_]+)\b", page.read_text()))
    assert {"initdb", "createdb", "dropdb", "heads", "history", "generate", "version_locations"} <= named
    assert named <= set(main.commands), f"not commands of jnt_dbman: {sorted(named - set(main.commands))}"


def test_the_docs_have_the_pages_the_readme_lists() -> None:
    readme = (REPO / "README.rst").read_text()
    for page in re.findall(r"<(docs/[a-z]+\.rst)>`_", readme):
        assert (REPO / page).is_file(), page
    index = (DOCS / "index.rst").read_text()
    for page in ("tutorial", "extensions", "cli", "api"):
        assert re.search(rf"^   {page}$", index, re.M), f"{page} is not in the index's toctree"


def test_ci_builds_the_docs_as_the_readme_says() -> None:
    assert BUILD_COMMAND in (REPO / "README.rst").read_text()
    assert BUILD_COMMAND in (REPO / ".ci" / "run").read_text().splitlines()


def test_the_tutorial_sets_up_as_the_readme_says() -> None:
    readme = (REPO / "README.rst").read_text()
    set_up = next(line.strip() for line in readme.splitlines() if line.strip().startswith("python3 -m venv .venv"))
    assert f"$ {set_up}" in (DOCS / "tutorial.rst").read_text()
