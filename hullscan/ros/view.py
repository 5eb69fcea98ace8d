"""What the operator sees, rendered offscreen from the published messages (no RViz needed).

The hull map (``/hullscan/deviation_cloud``) is drawn in its two main directions (the
hull's length and girth), coloured by deviation from the reference (blue: recess, red:
protrusion, grey: not compared), with the finding boxes and labels from ``/hullscan/findings``::

    hullscan_operator_view --out docs/img/operator_view.png --timeout 30
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from hullscan.core.colour import DEVIATION_SPAN_M, deviation_colours
from hullscan.ros import messages

W, H, PAD = 1400, 620, 50


def render_operator_view(cloud_msg: Any, markers_msg: Any, out_png: str | Path, span_m: float = DEVIATION_SPAN_M) -> Path:
    from PIL import Image, ImageDraw

    cloud, dev = messages.hull_cloud_from_msg(cloud_msg)
    pts = cloud.points
    centre = pts.mean(axis=0) if len(pts) else np.zeros(3)
    # Main directions of the surveyed surface: length first, then girth.
    axes = np.linalg.svd(pts - centre, full_matrices=False)[2][:2] if len(pts) > 2 else np.eye(3)[:2]
    uv = (pts - centre) @ axes.T
    lo, hi = (uv.min(axis=0), uv.max(axis=0)) if len(uv) else (np.zeros(2), np.ones(2))
    scale = min((W - 2 * PAD) / max(hi[0] - lo[0], 1e-6), (H - 2 * PAD - 40) / max(hi[1] - lo[1], 1e-6))

    def px(q: np.ndarray) -> np.ndarray:
        return np.stack([PAD + (q[:, 0] - lo[0]) * scale, H - PAD - (q[:, 1] - lo[1]) * scale], axis=1)

    img = Image.new("RGB", (W, H), (18, 22, 30))
    draw = ImageDraw.Draw(img)
    order = np.argsort(np.abs(np.nan_to_num(dev)))  # strongest deviation on top
    xy, col = px(uv[order]), deviation_colours(dev[order], span_m)
    r = max(1, int(scale * 0.02))
    for (x, y), c in zip(xy, col, strict=True):
        draw.rectangle([x - r, y - r, x + r, y + r], fill=tuple(int(v) for v in c))
    n_find = 0
    banners = [m.text for m in markers_msg.markers if m.ns == messages.STATUS_NS and m.action == m.ADD] \
        if markers_msg is not None else []
    if markers_msg is not None:
        from scipy.spatial.transform import Rotation

        labels = {m.id - 1: m.text for m in markers_msg.markers if m.type == m.TEXT_VIEW_FACING}
        placed: list[tuple[float, ...]] = []  # label boxes drawn so far
        for m in markers_msg.markers:
            if m.type != m.CUBE:
                continue
            n_find += 1
            o, p, s = m.pose.orientation, m.pose.position, m.scale
            corners = np.array([[a, b, c] for a in (-.5, .5) for b in (-.5, .5) for c in (-.5, .5)]) * [s.x, s.y, s.z]
            world = Rotation.from_quat([o.x, o.y, o.z, o.w]).apply(corners) + np.array([p.x, p.y, p.z])
            box = px((world - centre) @ axes.T)
            colour = (int(255 * m.color.r), int(255 * m.color.g), int(255 * m.color.b))
            x0, y0 = box.min(axis=0) - 4
            x1, y1 = box.max(axis=0) + 4
            draw.rectangle([x0, y0, x1, y1], outline=colour, width=3)
            # Findings close together (a pack and a fragment in one sea chest) get stacked labels.
            text, ty = labels.get(m.id, m.text), y1 + 4
            while True:
                bb = draw.multiline_textbbox((x0, ty), text)
                hit = [q for q in placed if bb[0] < q[2] and q[0] < bb[2] and bb[1] < q[3] and q[1] < bb[3]]
                if not hit:
                    break
                ty = max(q[3] for q in hit) + 2
            placed.append(tuple(bb))
            draw.rectangle((bb[0] - 2, bb[1] - 2, bb[2] + 2, bb[3] + 2), fill=(18, 22, 30))  # legible over the cloud
            draw.multiline_text((x0, ty), text, fill=colour)
    draw.text((PAD, 12), f"hullscan operator view: {len(pts)} map points, {n_find} findings; colour = deviation "
              f"from reference (blue -{span_m:.2f} m .. red +{span_m:.2f} m, grey = not compared)", fill=(230, 230, 230))
    if banners:  # a failed inspection: red across the top, so "0 findings" is never read as "clean"
        draw.rectangle([0, 0, W, 50], fill=(200, 20, 20))
        draw.text((PAD, 8), "\n".join(b[:180] for b in banners), fill=(255, 255, 255))
        draw.text((PAD, 56), f"{len(pts)} map points, NOT INSPECTED (grey = not compared)", fill=(255, 120, 120))
    for i in range(200):  # colour bar
        c = deviation_colours(np.array([(i / 199 * 2 - 1) * span_m]), span_m)[0]
        draw.line([W - PAD - 200 + i, 30, W - PAD - 200 + i, 40], fill=tuple(int(v) for v in c))
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="operator_view.png")
    ap.add_argument("--timeout", type=float, default=30.0)
    a = ap.parse_args([x for x in (sys.argv[1:] if argv is None else argv) if x != "--ros-args"])
    import rclpy
    from sensor_msgs.msg import PointCloud2
    from visualization_msgs.msg import MarkerArray

    from hullscan.ros.common import LATCHED

    got: dict[str, Any] = {}
    with rclpy.init():
        node = rclpy.create_node("hullscan_operator_view")
        node.create_subscription(PointCloud2, "/hullscan/deviation_cloud", lambda m: got.update(cloud=m), LATCHED)
        node.create_subscription(MarkerArray, "/hullscan/findings", lambda m: got.update(markers=m), LATCHED)
        end = time.monotonic() + a.timeout
        while time.monotonic() < end and not ("cloud" in got and "markers" in got):
            rclpy.spin_once(node, timeout_sec=0.1)
        node.destroy_node()
    if "cloud" not in got:
        print("no /hullscan/deviation_cloud received", file=sys.stderr)
        return 1
    print(render_operator_view(got["cloud"], got.get("markers"), a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
