"""The registration summary of a ``hullscan evaluate`` run, scored afresh from its stored placements.

    .venv/bin/python bench/rescore_registration.py --run runs/p41b
    .venv/bin/python bench/rescore_registration.py --run runs/p43 --run runs/p43r   # p43r's scenarios replace p43's

Reads ``OUT/evaluation.json``'s ``registration_runs`` (each run's placement error, measured against the
truth when the run was made) and prints :func:`hullscan.compare.evaluate.summarise_registration` of them
with the scoring as it stands now, so that a change of the scoring alone (stop 42: an ambiguous run is
excused along the ship only) needs no new evaluation. Nothing is re-registered. With several
``--run``, a later run's scenarios replace the earlier ones' (a rerun of a few scenarios after a
change that touches only them, stated where its figures are quoted).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hullscan.compare.evaluate import summarise_registration


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, type=Path, action="append",
                    help="a hullscan evaluate --out folder (repeatable: later runs' scenarios replace earlier ones')")
    args = ap.parse_args(argv)
    by_scenario: dict[str, list[dict[str, object]]] = {}
    for run in args.run:
        path = run / "evaluation.json"
        try:
            runs = json.loads(path.read_text())["registration_runs"]
        except (OSError, ValueError, KeyError) as err:
            print(f"{path}: expected a hullscan evaluate evaluation.json with registration_runs ({err})", file=sys.stderr)
            return 2
        fresh: dict[str, list[dict[str, object]]] = {}
        for r in runs:
            fresh.setdefault(str(r["scenario"]), []).append(r)
        by_scenario.update(fresh)
    path = " + ".join(str(r) for r in args.run)
    s = summarise_registration([r for rs in by_scenario.values() for r in rs])
    print(f"{path}: {s['success']} of {s['runs']} registrations succeeded ({s['ambiguous']} along-ship ambiguous)")
    print(f"  not ambiguous: {s['within_target']} of {s['observable']} within 5 cm and 0.1 deg; "
          f"{s['within_target_or_stated_along']} counting an along-ship error inside the stated range")
    print(f"  every run, an ambiguity excusing the along-ship error only: {s['within_target_every_run']} of {s['success']}"
          f" ({s.get('within_target_every_run_no_layer')} without the stated growth layers)")
    for m in s.get("excused_by_stated_layer", []):
        print(f"  inside its stated growth layer ({m['stated_layer_m']:.3f} m): {m['scenario']} prior {m['k']}: "
              f"placed {m['along_m']:+.3f} / {m['across_m']:+.3f} / {m['vertical_m']:+.3f} m (along / across / "
              f"vertical), on the layer {m['on_layer']['along_m']:+.3f} / {m['on_layer']['across_m']:+.3f} / "
              f"{m['on_layer']['vertical_m']:+.3f} m")
    for m in s["placement_misses"]:
        print(f"  miss: {m['scenario']} prior {m['k']}{' (ambiguous along)' if m['ambiguous'] else ''}: along "
              f"{m['along_m']:+.3f} m, across {m['across_m']:+.3f} m, vertical {m['vertical_m']:+.3f} m, "
              f"heading {m['rotation_deg']:.3f} deg")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
