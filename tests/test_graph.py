"""jnt_dbman graph draws every branch's revisions: lanes, depends_on arrows, the database's place, a downgrade.

``north`` is a branch of seven revisions; ``south``'s second revision
depends on north's second, so a downgrade of north to its base would undo
south's revisions too (only with --cascade).
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Callable

import pytest
from click.testing import Result

from conftest import install_extension, jnt_dbman_path, write_extension
from dbstate import table_names, version_ids

Run = Callable[..., Result]
REPO = Path(__file__).resolve().parents[1]
NORTH = [f"a1000000000{i}" for i in range(7)]
SOUTH = ["b20000000000", "b20000000001", "b20000000002"]
CORE_BOXES = ["3b5854d25914", "1266567cc97f", "33b95995b188", "5d2f0a8c91e3"]


def boxes(mermaid: str) -> dict[str, list[str]]:
    """Each Mermaid box's name and its lines of text."""
    return {name: label.split("<br/>") for name, label in re.findall(r'^ +(n\d+)\["([^"]*)"\]$', mermaid, re.M)}


def box_of(mermaid: str, first_line: str) -> str:
    (name,) = [name for name, lines in boxes(mermaid).items() if lines[0] == first_line]
    return name


def classes(mermaid: str) -> dict[str, str]:
    """Each box's class."""
    found = {}
    for names, style in re.findall(r"^    class (\S+) (\w+)$", mermaid, re.M):
        found.update(dict.fromkeys(names.split(","), style))
    return found


def lanes(mermaid: str) -> dict[str, list[str]]:
    """Each lane's title and the first lines of its boxes, in order."""
    found: dict[str, list[str]] = {}
    lane = None
    for line in mermaid.splitlines():
        opened = re.fullmatch(r'    subgraph lane\d+\["(.*)"\]', line)
        if opened:
            lane = opened.group(1)
            found[lane] = []
        elif line == "    end":
            lane = None
        elif lane is not None:
            (lines,) = boxes(line).values()
            found[lane].append(lines[0])
    return found


@pytest.fixture
def two_branches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "ext"
    write_extension(root, "north", [(revision, "") for revision in NORTH])
    write_extension(root, "south", [(revision, "") for revision in SOUTH], depends_on=NORTH[1])
    install_extension(root, "north", monkeypatch)
    install_extension(root, "south", monkeypatch)
    return root


def test_two_extensions_with_a_cross_branch_depends_on(cli: Run, two_branches: Path, sqlite_url: str) -> None:
    result = cli("graph", "-u", sqlite_url)
    assert result.exit_code == 0, result.stderr
    drawn = result.stdout
    assert drawn.startswith("flowchart TB\n")
    found = lanes(drawn)
    # The core first, then the extensions by name (acme_sensors is the tests' own).
    assert list(found) == ["janitoo", "acme_sensors", "janitoo_template", "north", "south"]
    # north's second revision is drawn on its own: south depends on it; the run after it is folded.
    assert found["north"] == [NORTH[0], NORTH[1], f"{NORTH[2]} ... {NORTH[5]}", NORTH[6]]
    assert found["south"] == SOUTH
    assert f"    {box_of(drawn, NORTH[1])} -.->|depends on| {box_of(drawn, SOUTH[1])}" in drawn.splitlines()
    assert f"    {box_of(drawn, NORTH[1])} --> {box_of(drawn, f'{NORTH[2]} ... {NORTH[5]}')}" in drawn.splitlines()
    assert f"    {box_of(drawn, SOUTH[0])} --> {box_of(drawn, SOUTH[1])}" in drawn.splitlines()
    assert boxes(drawn)[box_of(drawn, f"{NORTH[2]} ... {NORTH[5]}")][1:] == ["4 revisions", "pending"]
    # Nothing is drawn from a database that does not exist, and none is made.
    assert set(classes(drawn).values()) == {"pending"}
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()

    every = cli("graph", "--no-fold", "-u", sqlite_url)
    assert lanes(every.stdout)["north"] == NORTH


