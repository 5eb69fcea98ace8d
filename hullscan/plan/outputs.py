"""What a plan leaves for the vehicle and the dive team: ``plan.json`` (lanes and the route in the
hull frame, and in the navigation frame when a prior places the ship) and ``plan.svg``, the lanes
on the ship's profiles and bottom plan over the predicted coverage, in the report's drawing style."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hullscan.errors import PlanError
from hullscan.model import Transform
from hullscan.plan.planner import Plan
from hullscan.report import drawing

PLAN_SCHEMA = "hullscan.plan/1"
F64 = NDArray[np.float64]
LANE_COLOURS = {"landmark": "#d62728", "side": "#1f4e99", "bottom": "#6a3d9a"}


def plan_document(plan: Plan, *, reference_path: str, draft_m: float, hull_to_nav: Transform | None = None,
                  prior_source: str | None = None, planning_s: float | None = None) -> dict[str, Any]:
    """The plan as JSON-ready data (``plan.json``)."""
    req, h = plan.request, plan.request.clear_height_m
    lanes = []
    for i, lane in enumerate(plan.lanes):
        d = {"order": i + 1, **lane.as_dict(), "start_s": round(plan.lane_start_s[i], 1)}
        if hull_to_nav is not None:
            d["waypoints_nav"] = np.round(hull_to_nav.apply(lane.waypoints), 3).tolist()
        lanes.append(d)
    area = plan.reference.sample_area
    n = len(plan.seen)
    doc: dict[str, Any] = {
        "schema": PLAN_SCHEMA,
        "frame": "hull: x from the stern end of the waterline towards the bow, y to port, z up, waterline z=0, metres",
        "reference": {"path": reference_path, "draft_m": draft_m, "wetted_area_m2": round(n * area, 1)},
        "sonar": plan.profile.as_dict(),
        "vehicle": {"speed_mps": req.vehicle.speed_mps, "standoff_m": req.vehicle.standoff_m,
                    "min_depth_m": req.vehicle.min_depth_m, "turn_time_s": req.vehicle.turn_time_s,
                    "propeller_nogo_m": req.vehicle.propeller_nogo_m},
        "no_go": None if plan.nogo is None else {"what": "propeller", "centre_hull": list(plan.nogo.centre),
                                                  "radius_m": round(plan.nogo.radius_m, 2)},
        "clear_height_m": h,
        "time_budget_s": req.time_budget_s,
        "planned_s": round(plan.planned_s, 1),
        "lanes": lanes,
        "route_hull": np.round(plan.route, 3).tolist(),
        "predicted": {
            "model": plan.model,
            "alignment_residual_m": None if plan.alignment_residual_m is None else round(plan.alignment_residual_m, 4),
            "cleared_fraction": round(float(plan.cleared[h].mean()), 4),
            "seen_fraction": round(float(plan.seen.mean()), 4),
            "cleared_fraction_by_height": {f"{k:g}": round(float(v.mean()), 4) for k, v in sorted(plan.cleared.items())},
            "by_region": plan.by_region(),
            "landmarks": [lm.as_dict() for lm in plan.landmarks],
        },
        "targets": plan.targets,
        "left": list(plan.left),
        "notes": list(plan.notes),
    }
    if hull_to_nav is not None:
        doc["navigation"] = {"prior": prior_source, "hull_to_nav": {
            "translation": np.round(hull_to_nav.translation, 4).tolist(),
            "rotation": np.round(hull_to_nav.rotation, 8).tolist()}}
        doc["route_nav"] = np.column_stack([hull_to_nav.apply(plan.route[:, :3]), plan.route[:, 3]]).round(3).tolist() \
            if len(plan.route) else []
    if plan.earlier is not None:
        e = plan.earlier
        doc["after"] = {"coverage": e.source, "clear_height_m": e.clear_height_m,
                        "matched_fraction": round(e.matched_fraction, 4),
                        "cleared_before_m2": round(e.area(e.cleared, area), 2),
                        "not_by_a_pass_m2": round(e.area(e.stuck & ~e.cleared, area), 2),
                        "seen_before_m2": round(e.area(e.seen, area), 2)}
    if planning_s is not None:
        doc["planning_s"] = round(planning_s, 2)
    return doc


def plan_drawing(plan: Plan) -> str:
    """Port and starboard profiles and the bottom plan, to scale: the predicted coverage for the
    clear height under the hull outline, the landmarks with their predicted status, and each lane
    numbered in flying order."""
    from types import SimpleNamespace

    from hullscan.compare.analysis import Coverage

    h = plan.request.clear_height_m
    ref = plan.reference
    cov = Coverage(ref.samples, plan.cleared[h], ref.sample_area, (), plan.seen)
    ins = SimpleNamespace(reference=ref, coverage=cov)
    plt = drawing._pyplot()
    hull = drawing._hull_outline(ins)
    length = max(hull.x1 - hull.x0, 1.0)
    heights = [hull.depth + 1.2 + 3.0, hull.depth + 1.2 + 3.0, hull.breadth + 1.2 + 6.0]
    fig_w = 8.0
    fig, axes = plt.subplots(3, 1, figsize=(fig_w, max(fig_w * sum(heights) / (length + 2) + 2.6, 5.0)),
                             gridspec_kw={"height_ratios": heights})
    for ax, v in zip(axes, drawing.VIEWS, strict=True):
        ax.set_gid(f"view-{v}")
        drawing._draw_hull(ax, v, hull)
        drawing._draw_landmarks(ax, v, list(plan.landmarks))
        for i, lane in enumerate(plan.lanes):
            if lane.side != v:
                continue
            wp = lane.waypoints
            u, w = wp[:, 0], (wp[:, 1] if v == "bottom" else wp[:, 2])
            (ln,) = ax.plot(u, w, color=LANE_COLOURS[lane.kind], linewidth=1.3, zorder=7)
            ln.set_gid(f"lane-{i + 1}")
            ax.annotate("", (u[-1], w[-1]), xytext=(u[-2], w[-2]), zorder=7,
                        arrowprops={"arrowstyle": "->", "color": LANE_COLOURS[lane.kind], "linewidth": 1.3})
            ax.text(u[0], w[0], f" {i + 1}", fontsize=7.5, color=LANE_COLOURS[lane.kind], zorder=8,
                    bbox=drawing._LABEL_BOX)
        drawing._finish_axes(ax, v, hull, None, 0.0)
        lo, hi = ax.get_ylim()
        # Room for the lanes beside and under the hull.
        ax.set_ylim(lo - 3.0, hi + (3.0 if v == "bottom" else 0.0))
    axes[-1].set_xlabel("metres from the stern (x, towards the bow)", fontsize=9)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = [Patch(facecolor=drawing.COVERAGE_COLOURS[k], label=f"predicted {drawing.COVERAGE_LABELS[k]}")
                          for k in (2, 1, 0)]
    handles += [Line2D([], [], color=c, label=f"{k} lane") for k, c in LANE_COLOURS.items()]
    handles += [Patch(facecolor="none", edgecolor=c, linestyle="--", label=f"landmark: {k}")
                for k, c in drawing.STATUS_EDGE.items()]
    fig.suptitle(f"Survey plan: {len(plan.lanes)} lanes, {plan.planned_s / 60:.0f} of "
                 f"{plan.request.time_budget_s / 60:.0f} min; predicted cleared for {h:g} m: "
                 f"{100 * plan.cleared[h].mean():.0f} %", fontsize=10)
    fig.tight_layout(rect=(0, 0.1, 1, 0.97))
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False, bbox_to_anchor=(0.5, 0.0))
    return str(drawing._svg(fig))


def write_plan(out: Path, doc: dict[str, Any], svg: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    pj, ps = out / "plan.json", out / "plan.svg"
    pj.write_text(json.dumps(doc, indent=1) + "\n")
    ps.write_text(svg)
    return [pj, ps]


@dataclass(frozen=True, eq=False)
class PlannedRoute:
    """A ``plan.json`` read back for the vehicle: the lanes' names and waypoints (hull frame, flying
    order) and the draft the plan was made for (its hull frame depends on it)."""

    source: str
    draft_m: float
    lane_names: tuple[str, ...]
    lane_waypoints: tuple[F64, ...]
    route: F64  # (K, 3) hull frame, transits included

    def waypoint_list(self, hull_to_nav: Transform) -> list[dict[str, Any]]:
        """Each lane's waypoints in the navigation frame, in flying order (the ROS waypoint list)."""
        rows = []
        for i, (name, wp) in enumerate(zip(self.lane_names, self.lane_waypoints, strict=True)):
            for j, p in enumerate(hull_to_nav.apply(wp)):
                rows.append({"lane": i + 1, "name": name, "waypoint": j + 1,
                             "x": round(float(p[0]), 3), "y": round(float(p[1]), 3), "z": round(float(p[2]), 3)})
        return rows


