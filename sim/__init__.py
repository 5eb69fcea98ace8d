"""hullscan_sim: simulated hull surveys written as rosbag2 bags, with ground truth.

Installed from the ``sim/`` folder as the package ``hullscan_sim``::

    from hullscan_sim import load_scenario, simulate
    result = simulate(load_scenario("sim/scenarios/demo.yaml"), "bags/demo")
"""

from __future__ import annotations

from pathlib import Path

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"

from hullscan_sim.scenario import Scenario, load_scenario  # noqa: E402
from hullscan_sim.simulate import SimResult, build_world, design_mesh_for, simulate, truth_dir_for  # noqa: E402

__all__ = ["SCENARIO_DIR", "Scenario", "SimResult", "build_world", "design_mesh_for", "load_scenario", "simulate", "truth_dir_for"]
