"""The ship drawn as a ship: both side profiles and the bottom plan, to scale, as inline SVG.

Drawn with matplotlib (vector output, text kept as text so it stays searchable and sharp from a
640 px window to print). On each view: the hull outline, waterline and keel, axes in metres from
the stern (frame numbers on top when the frame spacing is known), coverage shaded in three classes,
the high-risk landmarks with their status, and the findings. SVG element ids a test or a reader can
find: ``view-port``/``view-starboard``/``view-bottom`` (axes), ``hull-outline-<view>``,
``waterline-<view>``, ``keel-<view>``, ``finding-marker-<id>``.

Coordinates come from the Inspection's fields (coverage samples, Finding centroids) in the reference
frame, so a change of user-visible frame is made in one place upstream.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hullscan.core.colour import DEVIATION_SPAN_M, deviation_colours
from hullscan.report.landmarks import Landmark, sample_status

F64 = NDArray[np.float64]
VIEWS = ("port", "starboard", "bottom")
# Coverage classes: cleared, seen but not cleared, not seen (colour-blind safe, prints in grey).
COVERAGE_COLOURS = {2: "#4daf4a", 1: "#fdbf6f", 0: "#bdbdbd"}
COVERAGE_LABELS = {2: "cleared", 1: "seen, not cleared", 0: "not seen"}
STATUS_EDGE = {"cleared": "#1b7837", "seen, not cleared": "#d95f02", "not seen": "#7b3294"}
FINDING_COLOUR = "#d7191c"
# Labels sit on a pale box so that one crossing another, or the shading, stays legible.
_LABEL_BOX = {"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 0.6}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display; the report is written on servers and in CI
    import matplotlib.pyplot as plt

    return plt


def _svg(fig: Any) -> str:
    plt = _pyplot()
    buf = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "hullscan"}):
        fig.savefig(buf, format="svg")
    plt.close(fig)
    s = buf.getvalue()
    s = s[s.index("<svg"):]
    # Scale with the page: drop the fixed size, keep the viewBox (markers stay on their targets).
    s = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1 width="100%"', s, count=1)
    return s


def view_of(points: F64, normals: F64 | None) -> NDArray[np.str_]:
    """Which drawing shows each reference point: 'bottom' where the surface faces down, else the side."""
    y = points[:, 1]
    side = np.where(y >= 0, "port", "starboard")
    if normals is None or len(normals) != len(points):
        return side.astype(str)
    return np.where(normals[:, 2] < -0.7, "bottom", side).astype(str)


def _normals(ins: Any) -> F64 | None:
    ref, cov = ins.reference, ins.coverage
    n = getattr(ref, "sample_normals", None)
    # The coverage samples are the reference's own samples (mesh and scan references); the normals
    # belong to them only then.
    if n is not None and len(n) == len(cov.samples) and np.array_equal(ref.samples, cov.samples):
        return np.asarray(n, float)
    return None


def _binned(x: F64, v: F64, edges: F64, fn: Any, fill: float) -> F64:
    """fn (np.minimum / np.maximum) of v per x bin; empty bins interpolated from their neighbours."""
    out = np.full(len(edges) - 1, np.nan)
    b = np.clip(np.digitize(x, edges) - 1, 0, len(out) - 1)
    init = np.inf if fn is np.minimum else -np.inf
    acc = np.full(len(out), init)
    fn.at(acc, b, v)
    ok = np.isfinite(acc)
    out[ok] = acc[ok]
    c = 0.5 * (edges[1:] + edges[:-1])
    if ok.any():
        out = np.interp(c, c[ok], out[ok])
    else:
        out[:] = fill
    return out


def _coverage_grid(ax: Any, u: F64, v: F64, status: NDArray[np.int8], cell: float) -> None:
    from matplotlib.colors import to_rgba

    if not len(u):
        return
    ue = np.arange(u.min() - cell / 2, u.max() + cell, cell)
    ve = np.arange(v.min() - cell / 2, v.max() + cell, cell)
    iu = np.clip(np.digitize(u, ue) - 1, 0, len(ue) - 2)
    iv = np.clip(np.digitize(v, ve) - 1, 0, len(ve) - 2)
    shape = (len(ve) - 1, len(ue) - 1)
    n = np.zeros(shape)
    np.add.at(n, (iv, iu), 1)
    cleared = np.zeros(shape)
    np.add.at(cleared, (iv, iu), status == 2)
    seen = np.zeros(shape)
    np.add.at(seen, (iv, iu), status >= 1)
    # A cell takes the class most of its surface has (cleared, else seen, else not seen).
    cls = np.where(cleared >= 0.5 * n, 2, np.where(seen >= 0.5 * n, 1, 0)).astype(float)
    rgba = np.zeros((*shape, 4))
    for k, colour in COVERAGE_COLOURS.items():
        rgba[cls == k] = to_rgba(colour)
    rgba[n == 0] = 0.0
    # One image layer under the vector outline, landmarks and markers: a quad per cell made the SVG
    # thousands of elements long, and slow to print.
    mesh = ax.imshow(rgba, origin="lower", extent=(ue[0], ue[-1], ve[0], ve[-1]), interpolation="nearest",
                     aspect="auto", zorder=1)
    mesh.set_gid("coverage")


@dataclass(frozen=True)
class _Hull:
    """The hull as the drawing sees it: the coverage samples and their status and view, and the
    outline read from them (keel and half-breadth per x bin, waterline, top)."""

    samples: F64
    status: NDArray[np.int8]
    view: NDArray[np.str_]
    x0: float
    x1: float
    cell: float
    xc: F64
    keel: F64
    half_breadth: F64
    wl_z: float
    wl_guess: bool
    top: float

    @property
    def depth(self) -> float:
        return max(self.top - float(self.keel.min()), 0.5)

    @property
    def breadth(self) -> float:
        return max(2 * float(self.half_breadth.max()), 0.5)


def _hull_outline(ins: Any) -> _Hull:
    """Outline and waterline from the coverage samples, binned along x (about 160 bins)."""
    cov = ins.coverage
    s = np.asarray(cov.samples, float)
    x0, x1 = float(s[:, 0].min()), float(s[:, 0].max())
    length = max(x1 - x0, 1.0)
    cell = max(0.25, length / 160)
    edges = np.arange(x0, x1 + cell, cell)
    # The lead's draft work may move the waterline; read it where the reference states it.
    wl_z = float(getattr(ins.reference, "waterline_z", 0.0) or 0.0)
    return _Hull(samples=s, status=sample_status(cov), view=view_of(s, _normals(ins)), x0=x0, x1=x1, cell=cell,
                 xc=0.5 * (edges[1:] + edges[:-1]),
                 keel=_binned(s[:, 0], s[:, 2], edges, np.minimum, float(s[:, 2].min())),
                 half_breadth=_binned(s[:, 0], np.abs(s[:, 1]), edges, np.maximum, float(np.abs(s[:, 1]).max())),
                 wl_z=wl_z, wl_guess=bool(getattr(ins.reference, "waterline_guessed", False)),
                 top=max(wl_z, float(s[:, 2].max())))


_TITLES = {"port": "PORT SIDE (profile; bow to the right in every view)",
           "starboard": "STARBOARD SIDE (profile, seen from starboard)", "bottom": "BOTTOM (plan, port up)"}


def ship_drawing(ins: Any, doc: dict[str, Any], landmarks: list[Landmark]) -> str:
    """The three views as one inline SVG string ('' when coverage was not computed)."""
    cov = ins.coverage
    if cov is None or not len(cov.samples):
        return ""
    plt = _pyplot()
    h = _hull_outline(ins)
    length = max(h.x1 - h.x0, 1.0)
    # The comparator's config groups these under "scoring" (a flat getattr here found nothing, and the
    # drawing never showed frame numbers).
    scoring = getattr(ins.config, "scoring", None)
    spacing = getattr(scoring, "frame_spacing_m", None)
    frame0 = float(getattr(scoring, "frame_zero_x_m", 0.0) or 0.0)
    hull_frame = bool((doc.get("reference") or {}).get("hull_frame", True))
    xlabel = "metres from the stern (x, towards the bow)" if hull_frame else "x (m, cloud frame: no hull frame)"

    heights = [h.depth + 1.2, h.depth + 1.2, h.breadth + 1.2]
    # 8 in keeps the text legible when the drawing is scaled down to a 640 px window.
    fig_w = 8.0
    fig_h = fig_w * sum(heights) / (length + 2) + 2.4
    fig, axes = plt.subplots(3, 1, figsize=(fig_w, max(fig_h, 5.0)), gridspec_kw={"height_ratios": heights})
    findings = doc.get("findings", [])
    for ax, v in zip(axes, VIEWS, strict=True):
        ax.set_gid(f"view-{v}")
        _draw_hull(ax, v, h)
        _draw_landmarks(ax, v, landmarks)
        _draw_findings(ax, v, findings)
        _finish_axes(ax, v, h, spacing, frame0)
    axes[-1].set_xlabel(xlabel, fontsize=9)
    handles = _legend_handles()
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False, bbox_to_anchor=(0.5, 0.0))
    return _svg(fig)


def _draw_hull(ax: Any, v: str, h: _Hull) -> None:
    """Coverage shading under the hull outline, with the keel and centreline (bottom) or the
    waterline and keel line (sides), labelled."""
    from matplotlib.patches import Polygon

    m = h.view == v
    xc, top, keel, half_breadth = h.xc, h.top, h.keel, h.half_breadth
    if v == "bottom":
        u, w = h.samples[m, 0], h.samples[m, 1]
        outline = np.vstack([np.column_stack([xc, half_breadth]), np.column_stack([xc[::-1], -half_breadth[::-1]])])
    else:
        u, w = h.samples[m, 0], h.samples[m, 2]
        outline = np.vstack([np.column_stack([xc, np.full(len(xc), top)]), np.column_stack([xc[::-1], keel[::-1]])])
    _coverage_grid(ax, u, w, h.status[m], h.cell * 2)
    poly = Polygon(outline, closed=True, fill=False, edgecolor="#222", linewidth=1.4, zorder=3)
    poly.set_gid(f"hull-outline-{v}")
    ax.add_patch(poly)
    x0, x1 = h.x0, h.x1
    if v == "bottom":
        (cl,) = ax.plot([x0, x1], [0, 0], color="#222", linewidth=0.8, linestyle="-.", zorder=3)
        cl.set_gid(f"keel-{v}")
        ax.text(x1, 0.15, " keel / centreline", fontsize=8, va="bottom", ha="right", zorder=5)
        ax.text(x0, half_breadth.max() + 0.3, "PORT", fontsize=8, fontweight="bold", va="bottom")
        ax.text(x0, -half_breadth.max() - 0.3, "STARBOARD", fontsize=8, fontweight="bold", va="top")
        ax.set_ylabel("m to port (+)")
        ax.set_ylim(-h.breadth / 2 - 0.6, h.breadth / 2 + 0.6)
    else:
        (wl,) = ax.plot([x0 - 0.5, x1 + 0.5], [h.wl_z, h.wl_z], color="#2166ac", linewidth=1.6, zorder=4)
        wl.set_gid(f"waterline-{v}")
        ax.text(x1 + 0.5, h.wl_z + 0.1, "waterline" + (" (guessed)" if h.wl_guess else " (design)"), fontsize=8,
                color="#2166ac", ha="right", va="bottom", zorder=5)
        (kl,) = ax.plot(xc, keel, color="#222", linewidth=2.2, zorder=4)
        kl.set_gid(f"keel-{v}")
        ax.text(xc[len(xc) // 2], float(keel.min()) - 0.15, "keel", fontsize=8, ha="center", va="top", zorder=5)
        ax.set_ylabel("height above\nwaterline (m)")
        ax.set_ylim(float(keel.min()) - 0.6, top + 0.6)


def _draw_landmarks(ax: Any, v: str, landmarks: list[Landmark]) -> None:
    """Landmarks on this view: their box, edged in their status colour, and their name."""
    from matplotlib.patches import Rectangle

    for lm in landmarks:
        on = (lm.side == v or (lm.side == "centreline" and v != "bottom")) if lm.region != "bilge_keel" \
            else (v == "bottom" or lm.side == v)
        if not on:
            continue
        if v == "bottom":
            a0, a1 = lm.bbox_min[1], lm.bbox_max[1]
        else:
            a0, a1 = lm.bbox_min[2], lm.bbox_max[2]
        r = Rectangle((lm.bbox_min[0], a0), max(lm.bbox_max[0] - lm.bbox_min[0], 0.2), max(a1 - a0, 0.2),
                      fill=False, edgecolor=STATUS_EDGE[lm.status], linewidth=1.6, linestyle="--", zorder=5)
        r.set_gid(f"landmark-{lm.name.replace(' ', '-')}-{v}")
        ax.add_patch(r)
        ax.text(lm.bbox_min[0], a1 + 0.05, lm.name.replace("port ", "").replace("starboard ", "")
                + f" ({lm.status})", fontsize=7.5, color=STATUS_EDGE[lm.status], va="bottom", zorder=6,
                bbox=_LABEL_BOX)


def _draw_findings(ax: Any, v: str, findings: list[dict[str, Any]]) -> None:
    """Findings on this view (bottom: those on neither side): a ring each, labels staggered so they
    do not overlap."""
    mine = [f for f in findings if f.get("side") == v or (v == "bottom" and f.get("side") not in ("port",
                                                                                                   "starboard"))]
    for k, f in enumerate(sorted(mine, key=lambda f: f["centroid"][0])):
        c = f["centroid"]
        py = c[1] if v == "bottom" else c[2]
        (mk,) = ax.plot([c[0]], [py], marker="o", markersize=11, markerfacecolor="none",
                        markeredgecolor=FINDING_COLOUR, markeredgewidth=2.4, linestyle="none", zorder=8)
        mk.set_gid(f"finding-marker-{f['id']}")
        dy = (0.45 + 0.45 * (k % 3)) * (1 if k % 2 == 0 else -1)
        ax.annotate(f["id"], (c[0], py), xytext=(c[0] + 0.6, py + dy), fontsize=9, fontweight="bold",
                    color=FINDING_COLOUR, zorder=9, bbox=_LABEL_BOX,
                    arrowprops={"arrowstyle": "-", "color": FINDING_COLOUR, "linewidth": 0.8})


def _finish_axes(ax: Any, v: str, h: _Hull, spacing: float | None, frame0: float) -> None:
    """To scale, a common x range, the view's title, a light grid and frame numbers on top when the
    frame spacing is known."""
    ax.set_aspect("equal")  # to scale
    ax.set_xlim(h.x0 - 1.0, h.x1 + 1.0)
    ax.set_title(_TITLES[v], fontsize=9.5, loc="left", fontweight="bold")
    ax.tick_params(labelsize=8)
    ax.grid(True, linewidth=0.3, color="#999", zorder=0)
    if spacing:
        sec = ax.secondary_xaxis("top", functions=(lambda x: (x - frame0) / spacing,
                                                   lambda f: f * spacing + frame0))
        sec.set_xlabel("frame", fontsize=7)
        sec.tick_params(labelsize=7)


def _legend_handles() -> list[Any]:
    """Legend entries: the coverage classes, a finding ring, the landmark statuses."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = [Patch(facecolor=COVERAGE_COLOURS[k], label=COVERAGE_LABELS[k]) for k in (2, 1, 0)]
    handles.append(Line2D([], [], marker="o", markersize=9, markerfacecolor="none", markeredgecolor=FINDING_COLOUR,
                          markeredgewidth=2, linestyle="none", label="finding"))
    handles += [Patch(facecolor="none", edgecolor=c, linestyle="--", label=f"landmark: {k}")
                for k, c in STATUS_EDGE.items()]
    return handles


