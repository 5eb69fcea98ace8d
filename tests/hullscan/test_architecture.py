"""The layers of docs/architecture.md, checked on the source: no import cycle, and no import
against the direction of the data (ping -> cloud -> comparison -> report).

Every import counts: top-level ones, imports inside functions (the usual way to hide a cycle)
and ``if TYPE_CHECKING:`` ones. The graph is read with ``ast`` and nothing is imported.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "hullscan"

# Layer of each top-level part of the package; a module may import its own layer and lower ones.
LAYERS: dict[str, int] = {
    "core": 0,
    # foundations: data types, errors, configuration basics, file formats
    "_version": 1, "errors": 1, "model": 1, "settings": 1, "diagnostics": 1, "tf": 1, "outdir": 1, "recordlog": 1,
    "cloud_io": 1, "ply": 1, "hull": 1, "bag": 1, "sonar": 1,
    "recon": 2,      # pings -> hull cloud
    "compare": 3,    # cloud + reference -> deviation, findings, coverage
    "report": 4,     # findings -> what people read
    "config": 5,     # the whole configuration (assembles each stage's model)
    "configdoc": 5,  # its reference page
    "inspection": 5,  # the pipeline, stage after stage
    "batch": 5,       # many surveys through that pipeline: process pool or Dask
    "history": 5,     # the vessels' inspections in a database, and what is new since the last clean one
    "plan": 5,  # survey lanes and their predicted coverage
    # adapters
    "commands": 6, "cli": 6, "__main__": 6, "ros": 6, "__init__": 6,
}
CORE_MAY_IMPORT = {"numpy", "scipy", "numba"}


def _modules() -> dict[str, Path]:
    out = {}
    for f in PACKAGE.rglob("*.py"):
        parts = f.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = f
    return out


def _imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import statement anywhere in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            for alias in node.names:
                yield f"{mod}.{alias.name}", node.lineno  # `from pkg import module` names a module
                yield mod, node.lineno


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, path in mods.items():
        for target, _ in _imports(m, path):
            if target in mods and target != m and not m.startswith(target + "."):
                graph[m].add(target)
    return graph


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_reader_sees_function_level_imports(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("import os\n\ndef f():\n    from hullscan.compare import align\n    from . import sibling\n")
    got = {t for t, _ in _imports("hullscan.recon.m", f)}
    assert {"os", "hullscan.compare.align", "hullscan.recon.sibling"} <= got


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


def test_every_part_of_the_package_has_a_layer() -> None:
    assert {_part(m) for m in _modules()} <= set(LAYERS), set(map(_part, _modules())) - set(LAYERS)


def test_imports_follow_the_layers() -> None:
    wrong = [f"{m} (layer {LAYERS[_part(m)]}) imports {t} (layer {LAYERS[_part(t)]})"
             for m, targets in _graph().items() for t in sorted(targets)
             if LAYERS[_part(t)] > LAYERS[_part(m)]]
    assert not wrong, "\n".join(wrong)


def test_core_imports_only_numpy_scipy_numba() -> None:
    wrong = []
    for m, path in _modules().items():
        if _part(m) != "core":
            continue
        for target, line in _imports(m, path):
            top = target.split(".")[0]
            if top == "hullscan":
                if not target.startswith("hullscan.core"):
                    wrong.append(f"{path.name}:{line} {target}")
            elif top not in CORE_MAY_IMPORT and top not in sys.stdlib_module_names and top != "__future__":
                wrong.append(f"{path.name}:{line} {target}")
    assert not wrong, wrong


ROS_PACKAGES = ("rclpy", "sensor_msgs", "std_msgs", "std_srvs", "nav_msgs", "geometry_msgs", "visualization_msgs",
                "diagnostic_msgs", "marine_acoustic_msgs", "tf2_msgs", "builtin_interfaces", "rosgraph_msgs")


@pytest.mark.parametrize("package", [*ROS_PACKAGES, "hullscan.commands"])
def test_adapters_are_imported_only_where_they_belong(package: str) -> None:
    # Only the ROS adapters talk to rclpy and ROS messages; only the CLI dispatches to the commands.
    allowed = ("hullscan.commands", "hullscan.cli") if package == "hullscan.commands" else ("hullscan.ros",)
    wrong = [f"{m}:{line}" for m, path in _modules().items() if not m.startswith(allowed)
             for target, line in _imports(m, path) if target == package or target.startswith(package + ".")]
    assert not wrong, wrong