def read_plan(path: Path) -> PlannedRoute:
    """``plan.json`` as written by ``hullscan plan``; :class:`PlanError` naming the file and field."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise PlanError(f"{path}: cannot read a plan ({err}); expected plan.json from 'hullscan plan'") from err
    if not isinstance(doc, dict) or doc.get("schema") != PLAN_SCHEMA:
        raise PlanError(f"{path}: schema is {doc.get('schema') if isinstance(doc, dict) else None!r}, expected "
                        f"{PLAN_SCHEMA!r} (plan.json from 'hullscan plan')")
    try:
        lanes = doc["lanes"]
        names = tuple(str(ln["name"]) for ln in lanes)
        wps = tuple(np.asarray(ln["waypoints_hull"], np.float64).reshape(-1, 3) for ln in lanes)
        route = np.asarray(doc["route_hull"], np.float64).reshape(-1, 4)[:, :3]
        draft = float(doc["reference"]["draft_m"])
    except (KeyError, TypeError, ValueError) as err:
        raise PlanError(f"{path}: field {err} missing or malformed; expected lanes[].waypoints_hull (K x 3), "
                        "route_hull (K x 4) and reference.draft_m") from err
    if not len(route) or not all(np.isfinite(w).all() for w in wps):
        raise PlanError(f"{path}: the plan has no route, or waypoints that are not finite numbers")
    return PlannedRoute(str(path), draft, names, wps, route)
