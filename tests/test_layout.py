"""The packages' own imports form no circle, and none hides one inside a function.

import-linter (``hatch run imports:check``) holds the layers; this test holds what a
layers contract cannot see: a circle between modules of one layer, and an import of a
sibling module placed inside a function, the usual way to paper over a circle. Every
import counts here, ``TYPE_CHECKING`` blocks included.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(ROOT.glob("packages/*/src/*"))

# (importer, imported): imports inside a function that are not there to dodge a circle.
DEFERRED = {
    # hpack comes with h2, an optional dependency imported on first use.
    ("httptransport._h2_adapter", "httptransport._hpack"),
}


def _modules() -> Iterator[tuple[str, Path, bool]]:
    """Every module of every package: ``(name, path, is_package)``."""
    for source in SOURCES:
        for path in sorted(source.rglob("*.py")):
            parts = list(path.relative_to(source.parent).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            yield ".".join(parts), path, is_package


def _imports(name: str, path: Path, is_package: bool) -> Iterator[tuple[str, bool]]:
    """The modules ``name`` imports, each with whether the import sits in a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if is_package else name.rpartition(".")[0]
    in_function: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            in_function.update(ast.walk(node))
    for node in ast.walk(tree):
        deferred = node in in_function
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, deferred
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target, deferred
            for alias in node.names:  # "from . import module"
                yield f"{target}.{alias.name}", deferred


def _graph() -> tuple[dict[str, set[str]], set[tuple[str, str]]]:
    modules = {name: (path, is_package) for name, path, is_package in _modules()}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    deferred: set[tuple[str, str]] = set()
    for name, (path, is_package) in modules.items():
        for target, in_function in _imports(name, path, is_package):
            if target in modules and target != name:
                graph[name].add(target)
                if in_function:
                    deferred.add((name, target))
    return graph, deferred


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _without_package_inits(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Drop the edges from a package's ``__init__`` to its own submodules: re-exporting
    them is what ``__init__`` is for, and it is not a dependency of theirs on it."""
    return {
        name: {t for t in targets if not t.startswith(name + ".")}
        for name, targets in graph.items()
    }


def test_the_import_graph_is_found() -> None:
    """The graph sees the imports it must judge (a guard against a test that sees none)."""
    graph, deferred = _graph()
    assert "httptransport._pool_logic" in graph["httptransport._async.connection_pool"]
    assert "httptransport._async.proxy_routing" in graph["httptransport._async.connection_pool"]
    assert ("httptransport._h2_adapter", "httptransport._hpack") in deferred


def test_no_import_circles() -> None:
    """No module depends, through any chain of imports, on itself."""
    graph, _ = _graph()
    assert _cycles(_without_package_inits(graph)) == []


def test_cycle_finder_finds_a_circle() -> None:
    """The circle finder reports a circle of three modules (it can fail)."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_deferred_imports_of_own_modules() -> None:
    """No module imports a sibling module inside a function, except the listed ones."""
    _, deferred = _graph()
    assert deferred <= DEFERRED