@pytest.mark.parametrize("database", ["sqlite", "postgresql", "mysql"])
def test_where_the_database_is(cli: Run, two_branches: Path, request: pytest.FixtureRequest, sqlite_url: str,
                               database: str) -> None:
    url = sqlite_url if database == "sqlite" else request.getfixturevalue(f"{database}_url")
    assert cli("upgrade", "-q", f"north@{NORTH[3]}", "-u", url).exit_code == 0
    drawn = cli("graph", "-u", url).stdout
    found = boxes(drawn)
    style = classes(drawn)
    assert found[box_of(drawn, NORTH[3])][2] == "database is here"
    assert style[box_of(drawn, NORTH[3])] == "current"
    assert [style[box_of(drawn, r)] for r in NORTH[:3]] == ["applied"] * 3
    assert [style[box_of(drawn, r)] for r in NORTH[4:]] == ["pending"] * 3
    assert {style[box_of(drawn, r)] for r in CORE_BOXES} == {"pending"}  # north needs nothing of the core
    assert style[box_of(drawn, SOUTH[0])] == "pending"


@pytest.mark.parametrize("database", ["sqlite", "postgresql", "mysql"])
def test_what_a_downgrade_would_take(cli: Run, two_branches: Path, request: pytest.FixtureRequest,
                                     sqlite_url: str, database: str) -> None:
    url = sqlite_url if database == "sqlite" else request.getfixturevalue(f"{database}_url")
    assert cli("initdb", "-q", "-u", url).exit_code == 0
    before = version_ids(url), table_names(url)
    result = cli("graph", "--downgrade", "north@base", "--no-fold", "-u", url)
    assert result.exit_code == 0, result.stderr
    drawn = result.stdout
    style = classes(drawn)
    assert [style[box_of(drawn, r)] for r in NORTH] == ["undone"] * 7
    assert [style[box_of(drawn, r)] for r in SOUTH] == ["applied", "undonewithcascade", "undonewithcascade"]
    assert boxes(drawn)[box_of(drawn, SOUTH[2])][2] == "database is here, undone only with --cascade"
    assert {style[box_of(drawn, r)] for r in CORE_BOXES} <= {"applied", "current"}
    # The downgrade the picture describes is refused without --cascade, as drawn.
    refused = cli("downgrade", "north@base", "-u", url)
    assert refused.exit_code == 1 and "south (" in refused.stderr
    assert (version_ids(url), table_names(url)) == before


def test_a_downgrade_target_the_downgrade_refuses_is_refused_alike(cli: Run, two_branches: Path,
                                                                  sqlite_url: str) -> None:
    assert cli("initdb", "-q", "-u", sqlite_url).exit_code == 0
    for target in ("nowhere@base", "ffffffffffff"):
        drawn, planned = (cli("graph", "--downgrade", target, "-u", sqlite_url),
                          cli("downgrade", target, "--plan", "-u", sqlite_url))
        assert drawn.exit_code == planned.exit_code != 0
        assert drawn.stderr == planned.stderr and drawn.stderr.startswith("Error: ")
        assert len(drawn.stderr.splitlines()) == 1 and drawn.stdout == ""


def test_a_head_no_installed_extension_provides(cli: Run, two_branches: Path, sqlite_url: str) -> None:
    assert cli("initdb", "-q", "-u", sqlite_url).exit_code == 0
    (two_branches / "south-1.0.dist-info" / "entry_points.txt").write_text("")
    drawn = cli("graph", "-u", sqlite_url).stdout
    assert lanes(drawn)["not installed"] == [SOUTH[2]]
    assert boxes(drawn)[box_of(drawn, SOUTH[2])][1:] == ["head of south, not installed", "not installed"]
    assert "south" not in lanes(drawn)


def test_messages_cannot_break_out_of_their_box(cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               sqlite_url: str) -> None:
    root = write_extension(tmp_path / "ext", "quoted", [("c30000000000", ""), ("c30000000001", "")])
    step = next((root / "quoted" / "models" / "quoted").glob("c30000000001_*.py"))
    step.write_text(step.read_text().replace('"""Step 1 of quoted"""', '"""Say "hi"] --> x\\\\ <b>#1</b> & {more}"""'))
    install_extension(root, "quoted", monkeypatch)
    drawn = cli("graph", "-u", sqlite_url).stdout
    assert boxes(drawn)[box_of(drawn, "c30000000001")][1] == \
        "Say #34;hi#34;] --#62; x\\ #60;b#62;#35;1#60;/b#62; #38; {more}"
    dot = cli("graph", "--format", "dot", "-u", sqlite_url).stdout
    assert '[label="c30000000001\\nSay \\"hi\\"] --> x\\\\ <b>#1</b> & {more}\\npending"' in dot


