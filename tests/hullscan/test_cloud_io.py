"""Hull clouds survive PLY round trips and open3d reads them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hullscan.cloud_io import load_cloud, load_metadata, save_cloud
from hullscan.errors import HullscanError
from hullscan.model import HullCloud


def _cloud(n: int = 500) -> HullCloud:
    rng = np.random.default_rng(0)
    nrm = rng.normal(size=(n, 3))
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
    return HullCloud(rng.normal(0, 100, (n, 3)), nrm, rng.random(n), rng.integers(1, 50, n),
                     rng.random(n) * 0.05, "odom")


def test_roundtrip_exact(tmp_path: Path) -> None:
    c = _cloud()
    p = save_cloud(c, tmp_path / "sub" / "cloud.ply", {"bag": "x"})
    back = load_cloud(p)
    for f in ("points", "normals", "confidence", "hits", "sigma"):
        np.testing.assert_array_equal(getattr(back, f), getattr(c, f))
    assert back.frame_id == "odom"
    assert load_metadata(p)["bag"] == "x" and load_metadata(p)["points"] == 500


def test_open3d_reads_it(tmp_path: Path) -> None:
    o3d = pytest.importorskip("open3d")
    c = _cloud()
    p = save_cloud(c, tmp_path / "cloud.ply")
    pc = o3d.io.read_point_cloud(str(p))
    np.testing.assert_allclose(np.asarray(pc.points), c.points)
    assert pc.has_normals()


def test_empty_and_ascii_and_errors(tmp_path: Path) -> None:
    e = HullCloud.from_points(np.zeros((0, 3)))
    assert len(load_cloud(save_cloud(e, tmp_path / "e.ply"))) == 0
    (tmp_path / "a.ply").write_text("ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\n"
                                    "property float y\nproperty float z\nend_header\n1 2 3\n4 5 6\n")
    a = load_cloud(tmp_path / "a.ply")
    np.testing.assert_array_equal(a.points, [[1, 2, 3], [4, 5, 6]])
    (tmp_path / "bad.ply").write_text("hello")
    with pytest.raises(HullscanError, match="not a PLY"):
        load_cloud(tmp_path / "bad.ply")
    with pytest.raises(HullscanError, match="cannot read"):
        load_cloud(tmp_path / "missing.ply")
