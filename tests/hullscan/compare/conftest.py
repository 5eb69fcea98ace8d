"""Shared synthetic hull and scans for the comparator tests (module-scoped: built once)."""

from __future__ import annotations

import pytest

from hullscan.compare.synthetic import Box, make_hull, make_scan
from hullscan.model import Transform

HULL_TO_NAV = Transform.from_euler(0.01, -0.005, 0.6, (120.0, -40.0, 0.3))
BOXES = (
    Box(8.0, 1, -1.2, (0.6, 0.5, 0.2), name="port side, 0.06 m3"),
    Box(13.0, -1, -1.6, (0.3, 0.3, 0.15), name="starboard, 0.0135 m3"),
    Box(10.0, 0, 0, (0.8, 0.6, 0.3), y=1.0, name="bottom, 0.144 m3"),
)


@pytest.fixture(scope="session")
def hull():
    return make_hull(length=20.0, beam=6.0, draft=2.5, n_x=81, n_s=49)


@pytest.fixture(scope="session")
def anode_hull(hull):
    """The hull as built: with an anode the design mesh also has (tested by putting it in both)."""
    return hull


@pytest.fixture(scope="session")
def scan(hull):
    return make_scan(hull, BOXES, spacing=0.05, growth=0.3, hull_to_nav=HULL_TO_NAV, seed=1)


@pytest.fixture(scope="session")
def clean_scan(hull):
    return make_scan(hull, (), spacing=0.05, growth=0.0, hull_to_nav=HULL_TO_NAV, seed=2)


def write_compare_inputs(hull, scan, folder):
    """The synthetic hull as a mesh file, the scan as a cloud PLY and the exact prior as JSON, in
    ``folder``, as ``hullscan compare`` reads them: returns (cloud, reference, prior) paths."""
    import json

    from hullscan.cloud_io import save_cloud
    from hullscan.hull import HullMesh, save_mesh

    mesh = HullMesh(hull.vertices, hull.faces, hull.face_region, "synth", "synth", 20.0, 6.0, 2.5)
    save_mesh(mesh, folder / "hull.ply")
    save_cloud(scan.cloud, folder / "cloud.ply")
    prior = folder / "prior.json"
    prior.write_text(json.dumps({"hull_to_nav": {"translation": HULL_TO_NAV.translation.tolist(),
                                                 "rotation": HULL_TO_NAV.rotation.tolist()}}))
    return folder / "cloud.ply", folder / "hull.ply", prior
