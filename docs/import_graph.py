"""What imports what inside janitoo_db, read from the source with :mod:`ast`.

The architecture page draws its diagram from here when the docs are built, so
the picture cannot drift from the code, and tests/test_architecture.py checks
that the graph has no cycles.  Only the standard library is used: neither the
docs build nor CI needs Graphviz (``--dot`` prints a graph for those who have it).

Every ``import`` of a janitoo_db module counts, at module level or inside a
function ("deferred": it still runs, only later); imports under
``if TYPE_CHECKING:`` do not, since they never run.  Importing
``janitoo_db.a.b`` also runs ``janitoo_db/a/__init__.py``; that implicit edge is
left out, as Python copes with a package whose ``__init__`` imports its own
submodules.

Run ``python docs/import_graph.py`` for the reStructuredText, ``--dot`` for
Graphviz, ``--wings`` to draw wings rather than modules.
"""
from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import AbstractSet, Iterable, Iterator, Mapping, Sequence

PACKAGE = "janitoo_db"
#: Not the package's own code: released revision files and Alembic's env script.
SKIPPED = ("models/janitoo", "alembic")

Graph = Mapping[str, AbstractSet[str]]


@dataclass(frozen=True)
class Import:
    """One import statement's dependency of ``importer`` on ``imported``."""

    importer: str
    imported: str
    path: Path
    line: int
    deferred: bool

    def location(self, root: Path | None = None) -> str:
        """``file:line``, relative to ``root`` when given."""
        path = self.path.relative_to(root) if root is not None else self.path
        return f"{path.as_posix()}:{self.line}"


