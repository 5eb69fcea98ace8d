"""The inspection report: one HTML file, no network, images inline.

Sections: summary (and the error, for a partial report), the unrolled hull map (length against
girth) with findings and unseen areas, a 3D view (canvas, plain JS), one card per finding
(location, size, local deviation map, camera crops), coverage, alignment, inputs with SHA-256.
"""

from __future__ import annotations

import base64
import html
import io
import json
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from hullscan.compare.analysis import coverage_summary

F64 = NDArray[np.float64]


def _png(rgb: NDArray[np.uint8]) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _colour(d: F64, scale: float) -> NDArray[np.uint8]:
    from hullscan.compare.outputs import deviation_colours

    return deviation_colours(d, scale)


def girth_coords(samples: F64, query: F64) -> tuple[F64, F64]:
    """(x, girth) of ``query``: girth is arc length round the section from the keel, port positive."""
    if not len(samples) or not len(query):
        return np.zeros(len(query)), np.zeros(len(query))
    x0, x1 = float(samples[:, 0].min()), float(samples[:, 0].max())
    w = max(0.25, (x1 - x0) / 200)
    nb = max(1, int(np.ceil((x1 - x0) / w)) + 1)
    s_bin = np.clip(((samples[:, 0] - x0) / w).astype(int), 0, nb - 1)
    q_bin = np.clip(((query[:, 0] - x0) / w).astype(int), 0, nb - 1)
    th_edges = np.deg2rad(np.arange(-120, 121, 3))
    th_c = 0.5 * (th_edges[1:] + th_edges[:-1])
    girth = np.zeros(len(query))
    top = float(np.percentile(samples[:, 2], 99))
    for b in np.unique(q_bin):
        s = samples[s_bin == b]
        if len(s) < 5:
            s = samples[np.abs(samples[:, 0] - (x0 + (b + 0.5) * w)) < 3 * w]
            if len(s) < 5:
                continue
        th = np.arctan2(s[:, 1], -(s[:, 2] - top))
        r = np.hypot(s[:, 1], s[:, 2] - top)
        idx = np.clip(np.digitize(th, th_edges) - 1, 0, len(th_c) - 1)
        cnt = np.bincount(idx, minlength=len(th_c))
        rr = np.bincount(idx, weights=r, minlength=len(th_c)) / np.maximum(cnt, 1)
        ok = cnt > 0
        rr = np.interp(th_c, th_c[ok], rr[ok])
        px, pz = rr * np.sin(th_c), -rr * np.cos(th_c)
        seg = np.hypot(np.diff(px), np.diff(pz))
        g = np.concatenate([[0.0], np.cumsum(seg)])
        g -= np.interp(0.0, th_c, g)
        qm = q_bin == b
        qth = np.arctan2(query[qm, 1], -(query[qm, 2] - top))
        girth[qm] = np.interp(qth, th_c, g)
    return query[:, 0].copy(), girth


