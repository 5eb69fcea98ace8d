"""The live mapper's drift correction at the survey's end (recon.drift.require_reference, the
mapper node's default): against the reference as the comparator's findings document places it,
between submaps only where the comparator says it is in mirror mode, and a map as recorded (with the
reason counted) where it cannot correct."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hullscan.compare.config import CompareConfig
from hullscan.compare.live import (
    DriftReference,
    FirstThatFits,
    hull_to_nav_from,
    load_reference,
    read_reference,
)
from hullscan.compare.navref import nav_reference
from hullscan.compare.prior import PriorSigma
from hullscan.errors import HullscanError
from hullscan.model import Transform
from hullscan.recon.config import DriftConfig, ReconConfig
from hullscan.recon.live import FinalMap, MapperSettings, MappingSession, SessionLog
from hullscan.recon.pipeline import Reconstructor
from hullscan.settings import TopicsConfig
from tests.hullscan.recon.synth import Faults, surface_distance, survey
from tests.hullscan.recon.test_drift_reference import (
    HULL_TO_NAV,
    _cylinder_mesh,
    _with_heading_bias,
)

# The mapper node's defaults (hullscan.ros.mapper.MapperNode.node_config_defaults).
LIVE = ReconConfig(chunk_pings=1, drift=DriftConfig(enabled=True, require_reference=True, submap_length_m=2.5))


def _drifting() -> list[object]:
    # One lane, 3 % sideways drift and a 1 deg heading bias: the lane's end ~0.45 m off (RMS ~10 cm).
    return _with_heading_bias(survey(n_pings=400, beams=96, lanes=(0.0,), faults=Faults(drift_per_m=0.03)).items, 1.0)


def _document(mesh: Path, registered: bool = True, shift: tuple[float, float, float] = (0.0, 0.0, 0.0),
              sigma: PriorSigma | None = None) -> dict[str, Any]:
    """A placement as the comparator node publishes it (``/hullscan/placement``): the reference it
    read, the prior (``sigma``, default the default) and, ``registered``, the registration it keeps."""
    ref = load_reference(str(mesh))
    h = [*(HULL_TO_NAV.translation + shift), *HULL_TO_NAV.rotation]
    h2n, _ = hull_to_nav_from(h, "", ref)
    assert h2n is not None
    at = {"hull_to_nav": {"translation": h2n.translation.tolist(), "rotation": h2n.rotation.tolist()}}
    return {"reference": {"path": str(mesh), "draft": 0.0, "trim": 0.0, "length": 0.0, "units": "auto",
                          "up": "auto", "bow": "auto"},
            "prior": {**at, "sigma": (sigma or PriorSigma()).as_dict()}, "registered": at if registered else None}


def _placement(doc: dict[str, Any]) -> Transform:
    h = doc["registered"]["hull_to_nav"]
    return Transform(np.asarray(h["rotation"]), np.asarray(h["translation"]))


def _finish(items: list[object], placed: Any = None, against: str = "") -> FinalMap:
    session = MappingSession(lambda: Reconstructor(LIVE, TopicsConfig()), TopicsConfig(), LIVE.voxel_size,
                             MapperSettings(), SessionLog())
    for it in items:
        session.recon.add(it)
    return session.finish(drift_reference=placed, against=against)


def _rms(final: FinalMap) -> float:
    return float(np.sqrt(np.mean(surface_distance(final.cloud.points) ** 2)))


def test_end_of_survey_corrects_against_the_placed_reference(tmp_path: Path) -> None:
    # Placed exactly (as registered): the session hands it to the reconstructor, which corrects the
    # drift and fuses the map again. (How the comparator's placement is refined first, on real hull
    # forms: bench/live_quay_registration.py.)
    mesh = _cylinder_mesh(tmp_path / "cyl.ply")
    items = _drifting()
    doc = _document(mesh)
    placed = nav_reference(read_reference(doc["reference"]), _placement(doc), str(mesh), compare_config=CompareConfig())
    recorded = _finish(items)
    corrected = _finish(items, placed, str(mesh))
    assert _rms(recorded) > 0.08
    assert _rms(corrected) < 0.03
    assert corrected.drift["corrected"] and corrected.drift["against"] == str(mesh)
    assert int(corrected.drift["aligned"]) >= 1  # type: ignore[call-overload]
    # Never between submaps live: without a placed reference the map is the recorded one, and says why.
    assert not recorded.drift["corrected"]
    assert "no placed reference" in str(recorded.drift["why"])
    plain = Reconstructor(ReconConfig(chunk_pings=1))
    plain.add_all(items)
    assert np.array_equal(plain.finish().cloud.points, recorded.cloud.points)


def test_a_correction_that_fails_leaves_the_map_as_recorded(tmp_path: Path) -> None:
    # The drift stage's registration fails, and the mapper still has a final map (the recorded one), with why.
    mesh = _cylinder_mesh(tmp_path / "cyl.ply")
    items = _drifting()
    drift_to = DriftReference(CompareConfig())
    # Prior and registration both 3 m off across, each stated far tighter: neither search reaches.
    assert drift_to.offer(_document(mesh, shift=(0.0, 3.0, 0.0), sigma=PriorSigma(0.5, 0.3, 0.3, 1.0)))
    final = _finish(items, drift_to.placed(), drift_to.name)
    assert not final.drift["corrected"] and final.drift["why"], final.drift
    assert np.array_equal(final.cloud.points, _finish(items).cloud.points)


def test_a_restored_map_is_corrected_from_the_returns_its_checkpoints_kept(tmp_path: Path) -> None:
    # Killed mid-survey and restarted: the checkpoints (a base, then a delta) carried the returns kept
    # so far, bit for bit, so the end corrects the whole survey (the pings still waiting for their
    # navigation at the last checkpoint are lost with the kill, as the map's are).
    mesh = _cylinder_mesh(tmp_path / "cyl.ply")
    items = _drifting()
    doc = _document(mesh)
    a, b = len(items) // 3, 2 * len(items) // 3
    killed = Reconstructor(LIVE)
    killed.add_all(items[:a])
    assert killed.checkpoint_incremental(tmp_path / "mapper.ckpt")()["kind"] == "base"
    killed.add_all(items[a:b])
    assert killed.checkpoint_incremental(tmp_path / "mapper.ckpt")()["kind"] == "delta"
    again = Reconstructor(LIVE)
    again.restore(tmp_path / "mapper.ckpt")
    before, after = killed._kept(), again._kept()
    assert before is not None and after is not None and len(after) == len(before) > 100
    for x, y in zip(before, after, strict=True):
        assert (np.array_equal(x.stamps, y.stamps) and np.array_equal(x.ranges, y.ranges, equal_nan=True)
                and np.array_equal(x.keep, y.keep) and np.array_equal(x.dirs, y.dirs)
                and (x.frame_id, x.footprint) == (y.frame_id, y.footprint))
    assert len({id(blk.dirs) for blk in after}) == 1  # shared again, as before the restart (memory)
    again.add_all([items[0], *items[b:]])  # the mounting again, then the rest of the survey
    again.drift_reference = nav_reference(read_reference(doc["reference"]), _placement(doc), str(mesh))
    res = again.finish()
    assert ("drift", "not_corrected_after_restore") not in res.drops.counts
    assert res.stats["drift_aligned"] >= 1
    assert float(np.sqrt(np.mean(surface_distance(res.cloud.points) ** 2))) < 0.03  # recorded: over 0.08


def test_a_map_restored_from_a_checkpoint_without_returns_is_not_corrected(tmp_path: Path) -> None:
    # Written by a mapper that kept no returns (drift correction off, or an older version): fusing the
    # returns since the restart again would lose everything before it; the map stays as recorded.
    mesh = _cylinder_mesh(tmp_path / "cyl.ply")
    items = _drifting()
    first = Reconstructor(ReconConfig(chunk_pings=1))
    half = len(items) // 2
    first.add_all(items[:half])
    first.checkpoint(tmp_path / "mapper.ckpt")
    again = Reconstructor(LIVE)
    again.restore(tmp_path / "mapper.ckpt")
    again.add_all([items[0], *items[half:]])  # the mounting again, then the rest of the survey
    doc = _document(mesh)
    again.drift_reference = nav_reference(read_reference(doc["reference"]), _placement(doc), str(mesh))
    res = again.finish()
    assert ("drift", "not_corrected_after_restore") in res.drops.counts
    assert res.stats.get("drift_submaps", 0) == 0


def test_drift_reference_tries_the_prior_then_the_registration(tmp_path: Path) -> None:
    mesh = _cylinder_mesh(tmp_path / "cyl.ply")
    d = DriftReference(CompareConfig())
    assert d.placed() is None and d.name == ""
    assert not d.offer({**_document(mesh), "reference": {"path": "mirror"}})
    assert not d.offer({**_document(mesh), "prior": None, "registered": None})
    # Nothing registered yet: the prior, searched over its own uncertainty (as replay searches it).
    assert d.offer(_document(mesh, registered=False, sigma=PriorSigma(3.0, 1.0, 0.5, 5.0)))
    (prior,) = d.placed().placements
    assert prior.sigma.along_m == 3.0 and prior.sigma.heading_deg == 5.0
    # Registered too: the prior first (replay's search), then the registration, refined within its range.
    doc = _document(mesh, shift=(0.0, 0.1, 0.0))
    assert d.offer(doc) and d.name == str(mesh)
    prior, kept = d.placed().placements
    assert prior.sigma == PriorSigma() and kept.sigma.along_m == 0.5 and kept.sigma.heading_deg == 1.0
    np.testing.assert_allclose(kept.hull_to_nav.translation, doc["registered"]["hull_to_nav"]["translation"])


def test_the_first_placement_that_fits_is_kept(tmp_path: Path) -> None:
    class Placement:
        def __init__(self, fits: bool, sigma: object = "s") -> None:
            self.fits, self.sigma = fits, sigma

        def registered(self, survey: object) -> tuple[object, object]:
            if not self.fits:
                raise HullscanError("does not fit")
            return self, "registration"

    bad, good, exact = Placement(False), Placement(True), Placement(False, None)
    assert FirstThatFits((bad, good)).registered(None) == (good, "registration")
    assert FirstThatFits((exact, bad)).registered(None) == (exact, None)  # already placed: not searched
    with pytest.raises(HullscanError, match="does not fit; then does not fit"):
        FirstThatFits((bad, bad)).registered(None)


def test_the_session_asks_its_drift_target_at_the_end(tmp_path: Path) -> None:
    # The mapper node's path: the session holds the DriftReference and reads the placement only at
    # the end; a reference file gone by then finishes the map as recorded, with a warning.
    mesh = _cylinder_mesh(tmp_path / "cyl.ply")
    items = _drifting()
    drift_to = DriftReference(CompareConfig())
    log = SessionLog()
    session = MappingSession(lambda: Reconstructor(LIVE, TopicsConfig()), TopicsConfig(), LIVE.voxel_size,
                             MapperSettings(), log, drift_to)
    for it in items:
        session.recon.add(it)
    drift_to.offer(_document(mesh))
    mesh.unlink()
    final = session.finish()
    assert ("finish", "drift_reference_unreadable") in log.drops.counts
    assert not final.drift["corrected"] and "no placed reference" in str(final.drift["why"])
    assert session.stats["drift_corrected"] is False
    assert np.array_equal(final.cloud.points, _finish(items).cloud.points)
    assert final.summary()["drift"] == final.drift and final.summary()["points"] == len(final.cloud)


def test_mirror_mode_corrects_between_the_passes_as_replay_does() -> None:
    # The comparator in mirror mode says so on /hullscan/placement (no reference to place): the mapper
    # then aligns the survey's passes to each other at its end, the map bit for bit replay's (drift
    # between submaps); without that word from a comparator it stays as recorded (no placed reference).
    from hullscan.compare.live import BETWEEN_PASSES, LiveComparator, reference_spec

    cfg = DriftConfig(enabled=True, require_reference=True, submap_length_m=5.0)
    live_cfg = ReconConfig(chunk_pings=1, drift=cfg)
    items = survey(n_pings=400, beams=96, lanes=(-1.5, -0.75, 0.0, 0.75, 1.5), faults=Faults(drift_per_m=0.01)).items
    doc = LiveComparator("mirror", CompareConfig()).placement(reference_spec("mirror", {}))
    assert doc is not None and doc["mirror"] and doc["prior"] is None

    def end(offered: dict[str, Any] | None) -> FinalMap:
        drift_to = DriftReference(CompareConfig())
        if offered is not None:
            assert drift_to.offer(offered)
        session = MappingSession(lambda: Reconstructor(live_cfg, TopicsConfig()), TopicsConfig(), live_cfg.voxel_size,
                                 MapperSettings(), SessionLog(), drift_to)
        for it in items:
            session.recon.add(it)
        return session.finish()

    mirror, alone = end(doc), end(None)
    assert mirror.drift["corrected"] and mirror.drift["against"] == BETWEEN_PASSES, mirror.drift
    assert not alone.drift["corrected"] and "no placed reference" in str(alone.drift["why"])
    replayed = Reconstructor(ReconConfig(chunk_pings=1, drift=DriftConfig(enabled=True, submap_length_m=5.0)))
    replayed.add_all(items)
    assert np.array_equal(replayed.finish().cloud.points, mirror.cloud.points)
    assert _rms(mirror) < 0.5 * _rms(alone)
