"""``hullscan plan``: lanes that clear the hull for a compartment height within the ship's time
window, high-risk landmarks first, with the cleared coverage predicted by the comparator's own
uncertainty model (``compare.uncertainty``) and what is left ranked by risk."""

from __future__ import annotations

import argparse
import re
from typing import Any

from hullscan.plan import SYSTEMATIC_ALLOWANCE_M

EXAMPLES = """\
examples:
  hullscan plan --reference hull.stl --draft 7 --sonar multibeam --clear-height 0.1 --time 30min --out plans/ship
  hullscan plan --reference hull.stl --draft 7 --sonar imaging --time 45min --standoff 2.5 --out plans/ship-img
  hullscan plan --reference hull.stl --draft 7 --sonar my_sonar.yaml --time 1h --prior prior.json --out plans/ship
      my_sonar.yaml: {preset: multibeam, beams: 256, ping_rate_hz: 10, range_max_m: 30}
      prior.json: {"translation": [50, -20, 0], "yaw_deg": 30} (waypoints also in the navigation frame)
  hullscan plan --reference hull.stl --draft 7 --time 20min --after runs/case42 --out plans/ship-redive
      a re-dive: lanes only over what the inspection in runs/case42 left that a pass can clear
      (its coverage.ply: not seen, or seen with too few or too noisy returns); its cleared surface and
      cleared landmarks are not flown again, and what another pass alone may not clear (uneven
      surface, relief beside it, plating reading low) is listed for the divers; after a second dive,
      --after runs/case42 --after runs/case42-redive plans the third over what both left

writes PLAN_DIR/plan.json (lanes and route in the hull frame: x from the stern end of the waterline,
y to port, z up; in the navigation frame too with --prior) and PLAN_DIR/plan.svg (the lanes on the
ship's profiles and bottom plan over the predicted coverage). A simulator scenario flies a plan with
  survey: {plan: PLAN_DIR/plan.json}
The prediction uses the comparator's uncertainty model as --config sets it (compare.uncertainty; by
default the estimated model: the cloud's own sigma as the reconstruction would set it from the
planned returns, and the survey's alignment residual, predicted from the plan or --alignment-residual). Replay with the same config to
compare like with like (hullscan evaluate --plan does).
"""


def parse_duration(text: str) -> float:
    """'30min', '1h', '90s', '1h30min' or a bare number of minutes, in seconds."""
    from hullscan.errors import PlanError

    t = text.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return float(t) * 60.0
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|min|m|s)", t)
    if not parts or "".join(a + u for a, u in parts) != t:
        raise PlanError(f"--time {text!r}: expected a duration such as 30min, 1h, 1h30min or 900s")
    unit = {"h": 3600.0, "min": 60.0, "m": 60.0, "s": 1.0}
    return sum(float(a) * unit[u] for a, u in parts)


