"""A picture of one simulated survey: hull, true trajectory and multibeam returns (offscreen)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from hullscan_sim.scenario import load_scenario
from hullscan_sim.sensors import mount_transform
from hullscan_sim.simulate import truth_dir_for

from hullscan.bag import BagReader
from hullscan.hull import load_mesh
from hullscan.model import ProfilingPing, Trajectory


def survey_returns_hull(bag: str | Path, max_pings: int = 4000) -> np.ndarray:
    """Multibeam returns placed in the hull frame with the TRUE trajectory (what a perfect
    navigation would give), (N, 3)."""
    truth = truth_dir_for(bag)
    doc = json.loads((truth / "truth.json").read_text())
    tr = np.load(truth / "trajectory_true.npz")
    traj = Trajectory(tr["stamps_ns"], tr["positions_hull"], tr["orientations_hull"], frame_id="hull", max_gap_s=1.0)
    sc = load_scenario(truth / "scenario.yaml")
    assert sc.sensors.multibeam is not None
    mount = mount_transform(sc.sensors.multibeam.mount, fan_across=True)
    del doc
    pings: list[ProfilingPing] = []
    with BagReader(bag) as reader:
        for item in reader.samples():
            if isinstance(item, ProfilingPing):
                pings.append(item)
    step = max(1, len(pings) // max_pings)
    out = []
    for pg in pings[::step]:
        ok = np.isfinite(pg.ranges)
        if not ok.any():
            continue
        pts = pg.directions()[ok] * pg.ranges[ok, None]
        pose = traj.pose_at(pg.stamp_ns) @ mount
        out.append(pose.apply(pts.astype(np.float64)))
    return np.concatenate(out) if out else np.zeros((0, 3))


def survey_figure(bag: str | Path, png: str | Path, title: str | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    truth = truth_dir_for(bag)
    doc = json.loads((truth / "truth.json").read_text())
    ref = load_mesh(truth / "reference.ply")
    tr = np.load(truth / "trajectory_true.npz")
    pts = survey_returns_hull(bag)
    fig = plt.figure(figsize=(13, 6), dpi=110)
    ax = fig.add_subplot(1, 2, 1, projection="3d")
    rng = np.random.default_rng(0)
    v = ref.vertices
    sub = v[rng.choice(len(v), min(len(v), 6000), replace=False)]
    ax.scatter(sub[:, 0], sub[:, 1], sub[:, 2], s=0.3, c="0.7", alpha=0.3, label="reference hull (vertices)")
    p = tr["positions_hull"]
    ax.plot(p[:, 0], p[:, 1], p[:, 2], "b-", lw=1.0, label="true trajectory")
    if len(pts):
        sel = pts[rng.choice(len(pts), min(len(pts), 60000), replace=False)]
        ax.scatter(sel[:, 0], sel[:, 1], sel[:, 2], s=0.2, c=sel[:, 2], cmap="viridis", alpha=0.6,
                   label="multibeam returns")
    for par in doc["parasites"]:
        c = par["centroid_hull"]
        ax.scatter([c[0]], [c[1]], [c[2]], s=60, c="r", marker="x")
        ax.text(c[0], c[1], c[2] + 0.5, par["id"], color="r", fontsize=8)
    ax.set_xlabel("x to bow (m)")
    ax.set_ylabel("y to port (m)")
    ax.set_zlabel("z up (m)")
    # zoom on the surveyed section
    lo = p.min(0) - 3
    hi = p.max(0) + 3
    hi[2] = max(hi[2], 1.0)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_zlim(lo[2], hi[2])
    ax.set_box_aspect(tuple(np.maximum(hi - lo, 1.0)))
    ax.view_init(elev=-25, azim=-50)
    ax.legend(loc="upper left", fontsize=7, markerscale=8)
    ax.set_title("hull, true trajectory and multibeam returns", fontsize=10)
    # cross-section through the parasite farthest from the stern (or mid-survey)
    xs = doc["parasites"][0]["centroid_hull"][0] if doc["parasites"] else float(np.median(p[:, 0]))
    ax2 = fig.add_subplot(1, 2, 2)
    band = np.abs(v[:, 0] - xs) < 0.6
    ax2.scatter(v[band, 1], v[band, 2], s=2, c="0.6", label="reference hull section")
    if len(pts):
        sl = pts[np.abs(pts[:, 0] - xs) < 0.15]
        ax2.scatter(sl[:, 1], sl[:, 2], s=1, c="tab:green", label="returns (|dx| < 0.15 m)")
    ax2.plot(p[:, 1], p[:, 2], "b-", lw=0.6, alpha=0.5, label="trajectory (projected)")
    for par in doc["parasites"]:
        c = par["centroid_hull"]
        if abs(c[0] - xs) < 2:
            ax2.scatter([c[1]], [c[2]], s=160, facecolors="none", edgecolors="r", marker="o",
                        label=f"parasite {par['id']} (centroid)")
    ax2.axhline(0, color="c", lw=0.8, label="waterline")
    ax2.set_aspect("equal")
    ax2.set_ylim(min(float(p[:, 2].min()), float(v[:, 2].min())) - 1.0, 2.0)
    ax2.set_xlim(float(min(p[:, 1].min(), v[:, 1].min())) - 1.0, float(max(p[:, 1].max(), v[:, 1].max())) + 1.0)
    ax2.set_xlabel("y to port (m)")
    ax2.set_ylabel("z up (m)")
    ax2.legend(fontsize=7, loc="lower left")
    ax2.set_title(f"section at x = {xs:.1f} m", fontsize=10)
    fig.suptitle(title or f"simulated survey '{doc['scenario']}' (seed {doc['seed']})")
    out = Path(png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


