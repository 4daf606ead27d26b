"""The typeset stage's modules import each other without a cycle, counting every import
(module level, inside functions, under TYPE_CHECKING): the engine, its cache and the TeX
helpers they share can be read, tested and replaced one at a time."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

TYPESET = REPO / "notes_render" / "typeset"


def _imports(path: Path) -> set[str]:
    """The typeset modules a module of typeset/ imports, wherever in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module is None:  # from . import x
                found.update(alias.name for alias in node.names)
            else:  # from .x import y
                found.add(node.module.split(".")[0])
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of graph, as the modules along it, or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done or module not in graph:
            return None
        for imported in sorted(graph[module]):
            cycle = visit(imported, [*path, module])
            if cycle is not None:
                return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module, [])
        if cycle is not None:
            return cycle
    return None


def test_the_typeset_modules_import_each_other_without_a_cycle() -> None:
    graph = {path.stem: _imports(path) for path in TYPESET.glob("*.py")}
    assert {"katex", "cache", "texdefs"} <= graph.keys()
    assert "katex" in graph["cache"]  # the cache wraps the engine: what a cycle would close
    assert _cycle(graph) is None, _cycle(graph)


def test_the_cycle_check_sees_a_cycle_through_an_import_inside_a_function() -> None:
    assert _cycle({"katex": {"cache"}, "cache": {"katex", "texdefs"}, "texdefs": set()}) == [
        "cache",
        "katex",
        "cache",
    ]
