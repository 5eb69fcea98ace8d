"""Run a scenario: build the hull and world, fly the survey, simulate the sensors and write
the rosbag2 bag plus its ground truth (``BAG_DIR.truth/``)."""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from hullscan_sim.hullform import SeaChest, build_parametric, place_anodes
from hullscan_sim.scenario import MeshHullSpec, Scenario, load_scenario
from hullscan_sim.sensors import (
    FRAME_CAMERA,
    FRAME_IMAGING,
    FRAME_MULTIBEAM,
    FRAME_POINTS,
    Camera,
    ImagingSonar,
    Multibeam,
    Sonar3D,
    World,
    sensor_poses,
)
from hullscan_sim.survey import Motion, NavSolution, fly, navigate, plan_route, route_from_plan
from hullscan_sim.world import Parasite, SurfaceTexture, apply_dents, place_parasites

from hullscan._version import software
from hullscan.bag import BagWriter
from hullscan.config import TopicsConfig
from hullscan.errors import BagError, ConfigError, MeshError
from hullscan.hull import HullMesh, load_mesh, merge_meshes, save_mesh
from hullscan.model import Transform, TransformStamped, s_to_ns

log = logging.getLogger("hullscan.sim")
BLOCK_S = 5.0
_STREAMS = ("placement", "dents", "survey", "nav", "multibeam", "imaging", "points", "camera", "operator")


@dataclass(frozen=True)
class Built:
    """The hull and everything on it, before any sensor runs."""

    reference: HullMesh
    as_built: HullMesh
    parasites: tuple[Parasite, ...]
    decoys: tuple[dict[str, Any], ...]
    sea_chests: tuple[SeaChest, ...]
    hull_to_nav: Transform


@dataclass(frozen=True)
class SimResult:
    bag: Path
    truth_dir: Path
    scenario: Scenario
    duration_s: float
    messages: dict[str, int]
    rays_cast: int
    timings_s: dict[str, float]
    nav: dict[str, float]
    parasites: tuple[dict[str, Any], ...] = field(default=())


def operator_notes_for(bag: str | Path) -> Path:
    """``BAG.operator.yaml``: what the dive team noted on the quay (not ground truth)."""
    p = Path(bag)
    return p.with_name(p.name + ".operator.yaml")


def fittings_plan_for(bag: str | Path) -> Path:
    """``BAG.fittings.yaml``: the ship's anode plan, where the simulator fitted anodes that the design
    file the dive team holds does not have (a mesh hull; not ground truth: a plan's accuracy)."""
    p = Path(bag)
    return p.with_name(p.name + ".fittings.yaml")


def design_mesh_for(bag: str | Path) -> Path:
    """``BAG.design.ply``: the design hull the dive team holds for a parametric hull (no parasites,
    growth or dents), beside the bag with the quay notes that name it. A mesh hull's design is the
    scenario's own file, which the notes name instead; the scorer's copy of either, in the hull
    frame with region labels, is ``BAG.truth/reference.ply``."""
    p = Path(bag)
    return p.with_name(p.name + ".design.ply")


def truth_dir_for(bag: str | Path) -> Path:
    p = Path(bag)
    return p.with_name(p.name + ".truth")


def _rngs(seed: int) -> dict[str, np.random.Generator]:
    kids = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    return {name: np.random.default_rng(k) for name, k in zip(_STREAMS, kids, strict=True)}


def _mesh_anodes(m: MeshHullSpec, reference: HullMesh) -> list[HullMesh]:
    """The anodes of a mesh hull, placed as at ``anodes_draft_m`` (dry dock) when it is given, so two
    visits of one ship at different drafts have them on the same spot of the plating."""
    if m.anodes_draft_m is None or reference.ref_from_hull is None:
        return place_anodes(reference, m.anodes)
    try:
        design = load_mesh(m.path, units=m.units, bow=m.bow, up=m.up, draft=m.anodes_draft_m, scale=m.scale,
                           length=m.length_m)
    except MeshError as err:
        raise ConfigError(f"hull.mesh.anodes_draft_m: {err}") from err
    assert design.ref_from_hull is not None
    to_today = reference.ref_from_hull.inverse() @ design.ref_from_hull
    return [replace(a, vertices=to_today.apply(a.vertices)) for a in place_anodes(design, m.anodes)]


