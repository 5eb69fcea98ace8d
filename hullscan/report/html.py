"""The inspection report: one HTML file, no network, drawings inline as SVG; printed to report.pdf.

Order (the same on screen and on paper): the verdict; the case (vessel, IMO number, case number,
survey times, operator ...); the ship drawn as a ship (both side profiles and the bottom plan, to
scale, with coverage, landmarks and findings); the summary and the high-risk landmarks with their
status; one card per finding a diver can act on; what was not inspected; then an appendix with
alignment, inputs and their SHA-256 (chain of custody), dropped data, configuration and timings.
The 3D view is on screen only.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hullscan.compare.analysis import coverage_summary, not_inspected_why
from hullscan.core.colour import deviation_colours
from hullscan.report.case import CASE_FIELDS
from hullscan.report.drawing import local_map_svg, section_svg, ship_drawing
from hullscan.report.landmarks import Landmark, find_landmarks

F64 = NDArray[np.float64]


def _png(rgb: NDArray[np.uint8]) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _colour(d: F64, scale: float) -> NDArray[np.uint8]:
    return deviation_colours(d, scale)


def _esc(v: Any) -> str:
    return html.escape(str(v))


def _view3d_data(ins: Any, max_points: int = 40000) -> dict[str, Any]:
    cells = ins.cells
    if cells is None:
        return {"p": [], "c": [], "f": []}
    fin = np.isfinite(cells.residual)
    idx = np.flatnonzero(fin)
    if len(idx) > max_points:
        idx = np.random.default_rng(0).choice(idx, max_points, replace=False)
    p = np.round(cells.points[idx], 2)
    c = _colour(cells.residual[idx], 0.2)
    return {"p": p.ravel().tolist(), "c": c.ravel().tolist(),
            "f": [{"id": f.id, "p": [round(v, 2) for v in f.centroid]} for f in ins.findings]}


_JS = """
(function(){
const D=JSON.parse(document.getElementById('view3d-data').textContent);
const cv=document.getElementById('view3d'); if(!cv||!D.p.length) return;
const ctx=cv.getContext('2d'); const n=D.p.length/3;
let cx=0,cy=0,cz=0; for(let i=0;i<n;i++){cx+=D.p[3*i];cy+=D.p[3*i+1];cz+=D.p[3*i+2];} cx/=n;cy/=n;cz/=n;
let R=0; for(let i=0;i<n;i++){R=Math.max(R,Math.hypot(D.p[3*i]-cx,D.p[3*i+1]-cy,D.p[3*i+2]-cz));}
let yaw=-0.6,pitch=0.35,zoom=1; let drag=null;
function draw(){ctx.fillStyle='#111';ctx.fillRect(0,0,cv.width,cv.height);
 const s=zoom*0.48*Math.min(cv.width,cv.height)/R, cyw=Math.cos(yaw),syw=Math.sin(yaw),cp=Math.cos(pitch),sp=Math.sin(pitch);
 const pr=(x,y,z)=>{x-=cx;y-=cy;z-=cz;const X=cyw*x-syw*y, Y=syw*x+cyw*y; const Z=cp*z-sp*Y, d=sp*z+cp*Y; return [cv.width/2+s*X, cv.height/2-s*Z, d];};
 const o=[]; for(let i=0;i<n;i++){const q=pr(D.p[3*i],D.p[3*i+1],D.p[3*i+2]); o.push([q[2],q[0],q[1],i]);}
 o.sort((a,b)=>b[0]-a[0]);
 for(const q of o){const i=q[3]; ctx.fillStyle='rgb('+D.c[3*i]+','+D.c[3*i+1]+','+D.c[3*i+2]+')'; ctx.fillRect(q[1],q[2],2,2);}
 ctx.font='12px sans-serif';
 for(const f of D.f){const q=pr(f.p[0],f.p[1],f.p[2]); ctx.strokeStyle='#ff0';ctx.lineWidth=2;ctx.beginPath();ctx.arc(q[0],q[1],9,0,6.3);ctx.stroke();ctx.fillStyle='#ff0';ctx.fillText(f.id,q[0]+11,q[1]-6);}
}
cv.addEventListener('mousedown',e=>{drag=[e.clientX,e.clientY];});
window.addEventListener('mouseup',()=>{drag=null;});
cv.addEventListener('mousemove',e=>{if(!drag)return; yaw+=(e.clientX-drag[0])*0.01; pitch+=(e.clientY-drag[1])*0.01; drag=[e.clientX,e.clientY]; draw();});
cv.addEventListener('wheel',e=>{e.preventDefault(); zoom*=e.deltaY<0?1.15:1/1.15; draw();},{passive:false});
draw(); document.body.setAttribute('data-view3d','ready');
})();
"""

_CSS = """
body{font-family:"DejaVu Sans",system-ui,sans-serif;margin:1.2em;color:#222;max-width:1300px}
h1{margin:0 0 .2em 0;font-size:1.5em} h2{font-size:1.2em;margin:1.2em 0 .4em} .muted{color:#555;font-size:.9em}
table{border-collapse:collapse;margin:.4em 0} td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;
font-size:13px;vertical-align:top} th{background:#f3f3f3}
.verdict{font-size:1.35em;font-weight:bold;padding:.5em .8em;margin:.4em 0;border-radius:4px;border:3px solid}
.verdict.found{background:#fde0dd;border-color:#c00;color:#7a0000}
.verdict.nothing_found{background:#fff7d6;border-color:#b58900;color:#5c4400}
.verdict.nothing_found.clean{background:#e5f5e0;border-color:#238b45;color:#00441b}
.verdict.failed{background:#eee;border-color:#444;color:#111}
.case td,.case th{font-size:12px} .case{width:100%} .drawing svg{width:100%;height:auto;display:block}
.drawing{max-width:1000px}
.error{background:#fee;border:2px solid #c00;padding:.6em 1em;margin:1em 0}
.finding{border:1px solid #999;border-radius:6px;padding:.6em 1em;margin:1em 0;display:flex;gap:1.2em;
flex-wrap:wrap;break-inside:avoid}
.finding h3{margin:.2em 0} .finding>div{min-width:0} .finding .where{flex:1 1 320px}
.local svg{width:300px;max-width:100%;height:auto}
.cls-high{border-left:10px solid #c00} .cls-medium{border-left:10px solid #e90} .cls-low{border-left:10px solid #6a6}
.crops img{width:220px;max-width:100%;image-rendering:pixelated;border:1px solid #444}
.crops figure.crop{display:inline-block;width:224px;max-width:100%;vertical-align:top;margin:0 6px 6px 0}
.badge{display:inline-block;padding:0 .4em;border-radius:3px;color:#fff;font-size:12px}
.b-high{background:#c00} .b-medium{background:#d97b00} .b-low{background:#4a8a4a}
.st-cleared{color:#1b7837;font-weight:bold} .st-seen{color:#d95f02;font-weight:bold} .st-not{color:#7b3294;font-weight:bold}
pre{white-space:pre-wrap;word-break:break-all;font-size:11px} code{font-size:11px;word-break:break-all}
canvas{max-width:100%}
@media (max-width:700px){body{margin:.5em} td,th{font-size:11px} .verdict{font-size:1.1em}}
@media print{.screen-only{display:none} body{margin:0;max-width:none;font-size:10pt}
 .cards{break-before:page} .appendix{break-before:page} h2{break-after:avoid} td,th{font-size:8.5pt}
 pre{font-size:7pt} .drawing{break-inside:avoid}}
"""


def _print_css(case_number: str) -> str:
    """Page set-up for report.pdf (WeasyPrint reads @page margin boxes; browsers print the rest)."""
    label = json.dumps(f"hullscan inspection - case {case_number}")
    return ("@page{size:A4;margin:18mm 12mm 16mm 12mm;"
            f"@top-left{{content:{label};font-size:8pt;color:#444}}"
            "@top-right{content:'page ' counter(page) ' / ' counter(pages);font-size:8pt;color:#444}"
            "@bottom-center{content:'page ' counter(page) ' of ' counter(pages);font-size:8pt;color:#444}}")


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f} %"


def _status_class(status: str) -> str:
    return {"cleared": "st-cleared", "seen, not cleared": "st-seen"}.get(status, "st-not")


def _case_table(doc: dict[str, Any]) -> str:
    e = _esc
    case = doc.get("case") or {}
    cells = []
    for key, label in CASE_FIELDS:
        v = case.get(key)
        if key == "survey_start" and v and case.get("survey_times_from") == "bag":
            label += " (from the bag)"
        cells.append(f"<th>{e(label)}</th><td data-case='{e(key)}'>{e(v) if v else '<i>not given</i>'}</td>")
    serials = case.get("sensor_serials") or {}
    cells.append("<th>sensor serials</th><td>" + (e(", ".join(f"{k}: {v}" for k, v in serials.items())) if serials
                                                  else "<i>not given</i>") + "</td>")
    rows = ["<tr>" + "".join(cells[i:i + 2]) + "</tr>" for i in range(0, len(cells), 2)]
    return f"<table class='case' id='case'>{''.join(rows)}</table>"


def _along(f: dict[str, Any]) -> str:
    """' +/- 0.31 m' (2 sigma of the survey's placement along the ship there), or '' where unknown."""
    u = f.get("along_uncertainty_m")
    return "" if u is None else f" \u00b1 {u:.2f} m (2\u03c3 of the survey's placement along the ship here)"


def _passes(f: dict[str, Any]) -> str:
    """' from 2 separate passes (10:03:12, 10:05:40 UTC)' / ' from one pass only (...)', or '' where the
    cloud kept no times."""
    n = f.get("passes")
    if n is None:
        return ""
    at = [t[11:19] for t in f.get("passes_at_utc") or [] if len(t) >= 19]
    when = f" ({', '.join(at)} UTC)" if at else ""
    return (" from one pass only" if n == 1 else f" from {n} separate passes") + when


def _unseen_part(f: dict[str, Any]) -> str:
    """' (of which 120 L over a band not seen between its parts, filled from both sides: 90 L seen)', or ''."""
    u = float(f.get("volume_across_unseen_m3") or 0.0)
    if u <= 0:
        return ""
    return (f" (of which {u * 1000:.0f} L over a band the survey did not see between its parts, filled from the "
            f"heights either side: {(f['volume_m3'] - u) * 1000:.0f} L seen)")


def _frames_uncertain(f: dict[str, Any], ins: Any) -> str:
    """' (uncertain by +/- 2 frames)' where the placement along the ship is worse than half a frame
    spacing there, else ''."""
    u = f.get("along_uncertainty_m")
    spacing = getattr(getattr(ins.config, "scoring", None), "frame_spacing_m", None)
    if u is None or not spacing or u < 0.5 * spacing:
        return ""
    k = int(np.ceil(u / spacing - 0.5))
    return f" (uncertain by \u00b1{max(k, 1)} frame{'s' if k > 1 else ''})"


def _finding_card(f: dict[str, Any], ins: Any, doc: dict[str, Any]) -> str:
    e = _esc
    cls = f.get("confidence_class", "low")
    frame = (f"frame {f['frame_number']}{_frames_uncertain(f, ins)}" if f.get("frame_number") is not None
             else "frame not known (no frame spacing)")
    guessed = (doc.get("reference") or {}).get("waterline_guessed")
    near = f.get("nearest_landmark")
    where = [
        ("side", f["side"]), ("region", f["region"].replace("_", " ")),
        ("from the stern", f"{f['distance_from_stern_m']:.2f} m{_along(f)}; {frame}"),
        ("depth", f"{f['depth_m']:.2f} m below the waterline" + (" (waterline guessed)" if guessed else "")),
        ("nearest landmark", near["description"] if near else "no landmark known (reference has no named regions)"),
        ("size", f"{f['volume_m3'] * 1000:.0f} L{_unseen_part(f)}, {f['max_height_m'] * 100:.0f} cm "
                 f"{'proud of' if f['kind'] == 'protrusion' else 'into'} the hull, footprint {f['footprint_m2']:.2f} m²"),
        ("box (m)", f"x {f['bbox_min'][0]:.2f}-{f['bbox_max'][0]:.2f}, y {f['bbox_min'][1]:.2f}-{f['bbox_max'][1]:.2f}, "
                    f"z {f['bbox_min'][2]:.2f}-{f['bbox_max'][2]:.2f}"),
        ("confidence", f"<span class='badge b-{cls}'>{cls}</span> {f['confidence']:.2f} (see the legend)"),
        ("risk", f"{f['risk']:.2f} (0-1: region weight x size x confidence)"),
        ("evidence", f"{f['n_points']} sonar cloud points{_passes(f)}, {len(f.get('camera', []))} camera frames"),
    ]
    if f.get("history"):  # against the vessel's last cleared scan (--vessel)
        where.insert(0, ("history", f["history"]["text"]))
    if f.get("fitting"):  # the ship's declared fittings (--fittings)
        where.insert(0, ("declared fitting", f["fitting"]["text"]))
    table = "".join(f"<tr><th>{e(k)}</th><td>{v if k == 'confidence' else e(v)}</td></tr>" for k, v in where)
    lm = ins.local_maps.get(f["id"])
    local = (f"<div class='local'><b>Local height map</b><br>{local_map_svg(lm[0], lm[1], f['id'])}</div>"
             if lm is not None else "<div class='local'><b>Local height map</b><br><i>not computed</i></div>")
    sec = section_svg(ins, f)
    local += (f"<div class='local'><b>Sonar returns across it</b><br>{sec}</div>" if sec else
              "<div class='local'><b>Sonar returns across it</b><br><i>no cloud points kept</i></div>")
    crops = ins.crops.get(f["id"], [])
    cams = f.get("camera", [])
    crop_html = "".join(
        f"<figure class='crop'><img src='{_png(c)}' alt='camera crop'>"
        f"<figcaption class='muted'>t = {cams[i]['stamp_ns'] * 1e-9:.2f} s, box {cams[i]['box']} px</figcaption></figure>"
        for i, c in enumerate(crops) if i < len(cams))
    frames = getattr(ins, "frames", {}).get(f["id"], [])
    frame_html = "".join(_frame_with_box(img, box, f["id"]) for img, box in frames)
    cam_block = (f"<div class='crops'><b>Camera ({len(cams)} frames saw it; best {len(crops)} shown)</b><br>{frame_html}"
                 f"{crop_html}</div>" if cams else
                 "<div class='crops'><b>Camera</b><br><span class='muted'>no camera frame saw it</span></div>")
    title = f"{f['id']}: {f['kind']} on the {f['side']}, {f['distance_from_stern_m']:.1f} m from the stern"
    hist = f"data-history='{e(f['history']['status'])}' " if f.get("history") else ""
    if f.get("fitting"):
        hist += f"data-fitting='{'explained' if f['fitting']['explained'] else 'beside'}' "
        if f["fitting"]["explained"]:
            title += f" (declared {f['fitting']['kind']} {f['fitting']['id']})"
    return (f"<section class='finding cls-{e(cls)}' id='finding-{e(f['id'])}' {hist}data-finding-id='{e(f['id'])}'>"
            f"<div class='where'><h3>{e(title)}</h3><table>{table}</table></div>{local}{cam_block}</section>")


def _frame_with_box(img: NDArray[np.uint8], box: tuple[int, int, int, int], fid: str, max_w: int = 480) -> str:
    """The whole camera frame, scaled to at most ``max_w`` px, with the finding's box drawn over it."""
    from PIL import Image

    h, w = img.shape[:2]
    k = min(1.0, max_w / w)
    small = np.asarray(Image.fromarray(img).resize((max(1, round(w * k)), max(1, round(h * k))))) if k < 1 else img
    sw, sh = small.shape[1], small.shape[0]
    u0, v0, u1, v1 = (c * k for c in box)
    return (f"<figure class='frame' style='margin:0 0 4px 0'><svg xmlns='http://www.w3.org/2000/svg' "
            f"viewBox='0 0 {sw} {sh}' style='width:{max(sw, 400)}px;max-width:100%;height:auto' "
            f"id='frame-{_esc(fid)}'>"
            f"<image href='{_png(np.ascontiguousarray(small))}' width='{sw}' height='{sh}' "
            "style='image-rendering:pixelated'/>"
            f"<rect x='{u0:.1f}' y='{v0:.1f}' width='{u1 - u0:.1f}' height='{v1 - v0:.1f}' fill='none' stroke='#ff0' "
            f"stroke-width='3'/><rect x='{u0:.1f}' y='{v0:.1f}' width='{u1 - u0:.1f}' height='{v1 - v0:.1f}' "
            "fill='none' stroke='#c00' stroke-width='1.2'/></svg><figcaption class='muted'>whole frame, "
            f"{w} x {h} px, the finding outlined</figcaption></figure>")


def _landmark_table(landmarks: list[Landmark]) -> str:
    if not landmarks:
        return ("<p class='muted' id='landmarks'>No high-risk landmarks known: the reference has no named regions "
                "(a scan or mirror reference). Check sea chests, rudder, propeller, thruster tunnels and bilge "
                "keels by hand.</p>")
    rows = "".join(f"<tr><td>{_esc(lm.name)}</td><td>{lm.bbox_min[0]:.1f}-{lm.bbox_max[0]:.1f}</td>"
                   f"<td>{-lm.bbox_max[2]:.1f}-{-lm.bbox_min[2]:.1f}</td>"
                   f"<td class='{_status_class(lm.status)}'>{_esc(lm.status)}</td><td>{_pct(lm.cleared_fraction)}</td>"
                   f"<td>{_pct(lm.seen_fraction)}</td></tr>" for lm in landmarks)
    return ("<table id='landmarks'><tr><th>landmark</th><th>m from stern</th><th>depth m</th><th>status</th>"
            f"<th>cleared</th><th>seen</th></tr>{rows}</table>")


VIEW3D_SLOT = "{}"


def with_view3d(report: str, ins: Any) -> str:
    """The printed report plus the 3D view's point data (most of the file; print cannot rotate it)."""
    data = json.dumps(_view3d_data(ins)).replace("</", "<\\/")
    slot = f"<script type='application/json' id='view3d-data'>{VIEW3D_SLOT}</script>"
    return report.replace(slot, f"<script type='application/json' id='view3d-data'>{data}</script>", 1)


def render_report(ins: Any, doc: dict[str, Any]) -> str:
    """The whole report as one HTML string, without the 3D view's data (:func:`with_view3d` adds it;
    report.pdf is made from the string as it is)."""
    e = _esc
    case = doc.get("case") or {}
    case_number = case.get("case_number") or "not given"
    verdict = doc.get("verdict") or {"kind": "failed", "text": "inspection failed: no verdict", "exit_code": 1}
    vessel = case.get("vessel_name") or doc["reference"]["name"]
    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>hullscan inspection - {e(vessel)} - case {e(case_number)}</title>"
             f"<style>{_CSS}{_print_css(str(case_number))}</style></head><body>"]
    parts.append(f"<h1>Hull inspection: {e(vessel)}</h1><p class='muted'>case {e(case_number)}; hullscan "
                 f"{e(doc['software']['version'])}; report created {e(doc['created_utc'])} (UTC); findings.json "
                 f"schema {e(doc['schema_version'])}</p>")
    clean = " clean" if verdict.get("exit_code") == 0 else ""
    parts.append(f"<div class='verdict {e(verdict['kind'])}{clean}' id='verdict' data-verdict='{e(verdict['kind'])}' "
                 f"data-exit-code='{e(verdict.get('exit_code'))}'>{e(verdict['text'])}</div>")
    if doc["status"] != "complete":
        err = doc["error"] or {}
        parts.append(f"<div class='error' id='error'><b>Partial report: {e(err.get('type', ''))}</b><br>"
                     f"{e(err.get('message', ''))}<br>Only what could be computed before this error is shown; "
                     "no finding below (if any) can be trusted as complete and nothing here clears the hull.</div>")
    parts.append(_case_table(doc))

    # --- the ship drawn as a ship
    landmarks = find_landmarks(ins)
    parts += _ship_section(ins, doc, landmarks)

    # --- summary, landmarks, legend
    s = doc["summary"]
    cov = doc.get("coverage") or {}
    al = doc.get("alignment") or {}
    parts.append("<h2>Summary</h2><table id='summary'>")
    rows = [("reference", f"{doc['reference']['kind']}: {doc['reference']['name']}"),
            ("findings", f"{s['n_findings']} ({s['n_protrusions']} protrusions, {s['n_recesses']} recesses)"),
            ("coverage", f"{coverage_summary(cov)} of {cov['wetted_area_m2']} m² wetted hull; "
                         f"{cov['not_inspected_area_m2']} m² not inspected" if cov else "not computed: nothing cleared"),
            ("alignment", f"{al.get('method')}, residual {al.get('residual_m')} m, inliers {al.get('inlier_fraction')}"
             if al else "not computed"),
            ("cloud points", doc["cloud"]["n_points"])]
    if doc.get("history"):  # the vessel's last cleared scan (--vessel): what is new since
        rows.insert(2, ("history", doc["history"]["summary"]))
    if doc.get("fittings"):  # the ship's declared fittings (--fittings)
        rows.insert(2, ("declared fittings", doc["fittings"]["summary"]))
    parts.extend(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    parts.append("</table>")
    parts.append("<h2>High-risk landmarks (clear these first)</h2>" + _landmark_table(landmarks))
    rc = (doc.get("method") or {}).get("confidence_classes") or {"high": 0.7, "medium": 0.4}
    parts.append(f"<p id='confidence-legend' class='muted'><b>Confidence</b> (0-1, how sure the sonar data is that "
                 f"the deviation is real): <span class='badge b-high'>high</span> &ge; {rc['high']}, "
                 f"<span class='badge b-medium'>medium</span> {rc['medium']}-{rc['high']}, "
                 f"<span class='badge b-low'>low</span> &lt; {rc['medium']}; a deviation that two separate passes "
                 "saw (evidence: &quot;from 2 separate passes&quot;) loses half its doubt, one seen once keeps it. "
                 "<b>Risk</b> (0-1) ranks findings for the "
                 "dive: the region's weight (sea chest, rudder ... highest) x size x confidence.</p>")
    for note in doc.get("notes", []):
        parts.append(f"<p class='muted'>Note: {e(note)}</p>")

    # --- finding cards
    parts.append(f"<div class='cards'><h2>Findings ({len(doc['findings'])})</h2>")
    if not doc["findings"]:
        if verdict["kind"] == "failed":
            parts.append("<p>None computed: the inspection failed (see the verdict above). This is not a "
                         "clearance.</p>")
        else:
            parts.append(f"<p>None in the surface that was cleared ({_pct(cov.get('cleared_fraction'))} of the wetted "
                         "hull). Everything else is <b>not inspected</b>: see the drawing and the list below.</p>")
    for f in doc["findings"]:
        parts.append(_finding_card(f, ins, doc))
    parts.append("</div>")

    # --- not inspected
    parts += _not_inspected_section(cov, bool(doc["outputs"].get("coverage_ply")))

    # --- 3D view (screen only)
    parts.append("<div class='screen-only'><h2>3D view</h2><p class='muted'>Drag to rotate, wheel to zoom. Colour: "
                 "deviation (red proud, blue recessed).</p><canvas id='view3d' width='1000' height='520'></canvas>")
    parts.append(f"<script type='application/json' id='view3d-data'>{VIEW3D_SLOT}</script></div>")

    # --- appendix
    parts += _appendices(doc, al)
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts)


def _ship_section(ins: Any, doc: dict[str, Any], landmarks: list[Landmark]) -> list[str]:
    """The ship drawing with its key, sized for page 1 in print ('not available' without coverage)."""
    parts: list[str] = []
    svg = ship_drawing(ins, doc, landmarks)
    parts.append("<h2>The ship: where the findings are</h2>")
    if svg:
        # On paper the drawing shares page 1 with the verdict and the case: at most ~165 mm tall, so a
        # short, beamy hull is drawn narrower than the page rather than pushed to page 2.
        m = re.search(r'viewBox="0 0 ([0-9.]+) ([0-9.]+)"', svg)
        aspect = float(m.group(2)) / float(m.group(1)) if m else 0.5
        parts.append(f"<style>@media print{{#ship-drawing{{width:{min(186.0, 165.0 / aspect):.0f}mm}}}}</style>"
                     f"<div class='drawing' id='ship-drawing'>{svg}</div>")
        parts.append("<p class='muted'>To scale, bow to the right. Green: cleared (a compartment of the cleared "
                     "height would have been found); orange: seen, but too uncertain to clear, or beside the design's own "
                     "relief (an anode's top, a keel's or skeg's edge), where a compartment of that height reads as the "
                     "relief, or on a thin appendage (a bilge keel, a propeller blade), where one is not told from the "
                     "plate; grey: not seen. "
                     "Both orange and grey are <b>not inspected</b>. Red rings: findings (cards below). Dashed "
                     "boxes: high-risk landmarks, edged by status.</p>")
    else:
        parts.append("<p>Not available: the comparison did not get as far as coverage.</p>")
    return parts


def _not_inspected_section(cov: dict[str, Any], coverage_ply: bool = False) -> list[str]:
    """The surface not inspected: its area and the largest patches (at most 25), each with why, and
    how to plan a re-dive over it (when ``coverage.ply`` was written)."""
    e = _esc
    parts: list[str] = []
    parts.append("<h2>Not inspected</h2>")
    if cov:
        patches = cov["not_inspected_patches"]
        parts.append(f"<p>{cov['not_inspected_area_m2']} m² of {cov['wetted_area_m2']} m² in "
                     f"{cov['n_not_inspected_patches']} patches is <b>not inspected</b> (not clear); the largest:</p>"
                     "<table><tr><th>id</th><th>area m²</th><th>region</th><th>side</th><th>from stern m</th>"
                     "<th>depth m</th><th>why</th></tr>")
        for p in sorted(patches, key=lambda p: -p["area_m2"])[:25]:
            parts.append(f"<tr id='unseen-{e(p['id'])}'><td>{e(p['id'])}</td><td>{p['area_m2']}</td>"
                         f"<td>{e(p['region'])}</td><td>{e(p['side'])}</td><td>{p['distance_from_stern_m']}</td>"
                         f"<td>{p['depth_m']}</td><td>{e(p.get('reason', 'not seen'))}</td></tr>")
        parts.append("</table>")
        why = not_inspected_why(patches)
        if why:
            # What a dive team can do about it, by why (over the patches listed in findings.json).
            parts.append("<p id='not-inspected-why'>By why, over its patches of 0.1 m² or more: "
                         + "; ".join(f"{v:.1f} m² {e(k)}" for k, v in why) + ".</p>")
        if coverage_ply and cov["not_inspected_area_m2"] > 0:
            parts.append("<p id='re-dive'><code>coverage.ply</code> beside this report maps it sample by sample; "
                         "<code>hullscan plan --reference MESH --draft D --after FOLDER</code> (this report's folder, "
                         "the same mesh and draft) plans the next dive over what a pass can still clear.</p>")
    else:
        parts.append("<p>Not computed: nothing is cleared by this report.</p>")
    return parts


def _appendices(doc: dict[str, Any], al: dict[str, Any]) -> list[str]:
    """Appendices A-E: inputs with their hashes, alignment, dropped data, method and configuration, timings."""
    e = _esc
    parts: list[str] = []
    parts.append("<div class='appendix'><h2>Appendix A: inputs (chain of custody)</h2>"
                 "<table><tr><th>role</th><th>path</th><th>SHA-256</th></tr>")
    for i in doc["inputs"]:
        parts.append(f"<tr><td>{e(i['role'])}</td><td>{e(i['path'])}</td><td><code>{e(i.get('sha256'))}</code>"
                     "</td></tr>")
    parts.append("</table><p class='muted'>This report's own SHA-256 is in <code>report.html.sha256</code> and in "
                 "findings.json (<code>report_sha256</code>).</p>")
    parts.append("<h2>Appendix B: alignment</h2>")
    parts.append(f"<pre>{e(json.dumps(al, indent=1))}</pre>" if al else "<p>Not computed.</p>")
    if doc.get("drops"):
        parts.append("<h2>Appendix C: dropped data</h2><table>" + "".join(
            f"<tr><td>{e(d['where'])}</td><td>{e(d['reason'])}</td><td>{d['count']}</td></tr>" for d in doc["drops"])
            + "</table>")
    parts.append(f"<h2>Appendix D: method and configuration</h2><pre>{e(json.dumps(doc.get('method'), indent=1))}\n"
                 f"{e(json.dumps(doc.get('config'), indent=1))}</pre>")
    parts.append(f"<h2>Appendix E: timings</h2><pre>{e(json.dumps(doc.get('timings_s'), indent=1))}</pre></div>")
    return parts
