"""Loading references, clouds and priors for the commands, and running one inspection to disk."""

from __future__ import annotations

import gzip
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hullscan.compare.config import CompareConfig
from hullscan.errors import HullscanError
from hullscan.model import HullCloud, Transform

if TYPE_CHECKING:
    from hullscan.compare.analysis import Coverage

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


def load_reference(path: str | Path, units: str = "auto", draft: float | None = None) -> Any:
    """A HullMesh (design mesh) or a HullCloud (earlier scan), by content; ``draft`` (m above the
    keel, from the draft marks) places a mesh's waterline."""
    p = Path(path)
    if not p.exists():
        raise HullscanError(f"{p}: reference not found")
    if reference_is_mesh(p):
        from hullscan.hull import load_mesh

        return load_mesh(p, units=units, draft=draft)
    from hullscan.cloud_io import load_cloud

    return load_cloud(p)


def load_prior(path: str | Path | None) -> Transform | None:
    """Navigation prior ``hull_to_nav`` (nav <- hull) from JSON: {translation, rotation (xyzw)},
    or a file with such an object under ``hull_to_nav`` (e.g. the simulator's truth.json)."""
    if path is None:
        return None
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as err:
        raise HullscanError(f"{p}: cannot read navigation prior: {err}") from err
    data = data.get("hull_to_nav", data)
    try:
        return Transform(data["rotation"], data["translation"])
    except (KeyError, ValueError, TypeError) as err:
        raise HullscanError(f"{p}: expected hull_to_nav {{translation: [x,y,z], rotation: [x,y,z,w]}}") from err


def progress_printer(enabled: bool = True) -> Any:
    if not enabled:
        return None

    def show(stage: str) -> None:
        print(f"[compare] {stage.replace('_', ' ')} ...", file=sys.stderr, flush=True)

    return show


def run_inspection(cloud: HullCloud | None, reference: Any, out_dir: str | Path, config: CompareConfig,
                   inputs: dict[str, Any], full_config: Any = None, *, hull_to_nav: Transform | None = None,
                   cameras: Any = None, progress: bool = True, reference_name: str = "") -> Any:
    """Inspect and write the outputs; on error write a partial report, then re-raise."""
    from hullscan.compare.inspect import Inspection, inspect
    from hullscan.compare.outputs import write_outputs

    try:
        if cloud is None or reference is None:
            raise HullscanError("nothing to compare (cloud or reference missing)")
        ins = inspect(cloud, reference, config, hull_to_nav=hull_to_nav, cameras=cameras,
                      progress=progress_printer(progress))
    except HullscanError as err:
        partial = getattr(err, "partial", None)
        if partial is None:
            partial = Inspection(config, "mirror" if reference == "mirror" else "unknown", reference_name,
                                 status="partial", error=str(err), error_type=type(err).__name__)
        files = write_outputs(partial, out_dir, inputs, full_config or config)
        log.error("partial report written to %s", files["report"])
        raise
    files = write_outputs(ins, out_dir, inputs, full_config or config)
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
