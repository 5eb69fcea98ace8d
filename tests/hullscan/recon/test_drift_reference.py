"""Drift correction against a reference surface (recon.drift.reference): the ICP step on its own,
and a single-lane survey whose drift no submap overlap can reveal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from hullscan.compare.navref import load_drift_reference
from hullscan.errors import HullscanError
from hullscan.model import NavSample, Transform
from hullscan.recon.config import DriftConfig, ReconConfig
from hullscan.recon.drift import align_submap, tree_closest, yaw_matrix
from hullscan.recon.pipeline import Reconstructor
from tests.hullscan.recon.synth import RADIUS, Faults, surface_distance, survey

# The hull frame of the reference mesh: the cylinder's axis turned 30 deg from the nav x axis.
HULL_TO_NAV = Transform.from_euler(0.0, 0.0, np.deg2rad(30.0), (4.0, -2.0, 0.0))


def _bumpy(n: int, rng: np.random.Generator, half: float) -> tuple[np.ndarray, np.ndarray]:
    """Points and unit normals on z = sin(x) cos(0.7 y) (constrains every direction)."""
    xy = rng.uniform(-half, half, (n, 2))
    z = np.sin(xy[:, 0]) * np.cos(0.7 * xy[:, 1])
    gx = np.cos(xy[:, 0]) * np.cos(0.7 * xy[:, 1])
    gy = -0.7 * np.sin(xy[:, 0]) * np.sin(0.7 * xy[:, 1])
    nrm = np.stack([-gx, -gy, np.ones(n)], 1)
    return np.column_stack([xy, z]), nrm / np.linalg.norm(nrm, axis=1, keepdims=True)


def test_align_submap_recovers_yaw_and_translation() -> None:
    rng = np.random.default_rng(1)
    tgt, tn = _bumpy(40000, rng, 4.0)
    src = _bumpy(4000, rng, 2.5)[0]
    yaw, shift = np.deg2rad(2.0), np.array([0.12, -0.08, 0.05])
    centre = src.mean(0)
    moved = (src - centre) @ yaw_matrix(-yaw).T + centre - shift  # the inverse of the correction
    t, y, n_in, rms = align_submap(moved, tree_closest(tgt, tn), np.zeros(3), 0.5, 0.02, 0.1, yaw0=0.0)
    assert abs(np.rad2deg(y) - 2.0) < 0.1
    back = (moved - centre) @ yaw_matrix(y).T + centre + t
    assert np.abs(back - src).max() < 0.01
    assert n_in > 3000 and rms < 0.01
    # Without the yaw, the same data cannot be brought back.
    t2, _, _, _ = align_submap(moved, tree_closest(tgt, tn), np.zeros(3), 0.5, 0.02, 0.1)
    assert np.abs(moved + t2 - src).max() > 0.05


def test_align_submap_keeps_unconstrained_directions_at_the_prior() -> None:
    rng = np.random.default_rng(2)
    tgt = np.column_stack([rng.uniform(-5, 5, (20000, 2)), np.zeros(20000)])
    tn = np.tile([0.0, 0.0, 1.0], (20000, 1))
    src = np.column_stack([rng.uniform(-2, 2, (2000, 2)), np.full(2000, 0.1)])
    prior = np.array([0.3, -0.2, 0.0])
    t, y, _, _ = align_submap(src, tree_closest(tgt, tn, cKDTree(tgt)), prior, 0.5, 0.02, 0.1, yaw0=0.01)
    # A flat plate fixes only the height: x, y and yaw stay where the prior put them.
    np.testing.assert_allclose(t, [0.3, -0.2, -0.1], atol=1e-6)
    assert y == pytest.approx(0.01)


def _cylinder_mesh(path: Path) -> Path:
    """The synthetic survey's cylinder (nav frame) as a labelled hull-frame PLY."""
    from hullscan.hull import HullMesh, save_mesh

    xs = np.linspace(-8.0, 18.0, 53)
    th = np.linspace(0, 2 * np.pi, 97)[:-1]
    xx, tt = np.meshgrid(xs, th, indexing="ij")
    nav = np.stack([xx.ravel(), RADIUS * np.cos(tt.ravel()), RADIUS * np.sin(tt.ravel())], 1)
    verts = HULL_TO_NAV.inverse().apply(nav)
    na, nt = len(xs), len(th)
    idx = np.arange(na * nt).reshape(na, nt)
    a, b = idx[:-1], np.roll(idx, -1, axis=1)[:-1]
    c, d = idx[1:], np.roll(idx, -1, axis=1)[1:]
    faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([b, d, c], -1).reshape(-1, 3)])
    mesh = HullMesh(verts, faces, np.full(len(faces), -1), "cylinder", "test", 26.0, 10.0, 5.0)
    save_mesh(mesh, path)
    return path