def register(sub: Any) -> None:
    p = sub.add_parser("plan", help="plan survey lanes that clear the hull within a time window",
                       description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reference", required=True, metavar="MESH", help="design hull mesh (STL/OBJ/PLY, .gz)")
    p.add_argument("--draft", type=float, metavar="D", help="draft at the survey (m, keel below the waterline)")
    p.add_argument("--units", default="auto", help="mesh units (auto, m, cm, mm, model)")
    p.add_argument("--bow", default="auto", help="mesh axis towards the bow (auto, +x, -x, ...)")
    p.add_argument("--up", default="auto", help="mesh axis upwards (auto, +z, ...)")
    p.add_argument("--sonar", default="multibeam", metavar="PROFILE",
                   help="sonar profile: a preset (multibeam, imaging) or a YAML file (default multibeam)")
    p.add_argument("--clear-height", type=float, default=0.1, metavar="H",
                   help="compartment height the plan must clear (m, default 0.1)")
    p.add_argument("--time", default="30min", metavar="T", help="time window (30min, 1h, 900s; default 30min)")
    p.add_argument("--speed", type=float, default=0.8, help="lane speed (m/s, default 0.8)")
    p.add_argument("--standoff", type=float, default=3.0, help="standoff from the plating (m, default 3)")
    p.add_argument("--min-depth", type=float, default=1.0, help="shallowest depth the vehicle holds (m, default 1)")
    p.add_argument("--turn-time", type=float, default=20.0, help="time a turn onto a lane costs (s, default 20)")
    p.add_argument("--propeller-nogo", type=float, default=2.0, metavar="M",
                   help="distance kept from the propeller's blade tips (m, default 2)")
    p.add_argument("--systematic", type=float, default=SYSTEMATIC_ALLOWANCE_M, metavar="M",
                   help="allowance for the survey's systematic error in a cell's height (m, default "
                   f"{SYSTEMATIC_ALLOWANCE_M:g}: measured on replayed library surveys, docs/results/issue20_plan.md)")
    p.add_argument("--alignment-residual", type=float, default=None, metavar="M",
                   help="estimated model: the survey's alignment residual, which it adds to every cell (m; default: "
                   "predicted from the plan, from the spread of its returns' leading-edge bias over the hull, "
                   "hullscan/plan/calibration.py; give the figure of an earlier survey by the same vehicle and sonar, and "
                   "for a fouled hull the growth's thickness, e.g. 0.03: growth is not in the reference and the plan "
                   "cannot see it)")
    p.add_argument("--prior", help="navigation prior (transform form): waypoints in the navigation frame too")
    p.add_argument("--config", help="YAML config (compare.coverage and compare.uncertainty settings are used)")
    p.add_argument("--after", metavar="RUN_DIR", action="append", default=[],
                   help="plan a re-dive: an earlier inspection's output folder (its coverage.ply) against the same "
                   "mesh; lanes go only over what it left that a pass can clear; repeat for each earlier dive")
    p.add_argument("--out", required=True, metavar="PLAN_DIR", help="folder for plan.json and plan.svg")
    p.set_defaults(func=run)


def _earlier_dives(runs: list[str], reference: str) -> Any:
    """The earlier dives' coverage as one (None without --after), each checked against ``reference``."""
    from hullscan.compare.earlier import load_earlier, merged, other_reference

    if not runs:
        return None
    dives = [load_earlier(run) for run in runs]
    for dive in dives:
        warning = other_reference(dive, reference)
        if warning:
            print(f"warning: {warning}")
    return merged(dives)


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from hullscan.compare.prior import load_prior
    from hullscan.config import load_config
    from hullscan.errors import MeshError, PlanError
    from hullscan.hull import load_mesh
    from hullscan.plan.lanes import Vehicle
    from hullscan.plan.outputs import plan_document, plan_drawing, write_plan
    from hullscan.plan.planner import PlanRequest, make_plan
    from hullscan.plan.sonar import load_profile

    t0 = time.perf_counter()
    budget = parse_duration(args.time)
    for name, val in (("--speed", args.speed), ("--standoff", args.standoff)):
        if not val > 0:
            raise PlanError(f"{name}: expected a value > 0, got {val:g}")
    cfg = load_config(args.config)
    profile = load_profile(args.sonar)
    try:
        mesh = load_mesh(args.reference, units=args.units, bow=args.bow, up=args.up, draft=args.draft)
    except MeshError as err:
        raise PlanError(f"--reference: {err}") from err
    prior = load_prior(args.prior)
    hull_to_nav = None
    if prior is not None:
        if prior.ref_to_nav is None:
            raise PlanError(f"{args.prior}: a quay prior places the ship only from the vehicle's first navigation "
                            "fix; give the transform form ({translation, yaw_deg}) to plan in the navigation frame")
        hull_to_nav = prior.hull_to_nav(mesh.ref_from_hull)
    vehicle = Vehicle(args.speed, args.standoff, args.min_depth, args.turn_time, args.propeller_nogo)
    request = PlanRequest(args.clear_height, budget, vehicle, systematic_m=args.systematic,
                          alignment_m=args.alignment_residual)
    draft_text = f"draft {args.draft:g} m" if args.draft is not None else "the file's waterline"
    earlier = _earlier_dives(args.after, args.reference)
    plan = make_plan(mesh, profile, request, cfg.compare, voxel_m=cfg.recon.voxel_size, draft_text=draft_text,
                     earlier=earlier)
    doc = plan_document(plan, reference_path=str(args.reference), draft_m=round(mesh.draft, 3), hull_to_nav=hull_to_nav,
                        prior_source=args.prior, planning_s=time.perf_counter() - t0)
    paths = write_plan(Path(args.out), doc, plan_drawing(plan))
    h = args.clear_height
    pred = doc["predicted"]
    print(f"plan: {len(plan.lanes)} lanes, {plan.planned_s / 60:.1f} of {budget / 60:.0f} min "
          f"({sum(ln.kind == 'landmark' for ln in plan.lanes)} landmark lanes first)")
    print(f"predicted: cleared {100 * pred['cleared_fraction']:.0f} % for {h:g} m, "
          f"{100 * pred['cleared_fraction_by_height'][f'{2 * h:g}']:.0f} % for {2 * h:g} m, "
          f"seen {100 * pred['seen_fraction']:.0f} % of {doc['reference']['wetted_area_m2']:.0f} m2"
          + ("" if pred["alignment_residual_m"] is None else
             f" (estimated model, alignment residual {1000 * pred['alignment_residual_m']:.1f} mm "
             f"{'as given' if args.alignment_residual is not None else 'predicted'})"))
    for lm in plan.landmarks:
        print(f"  {lm.name}: {lm.status} ({100 * lm.cleared_fraction:.0f} % cleared)")
    if plan.left:
        print("left, by risk: " + "; ".join(f"{d['what']} {d['area_m2']:.1f} m2" for d in plan.left[:6]))
    if plan.earlier is not None:
        print(next(n for n in plan.notes if n.startswith("after ")))
    if plan.targets["why_not"]:
        print(f"targets not met: {plan.targets['why_not']}")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0