def build_world(sc: Scenario, rngs: dict[str, np.random.Generator] | None = None) -> Built:
    rngs = rngs or _rngs(sc.seed)
    chests: tuple[SeaChest, ...] = ()
    if sc.hull.parametric is not None:
        build = build_parametric(sc.hull.parametric)
        reference, chests = build.mesh, build.sea_chests
    else:
        m = sc.hull.mesh
        assert m is not None
        try:
            reference = load_mesh(m.path, units=m.units, bow=m.bow, up=m.up, draft=m.draft_m, trim=m.trim_m or None,
                                  waterline_z=m.waterline_z, scale=m.scale, length=m.length_m)
        except MeshError as err:
            raise ConfigError(f"hull.mesh.path: {err}") from err
        if m.anodes and not reference.regions_present().count("anode"):
            reference = merge_meshes([reference, *_mesh_anodes(m, reference)], reference.name, reference.source)
    parasites = place_parasites(reference, list(sc.parasites), chests, rngs["placement"])
    as_built, decoys = apply_dents(reference, sc.as_built, rngs["dents"])
    anodes = reference.region_mask("anode")
    decoys = [*decoys]
    if anodes.any():
        c = reference.face_centroids()[anodes]
        # anode boxes have 12 faces each: report one decoy per box
        for k in range(0, len(c), 12):
            decoys.append({"id": f"A{k // 12 + 1}", "kind": "anode", "centroid_hull": c[k:k + 12].mean(0).tolist(),
                           "region": "anode", "in_reference": True})
    if sc.growth.roughness_m > 0 or sc.growth.patch_thickness_m > 0:
        decoys.append({"id": "G", "kind": "marine_growth", "roughness_m": sc.growth.roughness_m,
                       "patch_thickness_m": sc.growth.patch_thickness_m, "region": "all"})
    if sc.as_built.seam_height_m > 0:
        decoys.append({"id": "S", "kind": "plate_seams", "height_m": sc.as_built.seam_height_m,
                       "spacing_m": sc.as_built.seam_spacing_m, "region": "all"})
    pl = sc.placement
    hull_to_nav = Transform.from_euler(0.0, 0.0, float(np.deg2rad(pl.heading_deg)),
                                       (pl.origin_en_m[0], pl.origin_en_m[1], 0.0))
    return Built(reference, as_built, tuple(parasites), tuple(decoys), chests, hull_to_nav)


def _stamps(t0: int, t1: int, rate: float, decimation: int) -> np.ndarray:
    n = int((t1 - t0) * 1e-9 * rate)
    k = np.arange(0, n, decimation)
    return t0 + np.round(k * 1e9 / rate).astype(np.int64)


