"""Camera evidence: which camera frames saw a finding, and the best crops.

Each finding's centroid and bounding-box corners are taken to the navigation frame, then
into each camera through the (corrected) trajectory, the TF extrinsics and the intrinsics.
A frame counts when the centroid projects inside the image and the line of sight is not
blocked by the reference hull (ray cast against the design mesh when there is one).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from itertools import product
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hullscan.compare.config import CompareConfig
from hullscan.compare.reference import Reference
from hullscan.errors import HullscanError, MessageError
from hullscan.model import CameraEvidence, CameraFrame, CameraModel, Finding, Trajectory, Transform

log = logging.getLogger("hullscan.compare")


@dataclass
class CameraSet:
    """Camera frames with what is needed to project into them."""

    frames: list[CameraFrame]
    models: dict[str, CameraModel]  # by camera frame_id
    trajectory: Trajectory  # base_link in the navigation frame
    extrinsics: dict[str, Transform] = field(default_factory=dict)  # base_link <- camera frame
    topic: str = "/camera/image_raw"

    @classmethod
    def from_bag(cls, path: str, trajectory: Trajectory, topics: Any, max_frames: int = 2000) -> CameraSet:
        """Read camera frames, intrinsics and extrinsics from a bag (every frame up to ``max_frames``)."""
        from hullscan.bag import BagReader

        frames: list[CameraFrame] = []
        models: dict[str, CameraModel] = {}
        with BagReader(path, topics) as bag:
            for item in bag.samples():
                if isinstance(item, CameraModel):
                    models[item.frame_id] = item
                elif isinstance(item, CameraFrame) and len(frames) < max_frames:
                    frames.append(item)
            ext = {}
            for fid in {f.frame_id for f in frames}:
                try:
                    ext[fid] = bag.tf.lookup(topics.base_frame, fid)
                except HullscanError as err:
                    log.warning("camera frame %s: no extrinsics (%s)", fid, err)
        return cls(frames, models, trajectory, ext, topics.camera_image)


def camera_evidence(ins: Any, cams: CameraSet, config: CompareConfig
                    ) -> tuple[dict[str, tuple[CameraEvidence, ...]], dict[str, list[NDArray[np.uint8]]]]:
    """Evidence and crops per finding id of an :class:`hullscan.compare.inspect.Inspection`."""
    if ins.cloud_to_ref is None:
        return {}, {}
    return findings_evidence(ins.findings, ins.cloud_to_ref, ins.reference, cams, config)


def findings_evidence(findings: Sequence[Finding], cloud_to_ref: Transform, reference: Reference | None,
                      cams: CameraSet, config: CompareConfig
                      ) -> tuple[dict[str, tuple[CameraEvidence, ...]], dict[str, list[NDArray[np.uint8]]]]:
    """Evidence (best first) and crops per finding id: ``findings`` in the reference's internal hull
    frame, placed by ``cloud_to_ref`` (reference <- navigation frame); ``reference`` (its mesh, when
    it has one) blocks lines of sight."""
    if not cams.frames:
        return {}, {}
    ref_to_nav = cloud_to_ref.inverse()
    scene = getattr(reference, "_scene", None)
    evidence: dict[str, list[tuple[float, CameraEvidence, NDArray[np.uint8]]]] = {f.id: [] for f in findings}
    pts_ref = {}
    for f in findings:
        lo, hi = np.array(f.bbox_min), np.array(f.bbox_max)
        corners = np.array([[(lo, hi)[i][0], (lo, hi)[j][1], (lo, hi)[k][2]] for i, j, k in product((0, 1), repeat=3)])
        pts_ref[f.id] = np.vstack([np.array(f.centroid), corners])
    stamps = np.array([fr.stamp_ns for fr in cams.frames], dtype=np.int64)
    pos, quat, _, valid = cams.trajectory.interpolate(stamps)
    for k, fr in enumerate(cams.frames):
        model = cams.models.get(fr.frame_id)
        ext = cams.extrinsics.get(fr.frame_id)
        if model is None or ext is None or not valid[k]:
            continue
        nav_from_cam = Transform(quat[k], pos[k]) @ ext
        cam_from_ref = nav_from_cam.inverse() @ ref_to_nav
        cam_centre_ref = cloud_to_ref.apply(nav_from_cam.translation)
        for f in findings:
            p = cam_from_ref.apply(pts_ref[f.id])
            uv, ok = model.project(p)
            if not ok[0]:
                continue
            rng = float(np.linalg.norm(p[0]))
            if scene is not None:
                import open3d.core as o3c

                d = np.array(f.centroid) - cam_centre_ref
                ray = np.concatenate([cam_centre_ref, d / max(np.linalg.norm(d), 1e-9)])[None].astype(np.float32)
                hit = float(scene.cast_rays(o3c.Tensor(ray))["t_hit"].numpy()[0])  # type: ignore[call-overload]
                if hit < rng - max(0.5, 2 * f.max_height_m):
                    continue  # the hull is in the way
            inside = uv[ok]
            m = config.evidence.crop_margin_px
            u0, v0 = np.floor(inside.min(axis=0)).astype(int) - m
            u1, v1 = np.ceil(inside.max(axis=0)).astype(int) + m
            u0, v0 = max(u0, 0), max(v0, 0)
            u1, v1 = min(u1, model.width), min(v1, model.height)
            if u1 - u0 < 4 or v1 - v0 < 4:
                continue
            frac = float(ok.mean())
            centre_off = np.linalg.norm(uv[0] - [model.width / 2, model.height / 2]) / np.hypot(model.width, model.height)
            score = frac * (1 - centre_off) / (1 + rng)
            crop = np.asarray(fr.image[v0:v1, u0:u1])
            if crop.ndim == 2:
                crop = np.repeat(crop[:, :, None], 3, axis=2)
            ev = CameraEvidence(int(fr.stamp_ns), cams.topic, (int(u0), int(v0), int(u1), int(v1)), round(frac, 3))
            evidence[f.id].append((score, ev, crop))
    out_ev: dict[str, tuple[CameraEvidence, ...]] = {}
    crops: dict[str, list[NDArray[np.uint8]]] = {}
    for fid, items in evidence.items():
        items.sort(key=lambda t: -t[0])
        best = items[: config.evidence.max_crops]
        out_ev[fid] = tuple(
            CameraEvidence(ev.stamp_ns, ev.topic, ev.box, ev.visible_fraction,
                           f"crops/{fid}_{i}.png" if i < len(best) else None)
            for i, (_, ev, _) in enumerate(items))
        crops[fid] = [c for _, _, c in best]
    return out_ev, crops


def context_frames(evidence: dict[str, tuple[CameraEvidence, ...]], cams: CameraSet, n: int = 1
                   ) -> dict[str, list[tuple[NDArray[np.uint8], tuple[int, int, int, int]]]]:
    """The ``n`` best whole camera frames per finding (RGB) with the finding's pixel box, for the report's
    card: a diver needs the surroundings the crop cuts away to recognise the place."""
    by_stamp = {fr.stamp_ns: fr for fr in cams.frames}
    out: dict[str, list[tuple[NDArray[np.uint8], tuple[int, int, int, int]]]] = {}
    for fid, evs in evidence.items():
        items = []
        for ev in evs[:n]:
            fr = by_stamp.get(ev.stamp_ns)
            if fr is None:
                continue
            img = np.asarray(fr.image)
            items.append((np.repeat(img[:, :, None], 3, axis=2) if img.ndim == 2 else img, ev.box))
        out[fid] = items
    return out


@dataclass(frozen=True)
class BestFrame:
    """A finding's best camera frame: its evidence (pixel box, visible fraction), the frame itself and
    how many frames saw the finding."""

    evidence: CameraEvidence
    frame: CameraFrame
    candidates: int


def best_frames(findings: Sequence[Finding], hull_to_nav: Transform, cams: CameraSet, config: CompareConfig,
                reference: Reference | None = None) -> dict[str, BestFrame]:
    """For each finding (placed in the navigation frame by ``hull_to_nav``, nav <- hull) that some
    frame of ``cams`` saw: the best frame, as :func:`findings_evidence` ranks them (the same scoring
    as ``hullscan replay``). Findings no frame saw are left out."""
    evidence, _ = findings_evidence(findings, hull_to_nav.inverse(), reference, cams, config)
    by_stamp = {f.stamp_ns: f for f in cams.frames}
    return {fid: BestFrame(ev[0], by_stamp[ev[0].stamp_ns], len(ev)) for fid, ev in evidence.items() if ev}


def finding_from_row(row: dict[str, Any], where: str = "/hullscan/findings_json") -> Finding:
    """A :class:`Finding` back from its row of a findings JSON document (``where`` names the source)."""
    names = {f.name for f in fields(Finding)} - {"camera", "history"}  # history: not a live concern
    kw: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in row.items() if k in names}
    try:
        return Finding(**kw)
    except (TypeError, ValueError) as err:
        raise MessageError(f"{where}: bad finding row {row.get('id')!r} ({err})") from err


def findings_from_document(doc: dict[str, Any]) -> tuple[tuple[Finding, ...], Transform]:
    """The findings of a live findings document (``/hullscan/findings_json``) and its ``hull_to_nav``."""
    hull_to_nav = Transform.from_dict(doc["hull_to_nav"]) if doc.get("hull_to_nav") else Transform()
    return tuple(finding_from_row(r) for r in doc.get("findings", [])), hull_to_nav