def local_map_svg(raster: F64, extent: tuple[float, float, float, float], fid: str) -> str:
    """A finding's local height map (cm above the reference surface) as a small SVG: the map as one
    image, a colour scale in cm and a scale bar in metres. Written directly (a matplotlib figure per
    finding cost a second each)."""
    import base64

    from matplotlib import colormaps
    from PIL import Image

    r = np.asarray(raster, float)
    vmax = max(0.05, float(np.nanmax(r)) if np.isfinite(r).any() else 0.05)
    cmap = colormaps["YlOrRd"]
    rgba = cmap(np.clip(np.nan_to_num(r, nan=0.0) / vmax, 0.0, 1.0))
    rgba[~np.isfinite(r)] = (0.74, 0.74, 0.74, 1.0)
    img = (rgba[:, :, :3] * 255).astype(np.uint8).transpose(1, 0, 2)[::-1]  # u across, v up
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(buf, format="PNG")
    href = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    u0, u1, v0, v1 = extent
    wu, wv = max(u1 - u0, 1e-3), max(v1 - v0, 1e-3)
    px = 220.0 / max(wu, wv)  # pixels per metre in the drawing
    w, h = wu * px, wv * px
    bar = next(b for b in (1.0, 0.5, 0.2, 0.1, 0.05) if b * px <= 0.6 * w or b == 0.05)
    stops = "".join(f"<stop offset='{t:.2f}' stop-color='rgb({int(c[0] * 255)},{int(c[1] * 255)},{int(c[2] * 255)})'/>"
                    for t in np.linspace(0, 1, 6) for c in [cmap(float(t))])
    W, H = w + 70, h + 40
    return (f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {W:.0f} {H:.0f}' width='{W:.0f}' "
            f"id='local-map-{fid}' role='img' aria-label='local height map of {fid}'>"
            f"<defs><linearGradient id='ramp-{fid}' x1='0' y1='1' x2='0' y2='0'>{stops}</linearGradient></defs>"
            f"<image href='{href}' x='0' y='0' width='{w:.1f}' height='{h:.1f}' preserveAspectRatio='none' "
            "style='image-rendering:pixelated'/>"
            f"<rect x='0' y='0' width='{w:.1f}' height='{h:.1f}' fill='none' stroke='#444'/>"
            f"<rect x='{w + 10:.1f}' y='0' width='12' height='{h:.1f}' fill='url(#ramp-{fid})' stroke='#444'/>"
            f"<text x='{w + 26:.1f}' y='10' font-size='10'>{vmax * 100:.0f} cm</text>"
            f"<text x='{w + 26:.1f}' y='{h:.1f}' font-size='10'>0 cm</text>"
            f"<line x1='4' y1='{h + 14:.1f}' x2='{4 + bar * px:.1f}' y2='{h + 14:.1f}' stroke='#000' stroke-width='3'/>"
            f"<text x='4' y='{h + 30:.1f}' font-size='10'>{bar:g} m</text>"
            f"<text x='{w:.1f}' y='{h + 30:.1f}' font-size='10' text-anchor='end'>{wu:.2f} x {wv:.2f} m, "
            "grey: not seen</text></svg>")