def simulate(scenario: Scenario | str | Path, out_dir: str | Path, *, duration_s: float | None = None,
             ping_decimation: int = 1, progress: bool = False, overwrite: bool = False) -> SimResult:
    """Simulate ``scenario`` into the bag ``out_dir`` (+ ``out_dir.truth/``).

    ``duration_s`` cuts the survey short and ``ping_decimation`` keeps every n-th
    sensor message (both for fast tests); the result is deterministic for the seed.
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if ping_decimation < 1:
        raise ConfigError(f"ping_decimation: expected an integer >= 1, got {ping_decimation}")
    bag_path = Path(out_dir)
    truth = truth_dir_for(bag_path)
    _clear_outputs(bag_path, truth, overwrite)
    timings: dict[str, float] = {}
    t_start = time.perf_counter()
    rngs = _rngs(sc.seed)
    built = build_world(sc, rngs)
    timings["build_s"] = time.perf_counter() - t_start
    # The vehicle's true path (hull and navigation frames) and the drifting navigation it reports.
    t0 = s_to_ns(sc.start_time_s)
    route = plan_route(built.reference, sc.survey)
    survey = sc.survey
    if survey.plan is not None:  # a plan flies at its own lane speed
        survey = survey.model_copy(update={"speed_mps": route_from_plan(survey.plan)[1]})
    motion = fly(route, survey, rngs["survey"], t0, duration_s)
    true_nav = motion.trajectory(built.hull_to_nav)
    nav = navigate(true_nav, sc.navigation, rngs["nav"])
    hull_traj = motion.trajectory()
    timings["survey_s"] = time.perf_counter() - t_start - timings["build_s"]
    # What the sensors see: the as-built hull with its parasites and surface texture.
    texture = SurfaceTexture(sc.growth, sc.as_built, sc.seed)
    world = World(built.as_built, [p.mesh for p in built.parasites], texture)
    lo, hi = motion.stamps_ns[0], motion.stamps_ns[-1]
    runs = _sensor_runs(_sensor_models(sc), hull_traj, int(lo), int(hi), ping_decimation)
    rec = _record(bag_path, sc, _Survey(nav, world, runs, rngs, int(lo), int(hi)), progress)
    timings["sensors_s"] = rec.cast_s
    timings["write_s"] = rec.write_s
    _write_truth(truth, sc, built, motion, nav, true_nav)
    design = design_mesh_for(bag_path)
    design.unlink(missing_ok=True)
    if sc.hull.mesh is None:  # a parametric hull: its design, as the team holds it, beside the bag
        shutil.copyfile(truth / "reference.ply", design)  # the scorer's copy, written just above
    _write_operator_notes(operator_notes_for(bag_path), sc, built, motion, rngs["operator"])
    # Its own stream: the plan leaves every other draw (and so the bag) as it was.
    _write_fittings_plan(fittings_plan_for(bag_path), sc, built, np.random.default_rng([sc.seed, 0xF177]))
    timings["total_s"] = time.perf_counter() - t_start
    duration = (hi - lo) * 1e-9
    return SimResult(bag_path, truth, sc, duration, rec.counts, world.rays_cast, timings, nav.stats(),
                     tuple(p.truth() for p in built.parasites))


@dataclass(frozen=True)
class _SensorRun:
    """One sensor over the whole survey: its model, message stamps and poses (hull frame) at them."""

    name: str
    model: Any
    stamps: np.ndarray
    origins: np.ndarray
    rotations: np.ndarray


@dataclass(frozen=True)
class _Survey:
    """What the bag is written from: navigation, the world the sensors see, and the sensors."""

    nav: NavSolution
    world: World
    runs: list[_SensorRun]
    rngs: dict[str, np.random.Generator]
    lo: int
    hi: int


@dataclass(frozen=True)
class _Recorded:
    counts: dict[str, int]
    cast_s: float
    write_s: float


def _clear_outputs(bag_path: Path, truth: Path, overwrite: bool) -> None:
    """Refuse to replace an earlier bag unless told to (a survey takes minutes to simulate)."""
    if bag_path.exists() or truth.exists():
        if not overwrite:
            raise BagError(f"{bag_path}: already exists (use --force to replace it)")
        shutil.rmtree(bag_path, ignore_errors=True)
        shutil.rmtree(truth, ignore_errors=True)


def _sensor_models(sc: Scenario) -> list[tuple[str, Any, float]]:
    """The scenario's sensors as (name, model, rate); this order is the write order at equal stamps."""
    sensors: list[tuple[str, Any, float]] = []
    se = sc.sensors
    if se.multibeam is not None:
        sensors.append(("multibeam", Multibeam(se.multibeam, sc.water), se.multibeam.rate_hz))
    if se.imaging is not None:
        sensors.append(("imaging", ImagingSonar(se.imaging), se.imaging.rate_hz))
    if se.points is not None:
        sensors.append(("points", Sonar3D(se.points), se.points.rate_hz))
    if se.camera is not None:
        sensors.append(("camera", Camera(se.camera, sc.water), se.camera.rate_hz))
    return sensors


