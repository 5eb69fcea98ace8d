"""The reference kinds (design mesh, earlier scan, the hull's own mirror) behind one interface."""

from __future__ import annotations

import inspect as pyinspect
from dataclasses import replace

import numpy as np
import pytest

from hullscan.compare.config import CompareConfig
from hullscan.compare.kinds import (
    Framing,
    MeshSource,
    MirrorSource,
    ReferenceSource,
    ScanSource,
    build_reference,
    reference_source,
)
from hullscan.compare.reference import mesh_reference, scan_reference
from hullscan.diagnostics import DropLog
from hullscan.errors import HullscanError
from hullscan.model import HullCloud

KINDS = (MeshSource, ScanSource, MirrorSource)
STAGES = ("describe", "frame", "align", "judge", "cells", "candidates", "coverage")


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_each_kind_has_every_stage_with_the_protocols_parameters(kind: type) -> None:
    for stage in STAGES:
        want = list(pyinspect.signature(getattr(ReferenceSource, stage)).parameters)
        got = list(pyinspect.signature(getattr(kind, stage)).parameters)
        assert got == want, f"{kind.__name__}.{stage}{got} != ReferenceSource.{stage}{want}"


def test_the_users_choice_becomes_a_kind_once(hull, clean_scan) -> None:
    assert isinstance(reference_source("mirror"), MirrorSource)
    mesh = reference_source(hull)
    scan = reference_source(clean_scan.cloud)
    assert isinstance(mesh, MeshSource) and isinstance(scan, ScanSource)
    assert all(isinstance(s, ReferenceSource) for s in (mesh, scan, reference_source("mirror")))
    assert reference_source(mesh) is mesh  # already a kind: kept
    assert isinstance(reference_source(mesh_reference(hull, icp_spacing=0.2)), MeshSource)
    assert isinstance(reference_source(scan_reference(clean_scan.cloud)), ScanSource)
    with pytest.raises(HullscanError, match="'mirror'"):
        reference_source("mirorr")
    with pytest.raises(HullscanError, match="got int"):
        reference_source(3)


def test_describe_says_what_the_outputs_name_before_anything_is_built(hull, clean_scan) -> None:
    about = MeshSource(hull).describe()
    assert (about.kind, about.name) == ("mesh", hull.name)
    assert ScanSource(clean_scan.cloud).describe().kind == "scan"
    assert MirrorSource().describe().kind == MirrorSource().describe().name == "mirror"
    assert MirrorSource().describe().ref_from_hull is None


def test_build_reference_is_the_kinds_surface_and_refuses_the_mirror(hull, clean_scan) -> None:
    cfg = CompareConfig()
    assert build_reference(hull, cfg).kind == "mesh"
    scan = build_reference(clean_scan.cloud, cfg)
    assert scan.kind == "scan" and scan.name.startswith("scan (")
    with pytest.raises(HullscanError, match="mirror"):
        build_reference("mirror", cfg)


def test_only_a_design_mesh_reports_holes_under_the_survey(hull) -> None:
    cfg = CompareConfig()
    ref = replace(mesh_reference(hull, icp_spacing=0.2), watertight=False)
    framing = Framing(ref)
    d = np.array([0.01, 0.02, 5.0, 0.0, 0.0])
    over = np.array([True, True, True, False, False])  # 40 % over no surface
    pts = np.zeros((5, 3))
    mesh = MeshSource(hull).judge(pts, d, over, framing, cfg, DropLog())
    scan = ScanSource(HullCloud.from_points(np.zeros((1, 3)))).judge(pts, d, over, framing, cfg, DropLog())
    # Both judge the points over the surface and close to it; only the mesh calls the rest holes.
    assert mesh.judged.tolist() == scan.judged.tolist() == [True, True, False, False, False]
    assert mesh.problem is not None and "holes" in mesh.problem and "40%" in mesh.problem
    assert scan.problem is None
    watertight = MeshSource(hull).judge(pts, d, over, Framing(replace(ref, watertight=True)), cfg, DropLog())
    assert watertight.problem is None


def test_mirror_stages_need_the_frame_the_mirror_found(hull) -> None:
    # A framing not made by MirrorSource.frame (no plane fit, no normals) is a programming error.
    framing = Framing(mesh_reference(hull, icp_spacing=0.2))
    with pytest.raises(TypeError, match="plane fit"):
        MirrorSource().align(np.zeros((3, 3)), framing, CompareConfig(), None, None)
