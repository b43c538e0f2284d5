"""The layer rules of the README's architecture paragraph, read from the code's own imports (ast, no import).

Module-level and function-level imports both count: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cnncli"

# what each part of the core may import from the rest of cnncli (besides itself)
ALLOWED = {
    "cnncli.core.arch": {"cnncli.core.errors", "cnncli.core.units", "cnncli.core.safe_parse"},
    "cnncli.core.data": {
        "cnncli",
        "cnncli.core.errors",
        "cnncli.core.units",
        "cnncli.core.safe_parse",
        "cnncli.core.atomic",
        "cnncli.core.reporting",
    },
    "cnncli.core.runtime": {"cnncli.core.errors", "cnncli.core.data"},
    "cnncli.core.nn": {"cnncli.core.arch", "cnncli.core.errors"},
}
FORBIDDEN = {
    "cnncli.core.inference": ("cnncli.core.training", "cnncli.cli"),
    "cnncli.core.training": ("cnncli.core.inference", "cnncli.cli"),
    "cnncli.core": ("cnncli.cli",),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name == "cnncli" or name.startswith("cnncli.")}


MODULES = {_module_name(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_layer_it_must_not(module):
    for prefix, banned in FORBIDDEN.items():
        if _within(module, prefix):
            bad = sorted(i for i in MODULES[module] if any(_within(i, b) for b in banned))
            assert not bad, f"{module} imports {bad}"
    for prefix, allowed in ALLOWED.items():
        if _within(module, prefix):
            outside = [i for i in MODULES[module] if not _within(i, prefix)]
            bad = sorted(i for i in outside if not any(i == a or _within(i, a) for a in allowed))
            assert not bad, f"{module} imports {bad}; {prefix} may import {sorted(allowed)}"


def _resolve(name: str) -> str | None:
    """The module an imported name lives in (`cnncli.core.arch.shapes.analyse` -> `cnncli.core.arch.shapes`)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def test_there_is_no_import_cycle():
    graph = {m: {r for i in imports if (r := _resolve(i)) and r != m} for m, imports in MODULES.items()}
    # a package's __init__ that re-exports lazily is not a dependency of its own sub-modules
    graph = {m: {d for d in deps if not _within(m, d)} for m, deps in graph.items()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path[path.index(nxt) :], nxt]))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
