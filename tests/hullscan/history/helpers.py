"""Small inspections and clouds for the history tests (no survey, no comparison)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hullscan.cloud_io import save_cloud
from hullscan.compare.config import CompareConfig
from hullscan.compare.inspect import Inspection
from hullscan.history.record import RunRecord
from hullscan.model import Finding, HullCloud, Transform
from hullscan.report.verdict import Verdict

FOUND = Verdict("found", "compartments found (1)", 3, 0.5, 0.1)
CLEAN = Verdict("nothing_found", "nothing found in the cleared 99.0 %", 0, 0.99, 0.1)


def finding(fid: str = "F001", x: float = 40.0) -> Finding:
    return Finding(fid, "protrusion", (x, -7.0, -2.5), 0.3, 0.5, 1.0, (x - 0.5, -7.5, -3.0), (x + 0.5, -6.5, -2.0),
                   "side", "starboard", x, 2.5, 0.9, 0.8, 500)


def inspection(*findings: Finding) -> Inspection:
    return Inspection(CompareConfig(), "mesh", "hull", findings=findings, cloud_to_ref=Transform.from_euler(0, 0, 0.5, (1, 2, 0)),
                      n_cloud_points=300)


def cloud_file(path: Path, seed: int = 0) -> Path:
    save_cloud(HullCloud.from_points(np.random.default_rng(seed).normal(size=(300, 3))), path)
    return path


def run_record(cloud: Path | None, cleared: bool = False, out: str = "out") -> RunRecord:
    return RunRecord("compare", {"cloud": "ab" * 32, "reference": "cd" * 32}, "/ships/hull.stl", out,
                     None if cloud is None else str(cloud), cleared)
