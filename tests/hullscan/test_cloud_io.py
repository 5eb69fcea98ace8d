"""Hull clouds survive PLY round trips and open3d reads them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hullscan.cloud_io import load_cloud, load_metadata, save_cloud
from hullscan.errors import HullscanError
from hullscan.model import HullCloud
from tests.tools import missing_tool


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
    assert not back.has_geometry  # written without it, read without it


def test_viewing_geometry_roundtrip(tmp_path: Path) -> None:
    from dataclasses import replace

    c = _cloud()
    rng = np.random.default_rng(1)
    g = replace(c, incidence_deg=rng.random(len(c)) * 90, range_m=rng.random(len(c)) * 10)
    back = load_cloud(save_cloud(g, tmp_path / "g.ply"))
    assert back.has_geometry
    np.testing.assert_array_equal(back.incidence_deg, g.incidence_deg.astype(np.float32))
    np.testing.assert_array_equal(back.range_m, g.range_m.astype(np.float32))
    half = back.subset(np.arange(len(back)) % 2 == 0)
    np.testing.assert_array_equal(half.range_m, back.range_m[::2])


def test_seen_times_roundtrip(tmp_path: Path) -> None:
    from dataclasses import replace

    c = _cloud()
    rng = np.random.default_rng(2)
    first = rng.random(len(c)) * 100
    t = replace(c, seen_first_s=first, seen_last_s=first + rng.random(len(c)) * 60, seen_t0_ns=1714550400123456789)
    back = load_cloud(save_cloud(t, tmp_path / "t.ply"))
    assert back.has_times and not back.has_geometry  # each block of fields on its own
    assert back.seen_t0_ns == t.seen_t0_ns  # to the nanosecond: the times' origin, in the header
    np.testing.assert_array_equal(back.seen_first_s, t.seen_first_s.astype(np.float32))
    np.testing.assert_array_equal(back.seen_last_s, t.seen_last_s.astype(np.float32))
    assert not load_cloud(save_cloud(c, tmp_path / "c.ply")).has_times
    np.testing.assert_array_equal(back.subset(np.arange(len(back)) < 7).seen_last_s, back.seen_last_s[:7])


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


def test_scalar_fields_named_for_cloudcompare_and_old_names_still_load(tmp_path: Path) -> None:
    c = _cloud(20)
    p = save_cloud(c, tmp_path / "cloud.ply")
    header = p.read_bytes().split(b"end_header")[0].decode()
    # CloudCompare loads a PLY property as a scalar field only when it is named scalar_*.
    for name in ("scalar_confidence", "scalar_hits", "scalar_sigma"):
        assert f" {name}\n" in header
    # A cloud written before the rename (plain names) loads the same.
    old = tmp_path / "old.ply"
    old.write_bytes(p.read_bytes().replace(b"scalar_confidence", b"confidence", 1)
                    .replace(b"scalar_hits", b"hits", 1).replace(b"scalar_sigma", b"sigma", 1))
    back = load_cloud(old)
    for f in ("confidence", "hits", "sigma"):
        np.testing.assert_array_equal(getattr(back, f), getattr(c, f))


def test_cloudcompare_loads_the_scalar_fields(tmp_path: Path) -> None:
    import os
    import shutil
    import subprocess

    exe = shutil.which("CloudCompare") or shutil.which("cloudcompare")
    if exe is None:
        missing_tool("CloudCompare", "Debian: apt-get install cloudcompare")
    p = save_cloud(_cloud(50), tmp_path / "cloud.ply")
    out = tmp_path / "cc.asc"
    res = subprocess.run([exe, "-SILENT", "-AUTO_SAVE", "OFF", "-O", str(p), "-C_EXPORT_FMT", "ASC", "-ADD_HEADER",
                          "-SAVE_CLOUDS", "FILE", str(out)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert res.returncode == 0, res.stdout[-1000:] + res.stderr[-1000:]
    head = out.read_text().splitlines()[0].lower()
    assert "confidence" in head and "hits" in head and "sigma" in head
