"""The verdict: the one line a report and the CLI lead with, and the exit status that goes with it.

Exit status of ``compare`` and ``replay`` (documented in their ``--help`` and in docs/report.md):

* 0 ``nothing found`` and at least ``report.clear_floor`` of the wetted hull cleared;
* 3 ``compartments found (N)``;
* 4 ``nothing found in the cleared X %``, but less than the floor cleared: not a clean hull;
* 1 ``inspection failed``: an error; a partial report is still written.

A run that could not judge what it surveyed (mirror mode on an asymmetric survey, a partial run)
therefore never exits 0 and never reads "no findings".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from hullscan.report.config import ReportConfig

EXIT_CLEAN = 0
EXIT_FAILED = 1
EXIT_FOUND = 3
EXIT_NOT_ENOUGH_CLEARED = 4

VerdictKind = Literal["found", "nothing_found", "failed"]


@dataclass(frozen=True)
class Verdict:
    kind: VerdictKind
    text: str
    exit_code: int
    cleared_fraction: float | None = None
    clear_height_m: float | None = None

    def as_dict(self) -> dict[str, Any]:
        # Rounded as the coverage block rounds it: one figure in one document.
        cleared = None if self.cleared_fraction is None else round(self.cleared_fraction, 4)
        return {"kind": self.kind, "text": self.text, "exit_code": self.exit_code,
                "cleared_fraction": cleared, "clear_height_m": self.clear_height_m}


def _pct(f: float) -> str:
    # 99.96 % must not print as "100 %": a hull is only all cleared when it is.
    v = 100.0 * f
    return f"{v:.1f}" if v < 99.95 or f >= 1.0 else "99.9"


def verdict_for(status: str, error: str | None, n_findings: int, cleared_fraction: float | None,
                clear_height_m: float | None, config: ReportConfig | None = None, n_fittings: int = 0) -> Verdict:
    """The verdict from what an inspection produced (an Inspection's or a findings.json's fields).

    ``n_findings``: the findings no declared fitting explains; ``n_fittings``: those one does
    (``--fittings``: the ship's anodes, not compartments; the verdict names them, not counts them)."""
    cfg = config or ReportConfig()
    one = n_fittings == 1
    also = f"; {n_fittings} more {'matches a declared fitting' if one else 'match declared fittings'}" if n_fittings else ""
    fits = (f"; {n_fittings} {'finding matches a declared fitting' if one else 'findings match declared fittings'} "
            "(check their images)" if n_fittings else "")
    if status != "complete":
        extra = f" ({n_findings} possible compartments in the part computed)" if n_findings else ""
        return Verdict("failed", f"inspection failed: {error or 'incomplete'}{extra}", EXIT_FAILED,
                       cleared_fraction, clear_height_m)
    if n_findings:
        return Verdict("found", f"compartments found ({n_findings}){also}", EXIT_FOUND, cleared_fraction,
                       clear_height_m)
    if cleared_fraction is None:
        return Verdict("failed", "inspection failed: coverage was not computed, so nothing is cleared",
                       EXIT_FAILED, None, clear_height_m)
    h = f" (for {100 * clear_height_m:g} cm compartments)" if clear_height_m else ""
    text = (f"nothing found in the cleared {_pct(cleared_fraction)} %{h}; "
            f"{_pct(1.0 - cleared_fraction)} % not inspected{fits}")
    code = EXIT_CLEAN if cleared_fraction >= cfg.clear_floor else EXIT_NOT_ENOUGH_CLEARED
    return Verdict("nothing_found", text, code, cleared_fraction, clear_height_m)


def inspection_verdict(ins: Any, config: ReportConfig | None = None) -> Verdict:
    """The verdict of an :class:`~hullscan.compare.inspect.Inspection`."""
    from hullscan.compare.fittings import unexplained

    cov = ins.coverage
    n = unexplained(ins.findings)
    return verdict_for(ins.status, ins.error, n, None if cov is None else cov.fraction,
                       None if cov is None else (cov.clear_height or None), config, len(ins.findings) - n)


def print_verdict(verdict: Verdict) -> int:
    """The CLI's last line, on stdout: ``verdict: ...``; returns the exit status that goes with it."""
    print(f"verdict: {verdict.text}", flush=True)
    return verdict.exit_code


def failed(err: Exception) -> int:
    """An error ended the run: logged as one line, then the verdict line; exit status 1."""
    import logging

    logging.getLogger("hullscan").error("%s", err)
    return print_verdict(Verdict("failed", f"inspection failed: {err}", EXIT_FAILED))
