"""Design meshes as a shipyard delivers them, for scenarios that test the reference's own frame.

``python -m hullscan_sim.meshgen OUT.stl.gz`` writes the topsides test mesh: a 90 m parametric
merchant hull meshed from keel to deck (topsides included, no waterline in the file), with its
origin on the baseline at the forward perpendicular (x towards the bow, so the hull lies at
x < 0; z up from the keel). A loader that guesses the waterline or re-centres the hull gets
every coordinate wrong; hullscan must report positions in this file's own frame.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
from hullscan_sim.hullform import build_parametric
from hullscan_sim.scenario import ParametricHullSpec

TOPSIDES_SPEC = ParametricHullSpec(length_m=90, beam_m=15, draft_m=5.5, depth_m=13.0, block_coefficient=0.7,
                                   anodes=0, sea_chests=[], resolution_m=0.5)


def write_topsides_mesh(path: str | Path) -> Path:
    """Write the topsides test mesh (binary STL, gzipped) and return its path."""
    import trimesh

    mesh = build_parametric(TOPSIDES_SPEC).mesh
    v = np.array(mesh.vertices, dtype=np.float64)
    keel = float(v[:, 2].min())
    bow = float(v[:, 0].max())
    v = v - np.array([bow, 0.0, keel])  # origin: forward end, centreline, baseline
    data = trimesh.Trimesh(v, np.asarray(mesh.faces), process=False).export(file_type="stl")
    assert isinstance(data, bytes)  # binary STL
    out = Path(path)
    out.write_bytes(gzip.compress(data, mtime=0))
    return out


if __name__ == "__main__":  # pragma: no cover
    print(write_topsides_mesh(sys.argv[1] if len(sys.argv) > 1 else "topsides_90m_fp_origin.stl.gz"))
