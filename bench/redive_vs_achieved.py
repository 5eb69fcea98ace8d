"""A re-dive, predicted against achieved, in simulation (``hullscan plan --after``).

For a scenario: its own survey is simulated and replayed (the first dive, from the quay notes, never
the simulator's transform); a re-dive is planned over what that inspection left (``hullscan plan
--after``, the scenario's multibeam as the sonar profile, the time window given); the simulator flies
it (parasites removed, so nothing is cleared through a finding) and it is replayed the same way. The
surface cleared by either dive (the union of the two ``coverage.ply``) is compared with the plan's
prediction, which adds the first dive's cleared surface to what it predicts for its lanes; the target
is the plan check's (within 5 percentage points). This is ``hullscan evaluate --plan TIME --redive``
on the scenarios given; it writes ``OUT/<scenario>/redive_vs_achieved.json`` and
``OUT/redive_vs_achieved.md``.

    python bench/redive_vs_achieved.py --scenario sim/scenarios/demo.yaml --time 20min --out runs/redive
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hullscan.cli import main as hullscan

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", action="append", required=True, help="scenario YAML (repeat for several)")
    ap.add_argument("--time", default="20min", help="the re-dive's time window (default 20min)")
    ap.add_argument("--clear-height", type=float, default=0.1)
    ap.add_argument("--config", help="YAML config for the plan and both replays (default: the comparator's defaults)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rc = hullscan(["evaluate", *(x for s in a.scenario for x in ("--scenarios", s)), "--plan", a.time, "--redive",
                   "--clear-height", str(a.clear_height), "--out", a.out, "--no-progress",
                   *(["--config", a.config] if a.config else [])])
    print((Path(a.out) / "redive_vs_achieved.md").read_text())
    sys.exit(rc)
