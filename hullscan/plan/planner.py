"""The survey plan: landmark lanes first (by risk), then the lanes that clear the most risk-weighted
hull per second of the time left, with the predicted coverage and what is left, ranked by risk."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hullscan.compare.analysis import REPORT_CLEAR_HEIGHTS_M, Coverage, least_clearable_height
from hullscan.compare.config import CompareConfig
from hullscan.compare.earlier import EarlierCoverage, EarlierMasks, on_samples
from hullscan.compare.reference import Reference, mesh_reference
from hullscan.errors import MeshError, PlanError
from hullscan.hull.mesh import HullMesh
from hullscan.plan import SYSTEMATIC_ALLOWANCE_M
from hullscan.plan.lanes import Lane, NoGo, Vehicle, polyline_length, side_lane, transit
from hullscan.plan.predict import Accumulation, Predictor
from hullscan.plan.sonar import SonarProfile
from hullscan.report.landmarks import Landmark, find_landmarks

F64 = NDArray[np.float64]
# Side lanes are offered at these fractions of the draft (the greedy choice takes what pays).
SIDE_LANE_DEPTHS = (0.3, 0.6, 0.9)
# A landmark lane runs this far past the landmark's ends (at least the standoff) to settle on it.
RUN_IN_M = 3.0
# Surface cleared only for twice the height counts half in the choice of lanes: the issue's
# target is landmarks for h, the whole hull for 2h.
COARSE_WEIGHT = 0.5


@dataclass(frozen=True)
class PlanRequest:
    """What to plan for: the compartment height to clear and the time window (s)."""

    clear_height_m: float
    time_budget_s: float
    vehicle: Vehicle
    systematic_m: float = SYSTEMATIC_ALLOWANCE_M
    alignment_m: float | None = None  # the survey's alignment residual (m); None: predicted from the plan
    ping_spacing_m: float = 0.15
    max_beams: int = 128


@dataclass(frozen=True, eq=False)
class Plan:
    """Lanes in flying order, the route (K, 4: x, y, z, t_s in the hull frame) with transits, and the
    prediction: per sample seen / cleared per height, landmarks with their predicted status, and
    what is left ranked by risk."""

    lanes: tuple[Lane, ...]
    route: F64
    planned_s: float
    request: PlanRequest
    profile: SonarProfile
    reference: Reference
    seen: NDArray[np.bool_]
    cleared: dict[float, NDArray[np.bool_]]
    regions: NDArray[np.str_]
    landmarks: tuple[Landmark, ...]
    left: tuple[dict[str, Any], ...]
    targets: dict[str, Any]
    nogo: NoGo | None
    notes: tuple[str, ...] = field(default_factory=tuple)
    rays_cast: int = 0
    lane_start_s: tuple[float, ...] = ()
    model: str = ""  # the uncertainty model the prediction uses, in words
    alignment_residual_m: float | None = None  # what the estimated model's prediction added (None: not used)
    earlier: EarlierMasks | None = None  # a re-dive: what the earlier inspection left (--after)

    def by_region(self) -> dict[str, dict[str, float]]:
        h = self.request.clear_height_m
        out: dict[str, dict[str, float]] = {}
        area = self.reference.sample_area
        for r in sorted(set(self.regions.tolist())):
            m = self.regions == r
            out[r] = {"area_m2": round(float(m.sum() * area), 2), "seen_fraction": round(float(self.seen[m].mean()), 4),
                      "cleared_fraction": round(float(self.cleared[h][m].mean()), 4),
                      "cleared_fraction_2h": round(float(self.cleared[2 * h][m].mean()), 4)}
        return out


def _ins(reference: Reference, seen: NDArray[np.bool_], cleared: NDArray[np.bool_]) -> Any:
    """What :func:`find_landmarks` reads from an inspection: the reference and a coverage."""
    cov = Coverage(reference.samples, cleared, reference.sample_area, (), seen)
    return SimpleNamespace(reference=reference, coverage=cov)


def propeller_nogo(mesh: HullMesh, vehicle: Vehicle) -> NoGo | None:
    """The sphere round the propeller the vehicle keeps out of (None: the mesh names no propeller)."""
    faces = mesh.region_mask("propeller")
    if not faces.any():
        return None
    v = mesh.vertices[np.unique(mesh.faces[faces])]
    c = v.mean(axis=0)
    tip = float(np.linalg.norm(v - c, axis=1).max())
    return NoGo((float(c[0]), float(c[1]), float(c[2])), tip + vehicle.propeller_nogo_m)


class _Route:
    """The route as it grows: lanes, transits and the clock."""

    def __init__(self, scene: Any, vehicle: Vehicle, deep_z: float, nogo: NoGo | None) -> None:
        self.scene, self.vehicle, self.deep_z, self.nogo = scene, vehicle, deep_z, nogo
        self.points: list[F64] = []
        self.times: list[F64] = []
        self.t = 0.0
        self.lanes: list[Lane] = []
        self.starts: list[float] = []

    def cost(self, lane: Lane) -> float:
        if not self.points:
            return lane.duration_s
        a = self.points[-1][-1]
        via = transit(self.scene, a, lane.waypoints[0], self.deep_z, self.nogo)
        legs = polyline_length(np.vstack([a, via, lane.waypoints[0]]))
        return legs / self.vehicle.speed_mps + self.vehicle.turn_time_s + lane.duration_s

    def add(self, lane: Lane) -> None:
        if self.points:
            a = self.points[-1][-1]
            via = transit(self.scene, a, lane.waypoints[0], self.deep_z, self.nogo)
            legs = np.vstack([a, via, lane.waypoints[0]])
            seg = np.linalg.norm(np.diff(legs, axis=0), axis=1)
            # The turn onto the next lane is spent at its start.
            t = self.t + np.cumsum(seg) / self.vehicle.speed_mps
            t[-1] += self.vehicle.turn_time_s
            self.points.append(legs[1:])
            self.times.append(t)
            self.t = float(t[-1])
        self.starts.append(self.t)
        seg = np.linalg.norm(np.diff(lane.waypoints, axis=0), axis=1)
        t = self.t + np.concatenate([[0.0], np.cumsum(seg)]) / lane.speed_mps
        if self.points:
            self.points.append(lane.waypoints[1:])
            self.times.append(t[1:])
        else:
            self.points.append(lane.waypoints)
            self.times.append(t)
        self.t = float(t[-1])
        self.lanes.append(lane)

    def array(self) -> F64:
        if not self.points:
            return np.zeros((0, 4))
        return np.column_stack([np.vstack(self.points), np.concatenate(self.times)])


def make_plan(mesh: HullMesh, profile: SonarProfile, request: PlanRequest, config: CompareConfig,
              voxel_m: float = 0.02, draft_text: str = "",
              earlier: EarlierCoverage | None = None) -> Plan:
    """Plan lanes over ``mesh`` (hull frame) for ``request``; raises :class:`PlanError` for a hull
    without a wetted part, a sonar that cannot see it from the standoff, or a time window too short
    for the landmarks.

    ``earlier`` (a re-dive) is what an earlier inspection left, read on the plan's samples through
    the reference file's frame: its cleared surface and the surface another pass alone may not clear are not flown for again,
    nor the landmarks it cleared."""
    v = request.vehicle
    h = request.clear_height_m
    reference = _wetted_reference(mesh, profile, request, config, draft_text)
    scene = reference._scene
    samples = reference.samples
    regions = np.asarray(reference.regions_at(samples))
    weights = config.scoring.region_weights
    w_sample = np.array([weights.get(r, weights.get("unknown", 0.6)) for r in regions]) * reference.sample_area
    before = None if earlier is None else on_samples(earlier, _file_frame(mesh, samples), reference.sample_area)
    done, stuck = _earlier_masks(before, len(samples), h)
    predictor = Predictor(reference, profile, config, speed_mps=v.speed_mps, voxel_m=voxel_m,
                          systematic_m=request.systematic_m, ping_spacing_m=request.ping_spacing_m,
                          max_beams=request.max_beams, alignment_m=request.alignment_m)
    heights = tuple(sorted({*REPORT_CLEAR_HEIGHTS_M, h, 2 * h}))
    nogo = propeller_nogo(mesh, v)
    draft = mesh.draft
    x_lo, x_hi = float(samples[:, 0].min()) - v.standoff_m, float(samples[:, 0].max()) + v.standoff_m
    beam = mesh.beam
    z_min = -max(v.min_depth_m, 0.0)
    notes: list[str] = []

    fit_nogo = _nogo_fitter(nogo)
    marks, landmark_lanes = _landmark_lanes(reference, scene, weights, v, beam, (x_lo, x_hi), z_min, fit_nogo)
    if before is not None:
        landmark_lanes = _not_cleared_before(reference, before, done, landmark_lanes, notes)
    deep_z = -(draft + v.standoff_m + 0.5)
    route = _Route(scene, v, deep_z, nogo)
    acc = _fly_landmarks(route, landmark_lanes, predictor, request, len(samples))
    if not marks:
        notes.append("the reference names no landmark regions (sea chests, rudder, propeller, thruster tunnels, "
                      "bilge keels): lanes are chosen for the whole hull alone")

    cands = _candidate_lanes(scene, v, beam, draft, (x_lo, x_hi), z_min, fit_nogo)
    cand_acc = [predictor.cast(c.waypoints) for c in cands]

    def value(a: Accumulation) -> float:
        _, cl = predictor.clearance(a, (h, 2 * h))
        new = ~done & ~stuck  # what the lanes add to what the earlier inspection cleared
        return float((w_sample * new * (cl[h] + COARSE_WEIGHT * (cl[2 * h] & ~cl[h]))).sum())

    seen_all, cl_all = predictor.clearance(sum(cand_acc, acc), (h,))
    if not seen_all.any():
        raise PlanError(f"sonar {profile.name!r} sees none of the hull from a {v.standoff_m:g} m standoff (its "
                        f"{profile.swath_deg:g} degree fan, tilted {profile.tilt_deg:g} degrees up, reaches "
                        f"{profile.range_max_m:g} m): choose another standoff or sonar")
    if not cl_all[h].any():
        raise PlanError(_clears_nothing(predictor, sum(cand_acc, acc), seen_all, profile, v, h))
    left_cands = _choose(route, cands, cand_acc, acc, value, request.time_budget_s)
    if before is not None and not route.lanes:
        raise PlanError(_nothing_left(before, done, stuck, reference.sample_area, h))
    # The prediction flies the whole route: transits under the keel and between lanes see the hull too.
    acc = predictor.cast(route.array()[:, :3])
    seen, cleared = predictor.clearance(acc, heights)
    if before is not None:
        seen, cleared = _with_earlier(before, seen, cleared, stuck)
        notes.append(_earlier_note(before, done, stuck, reference.sample_area, h))
    ins = _ins(reference, seen, cleared[h])
    predicted_marks = tuple(find_landmarks(ins))
    # Lanes left out that would still clear something: the time they need is the price of the rest.
    current = value(acc)
    gain_left = [i for i in left_cands if value(acc + cand_acc[i]) > current + 1e-9]
    more_s = sum(cands[i].duration_s + v.turn_time_s for i in gain_left)
    left = _left(regions, seen, cleared[h], reference.sample_area, weights, predicted_marks, h)
    targets = _targets(predicted_marks, float(cleared[2 * h].mean()), len(gain_left), more_s, v)
    return Plan(tuple(route.lanes), route.array(), route.t, request, profile, reference, seen, cleared, regions,
                predicted_marks, tuple(left), targets, nogo, tuple(notes), predictor.rays_cast,
                tuple(route.starts), predictor.describe(),
                predictor.alignment_residual(acc, seen)
                if config.uncertainty.model == "estimated" and config.uncertainty.systematic == "alignment" else None,
                before)


def _wetted_reference(mesh: HullMesh, profile: SonarProfile, request: PlanRequest, config: CompareConfig,
                      draft_text: str) -> Reference:
    """The reference's wetted samples to plan over, after checking the request against the sonar."""
    v, h = request.vehicle, request.clear_height_m
    if not h > 0:
        raise PlanError(f"--clear-height: expected a compartment height > 0 m, got {h:g}")
    if v.standoff_m >= profile.range_max_m or v.standoff_m < profile.range_min_m:
        raise PlanError(f"sonar {profile.name!r} sees from {profile.range_min_m:g} to {profile.range_max_m:g} m: it "
                        f"cannot see the hull from a {v.standoff_m:g} m standoff (choose a standoff within its range)")
    cov_cfg = config.coverage
    try:
        reference = mesh_reference(mesh, coverage_cell=cov_cfg.coverage_cell_m, coverage_max_z=cov_cfg.coverage_max_z_m)
    except MeshError as err:
        raise PlanError(f"{mesh.name}: {err}") from err
    if len(reference.samples) < 10 or mesh.draft <= -cov_cfg.coverage_max_z_m:
        raise PlanError(f"{mesh.name}: no wetted part below {-cov_cfg.coverage_max_z_m:g} m at {draft_text or 'this draft'} "
                        f"(the hull reaches {mesh.draft:.2f} m below the waterline): nothing to survey")
    return reference


