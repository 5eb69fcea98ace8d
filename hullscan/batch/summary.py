"""The batch's summary table: ``summary.csv`` for scripts and spreadsheets, ``summary.html`` for people.

One row per survey, in the order given, whether it ran now, was done by an earlier run (resumed)
or failed: bag, verdict, findings count, cleared coverage, seen fraction, wall time and error.
Both files are rewritten atomically after every survey, so a batch stopped half-way has a true one.
"""

from __future__ import annotations

import csv
import html
import io
import os
from collections.abc import Sequence
from pathlib import Path

from hullscan.batch.jobs import SurveyJob, SurveyResult
from hullscan.outdir import write_text_atomic

COLUMNS = ("survey", "bag", "status", "verdict", "exit_code", "findings", "cleared_fraction", "seen_fraction",
           "wall_s", "error", "output")


def _status(row: SurveyResult | None) -> str:
    if row is None:
        return "pending"
    if row.kind == "failed":
        return "failed"
    return "done earlier" if row.skipped else "done"


def _cells(job: SurveyJob, row: SurveyResult | None, out_dir: Path) -> dict[str, str]:
    def num(v: float | None, fmt: str) -> str:
        return "" if v is None else format(v, fmt)

    rel = os.path.relpath(job.out, out_dir)
    if row is None:
        return {"survey": job.name, "bag": job.bag, "status": "pending", "verdict": "", "exit_code": "",
                "findings": "", "cleared_fraction": "", "seen_fraction": "", "wall_s": "", "error": "", "output": rel}
    return {"survey": job.name, "bag": job.bag, "status": _status(row), "verdict": row.verdict,
            "exit_code": str(row.exit_code), "findings": "" if row.n_findings is None else str(row.n_findings),
            "cleared_fraction": num(row.cleared_fraction, ".4f"), "seen_fraction": num(row.seen_fraction, ".4f"),
            "wall_s": num(row.wall_s, ".1f"), "error": (row.error or "").replace("\n", " "), "output": rel}


def summary_csv(jobs: Sequence[SurveyJob], rows: dict[str, SurveyResult], out_dir: Path) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for job in jobs:
        w.writerow(_cells(job, rows.get(job.name), out_dir))
    return buf.getvalue()


_CSS = """body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}
td,th{border:1px solid #bbb;padding:.25em .5em;text-align:left;vertical-align:top}
tr.found td{background:#fde0dc}tr.failed td{background:#eee;color:#700}tr.nothing_found td{background:#e3f4e1}
td.n{text-align:right}"""


def summary_html(jobs: Sequence[SurveyJob], rows: dict[str, SurveyResult], out_dir: Path, title: str) -> str:
    counts = {k: sum(1 for r in rows.values() if r.kind == k) for k in ("found", "nothing_found", "failed")}
    pending = len(jobs) - len(rows)
    head = (f"{len(jobs)} surveys: {counts['found']} with compartments found, {counts['nothing_found']} nothing "
            f"found, {counts['failed']} failed" + (f", {pending} not finished" if pending else ""))
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
           f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1><p>{html.escape(head)}</p><table>",
           "<tr>" + "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in COLUMNS) + "</tr>"]
    numeric = {"exit_code", "findings", "cleared_fraction", "seen_fraction", "wall_s"}
    for job in jobs:
        row = rows.get(job.name)
        cells = _cells(job, row, out_dir)
        kind = "pending" if row is None else row.kind
        tds = []
        for c in COLUMNS:
            text = html.escape(cells[c])
            if c == "output" and row is not None and (Path(job.out) / "report.html").is_file():
                text = f"<a href='{html.escape(cells[c])}/report.html'>{text}</a>"
            tds.append(f"<td class='n'>{text}</td>" if c in numeric else f"<td>{text}</td>")
        out.append(f"<tr class='{kind}'>" + "".join(tds) + "</tr>")
    out.append("</table></body></html>\n")
    return "\n".join(out)


def write_summary(jobs: Sequence[SurveyJob], rows: dict[str, SurveyResult], out_dir: str | Path,
                  title: str = "hullscan batch") -> tuple[Path, Path]:
    """Write (atomically) ``summary.csv`` and ``summary.html`` into ``out_dir``."""
    d = Path(out_dir)
    return (write_text_atomic(d / "summary.csv", summary_csv(jobs, rows, d)),
            write_text_atomic(d / "summary.html", summary_html(jobs, rows, d, title)))
