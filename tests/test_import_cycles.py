"""The modules of cnn_model import one another one way only.

Every import statement counts, at the top of a module or inside a function
(a local import hides a cycle from Python, not from a reader); imports under
``if TYPE_CHECKING:`` never run and are left out. Importing a package counts
as importing its ``__init__``; a submodule's parent packages, which Python
loads first, are not counted unless a statement imports them.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from conftest import ROOT

PACKAGES = ("cnn_model", "scenes")


def module_files() -> dict[str, Path]:
    """Every module of PACKAGES by its dotted name (a package by its own name)."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement under ``node`` except those under ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            statements: list[ast.AST] = list(child.orelse)
        else:
            statements = [child]
        for statement in statements:
            if isinstance(statement, ast.Import | ast.ImportFrom):
                yield statement
            yield from _import_nodes(statement)


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that the module ``name`` (at ``path``) imports."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        if node.level:
            base = name if is_package else name.rpartition(".")[0]
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = f"{base}.{node.module}" if node.module else base
        else:
            target = node.module or ""
        for alias in node.names:
            # ``from package import x`` imports the submodule x when there is one,
            # else a name defined by the package's __init__.
            submodule = f"{target}.{alias.name}"
            found.add(submodule if submodule in known else target)
    return found & known


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    known = set(files)
    return {name: imported_modules(name, path, known) - {name} for name, path in files.items()}


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """The groups of two or more modules that reach one another (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
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
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def one_cycle(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest cycle through the first module of ``group``, as a list of modules."""
    start = min(group)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in sorted(graph[node] & group):
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if target not in came_from:
                came_from[target] = node
                queue.append(target)
    raise AssertionError(f"no cycle through {start}")  # a group always has one


def cycles_touching(package: str) -> list[str]:
    graph = import_graph()
    return [
        " -> ".join(one_cycle(graph, group))
        for group in strongly_connected(graph)
        if any(name == package or name.startswith(package + ".") for name in group)
    ]


def test_the_graph_sees_local_and_relative_imports() -> None:
    graph = import_graph()
    assert "cnn_model.tinyvgg" in graph["cnn_model.network"]  # from .tinyvgg import ...
    assert "cnn_model.explainer" in graph["cnn_model.samples"]  # inside a function
    assert "cnn_model.network" in graph["cnn_model.store"]  # inside a function
    assert "cnn_model.store" in graph["cnn_model"]  # the package's __init__


def test_finding_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    groups = strongly_connected(graph)
    assert groups == [{"a", "b", "c"}]
    assert one_cycle(graph, groups[0]) == ["a", "b", "c", "a"]


def test_cnn_model_has_no_import_cycle() -> None:
    cycles = cycles_touching("cnn_model")
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_cnn_model_does_not_import_scenes() -> None:
    graph = import_graph()
    wrong = sorted(
        f"{name} -> {target}"
        for name, targets in graph.items()
        if name.startswith("cnn_model")
        for target in targets
        if target.startswith("scenes")
    )
    assert not wrong, wrong


def test_scenes_has_no_import_cycle() -> None:
    cycles = cycles_touching("scenes")
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
