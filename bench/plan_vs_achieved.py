"""Issue 20: predicted against achieved cleared coverage of a survey plan, in simulation.

For a scenario: its design hull is planned for (``hullscan plan``, with a sonar profile copied from
the scenario's multibeam), the plan is flown by the simulator (``survey: {plan: ...}``, parasites
removed so that nothing is cleared through a finding), and the bag is replayed with the same
configuration the plan predicted with (the comparator's defaults, or ``--config``) and the dive team's
quay notes as the prior (the simulator's truth is not used). This is ``hullscan evaluate --plan`` on one scenario; it prints the
result and writes ``OUT/<scenario>/plan_vs_achieved.json``.

    python bench/plan_vs_achieved.py --scenario sim/scenarios/full_hull_120m.yaml --time 30min --out runs/p20
    python bench/plan_vs_achieved.py --scenario bench/scenarios/dtmb5415_full_hull.yaml --time 30min --out runs/p20d
    python bench/plan_vs_achieved.py --scenario ... --config sonar.yaml --out runs/p20s   # compare: {uncertainty: {model: sonar}}
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hullscan.cli import main as hullscan

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--time", default="30min")
    ap.add_argument("--clear-height", type=float, default=0.1)
    ap.add_argument("--config", help="YAML config for the plan and the replay (default: the comparator's defaults)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rc = hullscan(["evaluate", "--scenarios", a.scenario, "--plan", a.time, "--clear-height", str(a.clear_height),
                   "--out", a.out, "--no-progress", *(["--config", a.config] if a.config else [])])
    result = Path(a.out) / Path(a.scenario).stem / "plan_vs_achieved.json"
    if result.exists():
        print(json.dumps(json.loads(result.read_text()), indent=1))
    sys.exit(rc)