def test_dot(cli: Run, two_branches: Path, sqlite_url: str) -> None:
    result = cli("graph", "--format", "dot", "-u", sqlite_url)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "digraph revisions {" and lines[-1] == "}"
    number = {first: name for name, first in re.findall(r'^        (n\d+) \[label="([^"\\]+)\\n', result.stdout, re.M)}
    assert f"    {number[NORTH[1]]} -> {number[SOUTH[1]]} [style=dashed, label=\"depends on\"];" in lines
    assert f"    {number[SOUTH[0]]} -> {number[SOUTH[1]]};" in lines
    assert sum(line.startswith("    subgraph cluster_") for line in lines) == 5


def _path_with(tmp_path: Path, dot_script: str | None) -> str:
    """A PATH that finds this fake ``dot`` first, or (None) an empty directory only: no ``dot`` at all."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if dot_script is None:
        return str(bin_dir)
    fake = bin_dir / "dot"
    fake.write_text(dot_script)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"])


def test_svg_without_graphviz_says_how_to_get_it(cli: Run, sqlite_url: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", _path_with(tmp_path, None))
    result = cli("graph", "--format", "svg", "-u", sqlite_url)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == ("Error: --format svg needs Graphviz's dot program, which is not on PATH: install "
                             "Graphviz (for example 'apt install graphviz' or 'brew install graphviz'), or use "
                             "--format dot or --format mermaid\n")


def test_svg_is_what_dot_draws_from_the_dot_text(cli: Run, sqlite_url: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    received = tmp_path / "received.dot"
    monkeypatch.setenv("PATH", _path_with(tmp_path, f'#!/bin/sh\ntest "$1" = -Tsvg || exit 9\ncat > {received}\n'
                                                    'echo "<svg>drawn</svg>"\n'))
    result = cli("graph", "--format", "svg", "-u", sqlite_url)
    assert (result.exit_code, result.stdout) == (0, "<svg>drawn</svg>\n"), result.stderr
    monkeypatch.undo()
    assert received.read_text() == cli("graph", "--format", "dot", "-u", sqlite_url).stdout


def test_a_failing_dot_is_one_line(cli: Run, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", _path_with(tmp_path, "#!/bin/sh\necho 'Error: syntax error in line 3' >&2\n"
                                                    "echo more >&2\nexit 1\n"))
    result = cli("graph", "--format", "svg", "-u", sqlite_url)
    assert result.exit_code == 1
    assert re.fullmatch(r"Error: Graphviz's dot \(\S+/dot\) could not draw the graph: Error: syntax error in "
                        r"line 3\n", result.stderr), result.stderr


def test_the_docs_picture_is_the_repository_example_at_its_heads(tmp_path: Path) -> None:
    """docs/operating.rst shows what jnt_dbman graph draws for the core and janitoo_template, at their heads."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "JANITOO_DB_URL")}
    url = f"sqlite:///{tmp_path / 'example.sqlite'}"
    for args in (["initdb", "-q"], ["graph"]):
        done = subprocess.run([jnt_dbman_path(), *args, "-u", url], capture_output=True, text=True, env=env,
                              timeout=120)
        assert done.returncode == 0, done.stderr
    page = (REPO / "docs" / "operating.rst").read_text()
    block = page.split(".. mermaid::\n\n", 1)[1].split("\n\n", 1)[0]
    assert block == "".join(f"    {line}\n" for line in done.stdout.splitlines()).rstrip("\n")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed: the SVG it draws is "
                    "not checked here (the tests above check what jnt_dbman hands it, and the refusal without it)")
def test_svg_drawn_by_graphviz(cli: Run, two_branches: Path, sqlite_url: str) -> None:
    result = cli("graph", "--format", "svg", "-u", sqlite_url)
    assert result.exit_code == 0, result.stderr
    assert "<svg" in result.stdout and result.stdout.rstrip().endswith("</svg>")
    assert f">{NORTH[1]}</text>" in result.stdout and ">depends on</text>" in result.stdout