def section_svg(ins: Any, finding: dict[str, Any], half_width: float = 0.1, window: float = 1.5,
                max_points: int = 800) -> str:
    """The fused sonar returns in a thin slice across a finding (the hull section at its x), coloured by
    deviation, over the reference surface in the same slice: what the sonar saw there ('' without a
    cloud). Written directly as SVG: a few hundred dots per card."""

    pts, dev, cov = ins.points, ins.deviation, ins.coverage
    if pts is None or dev is None or not len(pts):
        return ""
    cx, cy, cz = finding["centroid"]
    near = (np.abs(pts[:, 0] - cx) < half_width) & (np.abs(pts[:, 1] - cy) < window) & (np.abs(pts[:, 2] - cz) < window)
    idx = np.flatnonzero(near)
    if not len(idx):
        return ""
    if len(idx) > max_points:
        idx = np.random.default_rng(0).choice(idx, max_points, replace=False)
    p, d = pts[idx], dev[idx]
    ref = np.zeros((0, 3))
    if cov is not None and len(cov.samples):
        s = cov.samples
        ref = s[(np.abs(s[:, 0] - cx) < 3 * half_width) & (np.abs(s[:, 1] - cy) < window) & (np.abs(s[:, 2] - cz) < window)]
    size = 240.0
    k = size / (2 * window)  # px per metre
    # Seen from the stern: port (+y) to the left, as a diver facing forward sees it.
    def u(y: F64) -> F64:
        return (window - (y - cy)) * k

    def v(z: F64) -> F64:
        return (window - (z - cz)) * k

    rgb = deviation_colours(d, DEVIATION_SPAN_M)
    dots = "".join(f"<circle cx='{a:.1f}' cy='{b:.1f}' r='1.8' fill='rgb({c[0]},{c[1]},{c[2]})'/>"
                   for a, b, c in zip(u(p[:, 1]), v(p[:, 2]), rgb, strict=True))
    refs = "".join(f"<circle cx='{a:.1f}' cy='{b:.1f}' r='1.2' fill='#555'/>"
                   for a, b in zip(u(ref[:, 1]), v(ref[:, 2]), strict=True))
    fid = str(finding["id"])
    return (f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {size:.0f} {size + 48:.0f}' width='{size:.0f}' "
            f"id='section-{fid}' role='img' aria-label='sonar returns across {fid}'>"
            f"<rect x='0' y='0' width='{size:.0f}' height='{size:.0f}' fill='#111'/>{refs}{dots}"
            f"<circle cx='{size / 2:.1f}' cy='{size / 2:.1f}' r='10' fill='none' stroke='#ff0' stroke-width='1.5'/>"
            f"<line x1='6' y1='{size - 8:.1f}' x2='{6 + 0.5 * k:.1f}' y2='{size - 8:.1f}' stroke='#fff' stroke-width='3'/>"
            f"<text x='6' y='{size - 13:.1f}' font-size='10' fill='#fff'>0.5 m</text>"
            f"<text x='4' y='12' font-size='10' fill='#fff'>port</text>"
            f"<text x='{size - 4:.0f}' y='12' font-size='10' fill='#fff' text-anchor='end'>starboard</text>"
            f"<text x='0' y='{size + 14:.0f}' font-size='10'>{len(idx)} returns, {2 * half_width * 100:.0f} cm slice at "
            f"x = {cx:.2f} m</text><text x='0' y='{size + 28:.0f}' font-size='10'>seen from aft; red proud, blue "
            f"recessed,</text><text x='0' y='{size + 42:.0f}' font-size='10'>grey: reference surface</text></svg>")
