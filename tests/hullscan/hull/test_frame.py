"""The reference file's own frame: origin and topsides as drawn, the draft as stated (or labelled a
guess), the file's axes kept when plausible, and half hulls."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import trimesh

from hullscan.compare.align import check_half_side
from hullscan.compare.reference import mesh_reference
from hullscan.compare.synthetic import make_hull
from hullscan.errors import AlignmentError, MeshError
from hullscan.hull import load_mesh

# Keel to deck (4 m of topsides above a 3 m draft), origin on the baseline at the bow.
SHIFT = np.array([-40.0, 0.0, 3.0])


def _write(tmp_path: Path, v: np.ndarray, f: np.ndarray, name: str = "hull.stl.gz") -> Path:
    path = tmp_path / name
    path.write_bytes(gzip.compress(trimesh.Trimesh(v, f, process=False).export(file_type="stl")))
    return path


@pytest.fixture(scope="module")
def synth():
    return make_hull(length=40.0, beam=8.0, draft=3.0, freeboard=4.0, n_x=61, n_s=33, sea_chest=False)


def test_file_frame_round_trip_with_topsides_and_offset_origin(tmp_path: Path, synth) -> None:
    v = np.asarray(synth.vertices) + SHIFT
    m = load_mesh(_write(tmp_path, v, np.asarray(synth.faces)), draft=3.0)
    assert "axes as in the file" in m.source and not m.waterline_guessed
    assert m.length == pytest.approx(40.0, abs=0.1) and m.draft == pytest.approx(3.0, abs=1e-6)
    assert m.vertices[:, 2].min() == pytest.approx(-3.0, abs=1e-6)  # internal frame: waterline z = 0
    # Every internal coordinate maps back to the file's own (what a user sees).
    back = m.ref_from_hull.apply(m.vertices)
    tri = np.asarray(trimesh.Trimesh(v, np.asarray(synth.faces), process=False).triangles).reshape(-1, 3)
    assert np.abs(np.sort(back, axis=0) - np.sort(tri, axis=0)).max() < 1e-4


def test_guessed_waterline_is_labelled_and_a_draft_outside_the_hull_is_refused(tmp_path: Path, synth) -> None:
    path = _write(tmp_path, np.asarray(synth.vertices) + SHIFT, np.asarray(synth.faces))
    guessed = load_mesh(path)
    assert guessed.waterline_guessed and "guessed" in guessed.waterline and "--draft" in guessed.waterline
    with pytest.raises(MeshError, match=r"draft 9 m is outside the hull.*keel-to-top height is 7\.0"):
        load_mesh(path, draft=9.0)


def test_correctly_oriented_file_is_not_flipped(tmp_path: Path, synth) -> None:
    # A hull whose stern is the narrower end fooled the transom heuristic: the file's axes win.
    v = np.asarray(synth.vertices).copy()
    m = load_mesh(_write(tmp_path, v, np.asarray(synth.faces)), draft=3.0)
    up_col = m.ref_from_hull.rot.as_matrix()[:, 2]
    bow_col = m.ref_from_hull.rot.as_matrix()[:, 0]
    assert np.allclose(up_col, [0, 0, 1]) and np.allclose(bow_col, [1, 0, 0])
    stated = load_mesh(_write(tmp_path, v, np.asarray(synth.faces), "b.stl.gz"), draft=3.0, bow="-x", up="+z")
    assert np.allclose(stated.ref_from_hull.rot.as_matrix()[:, 0], [-1, 0, 0])


def test_half_hull_keeps_its_centreline_and_refuses_the_other_side(tmp_path: Path, synth) -> None:
    v = np.asarray(synth.vertices)
    f = np.asarray(synth.faces)
    port = f[np.all(v[f][:, :, 1] >= -1e-6, axis=1)]
    m = load_mesh(_write(tmp_path, v + SHIFT, port), draft=3.0)
    assert m.half == "port" and "half hull" in m.source
    # The centreline is the mesh's own open plane, not the middle of its y extent.
    assert m.vertices[:, 1].min() == pytest.approx(0.0, abs=1e-6)
    assert m.beam == pytest.approx(8.0, abs=0.2)
    ref = mesh_reference(m, icp_spacing=0.2)
    side = np.array([[20.0, 4.0, -1.5], [21.0, 4.0, -1.0]])
    check_half_side(side, np.eye(4), ref)
    with pytest.raises(AlignmentError, match=r"port half hull.*starboard side"):
        check_half_side(side * [1, -1, 1], np.eye(4), ref)


def test_trim_levels_the_waterline_the_marks_give(tmp_path: Path, synth) -> None:
    """By the stern (aft draft 3.4 m, forward 2.6 m over the 40 m hull): the hull frame is the ship as
    it floats, so the file's tilted waterline is z = 0 and the keel aft lies deeper than forward."""
    path = _write(tmp_path, np.asarray(synth.vertices) + SHIFT, np.asarray(synth.faces))
    m = load_mesh(path, draft=3.0, trim=0.8)
    assert "by the stern" in m.source and not m.waterline_guessed
    to_hull = m.ref_from_hull.inverse()
    # The waterline on the marks, in the file (baseline z = 0, bow at x = 0, stern at x = -40).
    marks = np.array([[-40.0, 0.0, 3.4], [-20.0, 0.0, 3.0], [0.0, 0.0, 2.6]])
    assert np.abs(to_hull.apply(marks)[:, 2]).max() < 0.01
    keel = to_hull.apply(np.array([[-38.0, 0.0, 0.0], [-2.0, 0.0, 0.0]]))
    assert keel[0, 2] == pytest.approx(-3.36, abs=0.01) and keel[1, 2] == pytest.approx(-2.64, abs=0.01)
    # Coordinates still go back to the file's own.
    back = m.ref_from_hull.apply(m.vertices)
    tri = np.asarray(trimesh.Trimesh(np.asarray(synth.vertices) + SHIFT, np.asarray(synth.faces), process=False).triangles)
    assert np.abs(np.sort(back, axis=0) - np.sort(tri.reshape(-1, 3), axis=0)).max() < 1e-4
    # Without trim the same marks' waterline is level at the mean draft: the aft mark is 0.4 m under it.
    level = load_mesh(path, draft=3.0).ref_from_hull.inverse().apply(marks)
    assert level[0, 2] == pytest.approx(0.4, abs=0.01)
    with pytest.raises(MeshError, match="a trim needs the draft too"):
        load_mesh(path, trim=0.8)
    with pytest.raises(MeshError, match=r"trim 9 m over a 40\.0 m hull is not a floating ship"):
        load_mesh(path, draft=3.0, trim=9.0)
