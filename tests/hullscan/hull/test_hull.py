"""Hull mesh model, loader (units, axes, waterline), labelled PLY round trip, regions."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import trimesh

from hullscan.errors import MeshError
from hullscan.hull import REGIONS, HullMesh, classify_regions, load_mesh, save_mesh


def _box_hull(tmp_path: Path, scale: float = 1.0, swap: bool = False, ext: str = "stl") -> Path:
    """A 60 x 10 x 8 m box 'hull' (keel at z=-5, deck at +3), optionally in mm with y-up axes."""
    box = trimesh.creation.box(extents=[60, 10, 8])
    box.apply_translation([30, 0, -1])
    # Taper the stern end upwards so it is broader than the bow (a transom), bow at +x.
    v = box.vertices.copy()
    bow = v[:, 0] > 59
    v[bow, 1] *= 0.2
    v[v[:, 2] < -4, 1] *= 0.6  # sections narrow towards the keel
    v *= scale
    if swap:
        v = v[:, [0, 2, 1]] * np.array([1, 1, -1])
    path = tmp_path / f"hull.{ext}.gz"
    mesh = trimesh.Trimesh(v, box.faces, process=False)
    path.write_bytes(gzip.compress(mesh.export(file_type=ext).encode() if ext == "obj" else mesh.export(file_type=ext)))
    return path


def test_box_hull_in_metres(tmp_path: Path) -> None:
    m = load_mesh(_box_hull(tmp_path))
    assert m.length == pytest.approx(60, abs=1e-6)
    assert m.draft == pytest.approx(5, abs=1e-6)
    assert m.vertices[:, 0].min() == pytest.approx(0, abs=1e-6)
    assert np.ptp(m.vertices[:, 1]) == pytest.approx(10, abs=1e-6)
    assert m.face_region.min() >= 0


def test_units_mm_and_axes_yup(tmp_path: Path) -> None:
    m = load_mesh(_box_hull(tmp_path, scale=1000.0, swap=True, ext="obj"), draft=5.0)
    assert "units=mm" in m.source
    assert m.length == pytest.approx(60, abs=1e-3)
    assert m.draft == pytest.approx(5, abs=1e-3)
    # bow at +x: the narrow end
    assert np.ptp(m.vertices[m.vertices[:, 0] > 59.5, 1]) < 3


def test_explicit_axes_and_waterline(tmp_path: Path) -> None:
    m = load_mesh(_box_hull(tmp_path), bow="-x", up="+z", waterline_z=-2.0)
    assert m.draft == pytest.approx(3.0, abs=1e-6)
    assert np.ptp(m.vertices[m.vertices[:, 0] > 59.5, 1]) == pytest.approx(10, abs=1e-6)


def test_ply_round_trip_keeps_regions(tmp_path: Path) -> None:
    m = load_mesh(_box_hull(tmp_path))
    regions = np.arange(m.n_faces) % len(REGIONS)
    m2 = m.with_regions(regions)
    save_mesh(m2, tmp_path / "ref.ply")
    back = load_mesh(tmp_path / "ref.ply")
    np.testing.assert_array_equal(back.face_region, m2.face_region)
    np.testing.assert_allclose(back.vertices, m2.vertices)
    import open3d as o3d

    assert len(o3d.io.read_triangle_mesh(str(tmp_path / "ref.ply")).triangles) == m.n_faces


def test_region_of_points_and_classify(tmp_path: Path) -> None:
    m = load_mesh(_box_hull(tmp_path))
    names = m.region_of_points([[30, 0, -5.2], [30, 5.3, -2], [60.3, 0, -2], [0.2, 0, -2]])
    assert list(names) == ["bottom", "side", "bow", "stern"]
    assert classify_regions(m).shape == (m.n_faces,)
    assert m.to_open3d().has_triangles()


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(MeshError, match="cannot read"):
        load_mesh(tmp_path / "missing.stl")
    bad = tmp_path / "bad.stl"
    bad.write_bytes(b"solid x\n garbage\n")
    with pytest.raises(MeshError, match=r"bad\.stl"):
        load_mesh(bad)
    with pytest.raises(MeshError, match="unsupported"):
        load_mesh(tmp_path / "x.step")
    with pytest.raises(MeshError, match="units"):
        load_mesh(_box_hull(tmp_path), units="furlong")
    with pytest.raises(MeshError, match="face_region"):
        HullMesh(np.zeros((3, 3)), np.array([[0, 1, 2]]), np.array([0, 0]), "x", "x", 1, 1, 1)


def test_shared_hulls(shared_hulls: Path) -> None:
    w = load_mesh(shared_hulls / "wigley.stl.gz")
    assert "model" in w.source and w.length == pytest.approx(100, rel=0.01)
    assert w.beam == pytest.approx(10, rel=0.02) and w.draft == pytest.approx(6.25, rel=0.01)
    d = load_mesh(shared_hulls / "dtmb5415.stl.gz", draft=9.17)
    assert 135 < d.length < 150 and 18 < d.beam < 21
    # The sonar dome (lowest point) is at the bow end.
    assert d.vertices[np.argmin(d.vertices[:, 2]), 0] > 0.8 * d.length
