"""A re-dive, predicted against achieved, in simulation (``hullscan plan --after``).

For a scenario: its own survey is simulated and replayed (the first dive, from the quay notes, never
the simulator's transform); a re-dive is planned over what that inspection left (``hullscan plan
--after``, the scenario's multibeam as the sonar profile, the time window given); the simulator flies
it (parasites removed, so nothing is cleared through a finding) and it is replayed the same way. The
surface cleared by either dive (the union of the two ``coverage.ply``) is compared with the plan's
prediction, which adds the first dive's cleared surface to what it predicts for its lanes; the target
is the plan check's (within 5 percentage points). Writes ``OUT/<scenario>/redive_vs_achieved.json``
and, over the scenarios, ``OUT/redive_vs_achieved.md``.

    python bench/redive_vs_achieved.py --scenario sim/scenarios/demo.yaml --time 20min --out runs/redive
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hullscan.commands.plancheck import PlanCheck, check_redive


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f} %"


def table(rows: list[dict]) -> str:  # type: ignore[type-arg]
    lines = ["| scenario | first dive cleared | re-dive: lanes, min | cleared by either: predicted | achieved | "
             "difference (pp) | targeted surface cleared by the re-dive | held back, cleared by the re-dive |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        u = r["union_cleared"]
        lines.append(f"| {r['scenario']} | {_pct(r['first_cleared'])} | {r['lanes']}, {r['planned_s'] / 60:.1f} | "
                     f"{_pct(u['predicted'])} | {_pct(u['achieved'])} | {u['difference_pp']:+.1f} | "
                     f"{_pct(r['targeted_cleared_achieved'])} | {_pct(r['held_back_cleared_by_second'])} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", action="append", required=True, help="scenario YAML (repeat for several)")
    ap.add_argument("--time", default="20min", help="the re-dive's time window (default 20min)")
    ap.add_argument("--clear-height", type=float, default=0.1)
    ap.add_argument("--config", help="YAML config for the plan and both replays (default: the comparator's defaults)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    check = PlanCheck(a.time, a.clear_height, config=a.config)
    rows = []
    for s in a.scenario:
        print(f"[redive] {Path(s).stem}", file=sys.stderr, flush=True)
        rows.append(check_redive(Path(s), Path(a.out) / Path(s).stem, check))
        print(json.dumps(rows[-1], indent=1))
    md = table(rows)
    (Path(a.out) / "redive_vs_achieved.md").write_text(md)
    print(md)
