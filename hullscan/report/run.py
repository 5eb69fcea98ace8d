"""Inspect a cloud against its reference and write the outputs, partial ones on failure.

An inspection that fails still leaves a report saying why (and what it got to), so an
analyst never finds an empty folder.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from hullscan.compare.config import CompareConfig
from hullscan.compare.inspect import Inspection
from hullscan.compare.live import LIVE_NOTE
from hullscan.compare.loading import coverage_line, diver_line, seen_not_cleared_line
from hullscan.errors import HullscanError
from hullscan.report.outputs import write_outputs

log = logging.getLogger("hullscan.compare")


def report_inspection(ins: Inspection, out_dir: str | Path, inputs: dict[str, Any], full_config: Any) -> None:
    """Write the outputs of an inspection, complete or partial; raise its error after a partial one.

    A comparison that failed (``ins.failure``) re-raises that error once the partial report is
    written; one that ran but could not judge everything (``status`` not complete) raises a
    HullscanError naming the report."""
    files = write_outputs(ins, out_dir, inputs, full_config)
    if ins.failure is not None:
        log.error("partial report written to %s", files["report"])
        raise ins.failure
    if ins.drops.damaged():
        log.warning("PARTIAL: the input was damaged; findings.json lists the time spans lost")
    print(f"[compare] {len(ins.findings)} findings, {coverage_line(ins.coverage)}, alignment "
          f"residual {ins.alignment_residual_m or 0.0:.3f} m -> {files['report']}", file=sys.stderr)
    for line in (seen_not_cleared_line(ins.coverage), diver_line(ins.coverage)):
        if line is not None:
            print(f"[compare] {line}", file=sys.stderr)
    if ins.status != "complete":
        raise HullscanError(f"{ins.error} (partial report: {files['report']})")


def write_failure(err: Exception, out_dir: str | Path, config: CompareConfig, inputs: dict[str, Any],
                  full_config: Any = None, reference_name: str = "") -> Path:
    """A partial report for an error that happened before the comparison could start."""
    ins = Inspection(config, "unknown", reference_name, status="partial", error=str(err),
                     error_type=type(err).__name__)
    files = write_outputs(ins, out_dir, inputs, full_config or config)
    log.error("partial report written to %s", files["report"])
    return files["report"]


def save_live_report(inspection: Inspection | None, out_dir: str | Path, reference_spec: str,
                     config: CompareConfig, note: str = LIVE_NOTE) -> Path:
    """findings.json, report.html and deviation.ply of the live comparator's last successful
    inspection in ``out_dir`` (the ``~/save_report`` service), with ``note`` (:func:`hullscan.compare.live.live_note`)."""
    if inspection is None:
        raise HullscanError("no inspection yet (no hull map received)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # One live note: the last one said is this report's (a report saved again after the end says so).
    inspection.notes[:] = [n for n in inspection.notes if not n.startswith("live inspection of the mapper's")]
    inspection.notes.append(note)
    write_outputs(inspection, out, {"source": "live", "reference": reference_spec}, config)
    return out