def _fly_landmarks(route: _Route, lanes: list[Lane], predictor: Predictor, request: PlanRequest,
                   n_samples: int) -> Accumulation:
    """Add the landmark lanes to ``route`` in order; what they see. :class:`PlanError` when the time
    window cannot hold them, with what fits."""
    v = request.vehicle
    acc = Accumulation.zeros(n_samples)
    for lane in lanes:
        need = route.cost(lane)
        if route.t + need > request.time_budget_s:
            fits = ", ".join(f"{ln.name} ({ln.duration_s / 60:.1f} min)" for ln in route.lanes) or "none"
            total = route.t + need + sum(ln.duration_s + v.turn_time_s for ln in lanes[len(route.lanes) + 1:])
            raise PlanError(f"--time {request.time_budget_s / 60:g} min is too short for the landmarks (their lanes "
                            f"need about {total / 60:.1f} min at {v.speed_mps:g} m/s); what fits: {fits}")
        route.add(lane)
        acc = acc + predictor.cast(lane.waypoints)
    return acc


def _not_cleared_before(reference: Reference, before: EarlierMasks, done: NDArray[np.bool_], lanes: list[Lane],
                        notes: list[str]) -> list[Lane]:
    """The landmark lanes less those over a landmark the earlier inspection cleared (the report's
    rule: half its surface), noted."""
    cleared = {lm.name for lm in find_landmarks(_ins(reference, before.seen, done)) if lm.cleared_fraction >= 0.5}
    if cleared:
        notes.append(f"cleared by {before.source}, not flown again: {', '.join(sorted(cleared))}")
    return [ln for ln in lanes if ln.target not in cleared]


