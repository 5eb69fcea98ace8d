"""Georeferencing and cleaning kernels for blocks of pings with a common beam layout.

A block is P consecutive pings of one sonar with the same B beam directions (a
profiling fan, or the beams of an imaging sonar after detection). Ranges are a
(P, B) float32 array; the rows just before and after the block come with it so
along-track spike removal sees the same neighbours however the stream is cut.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

# Cleaning outcome per return; the names are the DropLog reasons.
REASONS = ("kept", "nan_range", "below_min_range", "beyond_max_range", "low_intensity",
           "spike_across", "spike_along", "grazing_angle")
OK, NAN, NEAR, FAR, WEAK, SPIKE_X, SPIKE_A, GRAZE = range(8)

_FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


# --------------------------------------------------------------------------- cleaning


@njit(cache=True, nogil=True)
def _gate(ranges: NDArray[np.float32], intens: NDArray[np.float32], rmin: NDArray[np.float64],
          rmax: NDArray[np.float64], min_int: float, out: NDArray[np.int8]) -> None:
    p_, b_ = ranges.shape
    for p in range(p_):
        for b in range(b_):
            r = ranges[p, b]
            if not np.isfinite(r):
                out[p, b] = NAN
            elif r < rmin[p]:
                out[p, b] = NEAR
            elif r > rmax[p]:
                out[p, b] = FAR
            elif intens[p, b] < min_int:
                out[p, b] = WEAK
            else:
                out[p, b] = OK


@njit(cache=True, nogil=True)
def _clean(ranges_ext: NDArray[np.float32], intens: NDArray[np.float32], dirs: NDArray[np.float32],
           rmin: NDArray[np.float64], rmax: NDArray[np.float64], min_int: float, spike: float,
           min_sin_graze: float, out: NDArray[np.int8]) -> None:
    """Reason code (P, B) for each return; ``ranges_ext`` is (P + 2, B) with the neighbour rows."""
    p_ = ranges_ext.shape[0] - 2
    b_ = ranges_ext.shape[1]
    _gate(ranges_ext[1:-1], intens, rmin, rmax, min_int, out)
    for p in range(p_):
        row = ranges_ext[p + 1]
        for b in range(b_):
            if out[p, b] != OK:
                continue
            r = row[b]
            # Across the swath: the beams either side agree with each other but not with this one.
            if 0 < b < b_ - 1:
                a, c = row[b - 1], row[b + 1]
                if np.isfinite(a) and np.isfinite(c) and abs(a - c) < spike and abs(r - 0.5 * (a + c)) > spike:
                    out[p, b] = SPIKE_X
                    continue
            # Along track: the same beam of the previous and next ping.
            a, c = ranges_ext[p, b], ranges_ext[p + 2, b]
            if np.isfinite(a) and np.isfinite(c) and abs(a - c) < spike and abs(r - 0.5 * (a + c)) > spike:
                out[p, b] = SPIKE_A
                continue
            # Grazing angle from the in-swath surface tangent through the neighbouring returns.
            if min_sin_graze > 0 and 0 < b < b_ - 1:
                a, c = row[b - 1], row[b + 1]
                if np.isfinite(a) and np.isfinite(c):
                    tx = dirs[b + 1, 0] * c - dirs[b - 1, 0] * a
                    ty = dirs[b + 1, 1] * c - dirs[b - 1, 1] * a
                    tz = dirs[b + 1, 2] * c - dirs[b - 1, 2] * a
                    tn = np.sqrt(tx * tx + ty * ty + tz * tz)
                    if tn > 0:
                        cosg = abs(dirs[b, 0] * tx + dirs[b, 1] * ty + dirs[b, 2] * tz) / tn
                        if 1.0 - cosg * cosg < min_sin_graze * min_sin_graze:
                            out[p, b] = GRAZE


def clean_block(ranges_ext: NDArray[np.float32], intens: NDArray[np.float32], dirs: NDArray[np.float32],
                rmin: NDArray[np.float64], rmax: NDArray[np.float64], min_intensity: float,
                spike_m: float, min_grazing_rad: float) -> NDArray[np.int8]:
    """Typed wrapper of :func:`_clean`; returns reason codes (P, B) (see :data:`REASONS`)."""
    r = np.ascontiguousarray(ranges_ext, np.float32)
    p, b = r.shape[0] - 2, r.shape[1]
    if p < 1:
        raise ValueError(f"clean_block: ranges_ext needs the two neighbour rows, got shape {r.shape}")
    intens = np.ascontiguousarray(intens, np.float32)
    dirs = np.ascontiguousarray(dirs, np.float32)
    if intens.shape != (p, b) or dirs.shape != (b, 3):
        raise ValueError(f"clean_block: intens {intens.shape} / dirs {dirs.shape} do not match ({p}, {b})")
    out = np.empty((p, b), np.int8)
    _clean(r, intens, dirs, np.ascontiguousarray(rmin, np.float64), np.ascontiguousarray(rmax, np.float64),
           float(min_intensity), float(spike_m), float(np.sin(min_grazing_rad)), out)
    return out


def clean_reference(ranges_ext: NDArray[np.float32], intens: NDArray[np.float32], dirs: NDArray[np.float32],
                    rmin: NDArray[np.float64], rmax: NDArray[np.float64], min_intensity: float,
                    spike_m: float, min_grazing_rad: float) -> NDArray[np.int8]:
    """Vectorised numpy reference of :func:`clean_block`."""
    r = ranges_ext[1:-1].astype(np.float64)
    prev, nxt = ranges_ext[:-2].astype(np.float64), ranges_ext[2:].astype(np.float64)
    out = np.full(r.shape, OK, np.int8)
    with np.errstate(invalid="ignore"):
        weak = intens < np.float32(min_intensity)
        far = r > rmax[:, None]
        near = r < rmin[:, None]
        nan = ~np.isfinite(r)
        out[weak] = WEAK
        out[far] = FAR
        out[near] = NEAR
        out[nan] = NAN
        ok = out == OK
        a = np.full_like(r, np.nan)
        c = np.full_like(r, np.nan)
        a[:, 1:-1], c[:, 1:-1] = r[:, :-2], r[:, 2:]
        fin = np.isfinite(a) & np.isfinite(c)
        sx = ok & fin & (np.abs(a - c) < spike_m) & (np.abs(r - 0.5 * (a + c)) > spike_m)
        out[sx] = SPIKE_X
        ok &= ~sx
        fa = np.isfinite(prev) & np.isfinite(nxt)
        sa = ok & fa & (np.abs(prev - nxt) < spike_m) & (np.abs(r - 0.5 * (prev + nxt)) > spike_m)
        out[sa] = SPIKE_A
        ok &= ~sa
        if min_grazing_rad > 0:
            d = dirs.astype(np.float64)
            t = np.zeros((*r.shape, 3))
            t[:, 1:-1] = d[None, 2:] * c[:, 1:-1, None] - d[None, :-2] * a[:, 1:-1, None]
            tn = np.linalg.norm(t, axis=2)
            cosg = np.abs((d[None] * t).sum(2)) / np.where(tn > 0, tn, 1)
            g = ok & fin & (tn > 0) & (1 - cosg**2 < np.sin(min_grazing_rad) ** 2)
            out[g] = GRAZE
    return out


# --------------------------------------------------------------------------- georeferencing


@njit(cache=True, nogil=True)
def _georef(ranges: NDArray[np.float32], keep: NDArray[np.bool_], dirs: NDArray[np.float32],  # noqa: PLR0913 (numba kernel: flat arrays and scalars in, no structs in nopython mode; one pass for speed)
            rot: NDArray[np.float64], trans: NDArray[np.float64], nav_sigma: NDArray[np.float64],
            att_sigma: NDArray[np.float64], range_sigma: float, foot_sigma_rad: float, ray0: int,
            out_p: NDArray[np.float64], out_ray: NDArray[np.int32], out_s: NDArray[np.float32]) -> int:
    n = 0
    p_, b_ = ranges.shape
    rs2 = range_sigma * range_sigma
    for p in range(p_):
        r_ = rot[p]
        for b in range(b_):
            if not keep[p, b]:
                continue
            r = np.float64(ranges[p, b])
            x, y, z = dirs[b, 0] * r, dirs[b, 1] * r, dirs[b, 2] * r
            out_p[n, 0] = r_[0, 0] * x + r_[0, 1] * y + r_[0, 2] * z + trans[p, 0]
            out_p[n, 1] = r_[1, 0] * x + r_[1, 1] * y + r_[1, 2] * z + trans[p, 1]
            out_p[n, 2] = r_[2, 0] * x + r_[2, 1] * y + r_[2, 2] * z + trans[p, 2]
            out_ray[n] = ray0 + p
            fp = r * foot_sigma_rad
            at = r * att_sigma[p]
            out_s[n] = np.sqrt(rs2 + fp * fp + at * at + nav_sigma[p] * nav_sigma[p])
            n += 1
    return n


def georef_block(ranges: NDArray[np.float32], keep: NDArray[np.bool_], dirs: NDArray[np.float32],
                 rot: NDArray[np.float64], trans: NDArray[np.float64], nav_sigma: NDArray[np.float64],
                 att_sigma: NDArray[np.float64], range_sigma: float, footprint_rad: float,
                 ray0: int = 0) -> tuple[NDArray[np.float64], NDArray[np.int32], NDArray[np.float32]]:
    """Kept returns to the navigation frame.

    ``rot`` (P, 3, 3), ``trans`` (P, 3): sensor-to-nav pose per ping; ``nav_sigma`` (P,) m and
    ``att_sigma`` (P,) rad navigation 1-sigma; ``footprint_rad``: the widest -3 dB beam width
    (rad), turned into a 1-sigma angular spread. Returns points (M, 3), the ping index of each
    point plus ``ray0``, and the 1-sigma position uncertainty (M,) in metres.
    """
    ranges = np.ascontiguousarray(ranges, np.float32)
    keep = np.ascontiguousarray(keep, np.bool_)
    p, b = ranges.shape
    dirs = np.ascontiguousarray(dirs, np.float32)
    rot = np.ascontiguousarray(rot, np.float64)
    trans = np.ascontiguousarray(trans, np.float64)
    if keep.shape != (p, b) or dirs.shape != (b, 3) or rot.shape != (p, 3, 3) or trans.shape != (p, 3):
        raise ValueError(f"georef_block: shapes do not match ranges {ranges.shape}")
    m = int(keep.sum())
    out_p = np.empty((m, 3))
    out_r = np.empty(m, np.int32)
    out_s = np.empty(m, np.float32)
    _georef(ranges, keep, dirs, rot, trans, np.ascontiguousarray(nav_sigma, np.float64),
            np.ascontiguousarray(att_sigma, np.float64), float(range_sigma),
            float(footprint_rad) * _FWHM_TO_SIGMA, int(ray0), out_p, out_r, out_s)
    return out_p, out_r, out_s


def georef_reference(ranges: NDArray[np.float32], keep: NDArray[np.bool_], dirs: NDArray[np.float32],
                     rot: NDArray[np.float64], trans: NDArray[np.float64], nav_sigma: NDArray[np.float64],
                     att_sigma: NDArray[np.float64], range_sigma: float, footprint_rad: float,
                     ray0: int = 0) -> tuple[NDArray[np.float64], NDArray[np.int32], NDArray[np.float32]]:
    """Numpy reference of :func:`georef_block`."""
    pi, bi = np.nonzero(keep)
    r = ranges[pi, bi].astype(np.float64)
    local = dirs[bi].astype(np.float64) * r[:, None]
    pts = np.einsum("nij,nj->ni", rot[pi], local) + trans[pi]
    fp = r * footprint_rad * _FWHM_TO_SIGMA
    sig = np.sqrt(range_sigma**2 + fp**2 + (r * att_sigma[pi]) ** 2 + nav_sigma[pi] ** 2)
    return pts, (pi + ray0).astype(np.int32), sig.astype(np.float32)


# --------------------------------------------------------------------------- imaging sonar detection


@njit(cache=True, nogil=True)
def _cfar_first(intens: NDArray[np.float32], guard: int, train: int, scale: float, floor: float,
                first_bin: int, out: NDArray[np.int32]) -> None:
    """Index of the first range bin per beam above ``scale`` x the CA-CFAR noise estimate, else -1."""
    r_, b_ = intens.shape
    for b in range(b_):
        out[b] = -1
        for i in range(first_bin, r_):
            x = intens[i, b]
            if x < floor:
                continue
            acc = 0.0
            cnt = 0
            for j in range(i - guard - train, i - guard):
                if 0 <= j < r_:
                    acc += intens[j, b]
                    cnt += 1
            for j in range(i + guard + 1, i + guard + train + 1):
                if 0 <= j < r_:
                    acc += intens[j, b]
                    cnt += 1
            if cnt > 0 and x > scale * acc / cnt:
                out[b] = i
                break


def cfar_first(intens: NDArray[np.float32], guard: int, train: int, scale: float, floor: float,
               first_bin: int = 0) -> NDArray[np.int32]:
    """Typed wrapper of :func:`_cfar_first` on an (R, B) range-major image."""
    x = np.ascontiguousarray(intens, np.float32)
    if x.ndim != 2:
        raise ValueError(f"cfar_first: expected (R, B) intensities, got {x.shape}")
    out = np.empty(x.shape[1], np.int32)
    _cfar_first(x, int(guard), int(train), float(scale), float(floor), int(first_bin), out)
    return out


def cfar_reference(intens: NDArray[np.float32], guard: int, train: int, scale: float, floor: float,
                   first_bin: int = 0) -> NDArray[np.int32]:
    """Numpy reference of :func:`cfar_first`."""
    x = intens.astype(np.float64)
    r_ = x.shape[0]
    out = np.full(x.shape[1], -1, np.int32)
    for b in range(x.shape[1]):
        for i in range(first_bin, r_):
            if x[i, b] < floor:
                continue
            lo = list(range(max(0, i - guard - train), max(0, i - guard)))
            hi = list(range(min(r_, i + guard + 1), min(r_, i + guard + train + 1)))
            cells = lo + hi
            if cells and x[i, b] > scale * x[cells, b].mean():
                out[b] = i
                break
    return out
