"""The package's layout keeps its promises: no import cycle, no module over 400 lines, no
function over 60 (issue 15).

Every import counts, wherever it is written: at the top of a module, inside a function (a
lazy import still runs, and a cycle through it only waits for the first call), under
`if TYPE_CHECKING:` (mypy reads it, and a cycle there is a knot in the design all the same).
Importing `a.b.c` also runs the packages `a.b` and `a` on its way, so those count too. The
code is read with `ast`, never imported.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from conftest import REPO

PACKAGE = "notes_render"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


@dataclass(frozen=True)
class Module:
    name: str
    """Dotted name, `notes_render.markdown.mathsyntax`."""
    path: Path
    rel: str
    """Its file, relative to the folder that holds the package, in `/` form."""
    is_package: bool
    """An `__init__.py`: its relative imports count from itself."""


def find_modules(root: Path, package: str) -> dict[str, Module]:
    """Every module of the package under root/package, by dotted name."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        rel = path.relative_to(root).as_posix()
        modules[".".join(parts)] = Module(".".join(parts), path, rel, is_package)
    return modules


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    """The module a `from … import` names, its dots resolved."""
    if not node.level:
        return node.module or ""
    here = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    base = here[: len(here) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def _chain(name: str) -> list[str]:
    """The packages importing name runs, then name: `a`, `a.b`, `a.b.c`."""
    parts = name.split(".")
    return [".".join(parts[:depth]) for depth in range(1, len(parts) + 1)]


def dependencies(module: Module, modules: dict[str, Module]) -> dict[str, int]:
    """{module of the package that importing module runs: line of the first import}.

    `import a.b` and `from a.b import c` run `a`, `a.b` and, when c is a module, `a.b.c`.
    The importer's own packages are already running, so they do not count, except where
    a `from` takes a name defined in one (`from . import NAME` of the package's `__init__`)."""
    tree = ast.parse(module.path.read_text(encoding="utf-8"), str(module.path))
    own = set(_chain(module.name))
    found: dict[str, int] = {}
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [step for alias in node.names for step in _chain(alias.name) if step not in own]
        elif isinstance(node, ast.ImportFrom):
            parent = _absolute(module, node)
            targets = [step for step in _chain(parent) if step not in own]
            for alias in node.names:
                if f"{parent}.{alias.name}" in modules:
                    targets.append(f"{parent}.{alias.name}")
                elif parent in own and parent != module.name:
                    targets.append(parent)  # a name from the importer's own package's __init__
        for target in targets:
            if target in modules and target != module.name:
                found.setdefault(target, node.lineno)
    return found


def import_graph(modules: dict[str, Module]) -> dict[str, dict[str, int]]:
    """module -> {module of the package it imports: line of the first such import}."""
    return {name: dependencies(module, modules) for name, module in modules.items()}


def cycles(graph: dict[str, dict[str, int]]) -> list[tuple[list[str], set[str]]]:
    """Each strongly connected set of more than one module (imports that lead back to where
    they started), with the shortest cycle from its first module back to it: ([a, b, …, a], members)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[tuple[list[str], set[str]]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm; the package is small enough to recurse
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append((_cycle_through(graph, group), group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found, key=lambda item: item[0])


def _cycle_through(graph: dict[str, dict[str, int]], group: set[str]) -> list[str]:
    """The shortest cycle from the group's first module back to itself, inside the group."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node]):
                if target == start:
                    return [*paths[node], start]
                if target in group and target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle through {sorted(group)}")


def describe(
    cycle: list[str], group: set[str], graph: dict[str, dict[str, int]], modules: dict[str, Module]
) -> str:
    """The modules of a knot, and one cycle through its first one, with the import lines."""
    steps = [f"{a} -> {b} ({modules[a].rel}:{graph[a][b]})" for a, b in zip(cycle, cycle[1:], strict=False)]
    return f"import cycle among {', '.join(sorted(group))}: " + "; ".join(steps)


def long_modules(modules: dict[str, Module], limit: int) -> list[str]:
    found = []
    for module in modules.values():
        count = len(module.path.read_text(encoding="utf-8").splitlines())
        if count > limit:
            found.append(f"{module.rel}: {count} lines")
    return found


def long_functions(modules: dict[str, Module], limit: int) -> list[str]:
    """Every function or method (nested ones too) longer than limit lines, from its `def`
    line to its last, docstring included."""
    found = []
    for module in modules.values():
        tree = ast.parse(module.path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                count = (node.end_lineno or node.lineno) - node.lineno + 1
                if count > limit:
                    found.append(f"{module.rel}:{node.lineno}: {node.name} has {count} lines")
    return found


MODULES = find_modules(REPO, PACKAGE)


def test_no_import_cycle_inside_the_package() -> None:
    graph = import_graph(MODULES)
    found = [describe(cycle, group, graph, MODULES) for cycle, group in cycles(graph)]
    assert not found, "\n".join(found)


def test_no_module_over_400_lines() -> None:
    found = long_modules(MODULES, MAX_MODULE_LINES)
    assert not found, "\n".join(found)


def test_no_function_over_60_lines() -> None:
    found = long_functions(MODULES, MAX_FUNCTION_LINES)
    assert not found, "\n".join(found)


def test_the_checks_see_every_kind_of_import_and_length(tmp_path: Path) -> None:
    """On a package made for it: cycles through a function's import, a TYPE_CHECKING block
    and a name of a package's __init__ are found; importing a sibling module or a module
    of one's own package is not a cycle; long modules and functions are named."""
    files = {
        "pkg/__init__.py": "from .a import A\nHELPER = 1\n",
        "pkg/a.py": "from . import b\nA = 1\n",
        "pkg/b.py": "def f():\n    from .c import C\n    return C\n",
        "pkg/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .sub.d import D\nC = 1\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/d.py": "from ..b import f\nD = 1\n",
        "pkg/e.py": "from . import HELPER\nimport pkg.sub.d\n",
        "pkg/long.py": "def g():\n" + "    x = 1\n" * 61 + "\n" * 340,
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    modules = find_modules(tmp_path, "pkg")
    graph = import_graph(modules)
    found = [describe(cycle, group, graph, modules) for cycle, group in cycles(graph)]
    assert found == [
        "import cycle among pkg.b, pkg.c, pkg.sub.d: pkg.b -> pkg.c (pkg/b.py:2); "
        "pkg.c -> pkg.sub.d (pkg/c.py:3); pkg.sub.d -> pkg.b (pkg/sub/d.py:1)",
    ]
    assert graph["pkg.e"] == {"pkg": 1, "pkg.sub": 2, "pkg.sub.d": 2}
    assert graph["pkg.a"] == {"pkg.b": 1}  # `from . import b`: the module, not the package
    assert long_modules(modules, MAX_MODULE_LINES) == ["pkg/long.py: 402 lines"]
    assert long_functions(modules, MAX_FUNCTION_LINES) == ["pkg/long.py:1: g has 62 lines"]