def _sensor_runs(sensors: list[tuple[str, Any, float]], hull_traj: Any, lo: int, hi: int,
                 ping_decimation: int) -> list[_SensorRun]:
    """Message stamps and sensor poses for the whole survey, per sensor.

    One interpolation per sensor for the whole survey: a SLERP set-up per block would dominate."""
    runs = []
    for name, obj, rate in sensors:
        st = _stamps(lo, hi, rate, ping_decimation)
        if len(st) == 0:
            org, rot = np.zeros((0, 3)), np.zeros((0, 3, 3))
        else:
            pos, quat, _, _ = hull_traj.interpolate(st)
            org, rot = sensor_poses(pos, quat, obj.mount)
        runs.append(_SensorRun(name, obj, st, org, rot))
    return runs


def _record(bag_path: Path, sc: Scenario, sv: _Survey, progress: bool) -> _Recorded:
    """Write the bag block by block (BLOCK_S of survey each), so memory stays flat on long surveys."""
    nav_stamps = np.array([s.stamp_ns for s in sv.nav.samples])
    counts: dict[str, int] = {"nav": 0, "tf": 0}
    mounts = [TransformStamped(sv.lo, "base_link", _frame(r.name), r.model.mount, static=True) for r in sv.runs]
    t_cast = 0.0
    t_write = 0.0
    with BagWriter(bag_path, storage=sc.storage, topics=TopicsConfig()) as bag:
        bag.write_tf(mounts, static=True, log_time_ns=sv.lo)
        bar = _progress_bar(sc, sv, progress)
        for b0 in range(sv.lo, sv.hi + 1, s_to_ns(BLOCK_S)):
            b1 = b0 + s_to_ns(BLOCK_S)
            items = _nav_items(sv.nav, nav_stamps, b0, b1)
            tc = time.perf_counter()
            items += _sensor_items(sv, b0, b1)
            tw = time.perf_counter()
            t_cast += tw - tc
            _write_items(bag, items, sv.runs, counts)
            t_write += time.perf_counter() - tw
            if bar is not None:
                bar.update(round(BLOCK_S))
        if bar is not None:
            bar.close()
    return _Recorded(counts, t_cast, t_write)


def _progress_bar(sc: Scenario, sv: _Survey, progress: bool) -> Any:
    """A tqdm bar in survey seconds, or None (tqdm is imported only when asked for)."""
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=round((sv.hi - sv.lo) * 1e-9), unit="s", desc=f"simulate {sc.name}", leave=False)


def _nav_items(nav: NavSolution, nav_stamps: np.ndarray, b0: int, b1: int) -> list[tuple[int, int, Any]]:
    """The block's navigation samples, each with its odom -> base_link transform (write order 0, 1)."""
    items: list[tuple[int, int, Any]] = []
    i0, i1 = np.searchsorted(nav_stamps, [b0, b1])
    for k in range(i0, i1):
        smp = nav.samples[k]
        items.append((smp.stamp_ns, 0, smp))
        items.append((smp.stamp_ns, 1, TransformStamped(smp.stamp_ns, "odom", "base_link", smp.pose)))
    return items


def _sensor_items(sv: _Survey, b0: int, b1: int) -> list[tuple[int, int, Any]]:
    """The block's sensor messages (write order 2 + the sensor's index); each sensor draws from its
    own random stream, so adding a sensor leaves the others' messages as they were."""
    items: list[tuple[int, int, Any]] = []
    for order, run in enumerate(sv.runs, start=2):
        j0, j1 = np.searchsorted(run.stamps, [b0, b1])
        if j1 <= j0:
            continue
        sel = run.stamps[j0:j1]
        org, rot = run.origins[j0:j1], run.rotations[j0:j1]
        rng = sv.rngs[run.name]
        if run.name == "camera":
            for fr in run.model.frames(sv.world, sel, org, rot, rng):
                items.append((fr.stamp_ns, order, run.model.info(fr.stamp_ns)))
                items.append((fr.stamp_ns, order, fr))
        else:
            items.extend((pg.stamp_ns, order, pg) for pg in run.model.pings(sv.world, sel, org, rot, rng))
    return items


