"""Sparse voxel hash map: fusion of hits and free-space evidence, surface extraction.

Memory is proportional to the surveyed surface, never to the volume or the number
of pings: an open-addressing table of int64 voxel keys points into dense
per-voxel sums (hit count, miss count, weighted sum and outer-product sum of the
point offsets from the voxel centre, sum of view directions, sum of sigma^2, weighted
sum of ranges, sum of weights): about 96 bytes per surface voxel, so ~7 GB for the
whole wetted surface of a 400 m hull at 2 cm (about 72 M voxels) and tens of MB for a
typical survey.

Free-space evidence is only recorded in voxels that already hold hits (a band
of ``carve_length`` before each return): ghosts that later pings see through
accumulate misses and are dropped at extraction, and no memory is spent on
empty water.

Voxels of one 4x4x4 block land in neighbouring table slots, so the steps of a
beam and the neighbours of a voxel mostly hit the same cache lines.

Returns are weighted by how tightly they fix the surface. A return's spread has two
parts: range noise (the same at every range) and the beam's footprint (its width grows
with range). Their ratio is one at ``r0 = range sigma / footprint sigma`` (2 cm over a
1 degree beam: 2.7 m), so a return at range ``r`` counts ``1 / (1 + (r / r0)^2)``. Why it
matters: a 15-20 m return at grazing incidence comes from a 26-35 cm footprint and its
first arrival stands centimetres proud of the plating; counted alike, such returns pull
the surface where near and far passes overlap (docs/method.md, "Fusion"). Hit counts stay
counts: free-space ratios, minimum hits and confidences do not change with the weights.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
from numba import get_num_threads, njit, prange
from numba.core.errors import NumbaWarning
from numpy.typing import NDArray

if TYPE_CHECKING:
    from hullscan.core.display import RowTimes

# numba tries TBB first; an older system TBB only means it uses OpenMP or its own pool instead.
warnings.filterwarnings("ignore", message="The TBB threading layer requires TBB", category=NumbaWarning)

_OFF = 1 << 20  # voxel index offset: +-2^20 voxels = +-21 km at 2 cm
_MASK21 = (1 << 21) - 1
EMPTY = -1
_BITS = 1 << 25  # block occupancy bitmap: 4 MB, lets free-space steps skip empty water cheaply
PARALLEL_MIN_POINTS = 32768  # smaller batches (a live ping) run the serial kernel: no thread start-up
# From 4 threads: _fuse_par (serial hits, then free space on all threads). Its hit stage is serial and
# its carving buffer costs extra memory passes, so on 2-3 threads it is slower than the serial kernel;
# there the two-thread pipeline (_FusePipeline: hits of one batch beside the free space of earlier ones) runs.
PARALLEL_MIN_THREADS = 4
PIPELINE_MIN_THREADS = 2
_PIPE_BATCH = 16384  # points per hits task of the two-thread pipeline
_PIPE_CHUNK = 4096  # points per free-space task
_PIPE_DEPTH = 3  # batches whose free space may be pending
_PIPE_LISTS = 8  # lists of carved voxels (each chunk x steps per beam)
SATURATED = np.float32(2.0**24)  # float32 hit/miss counts stop changing by +1 here
_CARVE_BUF = 1 << 23  # carving buffer entries per parallel batch (32 MB)
_PAR_BATCH = 131072


# --------------------------------------------------------------------------- hashing


@njit(cache=True, inline="always")
def _key(ix: int, iy: int, iz: int) -> int:
    return ((ix + _OFF) << 42) | ((iy + _OFF) << 21) | (iz + _OFF)


@njit(cache=True, inline="always")
def _slot0(ix: int, iy: int, iz: int, mask: int) -> int:
    h = ((ix >> 2) * 73856093) ^ ((iy >> 2) * 19349663) ^ ((iz >> 2) * 83492791)
    return ((h << 6) | ((ix & 3) << 4) | ((iy & 3) << 2) | (iz & 3)) & mask


@njit(cache=True, inline="always")
def _block_bit(ix: int, iy: int, iz: int) -> int:
    return (((ix >> 2) * 73856093) ^ ((iy >> 2) * 19349663) ^ ((iz >> 2) * 83492791)) & (_BITS - 1)


@njit(cache=True, inline="always")
def _find(table: NDArray[np.int64], ix: int, iy: int, iz: int) -> int:
    mask = table.shape[0] - 1
    k = _key(ix, iy, iz)
    s = _slot0(ix, iy, iz, mask)
    while True:
        kk = table[s, 0]
        if kk == k:
            return int(table[s, 1])
        if kk == EMPTY:
            return -1
        s = (s + 1) & mask


@njit(cache=True, nogil=True)
def _find_many(table: NDArray[np.int64], ijk: NDArray[np.int64]) -> NDArray[np.int64]:
    out = np.empty(ijk.shape[0], np.int64)
    for i in range(ijk.shape[0]):
        out[i] = _find(table, ijk[i, 0], ijk[i, 1], ijk[i, 2])
    return out


@njit(cache=True, nogil=True)
def _rehash(table: NDArray[np.int64], vkey: NDArray[np.int64], n: int, occ: NDArray[np.uint8]) -> None:
    mask = table.shape[0] - 1
    for v in range(n):
        k = vkey[v]
        ix = ((k >> 42) & _MASK21) - _OFF
        iy = ((k >> 21) & _MASK21) - _OFF
        iz = (k & _MASK21) - _OFF
        s = _slot0(ix, iy, iz, mask)
        while table[s, 0] != EMPTY:
            s = (s + 1) & mask
        table[s, 0] = k
        table[s, 1] = v
        b = _block_bit(ix, iy, iz)
        occ[b >> 3] |= np.uint8(1 << (b & 7))


@njit(cache=True, inline="always")
def _weight(rng: float, wr0: float) -> float:
    """A return's fusion weight: ``1 / (1 + (rng / wr0)^2)``, its footprint's share of its variance
    (module docstring); 1 for every return where ``wr0`` <= 0."""
    if wr0 <= 0.0:
        return 1.0
    q = rng / wr0
    return 1.0 / (1.0 + q * q)


@njit(cache=True, inline="always")
def _accumulate(acc: NDArray[np.float32], v: int, ox: float, oy: float, oz: float,  # noqa: PLR0913 (numba kernel: scalars in, no structs in nopython mode)
                dx: float, dy: float, dz: float, sig: float, rng: float, w: float) -> None:
    """Add one return of weight ``w`` to voxel ``v``: hit, weighted offset from the centre and its
    outer product, view direction, sigma^2, weighted range, weight."""
    acc[v, 0] += 1
    acc[v, 2] += w * ox
    acc[v, 3] += w * oy
    acc[v, 4] += w * oz
    acc[v, 5] += w * ox * ox
    acc[v, 6] += w * ox * oy
    acc[v, 7] += w * ox * oz
    acc[v, 8] += w * oy * oy
    acc[v, 9] += w * oy * oz
    acc[v, 10] += w * oz * oz
    acc[v, 11] += dx
    acc[v, 12] += dy
    acc[v, 13] += dz
    acc[v, 14] += sig * sig
    acc[v, 15] += w * rng
    acc[v, 16] += w


# --------------------------------------------------------------------------- fusion


@njit(cache=True, nogil=True)
def _fuse(table: NDArray[np.int64], vkey: NDArray[np.int64], acc: NDArray[np.float32], n_vox: int,  # noqa: C901, PLR0913 (numba kernel: flat arrays and scalars in, no structs in nopython mode; one pass for speed)
          points: NDArray[np.float64], ray: NDArray[np.int32], origins: NDArray[np.float64],
          sigma: NDArray[np.float32], vs: float, carve_start_sigmas: float, carve_len: float,
          lim: float, occ: NDArray[np.uint8], wr0: float) -> int:
    """Fuse points in order, each weighted by :func:`_weight`; returns the new voxel count. Capacity
    is ensured by the caller."""
    mask = table.shape[0] - 1
    inv = 1.0 / vs
    hk, hv = EMPTY, 0
    for i in range(points.shape[0]):
        px, py, pz = points[i, 0], points[i, 1], points[i, 2]
        if not (abs(px) < lim and abs(py) < lim and abs(pz) < lim):
            return -1 - i  # outside the map (or NaN): the wrapper raises
        o = ray[i]
        dx, dy, dz = px - origins[o, 0], py - origins[o, 1], pz - origins[o, 2]
        rng = np.sqrt(dx * dx + dy * dy + dz * dz)
        if rng > 0:
            dx, dy, dz = dx / rng, dy / rng, dz / rng
        # Free space first: a ping never carves its own return. (The same steps as _fuse_carve,
        # inlined here: a call per beam costs the serial kernel a third of its speed.)
        if carve_len > 0.0:
            s = max(carve_start_sigmas * sigma[i], vs)
            s_end = min(s + carve_len, rng)
            lk = -1
            while s < s_end:
                qx = int(np.floor((px - dx * s) * inv))
                qy = int(np.floor((py - dy * s) * inv))
                qz = int(np.floor((pz - dz * s) * inv))
                k = _key(qx, qy, qz)
                if k != lk:
                    lk = k
                    b = _block_bit(qx, qy, qz)
                    if occ[b >> 3] & (1 << (b & 7)):
                        v = _find(table, qx, qy, qz)
                        if v >= 0:
                            acc[v, 1] += 1
                s += vs
        ix = int(np.floor(px * inv))
        iy = int(np.floor(py * inv))
        iz = int(np.floor(pz * inv))
        k = _key(ix, iy, iz)
        # Neighbouring beams often share a voxel: skip the probe (ids never move in a call).
        sl = _slot0(ix, iy, iz, mask) if k != hk else -1
        while sl >= 0:
            kk = table[sl, 0]
            if kk == k:
                v = table[sl, 1]
                break
            if kk == EMPTY:
                v = n_vox
                n_vox += 1
                table[sl, 0] = k
                table[sl, 1] = v
                vkey[v] = k
                b = _block_bit(ix, iy, iz)
                occ[b >> 3] |= np.uint8(1 << (b & 7))
                break
            sl = (sl + 1) & mask
        if k == hk:
            v = hv
        hk, hv = k, v
        _accumulate(acc, v, px - (ix + 0.5) * vs, py - (iy + 0.5) * vs, pz - (iz + 0.5) * vs, dx, dy, dz, sigma[i],
                    rng, _weight(rng, wr0))
    return n_vox


@njit(cache=True, nogil=True)
def _fuse_hits(table: NDArray[np.int64], vkey: NDArray[np.int64], acc: NDArray[np.float32], n_vox: int,  # noqa: PLR0913 (numba kernel: flat arrays and scalars in, no structs in nopython mode; one pass for speed)
               points: NDArray[np.float64], ray: NDArray[np.int32], origins: NDArray[np.float64],
               sigma: NDArray[np.float32], vs: float, lim: float, occ: NDArray[np.uint8],
               first: NDArray[np.int64], wr0: float) -> int:
    """The hits of :func:`_fuse` alone, in input order; ``first[v - n_vox]`` gets the first point of
    each new voxel ``v``. Returns the new voxel count, or ``-1 - i`` (nothing written) when point
    ``i`` is outside the map."""
    m = points.shape[0]
    for i in range(m):
        if not (abs(points[i, 0]) < lim and abs(points[i, 1]) < lim and abs(points[i, 2]) < lim):
            return -1 - i
    mask = table.shape[0] - 1
    inv = 1.0 / vs
    n0 = n_vox
    hk, hv = EMPTY, 0
    for i in range(m):
        px, py, pz = points[i, 0], points[i, 1], points[i, 2]
        o = ray[i]
        dx, dy, dz = px - origins[o, 0], py - origins[o, 1], pz - origins[o, 2]
        rng = np.sqrt(dx * dx + dy * dy + dz * dz)
        if rng > 0:
            dx, dy, dz = dx / rng, dy / rng, dz / rng
        ix = int(np.floor(px * inv))
        iy = int(np.floor(py * inv))
        iz = int(np.floor(pz * inv))
        k = _key(ix, iy, iz)
        # Neighbouring beams often share a voxel: skip the probe (ids never move in a call).
        sl = _slot0(ix, iy, iz, mask) if k != hk else -1
        while sl >= 0:
            kk = table[sl, 0]
            if kk == k:
                v = table[sl, 1]
                break
            if kk == EMPTY:
                v = n_vox
                first[v - n0] = i
                n_vox += 1
                table[sl, 0] = k
                table[sl, 1] = v
                vkey[v] = k
                b = _block_bit(ix, iy, iz)
                occ[b >> 3] |= np.uint8(1 << (b & 7))
                break
            sl = (sl + 1) & mask
        if k == hk:
            v = hv
        hk, hv = k, v
        _accumulate(acc, v, px - (ix + 0.5) * vs, py - (iy + 0.5) * vs, pz - (iz + 0.5) * vs, dx, dy, dz, sigma[i],
                    rng, _weight(rng, wr0))
    return n_vox


@njit(cache=True, parallel=True, nogil=True)
def _fuse_par(table: NDArray[np.int64], vkey: NDArray[np.int64], acc: NDArray[np.float32], n_vox: int,  # noqa: PLR0913 (numba kernel: flat arrays and scalars in, no structs in nopython mode; one pass for speed)
              points: NDArray[np.float64], ray: NDArray[np.int32], origins: NDArray[np.float64],
              sigma: NDArray[np.float32], vs: float, carve_start_sigmas: float, carve_len: float,
              lim: float, occ: NDArray[np.uint8], kmax: int, mbuf: NDArray[np.int32], wr0: float) -> int:
    """Multi-threaded :func:`_fuse` with bit-identical results.

    The serial kernel's semantics are kept exactly: every voxel's sums are added in input
    order, and a beam carves a voxel only if an earlier point (in input order) created
    it. Stages: (1) serial: hits in input order (lookup/insert, sums), remembering the
    first point of each new voxel; (2) parallel: free-space steps of every beam against
    the finished table, keeping a voxel if it existed before that beam, into a per-beam
    slice of ``mbuf``; (3) serial: add those misses (integers, rare). Nothing depends on
    the number of threads or their scheduling.
    """
    m = points.shape[0]
    n0 = n_vox
    first = np.empty(m, np.int64)
    # (1) Hits, in input order (nothing written if a point is outside the map: the wrapper fuses
    # the points before it and raises).
    n_vox = _fuse_hits(table, vkey, acc, n_vox, points, ray, origins, sigma, vs, lim, occ, first, wr0)
    if n_vox < 0:
        return n_vox
    if carve_len <= 0.0:
        return n_vox
    # (2) Free space, read-only on the map.
    mcnt = np.zeros(m, np.int32)
    for i in prange(m):
        mcnt[i] = _fuse_carve(table, n0, n_vox, first, points, ray, origins, sigma, vs, carve_start_sigmas,
                              carve_len, occ, i, i + 1, mbuf[i * kmax:(i + 1) * kmax])
    # (3) Misses.
    for i in range(m):
        for j in range(mcnt[i]):
            acc[mbuf[i * kmax + j], 1] += 1
    return n_vox


@njit(cache=True, nogil=True)
def _fuse_carve(table: NDArray[np.int64], n0: int, n1: int, first: NDArray[np.int64], points: NDArray[np.float64],  # noqa: PLR0913 (numba kernel: flat arrays and scalars in, no structs in nopython mode; one pass for speed)
                ray: NDArray[np.int32], origins: NDArray[np.float64], sigma: NDArray[np.float32], vs: float,
                carve_start_sigmas: float, carve_len: float, occ: NDArray[np.uint8], lo: int, hi: int,
                out: NDArray[np.int32]) -> int:
    """The free-space steps of :func:`_fuse` for points ``lo:hi`` of a batch whose hits made voxels
    ``n0:n1`` (``first`` from :func:`_fuse_hits`): a voxel is carved if it existed before the beam.

    Writes the carved voxel ids to ``out`` (room for ``hi - lo`` times the steps per beam) and
    returns their count; listing them and adding them afterwards (:func:`_add_misses`) is faster than
    adding each one as it is found. Only reads the map, so it may run while :func:`_fuse_hits` adds
    the next batch: a key that batch inserts reads as absent, as id -1 (being written) or as an id
    >= ``n1``, and is skipped in every case (ids and keys are aligned 8-byte words).
    """
    inv = 1.0 / vs
    c = 0
    for i in range(lo, hi):
        px, py, pz = points[i, 0], points[i, 1], points[i, 2]
        o = ray[i]
        dx, dy, dz = px - origins[o, 0], py - origins[o, 1], pz - origins[o, 2]
        rng = np.sqrt(dx * dx + dy * dy + dz * dz)
        if rng > 0:
            dx, dy, dz = dx / rng, dy / rng, dz / rng
        s = max(carve_start_sigmas * sigma[i], vs)
        s_end = min(s + carve_len, rng)
        lk = -1
        while s < s_end:
            qx = int(np.floor((px - dx * s) * inv))
            qy = int(np.floor((py - dy * s) * inv))
            qz = int(np.floor((pz - dz * s) * inv))
            k = _key(qx, qy, qz)
            if k != lk:
                lk = k
                b = _block_bit(qx, qy, qz)
                if occ[b >> 3] & (1 << (b & 7)):
                    v = _find(table, qx, qy, qz)
                    if v >= 0 and (v < n0 or (v < n1 and first[v - n0] < i)):
                        out[c] = v
                        c += 1
            s += vs
    return c


@njit(cache=True, nogil=True)
def _add_misses(acc: NDArray[np.float32], ids: NDArray[np.int32], c: int) -> None:
    """One miss for each of the first ``c`` voxel ids (integer counts: the order does not matter)."""
    for j in range(c):
        acc[ids[j], 1] += 1


def fuse_reference(points: NDArray[np.float64], ray: NDArray[np.int32], origins: NDArray[np.float64],
                   sigma: NDArray[np.float32], vs: float, carve_start_sigmas: float,
                   carve_len: float, weight_range_m: float = 0.0) -> dict[tuple[int, int, int], dict[str, Any]]:
    """Plain-Python reference of :func:`_fuse`: voxel index -> sums (float64); a return at range
    ``r`` weighs ``1 / (1 + (r / weight_range_m)^2)`` (1 where ``weight_range_m`` is 0)."""
    out: dict[tuple[int, int, int], dict[str, Any]] = {}
    for i in range(points.shape[0]):
        p = points[i]
        d = p - origins[ray[i]]
        rng = float(np.linalg.norm(d))
        d = d / rng if rng > 0 else d
        if carve_len > 0:
            s = max(carve_start_sigmas * float(sigma[i]), vs)
            s_end = min(s + carve_len, rng)
            last = None
            while s < s_end:
                q = tuple(int(c) for c in np.floor((p - d * s) / vs))
                if q != last:
                    last = q
                    if q in out:
                        out[q]["miss"] += 1
                s += vs
        f = np.floor(p / vs)
        idx = (int(f[0]), int(f[1]), int(f[2]))
        e = out.setdefault(idx, {"hits": 0, "miss": 0, "s1": np.zeros(3), "s2": np.zeros(6),
                                 "sd": np.zeros(3), "ss": 0.0, "rs": 0.0, "w": 0.0})
        off = p - (np.array(idx) + 0.5) * vs
        w = 1.0 / (1.0 + (rng / weight_range_m) ** 2) if weight_range_m > 0 else 1.0
        e["hits"] += 1
        e["s1"] += w * off
        e["s2"] += w * off[[0, 0, 0, 1, 1, 2]] * off[[0, 1, 2, 1, 2, 2]]
        e["sd"] += d
        e["ss"] += float(sigma[i]) ** 2
        e["rs"] += w * rng
        e["w"] += w
    return out


# --------------------------------------------------------------------------- extraction


@njit(cache=True, nogil=True)
def _smallest_eig(a00: float, a01: float, a02: float, a11: float, a12: float,
                  a22: float) -> tuple[float, float, float, float]:
    """Smallest eigenvalue of a symmetric 3x3 matrix and its unit eigenvector (closed form;
    a LAPACK call per cell would cost more than the rest of the extraction)."""
    p1 = a01 * a01 + a02 * a02 + a12 * a12
    q = (a00 + a11 + a22) / 3.0
    p2 = (a00 - q) ** 2 + (a11 - q) ** 2 + (a22 - q) ** 2 + 2.0 * p1
    if p2 <= 1e-30:
        return q, 0.0, 0.0, 1.0
    pp = np.sqrt(p2 / 6.0)
    b00, b11, b22 = (a00 - q) / pp, (a11 - q) / pp, (a22 - q) / pp
    b01, b02, b12 = a01 / pp, a02 / pp, a12 / pp
    r = 0.5 * (b00 * (b11 * b22 - b12 * b12) - b01 * (b01 * b22 - b12 * b02) + b02 * (b01 * b12 - b11 * b02))
    r = min(max(r, -1.0), 1.0)
    phi = np.arccos(r) / 3.0
    lam = q + 2.0 * pp * np.cos(phi + 2.0 * np.pi / 3.0)
    # The eigenvector is orthogonal to the rows of A - lam I: take the best-conditioned cross product.
    r0x, r0y, r0z = a00 - lam, a01, a02
    r1x, r1y, r1z = a01, a11 - lam, a12
    r2x, r2y, r2z = a02, a12, a22 - lam
    c0 = (r0y * r1z - r0z * r1y, r0z * r1x - r0x * r1z, r0x * r1y - r0y * r1x)
    c1 = (r0y * r2z - r0z * r2y, r0z * r2x - r0x * r2z, r0x * r2y - r0y * r2x)
    c2 = (r1y * r2z - r1z * r2y, r1z * r2x - r1x * r2z, r1x * r2y - r1y * r2x)
    n0 = c0[0] ** 2 + c0[1] ** 2 + c0[2] ** 2
    n1 = c1[0] ** 2 + c1[1] ** 2 + c1[2] ** 2
    n2 = c2[0] ** 2 + c2[1] ** 2 + c2[2] ** 2
    best, nb = c0, n0
    if n1 > nb:
        best, nb = c1, n1
    if n2 > nb:
        best, nb = c2, n2
    if nb <= 1e-60:
        return lam, 0.0, 0.0, 1.0
    inv = 1.0 / np.sqrt(nb)
    return lam, best[0] * inv, best[1] * inv, best[2] * inv


@njit(cache=True, nogil=True)
def _extract(table: NDArray[np.int64], vkey: NDArray[np.int64], acc: NDArray[np.float32], n_vox: int,  # noqa: C901, PLR0913, PLR0915 (numba kernel: flat arrays and scalars in, no structs in nopython mode; one pass for speed)
             vs: float, cell: int, min_hits: int, max_miss_ratio: float,
             out_p: NDArray[np.float64], out_n: NDArray[np.float32], out_c: NDArray[np.float32],
             out_h: NDArray[np.int32], out_s: NDArray[np.float32], out_v: NDArray[np.int32],
             reason: NDArray[np.int8], out_i: NDArray[np.float32], out_r: NDArray[np.float32]) -> int:
    """Surface points: voxels crossed by the plane fitted around them.

    Per point also: ``out_i`` the incidence angle (deg) between the surface normal and the mean
    view direction of the voxel's returns, ``out_r`` their mean range (m; 0 in maps fused before
    ranges were kept).

    Voxels are grouped into cells of ``cell``^3 voxels; each cell gets one plane fitted to
    the hits of its 3x3x3 neighbouring cells (a window of 3 * cell voxels), so the cost is
    27 lookups per cell rather than per voxel. ``reason`` per voxel: 0 output, 1 free space
    (misses), 2 too few hits around it, 3 off the surface (the plane does not cross it).
    """
    csz = cell * vs
    # 1. Cell sums (offsets from the cell centre), free-space voxels left out.
    cap = 16
    while cap < 2 * n_vox + 16:
        cap *= 2
    ctab = np.full((cap, 2), EMPTY, np.int64)
    ckey = np.zeros(n_vox + 1, np.int64)
    vcell = np.full(n_vox + 1, -1, np.int32)
    n_cell = 0
    cmask = cap - 1
    for v in range(n_vox):
        if acc[v, 1] > max_miss_ratio * acc[v, 0]:
            reason[v] = 1
            continue
        k = vkey[v]
        jx = (((k >> 42) & _MASK21) - _OFF) // cell
        jy = (((k >> 21) & _MASK21) - _OFF) // cell
        jz = ((k & _MASK21) - _OFF) // cell
        ck = _key(jx, jy, jz)
        sl = _slot0(jx, jy, jz, cmask)
        while True:
            kk = ctab[sl, 0]
            if kk == ck:
                u = ctab[sl, 1]
                break
            if kk == EMPTY:
                u = n_cell
                ctab[sl, 0] = ck
                ctab[sl, 1] = u
                ckey[u] = ck
                n_cell += 1
                break
            sl = (sl + 1) & cmask
        vcell[v] = u
    # Sums per cell, allocated only now that the number of cells is known: hits (``cn``) and the
    # fusion weights (``cw``) that the position sums carry.
    cn = np.zeros(n_cell)
    cw = np.zeros(n_cell)
    c1 = np.zeros((n_cell, 3))
    c2 = np.zeros((n_cell, 6))
    cd = np.zeros((n_cell, 3))
    for v in range(n_vox):
        u = vcell[v]
        if u < 0:
            continue
        h = acc[v, 16]
        cn[u] += acc[v, 0]
        k = vkey[v]
        ix = ((k >> 42) & _MASK21) - _OFF
        iy = ((k >> 21) & _MASK21) - _OFF
        iz = (k & _MASK21) - _OFF
        jx, jy, jz = ix // cell, iy // cell, iz // cell
        # voxel centre relative to the cell centre
        rx = (ix + 0.5) * vs - (jx + 0.5) * csz
        ry = (iy + 0.5) * vs - (jy + 0.5) * csz
        rz = (iz + 0.5) * vs - (jz + 0.5) * csz
        a0, a1, a2 = acc[v, 2] + h * rx, acc[v, 3] + h * ry, acc[v, 4] + h * rz
        cw[u] += h
        c1[u, 0] += a0
        c1[u, 1] += a1
        c1[u, 2] += a2
        c2[u, 0] += acc[v, 5] + 2 * acc[v, 2] * rx + h * rx * rx
        c2[u, 1] += acc[v, 6] + acc[v, 2] * ry + rx * acc[v, 3] + h * rx * ry
        c2[u, 2] += acc[v, 7] + acc[v, 2] * rz + rx * acc[v, 4] + h * rx * rz
        c2[u, 3] += acc[v, 8] + 2 * acc[v, 3] * ry + h * ry * ry
        c2[u, 4] += acc[v, 9] + acc[v, 3] * rz + ry * acc[v, 4] + h * ry * rz
        c2[u, 5] += acc[v, 10] + 2 * acc[v, 4] * rz + h * rz * rz
        cd[u, 0] += acc[v, 11]
        cd[u, 1] += acc[v, 12]
        cd[u, 2] += acc[v, 13]
    # 2. One plane per cell from its 3x3x3 neighbourhood (relative to the cell centre).
    pn = np.zeros((n_cell, 3))
    pm = np.zeros((n_cell, 3))
    pw = np.zeros(n_cell)
    pe = np.zeros(n_cell)
    for u in range(n_cell):
        k = ckey[u]
        jx = ((k >> 42) & _MASK21) - _OFF
        jy = ((k >> 21) & _MASK21) - _OFF
        jz = (k & _MASK21) - _OFF
        hn = 0.0
        w = 0.0
        m0 = m1 = m2 = 0.0
        q0 = q1 = q2 = q3 = q4 = q5 = 0.0
        d0 = d1 = d2 = 0.0
        for ax in range(-1, 2):
            for ay in range(-1, 2):
                for az in range(-1, 2):
                    g = _find(ctab, jx + ax, jy + ay, jz + az)
                    if g < 0:
                        continue
                    h = cw[g]
                    rx, ry, rz = ax * csz, ay * csz, az * csz
                    hn += cn[g]
                    w += h
                    m0 += c1[g, 0] + h * rx
                    m1 += c1[g, 1] + h * ry
                    m2 += c1[g, 2] + h * rz
                    q0 += c2[g, 0] + 2 * c1[g, 0] * rx + h * rx * rx
                    q1 += c2[g, 1] + c1[g, 0] * ry + rx * c1[g, 1] + h * rx * ry
                    q2 += c2[g, 2] + c1[g, 0] * rz + rx * c1[g, 2] + h * rx * rz
                    q3 += c2[g, 3] + 2 * c1[g, 1] * ry + h * ry * ry
                    q4 += c2[g, 4] + c1[g, 1] * rz + ry * c1[g, 2] + h * ry * rz
                    q5 += c2[g, 5] + 2 * c1[g, 2] * rz + h * rz * rz
                    d0 += cd[g, 0]
                    d1 += cd[g, 1]
                    d2 += cd[g, 2]
        pw[u] = hn if w > 0.0 else 0.0
        if pw[u] < min_hits:
            continue
        m0, m1, m2 = m0 / w, m1 / w, m2 / w
        lam, nx, ny, nz = _smallest_eig(q0 / w - m0 * m0, q1 / w - m0 * m1, q2 / w - m0 * m2,
                                        q3 / w - m1 * m1, q4 / w - m1 * m2, q5 / w - m2 * m2)
        if nx * d0 + ny * d1 + nz * d2 > 0:  # normals face the sensor
            nx, ny, nz = -nx, -ny, -nz
        pn[u, 0], pn[u, 1], pn[u, 2] = nx, ny, nz
        pm[u, 0], pm[u, 1], pm[u, 2] = m0, m1, m2
        pe[u] = max(lam, 0.0)
    # 3. Keep the voxels the plane crosses (a one-voxel-thick surface), projected onto it.
    n_out = 0
    for v in range(n_vox):
        u = vcell[v]
        if u < 0:
            continue
        if pw[u] < min_hits:
            reason[v] = 2
            continue
        k = vkey[v]
        ix = ((k >> 42) & _MASK21) - _OFF
        iy = ((k >> 21) & _MASK21) - _OFF
        iz = (k & _MASK21) - _OFF
        nx, ny, nz = pn[u, 0], pn[u, 1], pn[u, 2]
        # plane point relative to this voxel's centre
        bx = pm[u, 0] + (ix // cell + 0.5) * csz - (ix + 0.5) * vs
        by = pm[u, 1] + (iy // cell + 0.5) * csz - (iy + 0.5) * vs
        bz = pm[u, 2] + (iz // cell + 0.5) * csz - (iz + 0.5) * vs
        dist = nx * bx + ny * by + nz * bz
        if abs(dist) > 0.5 * vs * (abs(nx) + abs(ny) + abs(nz)):
            reason[v] = 3
            continue
        h = acc[v, 0]
        wv = acc[v, 16]
        mx, my, mz = acc[v, 2] / wv, acc[v, 3] / wv, acc[v, 4] / wv
        e = nx * (mx - bx) + ny * (my - by) + nz * (mz - bz)
        out_p[n_out, 0] = (ix + 0.5) * vs + mx - e * nx
        out_p[n_out, 1] = (iy + 0.5) * vs + my - e * ny
        out_p[n_out, 2] = (iz + 0.5) * vs + mz - e * nz
        out_n[n_out, 0] = nx
        out_n[n_out, 1] = ny
        out_n[n_out, 2] = nz
        out_h[n_out] = np.int32(h)
        out_c[n_out] = (1.0 - np.exp(-pw[u] / 8.0)) * h / (h + acc[v, 1])
        out_s[n_out] = np.sqrt(acc[v, 14] / h / pw[u] + pe[u])
        cos_i = abs(nx * acc[v, 11] + ny * acc[v, 12] + nz * acc[v, 13]) / h
        out_i[n_out] = np.degrees(np.arccos(min(cos_i, 1.0)))
        out_r[n_out] = acc[v, 15] / wv
        out_v[n_out] = v
        reason[v] = 0
        n_out += 1
    return n_out


def extract_reference(vox: dict[tuple[int, int, int], dict[str, Any]], vs: float, cell: int,
                      min_hits: int, max_miss_ratio: float) -> dict[tuple[int, int, int], tuple[Any, ...]]:
    """Reference of :func:`_extract` on :func:`fuse_reference` output: voxel -> (point, normal, hits,
    incidence in degrees, weighted mean range).

    Works in absolute coordinates: every hit of the 3x3x3 cells around a voxel's cell
    enters the plane fit with its fusion weight; the minimum counts hits.
    """
    ok = {k: e for k, e in vox.items() if e["miss"] <= max_miss_ratio * e["hits"]}
    cells: dict[tuple[int, ...], list[Any]] = {}
    for k in ok:
        cells.setdefault(tuple(int(i) // cell for i in k), []).append(k)
    planes: dict[tuple[int, ...], tuple[Any, ...] | None] = {}
    for ck in cells:
        hn, w, s1, s2, dsum = 0, 0.0, np.zeros(3), np.zeros((3, 3)), np.zeros(3)
        for ax in range(-1, 2):
            for ay in range(-1, 2):
                for az in range(-1, 2):
                    for k in cells.get((ck[0] + ax, ck[1] + ay, ck[2] + az), []):
                        u = ok[k]
                        c = (np.array(k) + 0.5) * vs
                        q = u["s2"]
                        o2 = np.array([[q[0], q[1], q[2]], [q[1], q[3], q[4]], [q[2], q[4], q[5]]])
                        hn += u["hits"]
                        w += u["w"]
                        s1 += u["s1"] + u["w"] * c
                        s2 += o2 + np.outer(u["s1"], c) + np.outer(c, u["s1"]) + u["w"] * np.outer(c, c)
                        dsum += u["sd"]
        if hn < min_hits:
            planes[ck] = None
            continue
        m = s1 / w
        _, evecs = np.linalg.eigh(s2 / w - np.outer(m, m))
        n = evecs[:, 0]
        planes[ck] = (m, -n if n @ dsum > 0 else n)
    out: dict[tuple[int, int, int], tuple[Any, ...]] = {}
    for ck, members in cells.items():
        pl = planes[ck]
        if pl is None:
            continue
        m, n = pl
        for k in members:
            centre = (np.array(k) + 0.5) * vs
            if abs(n @ (m - centre)) > 0.5 * vs * np.abs(n).sum():
                continue
            e = ok[k]
            mean = centre + e["s1"] / e["w"]
            cos_i = min(abs(float(n @ e["sd"])) / e["hits"], 1.0)
            out[k] = (mean - (n @ (mean - m)) * n, n, e["hits"], float(np.degrees(np.arccos(cos_i))),
                      e["rs"] / e["w"])
    return out


# --------------------------------------------------------------------------- the map


class VoxelMap:
    """Growable sparse voxel map (typed wrapper around the kernels).

    ``acc`` (capacity, 17) float32 holds one 68-byte record per voxel: hits, misses, weighted
    sum of offsets from the voxel centre (3), weighted sum of their outer products (xx xy xz yy
    yz zz), sum of unit view directions (3), sum of sigma^2, weighted sum of ranges, sum of
    weights. ``table`` (slots, 2) int64 holds (key, voxel id) pairs, at most half full.

    ``weight_range_m`` (``r0``): each return counts ``1 / (1 + (range / r0)^2)`` in the position
    sums (module docstring); 0 counts every return alike.
    """

    HITS, MISS, S1, S2, SD, SS, RS, W = 0, 1, 2, 5, 11, 14, 15, 16
    RECORD = 17

    def __init__(self, voxel_size: float, capacity: int = 1 << 14, weight_range_m: float = 0.0) -> None:
        if not 0.001 <= voxel_size <= 1.0:
            raise ValueError(f"VoxelMap: voxel_size {voxel_size} m outside 0.001..1 m")
        if not (np.isfinite(weight_range_m) and weight_range_m >= 0.0):
            raise ValueError(f"VoxelMap: weight_range_m {weight_range_m} must be >= 0 (0: equal weights)")
        self.voxel_size = float(voxel_size)
        self.weight_range_m = float(weight_range_m)
        self.n = 0
        self.vkey = np.full(capacity, EMPTY, np.int64)
        self.acc = np.zeros((capacity, self.RECORD), np.float32)
        self.table = np.full((_pow2(2 * capacity), 2), EMPTY, np.int64)
        self.occ = np.zeros(_BITS // 8, np.uint8)

    # Views for readers and tests.
    @property
    def hits(self) -> NDArray[np.float32]:
        return self.acc[: self.n, self.HITS]

    @property
    def miss(self) -> NDArray[np.float32]:
        return self.acc[: self.n, self.MISS]

    @property
    def s1(self) -> NDArray[np.float32]:
        return self.acc[: self.n, self.S1:self.S1 + 3]

    @property
    def s2(self) -> NDArray[np.float32]:
        return self.acc[: self.n, self.S2:self.S2 + 6]

    @property
    def sd(self) -> NDArray[np.float32]:
        return self.acc[: self.n, self.SD:self.SD + 3]

    @property
    def ss(self) -> NDArray[np.float32]:
        return self.acc[: self.n, self.SS]

    @property
    def rs(self) -> NDArray[np.float32]:
        """Weighted sum of the returns' ranges per voxel (m)."""
        return self.acc[: self.n, self.RS]

    @property
    def weights(self) -> NDArray[np.float32]:
        """Sum of the returns' fusion weights per voxel (the hit count where weights are off)."""
        return self.acc[: self.n, self.W]

    @property
    def capacity(self) -> int:
        return int(self.acc.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.vkey.nbytes + self.acc.nbytes + self.table.nbytes + self.occ.nbytes)

    def reserve(self, extra: int) -> None:
        """Make room for ``extra`` more voxels (records x2, table kept <= 50 % full)."""
        need = self.n + extra
        if need > self.capacity:
            cap = max(need, 2 * self.capacity)
            vkey, acc = self.vkey, self.acc
            self.vkey = np.full(cap, EMPTY, np.int64)
            self.acc = np.zeros((cap, self.RECORD), np.float32)
            self.vkey[: self.n] = vkey[: self.n]
            self.acc[: self.n] = acc[: self.n]
        if 2 * need > self.table.shape[0]:
            self.table = np.full((_pow2(2 * need), 2), EMPTY, np.int64)
            _rehash(self.table, self.vkey, self.n, self.occ)

    def fuse(self, points: NDArray[np.float64], ray: NDArray[np.int32], origins: NDArray[np.float64],
             sigma: NDArray[np.float32], carve_start_sigmas: float = 3.0, carve_len: float = 0.0) -> None:
        """Add returns ``points`` (M, 3) seen from ``origins[ray]`` with 1-sigma ``sigma`` (M,).

        Free space is recorded in existing voxels from ``max(carve_start_sigmas * sigma,
        voxel)`` to ``carve_len`` further back along each beam (``carve_len`` 0: none).
        """
        points = np.ascontiguousarray(points, np.float64)
        if points.ndim != 2 or points.shape[1] != 3:
            raise ValueError(f"VoxelMap.fuse: points must be (M, 3), got {points.shape}")
        m = points.shape[0]
        ray = np.ascontiguousarray(ray, np.int32)
        origins = np.ascontiguousarray(origins, np.float64).reshape(-1, 3)
        sigma = np.ascontiguousarray(sigma, np.float32)
        if ray.shape != (m,) or sigma.shape != (m,):
            raise ValueError("VoxelMap.fuse: ray and sigma must have one value per point")
        if m == 0:
            return
        if ray.min() < 0 or ray.max() >= origins.shape[0]:
            raise ValueError("VoxelMap.fuse: ray index outside origins")
        lim = (_OFF - 2) * self.voxel_size
        threads = get_num_threads() if m >= PARALLEL_MIN_POINTS else 1
        pipelined = carve_len > 0 and _CARVE_BUF // _PIPE_LISTS // (int(np.ceil(carve_len / self.voxel_size)) + 2) >= 256
        if threads < max(2, PARALLEL_MIN_THREADS) and threads >= max(2, PIPELINE_MIN_THREADS) and pipelined:
            n = self._fuse_pipelined(points, ray, origins, sigma, float(carve_start_sigmas), float(carve_len), lim)
        elif threads < max(2, PARALLEL_MIN_THREADS):
            self.reserve(m)
            n = _fuse(self.table, self.vkey, self.acc, self.n, points, ray, origins, sigma, self.voxel_size,
                      float(carve_start_sigmas), float(carve_len), lim, self.occ, self.weight_range_m)
        else:
            # Batches bound the carving buffer (points x steps per beam); the result does
            # not depend on the batching.
            kmax = int(np.ceil(carve_len / self.voxel_size)) + 2 if carve_len > 0 else 1
            step = max(1024, min(_PAR_BATCH, _CARVE_BUF // kmax))
            mbuf = np.empty(min(m, step) * kmax if carve_len > 0 else 1, np.int32)
            n = self.n
            for a in range(0, m, step):
                b = min(m, a + step)
                self.reserve(b - a)
                n = _fuse_par(self.table, self.vkey, self.acc, self.n, points[a:b], ray[a:b], origins,
                              sigma[a:b], self.voxel_size, float(carve_start_sigmas), float(carve_len),
                              lim, self.occ, kmax, mbuf, self.weight_range_m)
                if n < 0:
                    bad = a - 1 - n
                    n = _fuse(self.table, self.vkey, self.acc, self.n, points[a:bad], ray[a:bad], origins,
                              sigma[a:bad], self.voxel_size, float(carve_start_sigmas), float(carve_len),
                              lim, self.occ, self.weight_range_m)
                    n = -1 - bad
                    break
                self.n = n
        if n < 0:
            # The points before the bad one are fused already; say which one stopped it.
            bad = -1 - n
            self.n = int(np.count_nonzero(self.vkey[: self.capacity] != EMPTY))
            raise ValueError(f"VoxelMap.fuse: point {bad} {points[bad].tolist()} is not finite or beyond "
                             f"+-{lim:.0f} m of the map origin")
        self.n = n

    def _fuse_pipelined(self, points: NDArray[np.float64], ray: NDArray[np.int32], origins: NDArray[np.float64],
                        sigma: NDArray[np.float32], css: float, carve_len: float, lim: float) -> int:
        """:func:`_fuse` on two threads with bit-identical results (see :class:`_FusePipeline`); returns
        the new voxel count or ``-1 - i`` for a bad point ``i`` (the points before it fused)."""
        self.reserve(points.shape[0])  # one growth up front, as the serial kernel: same table, no move mid-call
        return _FusePipeline(self, points, ray, origins, sigma, css, carve_len, lim).run()

    def extract(self, cell: int = 2, min_hits: int = 2, max_miss_ratio: float = 1.0
                ) -> tuple[dict[str, NDArray[Any]], NDArray[np.int8]]:
        """Surface points (dict of arrays; ``voxel`` is the source voxel id) and the per-voxel
        outcome code (see :func:`_extract`)."""
        n = self.n
        out: dict[str, NDArray[Any]] = {
            "points": np.zeros((n, 3)), "normals": np.zeros((n, 3), np.float32),
            "confidence": np.zeros(n, np.float32), "hits": np.zeros(n, np.int32),
            "sigma": np.zeros(n, np.float32), "voxel": np.zeros(n, np.int32),
            "incidence": np.zeros(n, np.float32), "range": np.zeros(n, np.float32)}
        reason = np.zeros(n, np.int8)
        k = _extract(self.table, self.vkey, self.acc, n, self.voxel_size, int(cell), int(min_hits),
                     float(max_miss_ratio), out["points"], out["normals"], out["confidence"], out["hits"],
                     out["sigma"], out["voxel"], reason, out["incidence"], out["range"])
        return {a: v[:k] for a, v in out.items()}, reason

    def lookup(self, ijk: NDArray[np.int64]) -> NDArray[np.int64]:
        """The id (insertion order, as :meth:`voxel_indices`) of each integer voxel index ``ijk``
        (N, 3); -1 where the map has no such voxel. Shape (N,)."""
        ijk = np.ascontiguousarray(ijk, dtype=np.int64)
        if ijk.ndim != 2 or ijk.shape[1] != 3:
            raise ValueError(f"lookup: expected voxel indices (N, 3), got {ijk.shape}")
        return np.asarray(_find_many(self.table, ijk), np.int64)

    def voxel_indices(self) -> NDArray[np.int64]:
        """(n, 3) integer voxel indices, in insertion order."""
        k = self.vkey[: self.n]
        return np.stack([((k >> 42) & _MASK21) - _OFF, ((k >> 21) & _MASK21) - _OFF, (k & _MASK21) - _OFF], 1)

    def state(self) -> dict[str, NDArray[Any]]:
        return {"vkey": self.vkey[: self.n].copy(), "acc": self.acc[: self.n].copy(),
                "voxel_size": np.array(self.voxel_size), "weight_range_m": np.array(self.weight_range_m)}

    @classmethod
    def from_state(cls, st: dict[str, NDArray[Any]]) -> VoxelMap:
        n = int(st["vkey"].shape[0])
        acc = np.asarray(st["acc"], np.float32)
        if acc.ndim != 2 or acc.shape[1] not in (16, cls.RECORD):
            raise ValueError(f"VoxelMap.from_state: records of {acc.shape[1:]} values, expected {cls.RECORD}")
        vm = cls(float(st["voxel_size"]), capacity=max(n, 1 << 14),
                 weight_range_m=float(st.get("weight_range_m", 0.0)))
        vm.vkey[:n] = st["vkey"]
        vm.acc[:n, : acc.shape[1]] = acc
        if acc.shape[1] == 16:
            # A map saved before returns were weighted: every return counted alike (weight 1).
            vm.acc[:n, cls.W] = acc[:, cls.HITS]
        vm.n = n
        vm.table = np.full((_pow2(2 * max(n, 1)), 2), EMPTY, np.int64)
        _rehash(vm.table, vm.vkey, n, vm.occ)
        return vm


class _FusePipeline:
    """:func:`_fuse` as tasks for two threads (this one and a helper), with bit-identical results.

    Tasks: the hits of batch ``k`` (:func:`_fuse_hits`: ids and sums in input order, as the serial
    kernel; one at a time, in order), then the free space of its beams in chunks
    (:func:`_fuse_carve`: lists of carved voxels, read-only on the map, so they run beside the hits
    of later batches), then adding the lists to the miss counts (:func:`_add_misses`, one at a time:
    only it writes those words; the hits write the other words of a record). A beam carves only
    voxels made before it, as in the serial kernel, and misses are integer counts, so their order
    does not matter. Either thread takes whatever task is ready (the next hits first), so the work
    balances itself and a thread that the system holds back only delays the hits it is adding.
    """

    def __init__(self, vm: VoxelMap, points: NDArray[np.float64], ray: NDArray[np.int32],
                 origins: NDArray[np.float64], sigma: NDArray[np.float32], css: float, carve_len: float,
                 lim: float) -> None:
        self.vm, self.points, self.ray, self.origins, self.sigma = vm, points, ray, origins, sigma
        self.css, self.carve_len, self.lim = css, carve_len, lim
        m = points.shape[0]
        kmax = int(np.ceil(carve_len / vm.voxel_size)) + 2
        self.batch = max(1, min(m, _PIPE_BATCH))
        self.chunk = max(1, min(self.batch, _PIPE_CHUNK, _CARVE_BUF // _PIPE_LISTS // kmax))
        self.nb = -(-m // self.batch)
        self.firsts = [np.empty(self.batch, np.int64) for _ in range(_PIPE_DEPTH)]
        self.lists = [np.empty(self.chunk * kmax, np.int32) for _ in range(_PIPE_LISTS)]
        self.cv = threading.Condition()
        self.next = 0  # next batch to add hits for
        self.hits_busy = False
        self.n = vm.n  # voxel count after the hits added so far
        self.bounds: dict[int, tuple[int, int, int, int]] = {}  # batch -> a, b, n0, n1
        self.chunks: deque[tuple[int, int, int]] = deque()  # free space ready: batch, lo, hi
        self.left: dict[int, int] = {}  # batch -> free-space chunks not listed yet (none: no entry)
        self.free = list(range(_PIPE_LISTS))
        self.full: list[tuple[int, int]] = []  # lists to add: index, count
        self.adding = False
        self.bad = -1  # first point outside the map
        self.failed = False

    def run(self) -> int:
        job = _helper_pool().submit(self.work)
        try:
            self.work()
        finally:  # never return (an interrupt included) while the helper still writes to the map
            err = job.exception()
        if err is not None:
            raise err
        vm = self.vm
        if self.bad >= 0:
            a, bad = self.next * self.batch - self.batch, self.bad
            _fuse(vm.table, vm.vkey, vm.acc, self.n, self.points[a:bad], self.ray[a:bad], self.origins,
                  self.sigma[a:bad], vm.voxel_size, self.css, self.carve_len, self.lim, vm.occ, vm.weight_range_m)
            return -1 - bad
        return self.n

    def _take(self) -> tuple[Any, ...] | None:
        """The next task (under ``cv``), waiting while none is ready; None when all is done."""
        while not self.failed:
            k = self.next
            if not self.hits_busy and self.bad < 0 and k < self.nb and self.left.get(k - _PIPE_DEPTH, 0) == 0:
                self.hits_busy = True  # its ``first`` slot is free: batch k - depth is listed
                self.next += 1
                return ("hits", k)
            if self.chunks and self.free:
                return ("carve", *self.chunks.popleft(), self.free.pop())
            if self.full and not self.adding:
                self.adding = True
                todo, self.full = self.full, []
                return ("add", todo)
            if not (self.hits_busy or self.adding or self.chunks or self.full or self.left) and (
                    self.next >= self.nb or self.bad >= 0):
                return None
            self.cv.wait()
        return None

    def work(self) -> None:
        vm, vs = self.vm, self.vm.voxel_size
        table, acc, occ = vm.table, vm.acc, vm.occ
        try:
            while True:
                with self.cv:
                    task = self._take()
                if task is None:
                    return
                if task[0] == "hits":
                    k = task[1]
                    a, b, n0 = k * self.batch, min(self.points.shape[0], (k + 1) * self.batch), self.n
                    n1 = _fuse_hits(table, vm.vkey, acc, n0, self.points[a:b], self.ray[a:b], self.origins,
                                    self.sigma[a:b], vs, self.lim, occ, self.firsts[k % _PIPE_DEPTH],
                                    vm.weight_range_m)
                    with self.cv:
                        self.hits_busy = False
                        if n1 < 0:
                            self.bad = a - 1 - n1
                        else:
                            self.n = n1
                            self.bounds[k] = (a, b, n0, n1)
                            los = range(0, b - a, self.chunk)
                            self.chunks.extend((k, lo, min(b - a, lo + self.chunk)) for lo in los)
                            if len(los):
                                self.left[k] = len(los)
                        self.cv.notify_all()
                elif task[0] == "carve":
                    _, k, lo, hi, li = task
                    a, b, n0, n1 = self.bounds[k]
                    c = _fuse_carve(table, n0, n1, self.firsts[k % _PIPE_DEPTH], self.points[a:b], self.ray[a:b],
                                    self.origins, self.sigma[a:b], vs, self.css, self.carve_len, occ, lo, hi,
                                    self.lists[li])
                    with self.cv:
                        self.full.append((li, c))
                        self.left[k] -= 1
                        if self.left[k] == 0:
                            del self.left[k], self.bounds[k]
                        self.cv.notify_all()
                else:
                    for li, c in task[1]:
                        _add_misses(acc, self.lists[li], c)
                    with self.cv:
                        self.adding = False
                        self.free.extend(li for li, _ in task[1])
                        self.cv.notify_all()
        except BaseException:
            with self.cv:
                self.failed = True
                self.cv.notify_all()
            raise


_pool: tuple[int, ThreadPoolExecutor] | None = None  # (process id, pool)
_pool_lock = threading.Lock()


def _helper_pool() -> ThreadPoolExecutor:
    """The one helper thread of :meth:`VoxelMap._fuse_pipelined` (its kernels release the GIL); a
    forked child makes its own (the parent's thread does not exist there)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(1, thread_name_prefix="hullscan-fuse"))
        return _pool[1]


def _pow2(n: int) -> int:
    return 1 << max(4, int(n - 1).bit_length())


# --------------------------------------------------------------------------- incremental extraction
#
# A voxel's output depends on its own record and on the plane of its cell, which is fitted to
# the cells within one cell of it. So when some voxels change, only the voxels of cells within
# one cell of a changed voxel's cell ("affected") can change, and re-extracting them needs the
# cells within one more cell ("context"). Running the unchanged :func:`_extract` on a sub-map of
# the context voxels, each cell's voxels in ascending id order (the order the full extraction
# sums them in), gives the affected voxels bit for bit what a full extraction gives.


@njit(cache=True, nogil=True)
def _changed(acc: NDArray[np.float32], snap: NDArray[np.float32], n_old: int, n: int, sat: float,
             out: NDArray[np.int64]) -> int:
    """Ids of voxels whose hit or miss count differs from ``snap`` or has reached ``sat``, then the
    new ones (>= ``n_old``) up to ``n``, into ``out``; brings ``snap`` up to date. Every record
    change adds a hit or a miss, so the two counts show every change until a count reaches 2^24,
    where float32 stops counting: from there a voxel always counts as changed."""
    c = 0
    for v in range(n_old):
        h, m = acc[v, 0], acc[v, 1]
        if h != snap[v, 0] or m != snap[v, 1] or h >= sat or m >= sat:
            snap[v, 0], snap[v, 1] = h, m
            out[c] = v
            c += 1
    for v in range(n_old, n):
        snap[v, 0], snap[v, 1] = acc[v, 0], acc[v, 1]
        out[c] = v
        c += 1
    return c


@njit(cache=True, nogil=True)
def _cell_get(hk: NDArray[np.int64], table: NDArray[np.int64], occ: NDArray[np.uint8], cell: int,  # noqa: PLR0913 (numba kernel: flat arrays and scalars in, no structs in nopython mode; one pass for speed)
              jx: int, jy: int, jz: int, ckey: NDArray[np.int64], cstat: NDArray[np.int8],
              cvs: NDArray[np.int64], cvn: NDArray[np.int32], vbuf: NDArray[np.int64],
              nc: int, nv: int) -> tuple[int, int, int]:
    """Index of cell (jx, jy, jz) in the region, added as context (``cstat`` 1, its voxels looked
    up in the map, ascending ids) if new: (index, cells, voxels); index -1 when a buffer is full."""
    mask = hk.shape[0] - 1
    k = _key(jx, jy, jz)
    s = _slot0(jx, jy, jz, mask)
    while True:
        kk = hk[s, 0]
        if kk == k:
            return hk[s, 1], nc, nv
        if kk == EMPTY:
            break
        s = (s + 1) & mask
    if nc == ckey.shape[0]:
        return -1, nc, nv
    start = nv
    for a in range(cell):
        for b in range(cell):
            for c in range(cell):
                ix, iy, iz = jx * cell + a, jy * cell + b, jz * cell + c
                bit = _block_bit(ix, iy, iz)
                if not occ[bit >> 3] & (1 << (bit & 7)):
                    continue
                v = _find(table, ix, iy, iz)
                if v < 0:
                    continue
                if nv == vbuf.shape[0]:
                    return -1, nc, nv
                i = nv  # insertion sort: a cell holds at most cell^3 voxels
                while i > start and vbuf[i - 1] > v:
                    vbuf[i] = vbuf[i - 1]
                    i -= 1
                vbuf[i] = v
                nv += 1
    hk[s, 0] = k
    hk[s, 1] = nc
    ckey[nc] = k
    cstat[nc] = 1
    cvs[nc] = start
    cvn[nc] = nv - start
    return nc, nc + 1, nv


@njit(cache=True, nogil=True)
def _region(table: NDArray[np.int64], vkey: NDArray[np.int64], occ: NDArray[np.uint8],  # noqa: C901, PLR0913 (numba kernel: flat arrays and scalars in, no structs in nopython mode; one pass for speed)
            changed: NDArray[np.int64], cell: int, hk: NDArray[np.int64], ckey: NDArray[np.int64],
            cstat: NDArray[np.int8], cvs: NDArray[np.int64], cvn: NDArray[np.int32],
            vbuf: NDArray[np.int64], alist: NDArray[np.int64]) -> tuple[int, int]:
    """Cells to re-extract after the ``changed`` voxels changed: (cells, voxels) written, or
    (-1, 0) when a buffer is too small (the wrapper retries with bigger ones; ``hk`` must come
    EMPTY-filled).

    ``cstat`` per cell: 2 affected (within one cell of a changed voxel's cell, so its voxels'
    output may change), 1 context only (within one cell of a non-empty affected cell: its sums
    enter their planes). ``vbuf`` holds the voxel ids cell by cell (``cvs`` start, ``cvn``
    count), ascending within each cell. Empty cells are kept too (looked up once).
    """
    nc, nv, na = 0, 0, 0
    for i in range(changed.shape[0]):
        k = vkey[changed[i]]
        jx = (((k >> 42) & _MASK21) - _OFF) // cell
        jy = (((k >> 21) & _MASK21) - _OFF) // cell
        jz = ((k & _MASK21) - _OFF) // cell
        for ax in range(-1, 2):
            for ay in range(-1, 2):
                for az in range(-1, 2):
                    u, nc, nv = _cell_get(hk, table, occ, cell, jx + ax, jy + ay, jz + az, ckey, cstat, cvs, cvn,
                                          vbuf, nc, nv)
                    if u < 0:
                        return -1, 0
                    if cstat[u] == 1:
                        cstat[u] = 2
                        if cvn[u] > 0:
                            alist[na] = u  # at most one entry per cell: alist is as long as ckey
                            na += 1
    for i in range(na):
        k = ckey[alist[i]]
        jx = ((k >> 42) & _MASK21) - _OFF
        jy = ((k >> 21) & _MASK21) - _OFF
        jz = (k & _MASK21) - _OFF
        for ax in range(-1, 2):
            for ay in range(-1, 2):
                for az in range(-1, 2):
                    g, nc, nv = _cell_get(hk, table, occ, cell, jx + ax, jy + ay, jz + az, ckey, cstat, cvs, cvn,
                                          vbuf, nc, nv)
                    if g < 0:
                        return -1, 0
    return nc, nv


def changed_voxels(acc: NDArray[np.float32], snap: NDArray[np.float32], n_old: int, n: int) -> NDArray[np.int64]:
    """Voxels changed since ``snap`` (hit and miss counts of the first ``n_old``) or new up to
    ``n``, ascending; ``snap`` (>= n rows, 2) is brought up to date."""
    if not (0 <= n_old <= n <= acc.shape[0] and snap.shape[0] >= n and snap.shape[1] == 2):
        raise ValueError(f"changed_voxels: need 0 <= n_old {n_old} <= n {n} <= records {acc.shape[0]} "
                         f"and snap (>= n, 2), got {snap.shape}")
    if acc.dtype != np.float32 or snap.dtype != np.float32:
        raise ValueError("changed_voxels: acc and snap must be float32")
    out = np.empty(n, np.int64)
    c = _changed(acc, snap, int(n_old), int(n), float(SATURATED), out)
    return out[:c].copy()


def changed_reference(acc: NDArray[np.float32], snap: NDArray[np.float32], n_old: int,
                      n: int) -> NDArray[np.int64]:
    """numpy reference of :func:`changed_voxels` (does not update ``snap``)."""
    a, s = acc[:n_old, :2], snap[:n_old]
    diff = np.flatnonzero((a != s).any(axis=1) | (a >= SATURATED).any(axis=1))
    return np.concatenate([diff, np.arange(n_old, n)]).astype(np.int64)


def region(vm: VoxelMap, changed: NDArray[np.int64], cell: int) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Voxel ids to re-extract after ``changed`` voxels changed, grouped by cell and ascending
    within each cell, and whether each is affected (its output may have changed) or context
    only (see :func:`_region`)."""
    changed = np.ascontiguousarray(changed, np.int64)
    if changed.size and (changed.min() < 0 or changed.max() >= vm.n):
        raise ValueError("region: changed voxel id outside the map")
    if cell < 1:
        raise ValueError(f"region: cell {cell} < 1")
    cap = 64 * changed.shape[0] + 1024
    while True:
        hk = np.full((_pow2(2 * cap), 2), EMPTY, np.int64)
        ckey, cstat = np.empty(cap, np.int64), np.empty(cap, np.int8)
        cvs, cvn, alist = np.empty(cap, np.int64), np.empty(cap, np.int32), np.empty(cap, np.int64)
        vbuf = np.empty(2 * cap, np.int64)
        nc, nv = _region(vm.table, vm.vkey, vm.occ, changed, int(cell), hk, ckey, cstat, cvs, cvn, vbuf, alist)
        if nc >= 0:
            break
        cap *= 4  # rare: the first guess is generous for a surface
    return vbuf[:nv].copy(), np.repeat(cstat[:nc] == 2, cvn[:nc])


def region_reference(idx: NDArray[np.int64], changed: NDArray[np.int64],
                     cell: int) -> tuple[set[int], set[int]]:
    """Reference of :func:`region` from voxel indices (n, 3): (all ids, affected ids) as sets."""
    cells = [tuple(int(c) for c in np.floor_divide(i, cell)) for i in idx]
    by_cell: dict[tuple[int, ...], list[int]] = {}
    for v, c in enumerate(cells):
        by_cell.setdefault(c, []).append(v)
    offs = [(a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)]
    dirty = {cells[int(v)] for v in changed}
    affected = {(c[0] + o[0], c[1] + o[1], c[2] + o[2]) for c in dirty for o in offs} & by_cell.keys()
    context = {(c[0] + o[0], c[1] + o[1], c[2] + o[2]) for c in affected for o in offs} & by_cell.keys()
    return ({v for c in context for v in by_cell[c]}, {v for c in affected for v in by_cell[c]})


class SurfaceCache:
    """:meth:`VoxelMap.extract` kept per voxel between calls, so that a call re-extracts only
    the cells near voxels changed since the last one (see the note above :func:`_changed`).

    Gives exactly the full extraction's output (same points, values and order: ascending voxel
    id). Costs per call: one pass over the hit/miss counts (a cache line per voxel) to find
    changes, the re-extraction of the changed region, and gathering the output (:meth:`display`
    and :meth:`display_ids` select a bounded display subset by each point's display cell hash,
    kept here, and gather only that). Memory: ~65 B per voxel (results, hashes and a copy of
    the counts). A different map object (restore, re-fusion
    after drift correction) or a region over ``full_fraction`` of the map runs a full extraction.
    """

    def __init__(self, cell: int = 2, min_hits: int = 2, max_miss_ratio: float = 1.0,
                 full_fraction: float = 0.3) -> None:
        self.params = (int(cell), int(min_hits), float(max_miss_ratio))
        self.full_fraction = full_fraction
        self._map: VoxelMap | None = None
        self.n = 0
        self.hash_cell: float | None = None  # display grid of ``hash`` (None: not kept)
        self._alloc(0)
        self.last: dict[str, float] = {}  # what the last call did (for benchmarks and logs)

    def _alloc(self, cap: int) -> None:
        old = self._arrays() if cap and self.n else None
        self.snap: NDArray[np.float32] = np.zeros((cap, 2), np.float32)
        self.reason: NDArray[np.int8] = np.zeros(cap, np.int8)
        self.points: NDArray[np.float64] = np.zeros((cap, 3))
        self.normals: NDArray[np.float32] = np.zeros((cap, 3), np.float32)
        self.confidence: NDArray[np.float32] = np.zeros(cap, np.float32)
        self.hits: NDArray[np.int32] = np.zeros(cap, np.int32)
        self.sigma: NDArray[np.float32] = np.zeros(cap, np.float32)
        self.incidence: NDArray[np.float32] = np.zeros(cap, np.float32)
        self.range: NDArray[np.float32] = np.zeros(cap, np.float32)
        self.hash: NDArray[np.uint64] = np.zeros(cap, np.uint64)  # display cell hash of each point
        if old is not None:
            for new, o in zip(self._arrays(), old, strict=True):
                new[: self.n] = o[: self.n]

    def _arrays(self) -> tuple[NDArray[Any], ...]:
        return (self.snap, self.reason, self.points, self.normals, self.confidence, self.hits, self.sigma,
                self.incidence, self.range, self.hash)

    def update(self, vm: VoxelMap) -> tuple[dict[str, NDArray[Any]], NDArray[np.int8]]:
        """The surface of ``vm`` now (as :meth:`VoxelMap.extract`, ``voxel`` in ascending order) and
        the per-voxel outcome codes (a view, valid until the next call)."""
        n = self._refresh(vm)
        t2 = time.perf_counter()
        sel = np.flatnonzero(self.reason[:n] == 0)
        res = self._gather(sel)
        res["voxel"] = sel
        self.last.update(gather_s=time.perf_counter() - t2, points=int(sel.shape[0]))
        return res, self.reason[:n]

    def display(self, vm: VoxelMap, max_points: int, cell_m: float) -> tuple[dict[str, NDArray[Any]], int]:
        """What :func:`hullscan.recon.display.display_cloud` gives for the surface of ``vm`` now (the
        same points, values and order) and the number of surface points, without gathering the whole
        surface: each point's display cell hash is kept with it, so only the shown points are gathered."""
        t = time.perf_counter()
        sel, total = self.display_ids(vm, max_points, cell_m)
        res = self._gather(sel)
        self.last["gather_s"] = time.perf_counter() - t
        return res, total

    def surface_ids(self, vm: VoxelMap) -> NDArray[np.int64]:
        """Voxel ids of the surface points of ``vm`` now, ascending (the rows of :meth:`update`)."""
        n = self._refresh(vm)
        t = time.perf_counter()
        sel = np.flatnonzero(self.reason[:n] == 0)
        self.last.update(gather_s=time.perf_counter() - t, points=int(sel.shape[0]))
        return sel

    def pack(self, ids: NDArray[np.int64], out: NDArray[np.uint8], times: RowTimes | None = None) -> None:
        """Hull-cloud message rows of voxels ``ids`` (see :func:`hullscan.core.display.pack_rows`)."""
        from hullscan.core.display import pack_rows

        pack_rows(ids, self.points, self.normals, self.confidence, self.hits, self.sigma, out, times)

    def display_ids(self, vm: VoxelMap, max_points: int, cell_m: float) -> tuple[NDArray[np.int64], int]:
        """Voxel ids of the points :meth:`display` gives, and the number of surface points."""
        from hullscan.core.display import cell_hashes, display_cutoff, limit_indices, surface_below

        n = self._refresh(vm)
        t2 = time.perf_counter()
        if self.hash_cell != float(cell_m):
            sel = np.flatnonzero(self.reason[:n] == 0)
            self.hash[sel] = cell_hashes(self.points[sel], cell_m)
            self.hash_cell = float(cell_m)
        reason = self.reason[:n]
        total = int(np.count_nonzero(reason == 0))
        if total <= max_points:
            sel = np.flatnonzero(reason == 0)
        elif max_points <= 0:
            sel = np.zeros(0, np.int64)
        else:
            sel = surface_below(reason, self.hash[:n], display_cutoff(total, max_points))
            sel = limit_indices(sel, self.hash[sel], max_points)
        self.last.update(gather_s=time.perf_counter() - t2, points=total, shown=int(sel.shape[0]))
        return sel, total

    def _gather(self, sel: NDArray[np.int64]) -> dict[str, NDArray[Any]]:
        return {"points": self.points[sel], "normals": self.normals[sel], "confidence": self.confidence[sel],
                "hits": self.hits[sel], "sigma": self.sigma[sel], "incidence": self.incidence[sel],
                "range": self.range[sel]}

    def _refresh(self, vm: VoxelMap) -> int:
        """Bring the per-voxel results up to date with ``vm``; returns its voxel count."""
        t0 = time.perf_counter()
        cell, min_hits, max_miss = self.params
        n = vm.n
        if vm is not self._map or n < self.n:
            self._map, self.n = vm, 0
        if n > self.reason.shape[0]:
            self._alloc(max(n, 2 * self.reason.shape[0], 1024))
        n_old = self.n
        changed = changed_voxels(vm.acc, self.snap, n_old, n)
        t1 = time.perf_counter()
        n_region = 0
        if n_old == 0 or changed.shape[0] > self.full_fraction * n:
            self._full(vm, n)
            n_region = n
        elif changed.shape[0]:
            ids, aff = region(vm, changed, cell)
            n_region = ids.shape[0]
            if n_region > self.full_fraction * n:
                self._full(vm, n)
            else:
                sub = VoxelMap.from_state({"vkey": vm.vkey[ids], "acc": vm.acc[ids],
                                           "voxel_size": np.array(vm.voxel_size)})
                out, reason = sub.extract(cell, min_hits, max_miss)
                self.reason[ids[aff]] = reason[aff]
                sv = out["voxel"]
                keep = aff[sv]
                self._store(ids[sv[keep]], out, keep)
        self.n = n
        self.last = {"voxels": n, "changed": int(changed.shape[0]), "region_voxels": n_region,
                     "find_s": t1 - t0, "extract_s": time.perf_counter() - t1}
        return n

    def _full(self, vm: VoxelMap, n: int) -> None:
        out, reason = vm.extract(*self.params)
        self.reason[:n] = reason
        self._store(out["voxel"].astype(np.int64), out, slice(None))

    def _store(self, ids: NDArray[np.int64], out: dict[str, NDArray[Any]], keep: Any) -> None:
        self.points[ids] = out["points"][keep]
        self.normals[ids] = out["normals"][keep]
        self.confidence[ids] = out["confidence"][keep]
        self.hits[ids] = out["hits"][keep]
        self.sigma[ids] = out["sigma"][keep]
        self.incidence[ids] = out["incidence"][keep]
        self.range[ids] = out["range"][keep]
        if self.hash_cell is not None:
            from hullscan.core.display import cell_hashes

            self.hash[ids] = cell_hashes(self.points[ids], self.hash_cell)