def module_names(package_dir: Path) -> dict[str, Path]:
    """The dotted name of each module of the package in ``package_dir``, skipping :data:`SKIPPED`."""
    package_dir = Path(package_dir).resolve()
    package = package_dir.name
    found: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        relative = path.relative_to(package_dir)
        if any(relative.as_posix().startswith(skipped + "/") for skipped in SKIPPED):
            continue
        parts = [package, *relative.with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _statements(body: Iterable[ast.stmt], deferred: bool) -> Iterator[tuple[ast.stmt, bool]]:
    """Every statement that may run, with whether it runs only when a function is called."""
    for node in body:
        yield node, deferred
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _statements(node.orelse, deferred)
            continue
        inner = deferred or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            for child in getattr(node, field, ()):
                # An except clause or a match case is no statement, but holds some.
                if not isinstance(child, ast.stmt):
                    yield from _statements(child.body, inner)
                if isinstance(child, ast.stmt):
                    yield from _statements([child], inner)


def _resolve(name: str, modules: Mapping[str, Path]) -> str | None:
    """The longest module of ours that ``name`` starts with, if any."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _targets(node: ast.stmt, module: str, path: Path, modules: Mapping[str, Path]) -> list[tuple[str, int]]:
    """The modules of ours that one statement imports, each with the line that names it."""
    if isinstance(node, ast.Import):
        return [(t, _line(alias, node)) for alias in node.names if (t := _resolve(alias.name, modules)) is not None]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        if node.level > 1:
            package = package[: len(package) - node.level + 1]
        base = ".".join([*package, *([node.module] if node.module else [])])
    else:
        base = node.module or ""
    found = []
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        if alias.name != "*" and _resolve(submodule, modules) == submodule:
            found.append((submodule, _line(alias, node)))
        elif (target := _resolve(base, modules)) is not None:
            found.append((target, node.lineno))
    return found


def _line(alias: ast.alias, node: ast.stmt) -> int:
    """The line of the name in ``from x import (a, b)`` over several lines (Python 3.10 numbers aliases)."""
    line = getattr(alias, "lineno", None)
    return line if isinstance(line, int) else node.lineno


def find_imports(package_dir: Path) -> list[Import]:
    """Every import, by a module of the package in ``package_dir``, of a module of that package."""
    modules = module_names(Path(package_dir))
    found: dict[Import, None] = {}  # one per statement and module imported, in order
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, deferred in _statements(tree.body, False):
            for target, line in _targets(node, module, path, modules):
                if target != module:
                    found[Import(module, target, path, line, deferred)] = None
    return list(found)


def graph_of(modules: Iterable[str], imports: Iterable[Import]) -> dict[str, set[str]]:
    """Each module mapped to the modules it imports."""
    graph: dict[str, set[str]] = {module: set() for module in modules}
    for found in imports:
        graph.setdefault(found.importer, set()).add(found.imported)
        graph.setdefault(found.imported, set())
    return graph


def module_graph(package_dir: Path) -> dict[str, set[str]]:
    """Each module of the package in ``package_dir`` mapped to the modules of it that it imports."""
    return graph_of(module_names(Path(package_dir)), find_imports(package_dir))


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one module (a module importing itself is no cycle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        # Tarjan's algorithm, with an explicit stack of (node, its remaining successors).
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, ())))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return sorted(found)


def wing_of(module: str) -> str:
    """The wing a module belongs to: ``janitoo_db.X.Y`` and ``janitoo_db.X`` are in wing ``X``.

    The package's own ``__init__`` is in a wing named after the package.
    """
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def wing_graph(graph: Graph) -> dict[str, set[str]]:
    """Each wing mapped to the other wings its modules import."""
    wings: dict[str, set[str]] = {}
    for module, imported in graph.items():
        wing = wings.setdefault(wing_of(module), set())
        for target in imported:
            wings.setdefault(wing_of(target), set())
            if wing_of(target) != wing_of(module):
                wing.add(wing_of(target))
    return wings


def layers(graph: Graph) -> list[list[list[str]]]:
    """The graph's nodes in layers, bottom first: a node imports only nodes of lower layers.

    Each entry of a layer is a strongly connected component: one node, or the
    nodes of a cycle, which have to share a layer.
    """
    component_of: dict[str, tuple[str, ...]] = {node: (node,) for node in graph}
    for cycle in cycles(graph):
        for node in cycle:
            component_of[node] = tuple(cycle)
    level: dict[tuple[str, ...], int] = {}

    def level_of(component: tuple[str, ...]) -> int:
        if component not in level:
            below = {component_of[t] for node in component for t in graph.get(node, ())} - {component}
            level[component] = 1 + max((level_of(c) for c in below), default=-1)
        return level[component]

    for each in sorted(set(component_of.values())):
        level_of(each)
    result: list[list[list[str]]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for component, at in sorted(level.items()):
        result[at].append(list(component))
    return result


def _deferred_only(imports: Iterable[Import], group: bool) -> set[tuple[str, str]]:
    """The edges (of wings when ``group``) that only deferred imports make."""
    def key(found: Import) -> tuple[str, str]:
        return (wing_of(found.importer), wing_of(found.imported)) if group else (found.importer, found.imported)
    eager = {key(found) for found in imports if not found.deferred}
    return {key(found) for found in imports if found.deferred} - eager


def cycle_imports(component: Sequence[str], imports: Iterable[Import]) -> list[Import]:
    """The import statements between modules of one cycle: removing enough of them breaks it."""
    members = set(component)
    return [found for found in imports if found.importer in members and found.imported in members]


def closing_imports(imports: Sequence[Import]) -> list[Import]:
    """The deferred imports whose module imports the importer back through module-level imports alone.

    Each makes a cycle by itself; the module-level ones cannot be the cause,
    when they make no cycle between them.
    """
    eager = graph_of((), (found for found in imports if not found.deferred))

    def reaches(start: str, goal: str) -> bool:
        seen, todo = {start}, [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            todo += [t for t in eager.get(node, ()) if t not in seen]
            seen.update(eager.get(node, ()))
        return False

    return [found for found in imports if found.deferred and reaches(found.imported, found.importer)]


def render_rst(graph: Graph, imports: Sequence[Import] = (), root: Path | None = None) -> str:
    """A reStructuredText fragment: the wings in layers, what each wing imports, and the cycles.

    With ``imports`` (from :func:`find_imports`), wing edges made only by
    deferred imports are marked, and each module cycle lists its import lines
    (relative to ``root``).
    """
    wings = wing_graph(graph)
    deferred = _deferred_only(imports, group=True)
    wing_cycles = cycles(wings)
    module_cycles = cycles(graph)
    out: list[str] = []
    out += ["Wings in layers", "~~~~~~~~~~~~~~~", ""]
    out += ["A wing imports only wings of the layers below it. Layer 0 imports nothing of janitoo_db.", ""]
    if wing_cycles:
        out += [f"**The wing graph has {len(wing_cycles)} cycle(s)**: the wings of a cycle share a layer, "
                "marked *cycle*.", ""]
    else:
        out += ["The wing graph has no cycles.", ""]
    out += ["::", ""]
    for at, layer in reversed(list(enumerate(layers(wings)))):
        names = ["{" + ", ".join(c) + "} (cycle)" if len(c) > 1 else c[0] for c in layer]
        out.append(f"    layer {at:>2}: {', '.join(names)}")
    out += ["", "What each wing imports", "~~~~~~~~~~~~~~~~~~~~~~", ""]
    if deferred:
        out += ["*(deferred)*: only imports inside functions make this dependency.", ""]
    for wing in sorted(wings):
        targets = [f"``{t}``" + (" *(deferred)*" if (wing, t) in deferred else "") for t in sorted(wings[wing])]
        out.append(f"* ``{wing}`` imports {', '.join(targets) if targets else 'nothing of janitoo_db'}")
    out += ["", "Module cycles", "~~~~~~~~~~~~~", ""]
    if not module_cycles:
        out += ["No module of janitoo_db imports, directly or not, a module that imports it back.", ""]
        return "\n".join(out)
    out += [f"**{len(module_cycles)} cycle(s)** between modules: the modules of each, and the import lines "
            "between them (removing enough of these breaks the cycle).", ""]
    eager_cycles = cycles(graph_of(graph, (found for found in imports if not found.deferred)))
    for number, component in enumerate(module_cycles, 1):
        out += [f"{number}. " + ", ".join(f"``{m}``" for m in component), ""]
        lines: dict[tuple[str, str], list[str]] = {}
        for found in cycle_imports(component, imports):
            lines.setdefault((found.importer, found.imported), []).append(
                f"``{found.location(root)}``" + (" *(deferred)*" if found.deferred else ""))
        for (importer, imported), where in sorted(lines.items()):
            out.append(f"   * ``{importer}`` imports ``{imported}``: {', '.join(where)}")
        if imports and not any(set(c) <= set(component) for c in eager_cycles):
            closing = [f"``{found.location(root)}``" for found in closing_imports(cycle_imports(component, imports))]
            out += ["", "   Module-level imports alone make no cycle here: deferred ones close it"
                    + (f", these on their own: {', '.join(closing)}." if closing else ".")]
        out.append("")
    return "\n".join(out)


def render_dot(graph: Graph, imports: Sequence[Import] = (), wings: bool = False) -> str:
    """The graph in Graphviz's language: modules clustered by wing, or wings alone; deferred-only edges dashed."""
    drawn = wing_graph(graph) if wings else graph
    deferred = _deferred_only(imports, group=wings)
    out = ["digraph janitoo_db {", "    node [shape=box, fontsize=10];"]
    if not wings:
        by_wing: dict[str, list[str]] = {}
        for module in sorted(graph):
            by_wing.setdefault(wing_of(module), []).append(module)
        for wing, members in sorted(by_wing.items()):
            if len(members) > 1:
                out.append(f'    subgraph "cluster_{wing}" {{ label="{wing}";')
                out += [f'        "{m}";' for m in members]
                out.append("    }")
            else:
                out.append(f'    "{members[0]}";')
    else:
        out += [f'    "{w}";' for w in sorted(drawn)]
    for source in sorted(drawn):
        for target in sorted(drawn[source]):
            style = " [style=dashed]" if (source, target) in deferred else ""
            out.append(f'    "{source}" -> "{target}"{style};')
    out.append("}")
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("package_dir", nargs="?", type=Path,
                        default=Path(__file__).resolve().parents[1] / PACKAGE)
    parser.add_argument("--dot", action="store_true", help="print Graphviz's language instead of reStructuredText")
    parser.add_argument("--wings", action="store_true", help="with --dot: one node per wing")
    args = parser.parse_args(argv)
    imports = find_imports(args.package_dir)
    graph = graph_of(module_names(args.package_dir), imports)
    if args.dot:
        sys.stdout.write(render_dot(graph, imports, wings=args.wings))
    else:
        sys.stdout.write(render_rst(graph, imports, root=Path(args.package_dir).resolve().parent) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
