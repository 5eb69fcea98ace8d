"""The end-to-end pipeline module (hullscan.inspection) and its seams."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from hullscan.cloud_io import save_cloud
from hullscan.compare.kinds import MeshSource, MirrorSource, ScanSource
from hullscan.compare.prior import REGISTERED_SIGMA, parse_prior
from hullscan.config import HullscanConfig
from hullscan.diagnostics import DropLog
from hullscan.errors import HullscanError
from hullscan.inspection import (
    EarlierRegistration,
    SurveyReference,
    _prior_placement,
    compare_cloud,
    inspect_survey,
    load_survey_reference,
    place_prior,
)
from hullscan.model import HullCloud, Transform

ROOT = Path(__file__).resolve().parents[2]
QUAY = {"ship_heading_deg": 45.0, "start": {"x_from_stern_m": 20.0, "side": "port", "depth_m": 2.0}}


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_only_the_cli_imports_the_command_adapters() -> None:
    offenders = []
    for folder in ("hullscan", "bench", "sim"):
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT)
            if rel.parts[:2] == ("hullscan", "commands") or rel == Path("hullscan/cli.py"):
                continue
            if any(n == "hullscan.commands" or n.startswith("hullscan.commands.") for n in _imports(path)):
                offenders.append(str(rel))
    assert offenders == []


def test_mirror_mode_is_a_kind_from_loading_on() -> None:
    ref = load_survey_reference(None)
    assert isinstance(ref.source, MirrorSource) and ref.surface is None and ref.label == "mirror"
    assert ref.ref_from_hull is None


def test_a_saved_scan_loads_as_an_earlier_scan(tmp_path: Path, clean_scan_cloud: HullCloud) -> None:
    save_cloud(clean_scan_cloud, tmp_path / "earlier.ply")
    ref = load_survey_reference(str(tmp_path / "earlier.ply"))
    assert isinstance(ref.source, ScanSource) and isinstance(ref.surface, HullCloud)
    assert len(ref.surface) == len(clean_scan_cloud)


def test_a_quay_prior_needs_a_design_mesh_and_a_survey() -> None:
    quay = parse_prior(QUAY, "quay.yaml")
    cfg = HullscanConfig()
    with pytest.raises(HullscanError, match=r"quay\.yaml: a quay prior names a frame and side of the design hull"):
        place_prior(quay, load_survey_reference(None), "bag", cfg)
    with pytest.raises(HullscanError, match=r"quay\.yaml: a quay prior needs the survey's first navigation fix"):
        place_prior(quay, load_survey_reference(None), None, cfg)
    transform = parse_prior({"translation": [1.0, 2.0, 0.0], "yaw_deg": 30}, "prior.json")
    assert place_prior(transform, load_survey_reference(None), None, cfg) is transform
    assert place_prior(None, load_survey_reference(None), None, cfg) is None


def test_an_earlier_registration_is_only_refined_not_searched_again() -> None:
    ref = load_survey_reference(None)
    prior = parse_prior({"translation": [1.0, 2.0, 0.0], "yaw_deg": 30}, "prior.json")
    registered = EarlierRegistration(Transform(translation=np.array([1.1, 2.0, 0.0])))
    assert _prior_placement(ref, prior, registered) == (registered.hull_to_nav, REGISTERED_SIGMA)
    hull_to_nav, sigma = _prior_placement(ref, prior, None)
    assert hull_to_nav is not None and sigma == prior.search
    assert np.allclose(hull_to_nav.translation, [1.0, 2.0, 0.0])
    assert _prior_placement(ref, None, None) == (None, None)
    # Where that registration found the position along the ship ambiguous (a flat bottom), the
    # refinement may settle anywhere in its range: checked along the ship no tighter than that
    # (heavy_growth: the final fit 1.8 m from the drift stage's, the truth inside -1.1/+4.1 m, had
    # been refused as "navigation prior is outside the capture range").
    flat = EarlierRegistration(registered.hull_to_nav, along_range_m=(-1.1, 4.1))
    _, sigma = _prior_placement(ref, prior, flat)
    assert sigma is not None and sigma.along_m == 4.1
    assert (sigma.across_m, sigma.heading_deg) == (REGISTERED_SIGMA.across_m, REGISTERED_SIGMA.heading_deg)
    fixed = EarlierRegistration(registered.hull_to_nav, along_range_m=(0.0, 0.1))
    assert _prior_placement(ref, prior, fixed)[1] == REGISTERED_SIGMA


def test_a_failed_comparison_writes_a_partial_report_then_raises(tmp_path: Path) -> None:
    cloud = HullCloud.from_points(np.random.default_rng(0).normal(size=(30, 3)))
    upstream = DropLog()
    upstream.add("bag", "missing_vs_index", 7)
    ref = SurveyReference(MirrorSource(), None, "mirror")
    with pytest.raises(HullscanError, match="usable points"):
        inspect_survey(cloud, ref, tmp_path, HullscanConfig(), {"cloud": "c.ply"}, upstream=upstream,
                       progress=False)
    doc = json.loads((tmp_path / "findings.json").read_text())
    assert doc["status"] == "partial" and "usable points" in doc["error"]["message"]
    # The upstream losses are in the partial report too.
    assert any(d["reason"] == "missing_vs_index" and d["count"] == 7 for d in doc["drops"])


def test_compare_cloud_end_to_end_against_a_design_mesh(tmp_path: Path, hull, scan) -> None:
    from hullscan.hull.io import save_mesh
    from hullscan.hull.mesh import HullMesh

    cloud_path = tmp_path / "cloud.ply"
    save_cloud(scan.cloud, cloud_path)
    mesh = HullMesh(hull.vertices, hull.faces, hull.face_region, name="hull", source="synthetic",
                    length=hull.length, beam=hull.beam, draft=hull.draft)
    save_mesh(mesh, tmp_path / "hull.ply")
    loaded = load_survey_reference(str(tmp_path / "hull.ply"))
    assert isinstance(loaded.source, MeshSource) and isinstance(loaded.surface, HullMesh)
    prior = tmp_path / "prior.json"
    t = scan.hull_to_nav
    prior.write_text(json.dumps({"translation": t.translation.tolist(), "rotation": t.rot.as_quat().tolist()}))
    ins = compare_cloud(str(cloud_path), str(tmp_path / "hull.ply"), str(tmp_path / "out"), HullscanConfig(),
                        prior_path=str(prior), progress=False)
    assert ins.reference_kind == "mesh" and ins.status == "complete" and ins.failure is None
    doc = json.loads((tmp_path / "out" / "findings.json").read_text())
    assert doc["reference"]["kind"] == "mesh"
    assert [f["id"] for f in doc["findings"]] == [f.id for f in ins.findings] and ins.findings


def test_compare_cloud_with_a_missing_reference_still_writes_a_partial_report(tmp_path: Path,
                                                                               clean_scan_cloud: HullCloud) -> None:
    save_cloud(clean_scan_cloud, tmp_path / "cloud.ply")
    with pytest.raises(HullscanError, match="reference not found"):
        compare_cloud(str(tmp_path / "cloud.ply"), str(tmp_path / "none.stl"), str(tmp_path / "out"),
                      HullscanConfig(), progress=False)
    assert json.loads((tmp_path / "out" / "findings.json").read_text())["status"] == "partial"


@pytest.fixture(scope="module")
def clean_scan_cloud() -> HullCloud:
    from hullscan.compare.synthetic import make_hull, make_scan

    hull = make_hull(length=20.0, beam=6.0, draft=2.5, n_x=41, n_s=25)
    return make_scan(hull, (), spacing=0.2, growth=0.0, seed=2).cloud


@pytest.fixture(scope="module")
def hull():
    from hullscan.compare.synthetic import make_hull

    return make_hull(length=20.0, beam=6.0, draft=2.5, n_x=81, n_s=49)


@pytest.fixture(scope="module")
def scan(hull):
    from hullscan.compare.synthetic import Box, make_scan

    box = Box(8.0, 1, -1.2, (0.6, 0.5, 0.2), name="port side")
    return make_scan(hull, (box,), spacing=0.05, growth=0.3,
                     hull_to_nav=Transform.from_euler(0.01, -0.005, 0.6, (120.0, -40.0, 0.3)), seed=1)


def test_a_fouled_hulls_growth_layer_widens_every_findings_along_ship_uncertainty() -> None:
    # The layer could have moved the whole survey 0.84 m along a taper (fouled_feeder): a bound,
    # taken as 2 sigma of the placement along the ship.
    from types import SimpleNamespace

    from hullscan.compare.align import LayerTrade
    from hullscan.compare.config import CompareConfig
    from hullscan.inspection import place_along_ship
    from hullscan.model import Finding, Transform
    from hullscan.recon.drift import AlongShipUncertainty
    from hullscan.recon.smoothing import AlongPosterior

    post = AlongPosterior(np.array([0.04, 0.09]), np.array([0.01, 0.01]), 0.02)
    along = AlongShipUncertainty(np.array([1.0, 2.0]), np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0]]),
                                 np.array([1.0, 0.0, 0.0]), post, 0.1, 0.01)
    f = Finding("F001", "protrusion", (5.0, 0.0, 0.0), 0.05, 0.2, 0.3, (4.8, -0.2, -0.2), (5.2, 0.2, 0.2),
                "side", "starboard", 5.0, 4.0, 0.9, 0.5, 100)
    reg = SimpleNamespace(along_sd_m=lambda step: 0.05)
    layer = LayerTrade(0.087, np.eye(4), np.eye(4), -0.84, -0.08, -0.08, 0.05)

    def placed(with_layer: bool) -> float:
        ins = SimpleNamespace(alignment=SimpleNamespace(registration=reg, layer=layer if with_layer else None),
                              config=CompareConfig(), findings=(f,), notes=[], along_ship=None)
        place_along_ship(ins, along, Transform(), 20.0)  # type: ignore[arg-type]
        return float(ins.findings[0].along_uncertainty_m)

    smooth, fouled = placed(False), placed(True)
    assert fouled >= 0.84 and fouled > smooth + 0.2


def test_a_placement_an_anode_fixed_is_checked_within_that_not_the_registrations_range() -> None:
    # The registration before drift correction called the position along the ship ambiguous by
    # -3.5/+4.5 m; the comparison re-checks it over that range, unless the drift stage has since
    # placed the survey along the ship from an anode it saw (recon.drift.along_features).
    from hullscan.inspection import EarlierRegistration, _registered_sigma
    from hullscan.model import Transform
    from hullscan.recon.drift import AlongShipUncertainty
    from hullscan.recon.smoothing import AlongPosterior

    post = AlongPosterior(np.array([0.12**2, 0.3**2]), np.array([0.0, 0.0]), 1.0)
    centres = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0]])

    def sigma(fixed: np.ndarray | None) -> float:
        along = AlongShipUncertainty(np.array([1.0, 2.0]), centres, np.array([1.0, 0.0, 0.0]), post, None, 0.01,
                                     relief_fixed=fixed)
        return _registered_sigma(EarlierRegistration(Transform(), along=along, along_range_m=(-3.5, 4.5))).along_m

    assert sigma(None) == 4.5
    assert sigma(np.array([False, False])) == 4.5
    assert abs(sigma(np.array([True, False])) - 0.12) < 1e-9
