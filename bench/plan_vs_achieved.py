"""Issue 20: predicted against achieved cleared coverage of a survey plan, in simulation.

For a scenario: its design hull is planned for (``hullscan plan``, with a sonar profile copied from
the scenario's multibeam), the plan is flown by the simulator (``survey: {plan: ...}``, parasites
removed so that nothing is cleared through a finding), and the bag is replayed with the sonar
uncertainty model (the one the plan predicts with) and the dive team's quay notes as the prior (the
simulator's truth is not used). Prints and writes ``OUT/plan_vs_achieved.json``. The work is
:func:`hullscan.commands.plancheck.check_plan`, which ``hullscan evaluate --plan`` runs per scenario.

    python bench/plan_vs_achieved.py --scenario sim/scenarios/full_hull_120m.yaml --time 30min --out runs/p20
    python bench/plan_vs_achieved.py --scenario bench/scenarios/dtmb5415_full_hull.yaml --time 30min --out runs/p20d
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hullscan.commands.plancheck import PlanCheck, check_plan

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--time", default="30min")
    ap.add_argument("--clear-height", type=float, default=0.1)
    ap.add_argument("--systematic", type=float, default=0.015)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    result = check_plan(Path(a.scenario), Path(a.out), PlanCheck(a.time, a.clear_height, a.systematic))
    print(json.dumps(result, indent=1))
