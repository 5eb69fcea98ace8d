"""A message package missing from the Python environment is never a silent INFO: the node refuses
to start with one line naming it, unless allow_missing_msgs (then a lasting WARN)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.hullscan.ros.helpers import REPO

pytestmark = pytest.mark.ros


@pytest.mark.parametrize("node", ["mapper", "camera"])
def test_node_refuses_to_start_without_tf2_msgs(node: str, ros_domain_env: dict[str, str]) -> None:
    if importlib.util.find_spec("tf2_msgs") is not None:
        pytest.skip("tf2_msgs is installed here: nothing is missing")
    done = subprocess.run([sys.executable, "-m", f"hullscan.ros.{node}"], env=ros_domain_env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr[-2000:]
    errors = [x for x in done.stderr.splitlines() if x.startswith("ERROR")]
    assert len(errors) == 1 and "tf2_msgs" in errors[0] and "allow_missing_msgs:=true" in errors[0], done.stderr
    assert "Traceback" not in done.stderr
