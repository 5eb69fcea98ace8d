"""A vessel's inspections as the table ``hullscan history IMO`` prints."""

from __future__ import annotations

from typing import Any

COLUMNS = ("#", "date (UTC)", "port", "operator", "case", "run", "verdict", "cleared", "findings", "since last clean",
           "clean scan")


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f} %"


def _since(i: dict[str, Any]) -> str:
    """new / present counts against the earlier clean scan, or why there are none."""
    if i["history_status"] == "compared":
        new = sum(f["history"] == "new" for f in i["findings"])
        present = sum(f["history"] == "present" for f in i["findings"])
        return f"{new} new, {present} present (vs #{i['compared_with']})"
    return {"skipped": f"skipped (#{i['compared_with']} missing)", "none": "no earlier clean scan"}.get(
        i["history_status"] or "", "-")


def _clean(i: dict[str, Any]) -> str:
    cc = i["clean_cloud"]
    if cc is None:
        return "-"
    return "kept" if cc["on_disk"] else f"MISSING {cc['path']}"


def _row(i: dict[str, Any]) -> tuple[str, ...]:
    verdict = i["verdict_text"] if len(i["verdict_text"]) <= 40 else i["verdict_text"][:39] + "…"
    return (str(i["id"]), i["time_utc"][:16].replace("T", " "), i["port"] or "-", i["operator"] or "-",
            i["case_number"] or "-", i["command"], verdict, _pct(i["cleared_fraction"]), str(i["n_findings"]),
            _since(i), _clean(i))


def render_table(vessel: dict[str, Any], database: str) -> str:
    """The vessel's heading line and one row per inspection, oldest first, columns aligned."""
    head = (f"vessel IMO {vessel['imo']}" + (f"  {vessel['name']}" if vessel["name"] else "")
            + (f"  flag {vessel['flag']}" if vessel["flag"] else "")
            + f"  hull reference: {vessel['hull_reference'] or 'not given'}  ({database})")
    rows = [COLUMNS, *(_row(i) for i in vessel["inspections"])]
    widths = [max(len(r[c]) for r in rows) for c in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    n = len(vessel["inspections"])
    return "\n".join([head, *lines, f"{n} inspection{'s' * (n != 1)}"])
