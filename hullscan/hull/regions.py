"""Geometric fallback for naming hull regions on meshes that carry no labels."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from hullscan.hull.mesh import REGION_INDEX, HullMesh

# Fractions of the waterline length that count as bow and stern (typical entrance/run).
BOW_FRACTION = 0.85
STERN_FRACTION = 0.12
# A face is flat bottom when its normal points this much downwards and it lies this deep.
BOTTOM_NZ = -0.7
BOTTOM_DEPTH_FRACTION = 0.5


def classify_regions(mesh: HullMesh) -> NDArray[np.int16]:
    """Region index per face from position and normal alone.

    Only the skin regions can be told apart geometrically: ``bow`` (forward of
    85 % of the waterline length), ``stern`` (aft of 12 %, including anything
    aft of the waterline end), ``bottom`` (downward-facing faces deeper than
    half the draft) and ``side`` (the rest). Appendages (rudder, propeller,
    sea chests, ...) need labels from the mesh file or the parametric model.
    """
    c = mesh.face_centroids()
    n = mesh.face_normals()
    # Face winding varies between files: orient normals away from the hull's long axis.
    draft_axis = -0.5 * (mesh.draft if mesh.draft > 0 else 1.0)
    radial = c - np.stack([c[:, 0], np.zeros(len(c)), np.full(len(c), draft_axis)], axis=1)
    n = np.where((np.sum(radial * n, axis=1) < 0)[:, None], -n, n)
    length = mesh.length if mesh.length > 0 else float(np.ptp(mesh.vertices[:, 0]) or 1.0)
    draft = mesh.draft if mesh.draft > 0 else 1.0
    out = np.full(mesh.n_faces, REGION_INDEX["side"], dtype=np.int16)
    bottom = (n[:, 2] < BOTTOM_NZ) & (c[:, 2] < -BOTTOM_DEPTH_FRACTION * draft)
    out[bottom] = REGION_INDEX["bottom"]
    out[c[:, 0] > BOW_FRACTION * length] = REGION_INDEX["bow"]
    out[c[:, 0] < STERN_FRACTION * length] = REGION_INDEX["stern"]
    return out