def _hull_map(ins: Any) -> tuple[str, list[dict[str, Any]], dict[str, float]]:
    """Raster of deviation over (x, girth) plus marker positions for findings and unseen patches."""
    cells, cov = ins.cells, ins.coverage
    if cells is None or cov is None or not len(cov.samples):
        return "", [], {}
    samples = cov.samples
    cx, cg = girth_coords(samples, cells.points)
    sx, sg = girth_coords(samples, samples)
    allx, allg = np.concatenate([sx, cx]), np.concatenate([sg, cg])
    x0, x1 = float(allx.min()), float(allx.max())
    g0, g1 = float(allg.min()), float(allg.max())
    res = max((x1 - x0) / 1000, (g1 - g0) / 400, 0.03)
    wpx, hpx = int((x1 - x0) / res) + 1, int((g1 - g0) / res) + 1
    img = np.full((hpx, wpx, 3), 40, np.uint8)
    # Reference surface: light grey where cleared, mid grey where seen but too uncertain to clear,
    # dark grey where not seen (both not inspected).
    shade = np.where(cov.seen, 200, np.where(cov.seen_any if cov.seen_any is not None else cov.seen, 150, 95))
    si = ((sx - x0) / res).astype(int)
    sj = ((g1 - sg) / res).astype(int)
    rad = max(1, int(np.sqrt(cov.sample_area) / res / 2 + 0.5))
    for dy in range(-rad, rad + 1):
        for dx in range(-rad, rad + 1):
            ii, jj = np.clip(si + dx, 0, wpx - 1), np.clip(sj + dy, 0, hpx - 1)
            img[jj, ii] = shade[:, None].astype(np.uint8)
    fin = np.isfinite(cells.residual)
    ci = ((cx[fin] - x0) / res).astype(int)
    cj = ((g1 - cg[fin]) / res).astype(int)
    col = _colour(cells.residual[fin], 0.2)
    # Deviation over surface that is not cleared is drawn darker: seen, but not inspected.
    nearest = cKDTree(samples).query(cells.points[fin], k=1)[1]
    col = np.where(cov.seen[nearest][:, None], col, (col * 0.55).astype(np.uint8))
    img[cj, ci] = col
    markers = []
    for f in ins.findings:
        fx, fg = girth_coords(samples, np.array([f.centroid]))
        markers.append({"id": f.id, "kind": "finding", "x": float((fx[0] - x0) / res), "y": float((g1 - fg[0]) / res)})
    for p in cov.patches[:50]:
        px, pg = girth_coords(samples, np.array([p["centroid"]]))
        markers.append({"id": p["id"], "kind": "unseen", "x": float((px[0] - x0) / res),
                        "y": float((g1 - pg[0]) / res)})
    return _png(img), markers, {"x0": x0, "x1": x1, "g0": g0, "g1": g1, "w": wpx, "h": hpx}


