"""Loading references, clouds and priors for the commands, and running one inspection to disk."""

from __future__ import annotations

import gzip
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hullscan.compare.config import CompareConfig
from hullscan.diagnostics import DropLog
from hullscan.errors import HullscanError
from hullscan.model import HullCloud, Transform

if TYPE_CHECKING:
    from hullscan.compare.analysis import Coverage
    from hullscan.compare.prior import NavPrior

log = logging.getLogger("hullscan.compare")
MESH_SUFFIXES = (".stl", ".obj", ".off")


def _ply_has_faces(path: Path) -> bool:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        head = fh.read(4096)
    text = head.split(b"end_header")[0].decode("ascii", "replace")
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "element" and parts[1] == "face":
            return int(parts[2]) > 0
    return False


def reference_is_mesh(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(MESH_SUFFIXES):
        return True
    if name.endswith(".ply"):
        return _ply_has_faces(path)
    raise HullscanError(f"{path}: unknown reference type (expected STL/OBJ/PLY mesh, a hull-cloud PLY, or --mirror)")


def load_reference(path: str | Path, units: str = "auto", *, draft: float | None = None, up: str = "auto",
                   bow: str = "auto") -> Any:
    """A HullMesh (design mesh) or a HullCloud (earlier scan), by content.

    ``draft`` (m, keel to waterline), ``up`` and ``bow`` apply to a mesh (see load_mesh)."""
    p = Path(path)
    if not p.exists():
        raise HullscanError(f"{p}: reference not found")
    if reference_is_mesh(p):
        from hullscan.hull import load_mesh

        return load_mesh(p, units=units, draft=draft, up=up, bow=bow)
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


def run_inspection(cloud: HullCloud | None, reference: Any, out_dir: str | Path, config: CompareConfig,
                   inputs: dict[str, Any], full_config: Any = None, *, prior: NavPrior | None = None,
                   registered: Transform | None = None, registration: dict[str, Any] | None = None,
                   cameras: Any = None, progress: bool = True, reference_name: str = "",
                   upstream: DropLog | None = None) -> Any:
    """Inspect and write the outputs; on error write a partial report, then re-raise.

    ``prior``: the navigation prior as given (searched over its sigma). ``registered``: nav <- hull
    from an earlier registration from that prior (the drift stage's), only checked and refined.
    ``upstream``: the bag's and the reconstruction's drops, carried into findings.json."""
    from hullscan.compare.inspect import Inspection, inspect
    from hullscan.compare.outputs import write_outputs
    from hullscan.compare.prior import REGISTERED_SIGMA, PriorSigma

    try:
        if cloud is None or reference is None:
            raise HullscanError("nothing to compare (cloud or reference missing)")
        hull_to_nav: Transform | None
        sigma: PriorSigma | None
        if registered is not None:
            hull_to_nav, sigma = registered, REGISTERED_SIGMA
        elif prior is not None and reference != "mirror":
            hull_to_nav, sigma = prior.hull_to_nav(getattr(reference, "ref_from_hull", None)), prior.search
        elif prior is not None:  # mirror mode: the prior's frame is the hull frame
            hull_to_nav, sigma = prior.hull_to_nav(None), None
        else:
            hull_to_nav, sigma = None, None
        ins = inspect(cloud, reference, config, hull_to_nav=hull_to_nav, cameras=cameras,
                      progress=progress_printer(progress), sigma=sigma,
                      prior=None if prior is None else prior.as_dict(), registration=registration)
    except HullscanError as err:
        partial = getattr(err, "partial", None)
        if partial is None:
            partial = Inspection(config, "mirror" if reference == "mirror" else "unknown", reference_name,
                                 status="partial", error=str(err), error_type=type(err).__name__)
        if upstream is not None:
            partial.drops.merge(upstream)
        files = write_outputs(partial, out_dir, inputs, full_config or config)
        log.error("partial report written to %s", files["report"])
        raise
    if upstream is not None:
        ins.drops.merge(upstream)
    files = write_outputs(ins, out_dir, inputs, full_config or config)
    if ins.drops.damaged():
        log.warning("PARTIAL: the input was damaged; findings.json lists the time spans lost")
    print(f"[compare] {len(ins.findings)} findings, {coverage_line(ins.coverage)}, alignment "
          f"residual {ins.alignment_residual_m or 0.0:.3f} m -> {files['report']}", file=sys.stderr)
    if ins.status != "complete":
        raise HullscanError(f"{ins.error} (partial report: {files['report']})")
    return ins


def write_failure(err: Exception, out_dir: str | Path, config: CompareConfig, inputs: dict[str, Any],
                  full_config: Any = None, reference_name: str = "") -> Path:
    """A partial report for an error that happened before the comparison could start."""
    from hullscan.compare.inspect import Inspection
    from hullscan.compare.outputs import write_outputs

    ins = Inspection(config, "unknown", reference_name, status="partial", error=str(err),
                     error_type=type(err).__name__)
    files = write_outputs(ins, out_dir, inputs, full_config or config)
    log.error("partial report written to %s", files["report"])
    return files["report"]


def coverage_line(cov: Coverage | None) -> str:
    """'coverage: cleared 4.1 % for 0.1 m compartments (0.2 m: 16 %, 0.3 m: 21 %), seen 25 %'."""
    if cov is None:
        return "coverage not computed"
    from hullscan.compare.analysis import coverage_summary

    return "coverage: " + coverage_summary(cov.as_dict(max_patches=0))