def _file_frame(mesh: HullMesh, points: F64) -> F64:
    """Hull-frame points in the mesh file's own coordinates, where an inspection writes coverage.ply."""
    return points if mesh.ref_from_hull is None else mesh.ref_from_hull.apply(points)


def _earlier_masks(before: EarlierMasks | None, n: int, h: float) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """What the lanes need not clear again: (cleared before, for ``h`` or less; seen before where
    another pass alone may not clear it, when the earlier inspection judged ``h`` or more)."""
    none = np.zeros(n, bool)
    if before is None:
        return none, none
    done = before.cleared if h >= before.clear_height_m - 1e-9 else none
    stuck = before.stuck & ~done if h <= before.clear_height_m + 1e-9 else none
    return done, stuck


def _with_earlier(before: EarlierMasks, seen: NDArray[np.bool_], cleared: dict[float, NDArray[np.bool_]],
                  stuck: NDArray[np.bool_]) -> tuple[NDArray[np.bool_], dict[float, NDArray[np.bool_]]]:
    """The plan's prediction on top of the earlier inspection: seen either time, cleared for a height
    at least the earlier one's where it cleared, and not where another pass alone may not clear."""
    out = {}
    for hh, c in cleared.items():
        c = c | before.cleared if hh >= before.clear_height_m - 1e-9 else c.copy()
        out[hh] = c & ~stuck if hh <= before.clear_height_m + 1e-9 else c
    return seen | before.seen, out