def _write_items(bag: BagWriter, items: list[tuple[int, int, Any]], runs: list[_SensorRun],
                 counts: dict[str, int]) -> None:
    """Write the block in stamp order (ties: nav, tf, then the sensors in order) and count messages."""
    items.sort(key=lambda it: (it[0], it[1]))
    for _, order, item in items:
        if isinstance(item, TransformStamped):
            bag.write_tf([item], static=False)
            counts["tf"] += 1
        else:
            bag.write(item)
            key = "nav" if order == 0 else runs[order - 2].name
            counts[key] = counts.get(key, 0) + 1


def _frame(name: str) -> str:
    return {"multibeam": FRAME_MULTIBEAM, "imaging": FRAME_IMAGING, "points": FRAME_POINTS,
            "camera": FRAME_CAMERA}[name]


def _write_truth(truth: Path, sc: Scenario, built: Built, motion: Motion, nav: NavSolution, true_nav: Any) -> None:
    truth.mkdir(parents=True, exist_ok=True)
    stats = nav.stats()
    doc = {
        "seed": sc.seed,
        "scenario": sc.name,
        # The same scenario and seed simulate other bags on other numpy/scipy/open3d (stop 45).
        "software": software(),
        "hull": {"name": built.reference.name, "source": built.reference.source, "length_m": built.reference.length,
                 "beam_m": built.reference.beam, "draft_m": built.reference.draft,
                 "regions": list(built.reference.regions_present())},
        "hull_to_nav": {"translation": built.hull_to_nav.translation.tolist(),
                        "rotation": built.hull_to_nav.rotation.tolist()},
        # The mesh file's own frame (what a user's outputs are in) from the hull frame above.
        "reference_frame": None if built.reference.ref_from_hull is None else {
            "ref_from_hull": {"translation": built.reference.ref_from_hull.translation.tolist(),
                              "rotation": built.reference.ref_from_hull.rotation.tolist()},
            "mesh": sc.hull.mesh.model_dump(mode="json") if sc.hull.mesh is not None else None},
        "parasites": [p.truth() for p in built.parasites],
        "decoys": list(built.decoys),
        "sea_chests": [{"index": c.index, "center_hull": c.center.tolist(), "normal_hull": c.normal.tolist(),
                        "width_m": c.width, "height_m": c.height, "recess_m": c.recess} for c in built.sea_chests],
        "nav": {"drift_percent": sc.navigation.drift_percent, "heading_bias_deg": sc.navigation.heading_bias_deg,
                "correlation_m": sc.navigation.correlation_m, "depth_sigma_m": sc.navigation.depth_sigma_m, **stats},
    }
    (truth / "truth.json").write_text(json.dumps(doc, indent=2, sort_keys=False))
    _savez_deterministic(truth / "trajectory_true.npz", stamps_ns=true_nav.stamps_ns,
                         positions=true_nav.positions, orientations=true_nav.orientations,
                         positions_hull=motion.positions, orientations_hull=motion.orientations,
                         route_hull=motion.route)
    save_mesh(built.reference, truth / "reference.ply")
    (truth / "scenario.yaml").write_text(yaml.safe_dump(sc.model_dump(mode="json"), sort_keys=False))


