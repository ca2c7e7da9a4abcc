"""The import direction of the library: geometry <- sim <- surrogate <- optim <- app, and no import cycles.

Every .py file of the five packages (subpackages included) is parsed with `ast`; every import counts, at
module level and inside functions (a function-level import is still a dependency, and still runs the imported
module's top level). `from pkg import name` is an edge to pkg.name when that is a module of the project, else
to pkg; relative imports are resolved against the importing module's package.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Lowest first: a package may import the packages before it, never those after it.
LAYERS = ("geometry", "sim", "surrogate", "optim", "app")


@dataclass(frozen=True)
class Edge:
    source: str  # importing module, e.g. "sim.solver"
    target: str  # imported project module, e.g. "geometry.shape"
    where: str  # "sim/solver.py:12"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def find_modules(root: Path, packages: tuple[str, ...] = LAYERS) -> dict[str, Path]:
    """Every module of the packages (package __init__ files under the package's own name)."""
    modules = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            modules[module_name(path, root)] = path
    return modules


def _resolve(name: str, known: set[str]) -> str | None:
    """The longest project module that `name` is or lies in (None for a third-party or standard module)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def _imported_names(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """The dotted names an import node brings in (for `from x import y`: both x.y and, as a fallback, x)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        return [f"{prefix}.{alias.name}" if prefix else alias.name for alias in node.names] + [prefix]
    # importlib.import_module("x.y") / __import__("x.y") with a literal name
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        func = node.func
        fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if fname in ("import_module", "__import__") and isinstance(node.args[0].value, str):
            return [node.args[0].value]
    return []


def collect_edges(modules: dict[str, Path], root: Path) -> list[Edge]:
    """All import edges between project modules (self-imports dropped)."""
    known = set(modules)
    edges = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            names = _imported_names(node, module, is_package)
            if not names:
                continue
            where = f"{path.relative_to(root)}:{node.lineno}"
            if isinstance(node, ast.ImportFrom):
                # `from x import y`: y a submodule -> edge to it; otherwise the edge is to x itself
                *items, prefix = names
                targets = {_resolve(n, known) for n in items if n in known}
                if len(targets) < len(items):
                    targets.add(_resolve(prefix, known))
            else:
                targets = {_resolve(n, known) for n in names}
            for target in sorted(t for t in targets if t and t != module):
                edges.append(Edge(module, target, where))
    return edges


def layer(module: str, layers: tuple[str, ...] = LAYERS) -> int:
    return layers.index(module.split(".")[0])


def backward_edges(edges: list[Edge], layers: tuple[str, ...] = LAYERS) -> list[Edge]:
    """Edges from a package to one above it in `layers`."""
    return [e for e in edges if layer(e.target, layers) > layer(e.source, layers)]


def find_cycles(edges: list[Edge]) -> list[list[Edge]]:
    """One cycle (as its edges, closing on its first module) per strongly connected component with more than
    one module (Tarjan's algorithm, iterative)."""
    graph: dict[str, dict[str, Edge]] = {}
    for e in edges:
        graph.setdefault(e.source, {}).setdefault(e.target, e)
        graph.setdefault(e.target, {})
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
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
                    components.append(sorted(component))
    cycles = []
    for component in components:
        inside = set(component)
        # shortest path back to the first module, by breadth-first search within the component
        first = component[0]
        parent: dict[str, Edge] = {}
        frontier = [first]
        closing = None
        while frontier and closing is None:
            nxt = []
            for node in frontier:
                for target, edge in sorted(graph[node].items()):
                    if target == first:
                        closing = edge
                        break
                    if target in inside and target not in parent:
                        parent[target] = edge
                        nxt.append(target)
                if closing is not None:
                    break
            frontier = nxt
        assert closing is not None
        path = [closing]
        while path[0].source != first:
            path.insert(0, parent[path[0].source])
        cycles.append(path)
    return cycles


def describe(cycle: list[Edge]) -> str:
    return (
        " -> ".join([cycle[0].source] + [e.target for e in cycle])
        + "  ("
        + ", ".join(e.where for e in cycle)
        + ")"
    )


@pytest.fixture(scope="module")
def project_edges() -> list[Edge]:
    modules = find_modules(ROOT)
    assert {m.split(".")[0] for m in modules} == set(LAYERS)
    assert len(modules) > 50, sorted(modules)  # the walk really saw the packages
    edges = collect_edges(modules, ROOT)
    assert len(edges) > 50  # and their imports
    return edges


def test_packages_import_only_downwards(project_edges):
    bad = backward_edges(project_edges)
    assert not bad, "imports against geometry <- sim <- surrogate <- optim <- app:\n" + "\n".join(
        f"  {e.where}: {e.source} imports {e.target}" for e in bad
    )


def test_no_import_cycles(project_edges):
    cycles = find_cycles(project_edges)
    assert not cycles, "import cycles:\n" + "\n".join("  " + describe(c) for c in cycles)


def test_geometry_imports_no_other_package(project_edges):
    assert not [e for e in project_edges if e.source.startswith("geometry") and layer(e.target) > 0]


# ---------- the checker itself ----------


def _write(root: Path, files: dict[str, str]) -> dict[str, Path]:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return find_modules(root, ("low", "high"))


def test_checker_finds_backward_edges_and_cycles(tmp_path):
    modules = _write(
        tmp_path,
        {
            "low/__init__.py": "",
            "low/a.py": "import os\nfrom low import b\n",
            "low/b.py": "def f():\n    from . import c\n",  # function level, relative
            "low/c.py": "from .a import thing\n",  # closes a -> b -> c -> a
            "low/d.py": "def g():\n    import high.x\n",  # backward, inside a function
            "low/sub/__init__.py": "",
            "low/sub/e.py": "from ..d import g\nfrom high import x as y\n",  # relative two up; backward
            "high/__init__.py": "",
            "high/x.py": "from low.sub import e\nfrom low import d\nimport importlib\n"
            "importlib.import_module('low.a')\n",
        },
    )
    edges = collect_edges(modules, tmp_path)
    pairs = {(e.source, e.target) for e in edges}
    assert pairs == {
        ("low.a", "low.b"),
        ("low.b", "low.c"),
        ("low.c", "low.a"),
        ("low.d", "high.x"),
        ("low.sub.e", "low.d"),
        ("low.sub.e", "high.x"),
        ("high.x", "low.sub.e"),
        ("high.x", "low.d"),
        ("high.x", "low.a"),
    }
    back = backward_edges(edges, ("low", "high"))
    assert {(e.source, e.target) for e in back} == {("low.d", "high.x"), ("low.sub.e", "high.x")}
    assert back[0].where.endswith(":2")  # the line of the function-level import
    cycles = find_cycles(edges)
    described = sorted(describe(c) for c in cycles)
    assert len(cycles) == 2, described
    assert any(d.startswith("low.a -> low.b -> low.c -> low.a") for d in described), described
    assert any(d.startswith("high.x -> low.d -> high.x") for d in described), described


def test_checker_passes_a_clean_graph(tmp_path):
    modules = _write(
        tmp_path,
        {
            "low/__init__.py": "from .a import f\n",
            "low/a.py": "import numpy\n",
            "high/__init__.py": "",
            "high/x.py": "from low import f\nfrom low.a import numpy\n",
        },
    )
    edges = collect_edges(modules, tmp_path)
    assert {(e.source, e.target) for e in edges} == {("low", "low.a"), ("high.x", "low"), ("high.x", "low.a")}
    assert not backward_edges(edges, ("low", "high")) and not find_cycles(edges)
