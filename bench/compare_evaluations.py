"""Two ``hullscan evaluate`` output folders, run by run: the same findings and coverage?

    .venv/bin/python bench/compare_evaluations.py OUT_BEFORE OUT_AFTER

For each ``OUT_BEFORE/<scenario>/findings.json``: findings (region, centroid to 1e-4 m, volume to
1e-5 m3), and the cleared and seen fractions (to 0.1 percentage point). Exit 0 when all agree.
Used to check that a restructuring changed no result (docs/results/issue14_library_unchanged.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _key(doc: dict[str, Any]) -> list[tuple[str, tuple[float, ...], float]]:
    return sorted((f["region"], tuple(round(c, 4) for c in f["centroid"]), round(f["volume_m3"], 5))
                  for f in doc["findings"])


def compare(old: Path, new: Path) -> bool:
    ok = True
    for f in sorted(old.glob("*/findings.json")):
        g = new / f.parent.name / "findings.json"
        if not g.exists():
            print(f"{f.parent.name}: missing in {new}")
            ok = False
            continue
        a, b = json.loads(f.read_text()), json.loads(g.read_text())
        ca, cb = a["coverage"]["cleared_fraction"], b["coverage"]["cleared_fraction"]
        sa, sb = a["coverage"].get("seen_fraction") or 0.0, b["coverage"].get("seen_fraction") or 0.0
        same = _key(a) == _key(b) and abs(ca - cb) <= 0.001 and abs(sa - sb) <= 0.001
        ok &= same
        print(f"{f.parent.name:20s} findings {len(a['findings'])} vs {len(b['findings'])}  cleared {ca:.5f} vs "
              f"{cb:.5f}  seen {sa:.4f} vs {sb:.4f}  status {a['status']}/{b['status']}  "
              f"{'SAME' if same else 'DIFFERENT'}")
    print("ALL SAME" if ok else "DIFFERENCES")
    return ok


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(0 if compare(Path(sys.argv[1]), Path(sys.argv[2])) else 1)