def _write_operator_notes(path: Path, sc: Scenario, built: Built, motion: Motion, rng: np.random.Generator) -> None:
    """What a dive team knows on the quay, with the errors such notes have: the ship's gyro heading
    (a few degrees off), where the vehicle went in (a few metres off along the ship, depth to half a
    metre) and the draft read from the marks. A user's path reads this file, never truth.json."""
    start = motion.positions[0]
    yaw_enu = float(np.rad2deg(built.hull_to_nav.rot.as_euler("xyz")[2]))
    heading = (90.0 - yaw_enu + rng.normal(0.0, 2.0)) % 360.0
    side = "port" if start[1] >= 0 else "starboard"
    m = sc.hull.mesh
    # The design hull the team holds: the scenario's mesh file as drawn, or the parametric design.
    design = ({"path": str(m.path), "units": m.units, "up": m.up, "bow": m.bow,
               # A model-scale file: the ship's length overall, from its particulars.
               **({"length_m": float(m.length_m)} if m.length_m else {})} if m is not None else
              {"path": design_mesh_for(path.name.removesuffix(".operator.yaml")).name,  # beside this file
               "units": "auto", "up": "auto", "bow": "auto"})
    notes = {
        "reference": design,
        # The marks give the mean draft and the trim of a trimmed ship; else the keel's depth.
        "draft_m": round(float(m.draft_m if m is not None and m.trim_m and m.draft_m else built.reference.draft), 2),
        "trim_m": round(float(m.trim_m), 2) if m is not None else 0.0,
        "prior": {
            "ship_heading_deg": round(float(heading)),
            "start": {"x_from_stern_m": round(float(start[0] + rng.uniform(-3.0, 3.0)) * 2) / 2,
                      "side": side, "depth_m": round(float(-start[2] + rng.uniform(-0.5, 0.5)) * 2) / 2,
                      "standoff_m": float(sc.survey.standoff_m),
                      # Under the bottom: how far out from the keel line (to about a metre).
                      **({"off_centreline_m": round(max(0.0, abs(float(start[1])) + float(rng.uniform(-1.0, 1.0))), 1)}
                         if -float(start[2]) > built.reference.draft else {})},
        },
    }
    text = ("# What the dive team noted on the quay (simulated notes with realistic errors; not ground truth).\n"
            "# hullscan replay BAG --reference MESH --draft DRAFT [--trim TRIM] --prior THIS_FILE\n")
    path.write_text(text + yaml.safe_dump(notes, sort_keys=False))


def _write_fittings_plan(path: Path, sc: Scenario, built: Built, rng: np.random.Generator) -> None:
    """The anode plan of a mesh hull whose anodes the simulator fitted (the design file has none):
    each anode's station, side, height above the keel and breadth off the centreline, as a yard's
    plan gives them (to 0.05 m, about 0.1 m along and 0.05 m in height off). Parametric hulls
    carry their anodes in the design the team holds: no plan."""
    path.unlink(missing_ok=True)
    anodes = [d for d in built.decoys if d.get("kind") == "anode"]
    if sc.hull.mesh is None or not anodes:
        return
    hull = built.reference
    keel = float(hull.vertices[np.unique(hull.faces[~hull.region_mask("anode")]), 2].min())

    def r(v: float) -> float:
        return round(v * 20.0) / 20.0

    entries = []
    for d in anodes:
        c = np.asarray(d["centroid_hull"], float)
        entries.append({"id": d["id"], "kind": "anode", "x_from_stern_m": r(c[0] + rng.normal(0.0, 0.1)),
                        "side": "port" if c[1] >= 0 else "starboard",
                        "above_keel_m": r(max(c[2] - keel + rng.normal(0.0, 0.05), 0.0)),
                        "off_centre_m": r(max(abs(c[1]) + rng.normal(0.0, 0.05), 0.0)), "size_m": [0.8, 0.25, 0.08]})
    text = ("# The ship's anode plan (simulated: the anodes the simulator fitted, to a plan's accuracy; not ground\n"
            "# truth). hullscan replay BAG --reference MESH --draft DRAFT --prior NOTES --fittings THIS_FILE\n")
    path.write_text(text + yaml.safe_dump({"tolerance_m": 0.5, "fittings": entries}, sort_keys=False))


def _savez_deterministic(path: Path, **arrays: np.ndarray) -> None:
    """Like ``np.savez`` but with fixed zip timestamps, so the same seed gives the same bytes."""
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with zf.open(info, "w") as fh:
                np.lib.format.write_array(fh, np.asarray(arr), allow_pickle=False)