def _local_map(raster: F64) -> str:
    r = np.asarray(raster, dtype=float)
    rgb = _colour(r.ravel(), max(0.05, float(np.nanmax(r)) if np.isfinite(r).any() else 0.1))
    img = rgb.reshape(r.shape[0], r.shape[1], 3).transpose(1, 0, 2)[::-1]
    scale = max(1, 160 // max(img.shape[:2]))
    img = np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)
    return _png(np.ascontiguousarray(img))


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
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1300px}
h1{margin-bottom:0} .muted{color:#666} table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;font-size:13px}
.error{background:#fee;border:2px solid #c00;padding:.6em 1em;margin:1em 0}
.finding{border:1px solid #999;border-radius:6px;padding:.6em 1em;margin:1em 0;display:flex;gap:1.5em;flex-wrap:wrap}
.finding h3{margin:.2em 0} .risk-high{border-left:8px solid #c00} .risk-mid{border-left:8px solid #e90}
.risk-low{border-left:8px solid #6a6} .map{position:relative;display:inline-block}
.map img{image-rendering:pixelated;max-width:100%;border:1px solid #444}
.crops img{max-height:160px;margin-right:4px;border:1px solid #444} code{font-size:12px}
"""


def render_report(ins: Any, doc: dict[str, Any]) -> str:
    """The whole report as one HTML string."""
    e = _esc
    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
             f"<title>hullscan inspection - {e(doc['reference']['name'])}</title><style>{_CSS}</style></head><body>"]
    s = doc["summary"]
    parts.append(f"<h1>Hull inspection report</h1><p class='muted'>hullscan {e(doc['software']['version'])}, "
                 f"{e(doc['created_utc'])}, schema {e(doc['schema'])} {e(doc['schema_version'])}</p>")
    if doc["status"] != "complete":
        err = doc["error"] or {}
        parts.append(f"<div class='error' id='error'><b>Partial report: {e(err.get('type', ''))}</b><br>"
                     f"{e(err.get('message', ''))}<br>Only what could be computed before this error is shown; "
                     "no finding below (if any) can be trusted as complete and nothing here clears the hull.</div>")
    cov = doc.get("coverage") or {}
    al = doc.get("alignment") or {}
    parts.append("<h2>Summary</h2><table>")
    for k, v in (("reference", f"{doc['reference']['kind']}: {doc['reference']['name']}"),
                 ("findings", f"{s['n_findings']} ({s['n_protrusions']} protrusions, {s['n_recesses']} recesses)"),
                 ("highest risk", s["max_risk"]),
                 ("coverage", f"{coverage_summary(cov)} of {cov['inspected_area_m2']} m²" if cov else "n/a"),
                 ("alignment", f"{al.get('method')} - residual {al.get('residual_m')} m, inliers "
                               f"{al.get('inlier_fraction')}" if al else "n/a"),
                 ("cloud points", doc["cloud"]["n_points"])):
        parts.append(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>")
    parts.append("</table>")
    for note in doc.get("notes", []):
        parts.append(f"<p class='muted'>Note: {e(note)}</p>")

    # --- unrolled hull map
    img, markers, geo = _hull_map(ins)
    parts.append("<h2>Unrolled hull map (length against girth)</h2>")
    if img:
        parts.append(f"<p class='muted'>x from {geo['x0']:.1f} to {geo['x1']:.1f} m (stern left, bow right); "
                     f"girth {geo['g0']:.1f} (starboard, bottom) to {geo['g1']:.1f} m (port, top). Red: proud "
                     "of the reference, blue: recessed, drawn darker where the surface is not cleared; light grey: "
                     "cleared, mid grey: seen but too uncertain to clear (not inspected), dark grey: not seen (not "
                     "inspected)."
                     "</p>")
        svg = [f"<svg width='{geo['w']}' height='{geo['h']}' style='position:absolute;left:0;top:0;max-width:100%'"
               f" viewBox='0 0 {geo['w']} {geo['h']}'>"]
        for m in markers:
            colour = "#ff0" if m["kind"] == "finding" else "#0cf"
            href = f"#finding-{m['id']}" if m["kind"] == "finding" else f"#unseen-{m['id']}"
            svg.append(f"<a href='{href}'><circle cx='{m['x']:.1f}' cy='{m['y']:.1f}' r='8' fill='none' "
                       f"stroke='{colour}' stroke-width='2'/><text x='{m['x'] + 10:.1f}' y='{m['y'] - 6:.1f}' "
                       f"fill='{colour}' font-size='12'>{e(m['id'])}</text></a>")
        svg.append("</svg>")
        parts.append(f"<div class='map' id='hull-map'><img src='{img}' width='{geo['w']}' height='{geo['h']}' "
                     f"alt='unrolled hull deviation map'>{''.join(svg)}</div>")
    else:
        parts.append("<p>Not available (the comparison did not get that far).</p>")

    # --- 3D view
    parts.append("<h2>3D view</h2><p class='muted'>Drag to rotate, wheel to zoom. Colour: deviation.</p>"
                 "<canvas id='view3d' width='1000' height='520'></canvas>")
    data = json.dumps(_view3d_data(ins)).replace("</", "<\\/")
    parts.append(f"<script type='application/json' id='view3d-data'>{data}</script>")

    # --- finding cards
    parts.append(f"<h2>Findings ({len(doc['findings'])})</h2>")
    if not doc["findings"]:
        parts.append("<p>No findings." + (" Areas not inspected are listed under coverage; they are not clear."
                                          if cov else "") + "</p>")
    for f in doc["findings"]:
        risk = f["risk"]
        cls = "risk-high" if risk >= 0.6 else ("risk-mid" if risk >= 0.35 else "risk-low")
        frame = f"frame {f['frame_number']}, " if f.get("frame_number") is not None else ""
        rows = [("kind", f["kind"]), ("region", f["region"]), ("side", f["side"]),
                ("location", f"{frame}{f['distance_from_stern_m']:.2f} m from stern, {f['depth_m']:.2f} m below "
                             "waterline"),
                ("centroid (m)", ", ".join(f"{v:.3f}" for v in f["centroid"])),
                ("volume", f"{f['volume_m3']:.4f} m³"), ("max height", f"{f['max_height_m']:.3f} m"),
                ("footprint", f"{f['footprint_m2']:.3f} m²"),
                ("bbox (m)", f"{[round(v, 2) for v in f['bbox_min']]} - {[round(v, 2) for v in f['bbox_max']]}"),
                ("confidence", f["confidence"]), ("risk", risk), ("cloud points", f["n_points"])]
        table = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
        lm = ins.local_maps.get(f["id"])
        local = (f"<div><b>Local deviation map</b><br><img src='{_local_map(lm[0])}' alt='local deviation'>"
                 f"<br><span class='muted'>{lm[1][1] - lm[1][0]:.2f} x {lm[1][3] - lm[1][2]:.2f} m</span></div>"
                 if lm is not None else "")
        crops = ins.crops.get(f["id"], [])
        cams = f.get("camera", [])
        crop_html = "".join(f"<img src='{_png(c)}' alt='camera crop' title='t={cams[i]['stamp_ns'] * 1e-9:.2f} s'>"
                            for i, c in enumerate(crops) if i < len(cams))
        cam_block = (f"<div class='crops'><b>Camera ({len(cams)} frames)</b><br>{crop_html}</div>" if cams else
                     "<div class='crops'><b>Camera</b><br><span class='muted'>no camera frame saw it</span></div>")
        parts.append(f"<section class='finding {cls}' id='finding-{e(f['id'])}' data-finding-id='{e(f['id'])}'>"
                     f"<div><h3>{e(f['id'])}: {e(f['kind'])} in {e(f['region'])} ({e(f['side'])})</h3>"
                     f"<table>{table}</table></div>{local}{cam_block}</section>")

    # --- coverage
    parts.append("<h2>Coverage</h2>")
    if cov:
        h = cov.get("clear_height_m")
        how = (f" (a compartment {h:g} m high would have stood out of the noise there; "
               f"{100 * cov.get('seen_fraction', cov['fraction']):.1f} % was seen at all)" if h else "")
        parts.append(f"<p>{100 * cov['fraction']:.1f} % of {cov['inspected_area_m2']} m² of reference surface "
                     f"was seen well enough to clear it{how}; {cov['unseen_area_m2']} m² in "
                     f"{cov['n_unseen_patches']} patches was <b>not inspected</b> (not clear).</p>"
                     "<table><tr><th>id</th><th>area m²</th>"
                     "<th>region</th><th>side</th><th>from stern m</th><th>depth m</th><th>why</th></tr>")
        for p in cov["unseen_patches"]:
            parts.append(f"<tr id='unseen-{e(p['id'])}'><td>{e(p['id'])}</td><td>{p['area_m2']}</td>"
                         f"<td>{e(p['region'])}</td><td>{e(p['side'])}</td><td>{p['distance_from_stern_m']}</td>"
                         f"<td>{p['depth_m']}</td><td>{e(p.get('reason', 'not seen'))}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>Not computed: nothing is cleared by this report.</p>")

    # --- alignment, inputs, config
    parts.append("<h2>Alignment</h2>")
    parts.append(f"<pre>{e(json.dumps(al, indent=1))}</pre>" if al else "<p>Not computed.</p>")
    parts.append("<h2>Inputs (chain of custody)</h2><table><tr><th>role</th><th>path</th><th>SHA-256</th></tr>")
    for i in doc["inputs"]:
        parts.append(f"<tr><td>{e(i['role'])}</td><td>{e(i['path'])}</td><td><code>{e(i.get('sha256'))}</code>"
                     "</td></tr>")
    parts.append("</table>")
    if doc.get("drops"):
        parts.append("<h2>Dropped data</h2><table>" + "".join(
            f"<tr><td>{e(d['where'])}</td><td>{e(d['reason'])}</td><td>{d['count']}</td></tr>" for d in doc["drops"])
            + "</table>")
    parts.append(f"<h2>Configuration</h2><pre>{e(json.dumps(doc.get('config'), indent=1))}</pre>")
    parts.append(f"<h2>Timings</h2><pre>{e(json.dumps(doc.get('timings_s'), indent=1))}</pre>")
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts)
