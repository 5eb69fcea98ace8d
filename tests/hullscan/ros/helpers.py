"""Shared pieces of the multi-process ROS tests: a small survey bag and process handling."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from hullscan.bag import BagWriter
from hullscan.model import NavSample, ProfilingPing, Transform, TransformStamped

REPO = Path(__file__).resolve().parents[3]
T0 = 1_700_000_000_000_000_000
FAKE = "tests.hullscan.ros.fake_recon:FakeReconstructor"


def write_survey(path: Path, seconds: float = 6.0, beams: int = 128, rate_hz: float = 20.0) -> Path:
    """A vehicle running along a flat wall 3 m to port, one profiling sonar looking left."""
    angles = np.linspace(0.3, 2.8, beams)
    with BagWriter(path) as bag:
        bag.write_tf([TransformStamped(T0, "base_link", "sonar", Transform.from_euler(0, 0, 0, (0.2, 0, 0)), True)],
                     static=True)
        n_nav = int(seconds * 50)
        for i in range(n_nav):
            t = T0 + i * 20_000_000
            bag.write(NavSample(t, [0.5 * i / 50, 0, -2.0], [0, 0, 0, 1]))
            if i % int(50 / rate_hz) == 0:
                r = np.where(np.sin(angles) > 0.1, 3.0 / np.maximum(np.sin(angles), 1e-3), np.nan)
                bag.write(ProfilingPing(t + 1, "sonar", angles, np.minimum(r, 30.0).astype(np.float32),
                                        np.ones(beams, np.float32)))
    return path


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(args, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def node_cmd(executable: str, **params: Any) -> list[str]:
    if executable in ("mapper", "camera"):  # the pip wheels lack tf2_msgs and marine_acoustic_msgs
        params.setdefault("allow_missing_msgs", "true")
    cmd = [sys.executable, "-m", f"hullscan.ros.{executable}", "--ros-args"]
    for k, v in params.items():
        cmd += ["-p", f"{k}:={v}"]
    return cmd


def rows(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def stop(*procs: subprocess.Popen[str]) -> list[tuple[str, str]]:
    out = []
    for p in procs:
        if p.poll() is None:
            p.terminate()
        try:
            o, e = p.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            o, e = p.communicate()
        out.append((o, e))
    return out
