"""Signed distance of points from a surface given their closest surface points and normals."""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

F64 = NDArray[np.float64]


@njit(cache=True, nogil=True)
def _mesh_signed_distance(p: F64, c32: NDArray[np.float32], n32: NDArray[np.float32], c: F64, n: F64, d: F64,
                          over: NDArray[np.bool_]) -> None:
    for i in range(p.shape[0]):
        cx, cy, cz = np.float64(c32[i, 0]), np.float64(c32[i, 1]), np.float64(c32[i, 2])
        nx, ny, nz = np.float64(n32[i, 0]), np.float64(n32[i, 1]), np.float64(n32[i, 2])
        c[i, 0], c[i, 1], c[i, 2] = cx, cy, cz
        n[i, 0], n[i, 1], n[i, 2] = nx, ny, nz
        dx, dy, dz = p[i, 0] - cx, p[i, 1] - cy, p[i, 2] - cz
        along = dx * nx + dy * ny + dz * nz
        dist = np.sqrt(dx * dx + dy * dy + dz * dz)
        t2 = dist * dist - along * along
        if t2 < 0.0:
            t2 = 0.0
        lim = 0.25 * dist
        if lim < 0.02:
            lim = 0.02
        d[i] = dist if along >= 0 else -dist
        over[i] = np.sqrt(t2) <= lim


def _mesh_signed_distance_numpy(p: F64, c32: NDArray[np.float32], n32: NDArray[np.float32]
                                ) -> tuple[F64, F64, F64, NDArray[np.bool_]]:
    """Plain numpy reference of :func:`mesh_signed_distance`."""
    c = c32.astype(np.float64)
    n = n32.astype(np.float64)
    diff = p - c
    along = np.einsum("ij,ij->i", diff, n)
    dist = np.linalg.norm(diff, axis=1)
    tangential = np.sqrt(np.maximum(dist**2 - along**2, 0.0))
    d = np.where(along >= 0, dist, -dist)
    over = tangential <= np.maximum(0.25 * dist, 0.02)
    return d, c, n, over


def mesh_signed_distance(p: F64, closest32: NDArray[np.float32], normals32: NDArray[np.float32]
                         ) -> tuple[F64, F64, F64, NDArray[np.bool_]]:
    """Signed distance (m, outward positive) of points ``p`` (N, 3) from their closest mesh points
    ``closest32`` with the faces' unit outward normals ``normals32`` (both (N, 3) float32, as open3d
    returns them), the two as float64, and whether each point lies over the face (its offset is
    mostly along the normal: not past the edge of an open mesh). One pass instead of ten numpy ones
    over 5 M points."""
    p = np.ascontiguousarray(p, dtype=np.float64)
    c32 = np.ascontiguousarray(closest32, dtype=np.float32)
    n32 = np.ascontiguousarray(normals32, dtype=np.float32)
    if p.ndim != 2 or p.shape[1] != 3 or c32.shape != p.shape or n32.shape != p.shape:
        raise ValueError(f"mesh_signed_distance: expected three (N, 3) arrays, got {p.shape}, {c32.shape}, "
                         f"{n32.shape}")
    c = np.empty(p.shape)
    n = np.empty(p.shape)
    d = np.empty(len(p))
    over = np.empty(len(p), np.bool_)
    _mesh_signed_distance(p, c32, n32, c, n, d, over)
    return d, c, n, over
