"""Loading references, clouds and priors for the commands, and running one inspection to disk."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hullscan.errors import HullscanError
from hullscan.ply import element_counts

if TYPE_CHECKING:
    from hullscan.compare.analysis import Coverage
    from hullscan.compare.prior import NavPrior

log = logging.getLogger("hullscan.compare")
MESH_SUFFIXES = (".stl", ".obj", ".off")


def _ply_has_faces(path: Path) -> bool:
    return element_counts(path).get("face", 0) > 0


def reference_is_mesh(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(MESH_SUFFIXES):
        return True
    if name.endswith(".ply"):
        return _ply_has_faces(path)
    raise HullscanError(f"{path}: unknown reference type (expected STL/OBJ/PLY mesh, a hull-cloud PLY, or --mirror)")


def load_reference(path: str | Path, units: str = "auto", *, draft: float | None = None, up: str = "auto",
                   bow: str = "auto", trim: float | None = None, length: float | None = None) -> Any:
    """A HullMesh (design mesh) or a HullCloud (earlier scan), by content.

    ``draft`` (m, keel to waterline), ``trim`` (m, aft minus forward draft), ``up``, ``bow`` and
    ``length`` (m: the ship's length, for a model-scale file) apply to a mesh (see load_mesh)."""
    p = Path(path)
    if not p.exists():
        raise HullscanError(f"{p}: reference not found")
    if reference_is_mesh(p):
        from hullscan.hull import load_mesh

        return load_mesh(p, units=units, draft=draft, up=up, bow=bow, trim=trim, length=length)
    from hullscan.cloud_io import load_cloud

    return load_cloud(p)


def load_prior(path: str | Path | None) -> NavPrior | None:
    """The navigation prior file (see :mod:`hullscan.compare.prior`); None for None."""
    from hullscan.compare.prior import load_prior as _load

    return _load(path)


def progress_printer(enabled: bool = True) -> Any:
    if not enabled:
        return None

    def show(stage: str) -> None:
        print(f"[compare] {stage.replace('_', ' ')} ...", file=sys.stderr, flush=True)

    return show


def seen_not_cleared_line(cov: Coverage | None) -> str | None:
    """'seen but not cleared: 42.5 m² another, closer or slower pass would clear; 38.2 m² uneven surface
    it may not' (the patches too uncertain to clear, by why); None where there are none."""
    if cov is None:
        return None
    from hullscan.compare.analysis import FEW_RETURNS, UNCERTAIN, UNEVEN, area_by_kind

    area = area_by_kind(cov.patches)
    few, uneven, other = (area.get(k, 0.0) for k in (FEW_RETURNS, UNEVEN, UNCERTAIN))
    parts = [f"{few:.1f} m² another, closer or slower pass would clear"] if few >= 0.05 else []
    parts += [f"{uneven:.1f} m² uneven surface it may not"] if uneven >= 0.05 else []
    parts += [f"{other:.1f} m² too uncertain"] if other >= 0.05 else []
    return "seen but too uncertain to clear: " + "; ".join(parts) if parts else None


def diver_line(cov: Coverage | None) -> str | None:
    """'seen, for a diver or the camera (no pass clears it): 12.4 m² on thin appendages (bilge keels,
    propeller blades); 0.8 m² beside the design's own relief' (the patches held back whatever the
    survey, by why); None where there are none."""
    if cov is None:
        return None
    from hullscan.compare.analysis import LOW, RELIEF, THIN, area_by_kind

    area = area_by_kind(cov.patches)
    parts = [f"{area.get(k, 0.0):.1f} m² {what}" for k, what in (
        (THIN, "on thin appendages (bilge keels, propeller blades)"), (RELIEF, "beside the design's own relief"),
        (LOW, "over plating that reads below its surroundings")) if area.get(k, 0.0) >= 0.05]
    return "seen, for a diver or the camera (no pass clears it): " + "; ".join(parts) if parts else None


def coverage_line(cov: Coverage | None) -> str:
    """'coverage: cleared 4.1 % for 0.1 m compartments (0.2 m: 16 %, 0.3 m: 21 %), seen 25 %'."""
    if cov is None:
        return "coverage not computed"
    from hullscan.compare.analysis import coverage_summary

    return "coverage: " + coverage_summary(cov.as_dict(max_patches=0))
