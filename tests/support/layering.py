"""The import contract of the product packages, checked from source (no import is executed).

Floors, bottom to top: `schemas` → the kernel → the three sides → the composition root.
A module may import its own package and packages on lower floors; the three sides never
import each other; nothing may form an import cycle between modules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

FLOORS: dict[str, int] = {"schemas": 0, "kernel": 1, "commands": 2, "projections": 2,
                          "queries": 2, "core": 3}


@dataclass(frozen=True)
class Import:
    module: str
    imported: str
    line: int


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(root: Path, path: Path) -> Iterator[Import]:
    """Every import of our packages in a file, at any depth (function-level imports too)."""
    name = module_name(root, path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            targets = [_absolute(package, node.module, node.level)]
            targets += [f"{targets[0]}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] in FLOORS:
                yield Import(name, target, node.lineno)


def _absolute(package: str, module: str | None, level: int) -> str:
    if not level:
        return module or ""
    base = package.split(".")[: len(package.split(".")) - level + 1]
    return ".".join([*base, *([module] if module else [])])


def product_files(root: Path) -> Iterator[Path]:
    for package in FLOORS:
        yield from sorted((root / package).rglob("*.py"))


def layer_violations(imports: Iterable[Import]) -> list[str]:
    found = []
    for imp in imports:
        own, other = imp.module.split(".")[0], imp.imported.split(".")[0]
        if own == other:
            continue
        if FLOORS[other] >= FLOORS[own]:
            found.append(f"{imp.module}:{imp.line} imports {imp.imported} "
                         f"({own} may not import {other})")
    return found


def import_cycles(imports: Iterable[Import], modules: set[str]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for imp in imports:
        target = _known(imp.imported, modules)
        if target is not None and target != imp.module:
            graph[imp.module].add(target)
    return [sorted(c) for c in _components(graph) if len(c) > 1]


def _known(name: str, modules: set[str]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _components(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def check_tree(root: Path) -> list[str]:
    """Every broken rule of the tree under `root`, as readable lines (empty when clean)."""
    files = list(product_files(root))
    imports = [imp for path in files for imp in imports_of(root, path)]
    modules = {module_name(root, path) for path in files}
    problems = layer_violations(imports)
    problems += [f"import cycle: {' -> '.join(c)}" for c in import_cycles(imports, modules)]
    return problems