def _earlier_note(before: EarlierMasks, done: NDArray[np.bool_], stuck: NDArray[np.bool_], area: float,
                  h: float) -> str:
    text = (f"after {before.source}: {before.area(done, area):.1f} m2 it cleared for {before.clear_height_m:g} m is "
            f"not flown again; {before.area(stuck, area):.1f} m2 it saw over uneven surface, relief or plating reading "
            "low is left for divers or a closer look (another pass alone may not clear it)")
    if h < before.clear_height_m - 1e-9:
        text += f"; it cleared for {before.clear_height_m:g} m, not {h:g} m: its cleared surface is planned again"
    if before.matched_fraction < 0.95:
        text += (f"; only {100 * before.matched_fraction:.0f} % of this plan's hull lies on its samples (another mesh "
                 "or draft?): the rest is planned as not seen")
    return text


def _nothing_left(before: EarlierMasks, done: NDArray[np.bool_], stuck: NDArray[np.bool_], area: float,
                  h: float) -> str:
    return (f"after {before.source}: no lane from this standoff clears more for {h:g} m ({before.area(done, area):.1f} m2 "
            f"cleared then; {before.area(stuck, area):.1f} m2 seen over uneven surface, relief or plating reading low, "
            "which another pass alone may not clear): send divers or fly closer (--standoff)")


