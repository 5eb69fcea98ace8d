"""Ground-truth volumes: the part of a parasite standing outside the hull's material."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from hullscan_sim.hullform import part
from hullscan_sim.world import _buried, proud_volume


def _box(extents: tuple[float, float, float], centre: tuple[float, float, float], region: str = "side"):
    m = trimesh.creation.box(extents=extents)
    return part(np.asarray(m.vertices) + np.asarray(centre), np.asarray(m.faces, np.int64), region)


@pytest.mark.parametrize("sink,expected", [(0.0, 0.06), (0.1, 0.04), (0.3, 0.0)])
def test_proud_volume_counts_only_what_stands_outside(sink: float, expected: float) -> None:
    # A 3 m hull block whose top face is z = 0; a 0.4 x 0.5 x 0.3 box on it, sunk by `sink`.
    hull = _box((3.0, 3.0, 3.0), (0.0, 0.0, -1.5))
    solid = _box((0.4, 0.5, 0.3), (0.0, 0.0, 0.15 - sink))
    got = proud_volume(hull, solid, np.array([0.0, 0.0, 1.0]))
    assert got == pytest.approx(expected, abs=0.002)


def test_buried_faces_are_found() -> None:
    hull = _box((3.0, 3.0, 3.0), (0.0, 0.0, -1.5))
    keel = _box((1.0, 0.2, 1.0), (0.0, 0.0, -0.2), "skeg")  # its top half is inside the block
    both = part(np.vstack([hull.vertices, keel.vertices]), np.vstack([hull.faces, keel.faces + len(hull.vertices)]),
                "side")
    pts = np.array([[0.0, 0.1, -0.1], [0.0, 0.1, 0.2]])  # on the keel's +y face: inside, then outside the block
    faces = np.array([len(hull.faces), len(hull.faces)])
    normal_faces = np.flatnonzero(np.isclose(both.face_normals()[:, 1], 1.0) & (both.face_centroids()[:, 1] > 0.05)
                                  & (np.arange(len(both.faces)) >= len(hull.faces)))
    faces[:] = normal_faces[0]
    assert _buried(both, pts, faces).tolist() == [True, False]


def test_two_visits_at_different_drafts_share_the_anodes_and_a_pinned_parasite() -> None:
    """A ship's anodes and a compartment stay on the same plating when it comes back lighter: placed
    in the mesh file's frame, not at today's waterline."""
    from pathlib import Path

    from hullscan_sim.scenario import scenario_from_dict
    from hullscan_sim.simulate import build_world

    mesh = str(Path(__file__).resolve().parents[2] / "sim" / "scenarios" / "meshes" / "topsides_90m_fp_origin.stl.gz")

    def world(draft: float, trim: float = 0.0):
        sc = scenario_from_dict({"name": "visit", "hull": {"mesh": {
            "path": mesh, "units": "m", "draft_m": draft, "trim_m": trim, "anodes": 4, "anodes_draft_m": 5.5}},
            "parasites": [{"id": "box", "shape": "box", "size_m": [0.9, 0.6, 0.4],
                           "position": [-45.0, -7.5, 2.0], "position_frame": "file"}]})
        w = build_world(sc)
        to_file = w.reference.ref_from_hull
        anodes = w.reference.region_mask("anode")
        return to_file.apply(w.reference.face_centroids()[anodes]), to_file.apply(np.array(w.parasites[0].anchor))

    a1, p1 = world(5.5)
    a2, p2 = world(4.8, trim=0.6)
    assert len(a1) == len(a2) > 0 and np.abs(a1 - a2).max() < 1e-6
    assert np.linalg.norm(p1 - p2) < 0.05
