"""core's modules import each other without cycles, type-only imports included.

A cycle hidden behind `if TYPE_CHECKING:` still means two modules that cannot be understood (or
split, or tested) apart; the engine wires the loops, the loops never import the engine.
"""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "core"


def module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    return imports_in(path.read_text(), package, modules) - {module_name(path)}


def imports_in(source: str, package: str, modules: set[str]) -> set[str]:
    """Every core module `source` imports anywhere (top level, functions, TYPE_CHECKING blocks)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:  # `from core.x import y`: y may be a name, not a module
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def core_graph() -> dict[str, set[str]]:
    paths = sorted(CORE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, modules) for p in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that starts and ends at the same module, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_the_graph_sees_type_only_and_package_imports() -> None:
    """The checker itself: it must see imports under TYPE_CHECKING and `from core.x import module`."""
    graph = core_graph()
    assert "core.engine" in graph["core.headless"]
    assert "core.broker.model" in graph["core.backends.inprocess"]
    assert "core.runner" in graph["core.engine"]
    hidden = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from core.engine import Engine\n"
    assert imports_in(hidden, "core", {"core.engine"}) == {"core.engine"}
    relative = "def f():\n    from .model import Broker\n"
    assert imports_in(relative, "core.broker", {"core.broker.model"}) == {"core.broker.model"}
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_core_has_no_import_cycles() -> None:
    cycle = find_cycle(core_graph())
    assert cycle is None, "import cycle in core: " + " -> ".join(cycle or [])
