"""Shared pieces of the multi-process ROS tests: a small survey bag and process handling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from hullscan.bag import BagWriter
from hullscan.model import NavSample, ProfilingPing, Transform, TransformStamped

REPO = Path(__file__).resolve().parents[3]
T0 = 1_700_000_000_000_000_000
FAKE = "tests.hullscan.ros.fake_recon:FakeReconstructor"
_OUTPUT: dict[int, tuple[IO[str], IO[str]]] = {}  # pid -> the files holding its stdout and stderr


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


def spawn(args: list[str], env: dict[str, str], stream: bool = False) -> subprocess.Popen[str]:
    """Start a node. Its output goes to temporary files, not pipes: nobody reads a pipe until
    ``stop``, and a process that writes more than the pipe's 64 KiB (the probe's JSON rows over a
    survey) would block on its next write and never finish. ``stream``: pipes, for a test that
    reads them as they come (and so keeps them drained)."""
    if stream:
        return subprocess.Popen(args, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed by stop)
    err = tempfile.TemporaryFile("w+")  # noqa: SIM115
    proc = subprocess.Popen(args, env=env, cwd=REPO, stdout=out, stderr=err, text=True)
    _OUTPUT[proc.pid] = (out, err)
    return proc


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
    """Terminate what still runs (SIGTERM, then SIGKILL after 15 s); each process's stdout and stderr."""
    out = []
    for p in procs:
        if p.poll() is None:
            p.terminate()
        if p.pid not in _OUTPUT:  # streamed: pipes
            try:
                out.append(p.communicate(timeout=15))
            except subprocess.TimeoutExpired:
                p.kill()
                out.append(p.communicate())
            continue
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        out.append(_read_output(p))
    return out


def output_so_far(p: subprocess.Popen[str]) -> str:
    """The whole lines a process started by :func:`spawn` has written to stdout so far, while it
    runs. Read with ``pread``: the file's offset is shared with the process, and moving it would
    put its next line elsewhere."""
    fd = _OUTPUT[p.pid][0].fileno()
    data = os.pread(fd, os.fstat(fd).st_size, 0)
    return data[: data.rfind(b"\n") + 1].decode(errors="replace")


def _read_output(p: subprocess.Popen[str]) -> tuple[str, str]:
    files = _OUTPUT.pop(p.pid)
    texts = []
    for f in files:
        f.seek(0)
        texts.append(f.read())
        f.close()
    return texts[0], texts[1]


def demo_map(tmp_path: Path) -> tuple[Path, Path]:
    """The demo coaster's port side and bottom, simulated (every 4th ping) and reconstructed:
    the hull map (cloud.ply) and the bag's truth folder (test scaffolding: the design mesh)."""
    cli = [sys.executable, "-m", "hullscan"]
    bag = tmp_path / "bag"
    for args in (["simulate", "--scenario", "demo", "--out", str(bag), "--decimate", "4"],
                 ["reconstruct", str(bag), "--out", str(tmp_path / "rec"), "--no-progress"]):
        done = subprocess.run([*cli, *args], cwd=REPO, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    return tmp_path / "rec" / "cloud.ply", bag.with_name("bag.truth")