def _clears_nothing(predictor: Predictor, acc: Accumulation, seen: NDArray[np.bool_], profile: SonarProfile,
                    v: Vehicle, h: float) -> str:
    """Why no lane clears anything for ``h``: the survey's alignment residual alone (estimated model,
    a fouled hull) or the returns."""
    cfg = predictor.config
    if cfg.uncertainty.model == "estimated" and cfg.uncertainty.systematic == "alignment":
        r = predictor.alignment_residual(acc, seen)
        if least_clearable_height(cfg, r) >= h:
            how = "as given" if predictor.alignment_m is not None else "predicted"
            seen_cells, unc = predictor.cell_uncertainty(acc)
            # what the best-seen place's cells clear, up to the centimetre
            least = np.ceil(100 * least_clearable_height(cfg, float(unc[seen_cells].min()))) / 100
            return (f"the survey's alignment residual ({1000 * r:.0f} mm, {how}) alone keeps the comparator's default "
                    f"model from clearing {h:g} m compartments anywhere (the residual alone needs {least_clearable_height(cfg, r):.3f} m "
                    f"or more): clear {least:.2f} m or more, or judge with compare.uncertainty.systematic: local")
    return (f"sonar {profile.name!r} sees the hull from a {v.standoff_m:g} m standoff but clears none of it for {h:g} m "
            "compartments (its returns are too uncertain): fly closer or clear a greater height")


def _nogo_fitter(nogo: NoGo | None) -> Any:
    """A function moving a lane out of the propeller's no-go zone (noting it on the lane)."""
    def fit(lane: Lane) -> Lane:
        if nogo is None:
            return lane
        wp, moved = nogo.push_out(lane.waypoints)
        if not moved:
            return lane
        return Lane(lane.name, lane.kind, lane.side, lane.target, wp, lane.speed_mps, lane.standoff_m, lane.risk,
                    (*lane.notes, f"moved out round the propeller (no-go radius {nogo.radius_m:.1f} m)"))
    return fit


def _landmark_lanes(reference: Reference, scene: Any, weights: dict[str, float], v: Vehicle, beam: float,
                    x_range: tuple[float, float], z_min: float, fit_nogo: Any) -> tuple[list[Landmark], list[Lane]]:
    """The landmarks (as the report finds them) by risk, highest first, then stern to bow, and a lane
    over each on its side (both sides for one on the centreline), at its mid-height."""
    empty = np.zeros(len(reference.samples), bool)
    marks = find_landmarks(_ins(reference, empty, empty))
    marks.sort(key=lambda lm: (-weights.get(lm.region, 0.6), lm.bbox_min[0]))
    lanes: list[Lane] = []
    run_in = max(RUN_IN_M, v.standoff_m)
    for lm in marks:
        sides = [lm.side] if lm.side in ("port", "starboard") else ["starboard", "port"]
        zc = min(0.5 * (lm.bbox_min[2] + lm.bbox_max[2]), z_min)
        x0, x1 = max(lm.bbox_min[0] - run_in, x_range[0]), min(lm.bbox_max[0] + run_in, x_range[1])
        for side in sides:
            wp = side_lane(scene, beam, x0, x1, zc, side, v)
            name = lm.name if len(sides) == 1 else f"{lm.name} ({side})"
            lanes.append(fit_nogo(Lane(name, "landmark", side, lm.name, wp, v.speed_mps, v.standoff_m,
                                       weights.get(lm.region, 0.6))))
    return marks, lanes


def _candidate_lanes(scene: Any, v: Vehicle, beam: float, draft: float, x_range: tuple[float, float], z_min: float,
                     fit_nogo: Any) -> list[Lane]:
    """Lanes offered for the rest of the hull: side lanes at SIDE_LANE_DEPTHS, bottom lanes across
    the beam in both directions (the fan looks left, so each direction sees its own strip)."""
    x_lo, x_hi = x_range
    cands: list[Lane] = []
    for side in ("starboard", "port"):
        for frac in SIDE_LANE_DEPTHS:
            z = min(-frac * draft, z_min)
            wp = side_lane(scene, beam, x_lo, x_hi, z, side, v)
            cands.append(fit_nogo(Lane(f"{side} side lane at {-z:.1f} m", "side", side, f"{side} side", wp,
                                       v.speed_mps, v.standoff_m)))
    spacing = max(2.0, v.standoff_m)
    n_bottom = max(1, int(np.ceil(beam / spacing)))
    for y in -0.5 * beam + beam / n_bottom * (np.arange(n_bottom) + 0.5):
        for fwd in (True, False):
            wp = np.array([[x_lo, y, -(draft + v.standoff_m)], [x_hi, y, -(draft + v.standoff_m)]])
            cands.append(fit_nogo(Lane(f"bottom lane at {y:+.1f} m ({'to the bow' if fwd else 'to the stern'})",
                                       "bottom", "bottom", "bottom", wp if fwd else wp[::-1], v.speed_mps,
                                       v.standoff_m)))
    return cands