def _prior(path: Path) -> Path:
    # An exact placement (sigma zero): these tests are about the drift correction, not the search.
    path.write_text(json.dumps({"hull_to_nav": {"translation": HULL_TO_NAV.translation.tolist(),
                                                "rotation": HULL_TO_NAV.rotation.tolist()},
                                "sigma": {"along_m": 0, "across_m": 0, "vertical_m": 0, "heading_deg": 0}}))
    return path


def _with_heading_bias(items: list[object], bias_deg: float) -> list[object]:
    """The navigation's heading off by ``bias_deg``; dead reckoning turns the track with it."""
    rz = Rotation.from_euler("z", bias_deg, degrees=True)
    p0 = next(it.position for it in items if isinstance(it, NavSample))
    out: list[object] = []
    for it in items:
        if isinstance(it, NavSample):
            it = NavSample(it.stamp_ns, rz.apply(it.position - p0) + p0,
                           (rz * Rotation.from_quat(it.orientation)).as_quat(), position_sigma=it.position_sigma)
        out.append(it)
    return out


def _rms(items: list[object], drift: DriftConfig | None) -> tuple[float, dict[str, float]]:
    drift = drift or DriftConfig()
    # As the commands do: the reference is loaded (and placed) by the comparison code and handed in.
    rec = Reconstructor(ReconConfig(drift=drift), drift_reference=load_drift_reference(drift))
    rec.add_all(items)
    res = rec.finish()
    return float(np.sqrt(np.mean(surface_distance(res.cloud.points) ** 2))), res.stats


def test_reference_corrects_drift_that_submap_overlap_cannot_see(tmp_path: Path) -> None:
    # One lane: no overlap, so submap-to-submap alignment has nothing to work with. 3 % sideways
    # drift and a 1 deg heading bias put the end of the lane ~0.45 m off (RMS ~10 cm).
    s = survey(n_pings=400, beams=96, lanes=(0.0,), faults=Faults(drift_per_m=0.03))
    items = _with_heading_bias(s.items, 1.0)
    mesh, prior = _cylinder_mesh(tmp_path / "cyl.ply"), _prior(tmp_path / "truth.json")
    before, _ = _rms(items, None)
    submaps, _ = _rms(items, DriftConfig(enabled=True, submap_length_m=2.5))
    ref_cfg = DriftConfig(enabled=True, submap_length_m=2.5, reference=str(mesh), hull_to_nav=str(prior))
    after, stats = _rms(items, ref_cfg)
    assert before > 0.08
    assert submaps > 0.9 * before  # nothing to align against
    assert after < 0.03 and after < 0.25 * before
    # Drift growing linearly with distance along a straight lane is a turn of the track: together
    # with the heading bias, one rotation of atan(0.03) + 1 deg = 2.72 deg explains it all.
    assert stats["drift_aligned"] >= 1
    assert 2.4 < stats["drift_max_yaw_deg"] < 3.0


def test_reference_leaves_good_navigation_alone(tmp_path: Path) -> None:
    s = survey(n_pings=300, beams=96, lanes=(0.0,))
    mesh, prior = _cylinder_mesh(tmp_path / "cyl.ply"), _prior(tmp_path / "truth.json")
    before, _ = _rms(s.items, None)
    after, stats = _rms(s.items, DriftConfig(enabled=True, submap_length_m=2.5, reference=str(mesh),
                                             hull_to_nav=str(prior)))
    assert after <= 1.05 * before
    assert stats["drift_max_correction_m"] < 0.02


