"""Camera evidence: a finding in view gets crops (pose + extrinsics + intrinsics, occlusion checked),
and the report shows them on the finding's card."""

from __future__ import annotations

import json
from dataclasses import replace
from html.parser import HTMLParser

import numpy as np
import pytest

from hullscan.compare.camera import CameraSet, camera_evidence, context_frames
from hullscan.compare.config import CompareConfig
from hullscan.compare.inspect import inspect
from hullscan.model import CameraFrame, CameraModel, Trajectory, Transform
from hullscan.report.outputs import write_outputs

from .conftest import HULL_TO_NAV

W, H = 160, 120
K = np.array([[120.0, 0, W / 2], [0, 120.0, H / 2], [0, 0, 1]])
# hull <- optical frame (z forward): looking to starboard (-y) from port, to port (+y) from starboard.
LOOK_STBD = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])
LOOK_PORT = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])
# base_link <- camera: camera 0.2 m forward of base_link, optical axes as above (a real mount, not identity).
MOUNT = Transform(translation=(0.2, 0.0, 0.0))


def _camera_set(views: list[tuple[np.ndarray, np.ndarray]]) -> CameraSet:
    """One frame per (camera position in hull frame, hull <- optical rotation); pose held for 0.2 s."""
    from scipy.spatial.transform import Rotation

    stamps, pos, quat, frames = [], [], [], []
    for i, (p_cam, r_cam) in enumerate(views):
        hull_from_cam = Transform(Rotation.from_matrix(r_cam).as_quat(), p_cam)
        nav_from_base = HULL_TO_NAV @ hull_from_cam @ MOUNT.inverse()
        t = i * 10_000_000_000
        for dt in (-100_000_000, 100_000_000):
            stamps.append(t + dt)
            pos.append(nav_from_base.translation)
            quat.append(nav_from_base.rotation)
        img = np.zeros((H, W, 3), np.uint8)
        img[:, :, 0] = np.arange(W)[None, :]  # red = column: a crop's content says where it came from
        img[:, :, 1] = np.arange(H)[:, None]
        img[:, :, 2] = i
        frames.append(CameraFrame(t, "camera_optical", img))
    traj = Trajectory(np.array(stamps, np.int64), np.array(pos), np.array(quat))
    model = CameraModel(0, "camera_optical", W, H, K)
    return CameraSet(frames, {"camera_optical": model}, traj, {"camera_optical": MOUNT})


@pytest.fixture(scope="module")
def port_finding(hull, scan):
    ins = inspect(scan.cloud, hull, CompareConfig(), hull_to_nav=HULL_TO_NAV)
    f = next(f for f in ins.findings if f.side == "port" and f.kind == "protrusion")
    return ins, f


def test_finding_in_view_gets_crops_occluded_and_away_do_not(port_finding):
    ins, f = port_finding
    c = np.array(f.centroid)
    views = [
        (c + np.array([0.0, 2.5, 0.0]), LOOK_STBD),  # 0: in front of it, looking at it
        (np.array([c[0], -6.0, c[2]]), LOOK_PORT),  # 1: starboard, looking at it through the hull
        (c + np.array([0.0, 2.5, 0.0]), LOOK_PORT),  # 2: right place, looking away
        (c + np.array([1.0, 3.0, 0.0]), LOOK_STBD),  # 3: in view, off-centre
    ]
    ev, crops = camera_evidence(ins, _camera_set(views), CompareConfig(evidence={"max_crops": 3}))
    seen = {e.stamp_ns // 10_000_000_000 for e in ev[f.id]}
    assert seen == {0, 3}
    best = ev[f.id][0]
    assert best.stamp_ns == 0 and best.crop_path == f"crops/{f.id}_0.png"
    # The centroid projects to the image centre in frame 0: the crop box holds it.
    u0, v0, u1, v1 = best.box
    assert u0 <= W / 2 <= u1 and v0 <= H / 2 <= v1
    crop = crops[f.id][0]
    assert crop.shape == (v1 - v0, u1 - u0, 3)
    assert crop[0, 0, 0] == u0 and crop[0, 0, 1] == v0 and crop[0, 0, 2] == 0  # cut from frame 0 at its box
    # Off-centre frame 3: the finding lies left of centre (camera 1 m further forward, looking to -y).
    off = next(e for e in ev[f.id] if e.stamp_ns == 30_000_000_000)
    assert (off.box[0] + off.box[2]) / 2 < W / 2


def test_report_shows_crops(port_finding, tmp_path):
    ins, f = port_finding
    c = np.array(f.centroid)
    cams = _camera_set([(c + np.array([0.0, 2.5, 0.0]), LOOK_STBD)])
    ev, crops = camera_evidence(ins, cams, CompareConfig())
    ins2 = replace_findings(ins, ev, crops)
    ins2.frames = context_frames(ev, cams)
    assert [box for _, box in ins2.frames[f.id]] == [ev[f.id][0].box]
    write_outputs(ins2, tmp_path, {"cloud": None, "reference": None})
    doc = json.loads((tmp_path / "findings.json").read_text())
    fj = next(x for x in doc["findings"] if x["id"] == f.id)
    assert len(fj["camera"]) == 1 and fj["camera"][0]["crop_path"] == f"crops/{f.id}_0.png"
    assert (tmp_path / fj["camera"][0]["crop_path"]).is_file()

    class Card(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.card: str | None = None
            self.imgs: dict[str, int] = {}

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "section" and a.get("data-finding-id"):
                self.card = a["data-finding-id"]
            if tag == "img" and a.get("alt") == "camera crop" and self.card:
                assert (a.get("src") or "").startswith("data:image/png;base64,")  # self-contained
                self.imgs[self.card] = self.imgs.get(self.card, 0) + 1

    html = (tmp_path / "report.html").read_text()
    p = Card()
    p.feed(html)
    assert p.imgs.get(f.id) == 1
    # The whole frame too, scaled, with the finding's box drawn where the crop was cut.
    frame_svg = html[html.index(f"id='frame-{f.id}'"):].split("</svg>")[0]
    u0, v0, u1, _ = ev[f.id][0].box
    k = min(1.0, 480 / ins2.frames[f.id][0][0].shape[1])
    assert f"<rect x='{u0 * k:.1f}' y='{v0 * k:.1f}' width='{(u1 - u0) * k:.1f}'" in frame_svg


def replace_findings(ins, ev, crops):
    import copy

    out = copy.copy(ins)
    out.findings = tuple(replace(x, camera=ev.get(x.id, ())) for x in ins.findings)
    out.crops = crops
    return out