def _choose(route: _Route, cands: list[Lane], cand_acc: list[Accumulation], acc: Accumulation,
            value: Any, budget_s: float) -> list[int]:
    """Add to ``route`` the candidate that clears the most risk-weighted hull per second (its transit
    and turn included) until no candidate that still adds fits the budget; the candidates left."""
    current = value(acc)
    left = list(range(len(cands)))
    while left:
        best, best_ratio, best_val = -1, 0.0, current
        for i in left:
            cost = route.cost(cands[i])
            if route.t + cost > budget_s:
                continue
            val = value(acc + cand_acc[i])
            if (val - current) / cost > best_ratio:
                best, best_ratio, best_val = i, (val - current) / cost, val
        if best < 0:
            break
        route.add(cands[best])
        acc = acc + cand_acc[best]
        current = best_val
        left.remove(best)
    return left


def _targets(marks: tuple[Landmark, ...], hull2h: float, n_more: int, more_s: float, v: Vehicle) -> dict[str, Any]:
    """The issue's targets (every landmark cleared for h, the whole hull for 2h), and why not."""
    marks_ok = all(lm.cleared_fraction >= 0.5 for lm in marks)
    why = ""
    if not marks_ok or hull2h < 0.95:
        if n_more:
            why = (f"the time window: {n_more} more lane(s), about {more_s / 60:.0f} min at {v.speed_mps:g} m/s, "
                   "would clear more")
        else:
            why = (f"no lane this planner offers clears the rest from a {v.standoff_m:g} m standoff with this sonar "
                   "(out of its fan or range, grazing incidence, or too uncertain)")
    return {"landmarks_cleared_for_h": marks_ok, "hull_cleared_for_2h": round(hull2h, 4),
            "met": bool(marks_ok and hull2h >= 0.95), "why_not": why}


def _left(regions: NDArray[np.str_], seen: NDArray[np.bool_], cleared: NDArray[np.bool_], area: float,
          weights: dict[str, float], marks: tuple[Landmark, ...], h: float) -> list[dict[str, Any]]:
    """What the plan leaves uncleared for ``h``: landmarks first, then hull regions, by risk weight and area."""
    out: list[dict[str, Any]] = []
    for lm in marks:
        if lm.cleared_fraction < 0.5:
            out.append({"what": lm.name, "kind": "landmark", "region": lm.region, "risk_weight": weights.get(lm.region, 0.6),
                        "area_m2": round(lm.area_m2 * (1 - lm.cleared_fraction), 2),
                        "cleared_fraction": round(lm.cleared_fraction, 4)})
    rows = []
    # A region's area already listed under its landmarks is not listed again under the region.
    listed = {r: sum(d["area_m2"] for d in out if d["region"] == r) for r in {d["region"] for d in out}}
    for r in sorted(set(regions.tolist())):
        m = regions == r
        unseen = float((m & ~seen).sum() * area)
        uncertain = float((m & seen & ~cleared).sum() * area)
        if unseen + uncertain - listed.get(r, 0.0) < 0.5:
            continue
        rows.append({"what": r.replace("_", " ") + (" (elsewhere)" if r in listed else ""), "kind": "region",
                     "region": r, "risk_weight": weights.get(r, weights.get("unknown", 0.6)),
                     "area_m2": round(unseen + uncertain - listed.get(r, 0.0), 2), "not_seen_m2": round(unseen, 2),
                     "seen_too_uncertain_m2": round(uncertain, 2), "cleared_fraction": round(float(cleared[m].mean()), 4)})
    rows.sort(key=lambda d: (-d["risk_weight"], -d["area_m2"]))
    out.sort(key=lambda d: (-d["risk_weight"], -d["area_m2"]))
    return out + rows