def test_mesh_reference_needs_the_navigation_prior(tmp_path: Path) -> None:
    mesh = _cylinder_mesh(tmp_path / "cyl.ply")
    with pytest.raises(HullscanError, match=r"cyl\.ply.*hull_to_nav"):
        load_drift_reference(DriftConfig(enabled=True, reference=str(mesh)))
    with pytest.raises(HullscanError, match=r"nothing\.ply"):
        load_drift_reference(DriftConfig(enabled=True, reference=str(tmp_path / "nothing.ply")))


def test_reconstruct_command_with_reference(tmp_path: Path) -> None:
    from hullscan.bag import BagWriter
    from hullscan.cli import main

    s = survey(n_pings=200, beams=64, lanes=(0.0,), faults=Faults(drift_per_m=0.03))
    bag = tmp_path / "bag"
    with BagWriter(bag) as w:
        for it in s.items:
            w.write(it)
    mesh, prior = _cylinder_mesh(tmp_path / "cyl.ply"), _prior(tmp_path / "truth.json")
    out = tmp_path / "out"
    assert main(["reconstruct", str(bag), "--out", str(out), "--no-progress", "--reference", str(mesh)]) == 1
    assert main(["reconstruct", str(bag), "--out", str(out), "--no-progress", "--drift", "--reference",
                 str(mesh), "--hull-to-nav", str(prior)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stats"]["drift_aligned"] >= 1
    assert "cyl.ply" in (out / "config.yaml").read_text()


def test_earlier_cloud_as_reference(tmp_path: Path) -> None:
    from hullscan.cloud_io import save_cloud

    # An earlier clean scan of the same lane (its own frame is the nav frame: no prior needed).
    clean = survey(n_pings=400, beams=96, lanes=(0.0,), seed=5)
    rec = Reconstructor(ReconConfig())
    rec.add_all(clean.items)
    save_cloud(rec.finish().cloud, tmp_path / "earlier.ply")
    items = _with_heading_bias(survey(n_pings=400, beams=96, lanes=(0.0,), faults=Faults(drift_per_m=0.03)).items, 1.0)
    before, _ = _rms(items, None)
    after, stats = _rms(items, DriftConfig(enabled=True, submap_length_m=2.5, reference=str(tmp_path / "earlier.ply")))
    assert after < 0.035 and after < 0.35 * before
    assert stats["drift_aligned"] >= 1


def _with_growing_sigma(items: list[object], rate: float) -> list[object]:
    """The DVL/INS's reported position sigma growing with distance travelled, as real ones do."""
    out: list[object] = []
    last, travelled = None, 0.0
    for it in items:
        if isinstance(it, NavSample):
            travelled += 0.0 if last is None else float(np.linalg.norm(it.position - last))
            last = it.position
            s = max(0.05, rate * travelled)
            it = NavSample(it.stamp_ns, it.position, it.orientation, position_sigma=np.array([s, s, 0.01]))
        out.append(it)
    return out


def test_corrected_navigation_is_as_uncertain_as_the_fits_left(tmp_path: Path) -> None:
    """Against a reference, the drift the DVL's sigma stands for is measured and removed: the points'
    uncertainty is what the submap fits left, not the DVL's absolute sigma (measured_sigma off)."""
    s = survey(n_pings=400, beams=96, lanes=(0.0,), faults=Faults(drift_per_m=0.03))
    items = _with_growing_sigma(_with_heading_bias(s.items, 1.0), 0.06)
    mesh, prior = _cylinder_mesh(tmp_path / "cyl.ply"), _prior(tmp_path / "truth.json")

    def sigma(measured: bool) -> float:
        cfg = DriftConfig(enabled=True, submap_length_m=2.5, reference=str(mesh), hull_to_nav=str(prior),
                          measured_sigma=measured)
        rec = Reconstructor(ReconConfig(drift=cfg), drift_reference=load_drift_reference(cfg))
        rec.add_all(items)
        return float(np.median(rec.finish().cloud.sigma))

    dvl, measured = sigma(False), sigma(True)
    assert dvl > 0.15, dvl  # the DVL's sigma half way along the lane
    assert measured < 0.05 and measured < 0.3 * dvl, (measured, dvl)
