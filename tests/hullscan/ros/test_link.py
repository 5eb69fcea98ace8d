"""A LaserScan crosses between two processes over DDS on loopback."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.ros


def test_laserscan_between_two_processes(ros_domain_env: dict[str, str]) -> None:
    count, beams = 10, 512
    cmd = [sys.executable, "-m", "hullscan.ros.link"]
    sub = subprocess.Popen([*cmd, "sub", "--count", str(count), "--timeout", "60"], env=ros_domain_env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pub = subprocess.run([*cmd, "pub", "--count", str(count), "--beams", str(beams)], env=ros_domain_env,
                             capture_output=True, text=True, timeout=90)
        assert pub.returncode == 0, pub.stderr
        out, err = sub.communicate(timeout=90)
    finally:
        sub.kill()
    assert sub.returncode == 0, err
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(rows) == count
    angles = np.linspace(-1.1, 1.1, beams)
    for i, row in enumerate(rows):
        assert row["beams"] == beams
        assert row["stamp_ns"] == 1_700_000_000_000_000_000 + i * 50_000_000
        expect = (5.0 + 0.01 * i + 0.1 * np.cos(angles)).astype(np.float32)
        np.testing.assert_array_equal(np.asarray(row["ranges"], np.float32), expect)
        assert row["intensity0"] == float(i)
