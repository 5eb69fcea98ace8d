"""The one PLY reader/writer: round trips on real files, other writers' PLY, damaged files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hullscan.errors import PlyError
from hullscan.ply import element_counts, read_ply, write_ply


def _mesh_arrays(nv: int = 5, nf: int = 4) -> tuple[np.ndarray, np.ndarray]:
    v = np.zeros(nv, [("x", "<f8"), ("y", "<f8"), ("z", "<f8")])
    v["x"] = np.arange(nv)
    f = np.zeros(nf, [("vertex_indices", "<i4", (3,)), ("region", "<i2")])
    f["vertex_indices"] = np.arange(3 * nf).reshape(nf, 3) % nv
    f["region"] = np.arange(nf) - 1
    return v, f


def test_round_trip_with_list_property_and_comments(tmp_path: Path) -> None:
    v, f = _mesh_arrays()
    path = tmp_path / "m.ply"
    write_ply(path, {"vertex": v, "face": f}, ["hullscan test", "frame_id odom"])
    assert element_counts(path) == {"vertex": 5, "face": 4}
    ply = read_ply(path.read_bytes(), path, {"face": {"vertex_indices": 3}})
    assert ply.comment("frame_id") == "odom" and ply.comment("nothing") is None
    np.testing.assert_array_equal(ply.elements["vertex"]["x"], v["x"])
    np.testing.assert_array_equal(ply.elements["face"]["vertex_indices"], f["vertex_indices"])
    np.testing.assert_array_equal(ply.elements["face"]["region"], f["region"])
    # Without the list length the faces still read (row by row, as lists).
    rows = read_ply(path.read_bytes(), path).elements["face"]["vertex_indices"]
    assert [list(r) for r in rows] == f["vertex_indices"].tolist()


def test_reads_ascii_ply_of_other_writers(tmp_path: Path) -> None:
    text = "ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nproperty float y\nproperty float z\nend_header\n"
    ply = read_ply((text + "1 2 3\n4 5 6\n").encode(), "a.ply")
    assert ply.elements["vertex"]["z"].tolist() == [3.0, 6.0]


@pytest.mark.parametrize(("damage", "message"), [
    (lambda raw: b"xyz" + raw[3:], "not a PLY"),
    (lambda raw: raw[: len(raw) - 10], "truncated"),
    (lambda raw: raw.replace(b"format binary_little_endian", b"format what"), "header"),
])
def test_damaged_files_name_the_file(tmp_path: Path, damage, message: str) -> None:  # type: ignore[no-untyped-def]
    v, f = _mesh_arrays()
    path = tmp_path / "m.ply"
    write_ply(path, {"vertex": v, "face": f})
    with pytest.raises(PlyError, match=rf"m\.ply.*{message}|{message}.*m\.ply"):
        read_ply(damage(path.read_bytes()), path, {"face": {"vertex_indices": 3}})
