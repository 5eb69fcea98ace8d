"""The core never imports rclpy; only hullscan.ros does."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import hullscan

PKG = Path(hullscan.__file__).parent


def test_import_hullscan_does_not_import_rclpy() -> None:
    code = "import hullscan, hullscan.bag, hullscan.config, hullscan.model, hullscan.cli, sys; " \
           "assert 'rclpy' not in sys.modules, 'rclpy imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_only_ros_package_imports_rclpy() -> None:
    offenders = []
    for path in PKG.rglob("*.py"):
        if "ros" in path.relative_to(PKG).parts[:1]:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in {"rclpy", "sensor_msgs", "nav_msgs", "std_msgs"} for n in names):
                offenders.append(str(path))
    assert offenders == []


def test_ros_nodes_are_thin_adapters() -> None:
    """Node files convert messages and call the core; their logic lives (and is tested) outside
    hullscan/ros (issue 14). common.py and messages.py are the nodes' helpers, not nodes."""
    long = {p.name: n for p in (PKG / "ros").glob("*.py") if p.name not in ("common.py", "messages.py")
            and (n := len(p.read_text().splitlines())) > 200}
    assert long == {}
