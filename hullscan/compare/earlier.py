"""What an earlier inspection left, read back for a re-dive: its plan (``hullscan plan --after RUN``)
and its live view (the comparator node's ``after``).

An inspection writes ``coverage.ply``: the reference's samples in the reference file's own frame,
each with its status (:data:`hullscan.compare.analysis.STATUS_TEXT`). A re-dive plan puts its lanes
over what a pass can still clear (not seen, or seen with too few or too noisy returns) and leaves
alone what is cleared, and what another pass alone may not clear (uneven surface, relief beside it,
plating reading low), which it lists for the divers. Live, the surface either dive cleared is shown
cleared, and the gaps and the next lane are what neither did (:func:`combined`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from hullscan.compare.analysis import (
    STATUS_ANOTHER_PASS,
    STATUS_CLEARED,
    STATUS_NOT_BY_A_PASS,
    STATUS_NOT_SEEN,
    STATUS_TEXT,
    Coverage,
)
from hullscan.errors import CoverageFileError, PlyError
from hullscan.outdir import sha256_file
from hullscan.ply import read_ply

F64 = NDArray[np.float64]
Mask = NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class EarlierCoverage:
    """An earlier inspection's coverage: samples (N, 3, the reference file's frame), their status
    (N, uint8), the compartment height it cleared for, and where it came from."""

    source: str
    points: F64
    status: NDArray[np.uint8]
    clear_height_m: float
    sample_area_m2: float
    reference_sha256: str | None = None  # of the reference file that inspection compared with
    created_utc: str = ""


@dataclass(frozen=True, eq=False)
class EarlierMasks:
    """An earlier inspection's coverage on a plan's samples (each (M,), bool): seen at all, cleared
    (for ``clear_height_m``) and seen but not clearable by another pass alone."""

    source: str
    seen: Mask
    cleared: Mask
    stuck: Mask
    clear_height_m: float
    matched_fraction: float  # share of the plan's samples with an earlier sample nearby

    def area(self, mask: Mask, sample_area: float) -> float:
        return float(mask.sum() * sample_area)


def load_earlier(run_dir: str | Path, given_as: str = "--after") -> EarlierCoverage:
    """Read ``RUN/coverage.ply`` (and the date and reference hash from ``RUN/findings.json``); raises
    :class:`CoverageFileError` naming the option or parameter (``given_as``), the file and what was
    expected."""
    run = Path(run_dir)
    ply_path = run / "coverage.ply" if run.is_dir() else run
    if not ply_path.is_file():
        raise CoverageFileError(f"{given_as} {run_dir}: no coverage.ply there (expected the output folder of an "
                                "earlier hullscan replay or compare against a mesh, from version 2.12 of "
                                "findings.json on)")
    try:
        ply = read_ply(ply_path, ply_path)
    except PlyError as err:
        raise CoverageFileError(f"{given_as}: {err}") from err
    vert = ply.elements.get("vertex")
    names = () if vert is None or vert.dtype.names is None else vert.dtype.names
    if vert is None or not {"x", "y", "z", "scalar_status"} <= set(names):
        raise CoverageFileError(f"{ply_path}: expected a hullscan coverage PLY (vertex x, y, z, scalar_status)")
    height, area = ply.comment("clear_height_m"), ply.comment("sample_area_m2")
    try:
        h, a = float(height or ""), float(area or "")
    except ValueError as err:
        raise CoverageFileError(f"{ply_path}: expected 'clear_height_m' and 'sample_area_m2' header comments") from err
    status = np.asarray(vert["scalar_status"], np.uint8)
    if len(status) and status.max() > max(STATUS_TEXT):
        raise CoverageFileError(f"{ply_path}: scalar_status {int(status.max())} unknown (expected 0-{max(STATUS_TEXT)})")
    points = np.column_stack([vert["x"], vert["y"], vert["z"]]).astype(np.float64)
    sha, created = _findings_facts(ply_path.parent / "findings.json")
    return EarlierCoverage(str(ply_path), points, status, h, a, sha, created)


def load_earlier_dives(spec: str, given_as: str) -> EarlierCoverage:
    """Several earlier dives in one string, folders separated by ``os.pathsep`` (``runs/a:runs/b``, as a
    ROS parameter or a launch argument carries them), read and :func:`merged`; one folder as
    :func:`load_earlier`."""
    import os

    folders = [f for f in spec.split(os.pathsep) if f]
    if not folders:
        raise CoverageFileError(f"{given_as} {spec!r}: expected an earlier inspection's output folder")
    return merged([load_earlier(f, given_as) for f in folders])


def _findings_facts(path: Path) -> tuple[str | None, str]:
    """The reference file's SHA-256 and the inspection's date from findings.json (None, '' without one)."""
    if not path.is_file():
        return None, ""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise CoverageFileError(f"{path}: not readable as JSON ({err})") from err
    sha = next((i.get("sha256") for i in doc.get("inputs", []) if i.get("role") == "reference"), None)
    return sha, str(doc.get("created_utc", ""))


def other_reference(earlier: EarlierCoverage, reference: str | Path) -> str | None:
    """A warning when the earlier inspection compared with another reference file (by SHA-256); None
    when the same, or when its findings.json did not say."""
    if earlier.reference_sha256 is None or earlier.reference_sha256 == sha256_file(reference):
        return None
    return (f"{earlier.source} was made against another reference file than {reference}: its coverage is read "
            "where its samples lie on this mesh's")


def on_samples(earlier: EarlierCoverage, samples_ref: F64, sample_area: float) -> EarlierMasks:
    """The earlier status at each plan sample (M, 3; the reference file's frame): the nearest earlier
    sample within a sample spacing and a half (at one spacing grids of the same cell meet; another
    draft moves the samples near the waterline); none nearby reads as not seen."""
    reach = 1.5 * float(np.sqrt(max(sample_area, earlier.sample_area_m2)))
    if not len(earlier.points):
        idx = np.full(len(samples_ref), -1)
    else:
        d, idx = cKDTree(earlier.points).query(samples_ref, k=1, distance_upper_bound=reach)
        idx = np.where(np.isfinite(d), idx, -1)
    found = idx >= 0
    st = np.where(found, earlier.status[np.clip(idx, 0, None)] if len(earlier.status) else 0, 0)
    seen = found & (st >= STATUS_ANOTHER_PASS)
    return EarlierMasks(earlier.source, seen, found & (st == STATUS_CLEARED), found & (st == STATUS_NOT_BY_A_PASS),
                        earlier.clear_height_m, float(found.mean()) if len(found) else 0.0)


def combined(coverage: Coverage, before: EarlierMasks) -> Coverage:
    """``coverage`` (this inspection's) with what an earlier one left on the same samples: cleared
    where either cleared (the earlier one for a height at most this one's), seen where either saw,
    and held back where the earlier one saw surface another pass alone may not clear and this one
    has not cleared. For the live view (what is left of both dives); each inspection's report keeps
    its own coverage, the evidence it stands on."""
    if len(before.seen) != len(coverage.seen):
        raise CoverageFileError(f"{before.source}: {len(before.seen)} samples matched against {len(coverage.seen)}")
    counts = coverage.clear_height >= before.clear_height_m - 1e-9
    seen = coverage.seen | (before.cleared if counts else np.zeros(len(coverage.seen), bool))
    seen_any = (coverage.seen if coverage.seen_any is None else coverage.seen_any) | before.seen | seen
    held = (np.zeros(len(seen), bool) if coverage.held is None else coverage.held) | before.stuck
    return replace(coverage, seen=seen, seen_any=seen_any, held=held & ~seen)


def merged(dives: Sequence[EarlierCoverage]) -> EarlierCoverage:
    """Several earlier dives of one hull as one coverage, on the first one's samples: cleared where any
    cleared; else held back where any held it back (the surface is what it is, whichever pass saw it);
    else seen too uncertainly where any saw it; else not seen. The dives must have judged one
    compartment height (cleared for another height is not cleared for this one)."""
    if not dives:
        raise CoverageFileError("no earlier dive given")
    first = dives[0]
    heights = {d.clear_height_m for d in dives}
    if len(heights) > 1:
        raise CoverageFileError("--after: the earlier dives were judged for different compartment heights ("
                                + ", ".join(f"{d.source}: {d.clear_height_m:g} m" for d in dives)
                                + "); give dives judged for one height")
    if len(dives) == 1:
        return first
    masks = [on_samples(d, first.points, first.sample_area_m2) for d in dives[1:]]
    cleared = (first.status == STATUS_CLEARED) | np.any([m.cleared for m in masks], axis=0)
    stuck = (first.status == STATUS_NOT_BY_A_PASS) | np.any([m.stuck for m in masks], axis=0)
    seen = (first.status >= STATUS_ANOTHER_PASS) | np.any([m.seen for m in masks], axis=0)
    status = np.full(len(first.points), STATUS_NOT_SEEN, np.uint8)
    status[seen] = STATUS_ANOTHER_PASS
    status[stuck] = STATUS_NOT_BY_A_PASS
    status[cleared] = STATUS_CLEARED
    return replace(first, source=" + ".join(d.source for d in dives), status=status)
