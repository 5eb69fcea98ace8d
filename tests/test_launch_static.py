"""Launch files checked without the launch package: executables, params and RViz files exist,
are installed by setup.py, and package.xml declares what they use."""

from __future__ import annotations

import ast
import glob
import re
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
LAUNCH = sorted((REPO / "launch").glob("*.launch.py"))


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and getattr(n.func, "id", getattr(n.func, "attr", None)) == name]


def _kw(call: ast.Call, key: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == key), None)


def _installed() -> dict[str, list[str]]:
    """setup.py data_files, evaluated with its globs (destination -> files)."""
    tree = ast.parse((REPO / "setup.py").read_text())
    call = _calls(tree, "setup")[0]
    out: dict[str, list[str]] = {}
    for item in _kw(call, "data_files").elts:  # type: ignore[union-attr]
        dest = ast.literal_eval(item.elts[0])
        src = ast.unparse(item.elts[1])
        files = eval(src, {"glob": lambda p: glob.glob(str(REPO / p))})  # only glob() and lists
        out[dest] = [str(Path(f).relative_to(REPO)) if Path(f).is_absolute() else f for f in files]
    return out


def test_there_are_three_launch_files() -> None:
    assert {p.name for p in LAUNCH} == {"inspect.launch.py", "replay.launch.py", "simulate.launch.py"}


@pytest.mark.parametrize("path", LAUNCH, ids=lambda p: p.name)
def test_launch_file_names_real_things(path: Path) -> None:
    tree = ast.parse(path.read_text())
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    installed = _installed()
    n_nodes = 0
    for call in _calls(tree, "Node"):
        pkg = ast.literal_eval(_kw(call, "package"))  # type: ignore[arg-type]
        exe_node = _kw(call, "executable")
        if not isinstance(exe_node, ast.Constant):  # a helper's Node(executable=executable): checked below
            continue
        n_nodes += 1
        exe = exe_node.value
        if pkg == "hullscan":
            assert exe in scripts, f"{path.name}: executable {exe} is not a console script in pyproject.toml"
        else:
            assert pkg in _exec_depends(), f"{path.name}: package {pkg} not in package.xml exec_depend"
    # hullscan_node("hullscan_mapper", ...) / node("hullscan_mapper", ...): the launch files' helpers
    for call in _calls(tree, "hullscan_node") + _calls(tree, "node"):
        n_nodes += 1
        exe = ast.literal_eval(call.args[0])
        assert exe in scripts, f"{path.name}: executable {exe} is not a console script in pyproject.toml"
    assert n_nodes >= 3, f"{path.name}: expected the three hullscan nodes"
    # The simulator is called by its installed path (lib/hullscan/hullscan: not on PATH under colcon).
    if _calls(tree, "ExecuteProcess"):
        assert '"lib", "hullscan", "hullscan"' in path.read_text(), path.name
    # Every share file named (os.path.join(share, "dir", "file")) exists and is installed there.
    for call in _calls(tree, "join"):
        if not (call.args and isinstance(call.args[0], ast.Name) and call.args[0].id == "share"):
            continue
        parts = [a.value for a in call.args if isinstance(a, ast.Constant)]
        if len(parts) == 2:
            rel = f"{parts[0]}/{parts[1]}"
            assert (REPO / rel).is_file(), f"{path.name}: {rel} does not exist"
            assert rel in installed.get(f"share/hullscan/{parts[0]}", []), f"{rel} is not installed by setup.py"
    assert path.relative_to(REPO).as_posix() in installed["share/hullscan/launch"]


def _exec_depends() -> set[str]:
    return set(re.findall(r"<exec_depend>([^<]+)</exec_depend>", (REPO / "package.xml").read_text()))


def test_package_xml_declares_what_the_nodes_use() -> None:
    deps = _exec_depends()
    for dep in ("rclpy", "launch", "launch_ros", "rviz2", "sensor_msgs", "nav_msgs", "std_msgs", "std_srvs",
                "visualization_msgs", "diagnostic_msgs", "rosgraph_msgs", "geometry_msgs", "builtin_interfaces",
                "tf2_msgs", "ament_index_python"):
        assert dep in deps, f"package.xml lacks <exec_depend>{dep}</exec_depend>"


def test_params_files_parse_and_are_installed() -> None:
    installed = _installed()["share/hullscan/config"]
    files = sorted((REPO / "config").glob("*.yaml"))
    assert {f.name for f in files} >= {"hullscan.yaml", "replay.yaml"}
    for f in files:
        data = yaml.safe_load(f.read_text())
        assert all("ros__parameters" in v for v in data.values()), f.name
        assert f"config/{f.name}" in installed


def test_rviz_config_shows_the_outputs() -> None:
    rviz = yaml.safe_load((REPO / "launch" / "hullscan.rviz").read_text())
    topics = {d["Topic"]["Value"] for d in rviz["Visualization Manager"]["Displays"] if "Topic" in d}
    assert {"/hullscan/deviation_cloud", "/hullscan/reference", "/hullscan/findings", "/hullscan/unseen",
            "/hullscan/path"} <= topics
    assert "launch/hullscan.rviz" in _installed()["share/hullscan/launch"]
