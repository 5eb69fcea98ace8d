"""Real Oculus imaging-sonar pings (liboculus's test captures in ../shared): parse, convert, detect."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from hullscan.bag import BagReader
from hullscan.core.georef import cfar_first
from hullscan.diagnostics import DropLog
from hullscan.model import ImagingPing
from hullscan.recon.config import ReconConfig
from hullscan.sonar.oculus import OculusFormatError, parse_message, read_pings
from tests.conftest import REPO

OCULUS = REPO.parent / "shared" / "data" / "sonar" / "oculus"


@pytest.fixture
def oculus_dir() -> Path:
    if not (OCULUS / "three_pings_8bit.raw").is_file():
        pytest.skip(f"real Oculus captures not found at {OCULUS}")
    return OCULUS


def test_header_fields_bearings_and_range_resolution(oculus_dir: Path) -> None:
    drops = DropLog()
    (ping,) = list(read_pings(oculus_dir / "one_ping_8bit.raw", drops))
    assert not drops
    assert ping.source_device == 7892 and ping.message_version == 0  # the README's header facts
    assert (ping.n_ranges, ping.n_beams) == (703, 256)
    assert ping.intensities.dtype == np.uint8
    b = ping.bearings_deg
    assert np.all(np.diff(b) > 0)                     # strictly monotonic bearings
    assert -90 < b[0] < 0 < b[-1] < 90                # a fan across the boresight
    assert 1400 < ping.speed_of_sound < 1600          # sea or fresh water
    # Range lines span the range asked for in the fire message (metres: flags bit 0).
    assert ping.flags & 1
    assert 0.0005 < ping.range_resolution < 0.05
    assert ping.n_ranges * ping.range_resolution == pytest.approx(ping.range_demand, rel=0.02)
    assert ping.intensities.max() > 100 and ping.intensities.min() < 20  # returns and quiet water


def test_three_pings_are_consecutive(oculus_dir: Path) -> None:
    pings = list(read_pings(oculus_dir / "three_pings_8bit.raw"))
    assert [p.ping_id - pings[0].ping_id for p in pings] == [0, 1, 2]
    assert all(p.intensities.shape == (703, 256) for p in pings)
    # The same scene three times: the images correlate strongly, but are not copies.
    a, b = (pings[i].intensities.astype(float).ravel() for i in (0, 1))
    assert 0.8 < np.corrcoef(a, b)[0, 1] < 1.0


def test_cfar_finds_returns_in_real_pings(oculus_dir: Path) -> None:
    """The mapper's detector (default settings) on real data: returns are found, stand out from
    the water before them, and come back at the same range in consecutive pings of one scene.
    (Its 8 training cells are 2.3 cm at this 2.8 mm resolution, inside a long echo, so not every
    beam fires.)"""
    cfg = ReconConfig()
    firsts = []
    for ping in read_pings(oculus_dir / "three_pings_8bit.raw"):
        img = ping.to_imaging_ping(0).intensities
        first = cfar_first(img, cfg.cfar_guard, cfg.cfar_train, cfg.cfar_scale, cfg.cfar_min_intensity, first_bin=5)
        hit = first >= 0
        assert hit.mean() > 0.1, hit.mean()
        b = np.nonzero(hit)[0]
        before = np.array([img[max(first[i] - 20, 0):max(first[i] - 2, 1), i].mean() for i in b])
        assert np.median(img[first[b], b] / np.maximum(before, 1.0)) > cfg.cfar_scale
        assert np.all(first[b] * ping.range_resolution < ping.range_demand)
        firsts.append(first)
    both = (firsts[0] >= 0) & (firsts[1] >= 0)
    assert both.sum() >= 20
    assert np.median(np.abs(firsts[0][both] - firsts[1][both])) * ping.range_resolution < 0.02


def test_oculus2bag_writes_projected_sonar_images(oculus_dir: Path, tmp_path: Path) -> None:
    from hullscan.cli import main

    out = tmp_path / "bag"
    assert main(["oculus2bag", str(oculus_dir / "one_ping_8bit.raw"), str(oculus_dir / "three_pings_8bit.raw"),
                 "--out", str(out), "--rate", "5"]) == 0
    with BagReader(out) as bag:
        pings = [s for s in bag.samples() if isinstance(s, ImagingPing)]
    assert len(pings) == 4
    assert [p.stamp_ns for p in pings] == [0, 200_000_000, 400_000_000, 600_000_000]
    src = next(read_pings(oculus_dir / "one_ping_8bit.raw"))
    p = pings[0]
    assert np.array_equal(p.intensities, src.intensities.astype(np.float32))  # uint8 in the bag, exact
    azimuth = np.rad2deg(np.arctan2(-p.beam_directions[:, 1], p.beam_directions[:, 0]))
    assert np.allclose(azimuth, src.bearings_deg, atol=1e-3)
    assert np.allclose(np.diff(p.ranges), src.range_resolution, rtol=1e-3)


def _message(n_ranges: int = 4, n_beams: int = 3, **change: int) -> bytearray:
    """A small synthetic simple ping result, laid out field by field as the format facts say."""
    image = bytes(range(n_ranges * n_beams))
    bearings = struct.pack(f"<{n_beams}h", *range(-100, -100 + 100 * n_beams, 100))
    img_off = 122 + len(bearings)
    size = img_off + len(image)
    head = struct.pack("<HHHHHIH", change.get("oid", 0x4F53), 1, 0, change.get("msg", 0x23), 0, size - 16, 0)
    fire = struct.pack("<BBBBBdddd", 2, 0, 0, 0, 1, 1.0, 50.0, 1500.0, 0.0)
    result = struct.pack("<IIddddIBdHHIII", 7, 0, 1.2e6, 10.0, 1.0, 1500.0, 0, 0, 0.25, n_ranges, n_beams,
                         img_off, change.get("img_size", len(image)), size)
    return bytearray(head + fire + result + bearings + image)


def test_synthetic_message_round_trip_and_errors(tmp_path: Path) -> None:
    ping = parse_message(bytes(_message()))
    assert ping.intensities.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
    assert ping.bearings_deg.tolist() == [-1.0, 0.0, 1.0]
    assert ping.ranges.tolist() == [0.125, 0.375, 0.625, 0.875]
    with pytest.raises(OculusFormatError, match="oculus_id"):
        parse_message(bytes(_message(oid=0x1234)))
    with pytest.raises(OculusFormatError, match="image_size"):
        parse_message(bytes(_message(img_size=11)))
    # A capture: a ping, a status message (skipped, counted), a ping cut off (counted).
    other = _message(msg=0x01)
    raw = tmp_path / "cap.raw"
    raw.write_bytes(bytes(_message() + other + _message()[:50]))
    drops = DropLog()
    assert len(list(read_pings(raw, drops))) == 1
    assert {r for _, r in drops.counts} == {"skipped_message_0x01_v0", "truncated"}


def test_oculus2bag_bad_file_is_one_line(tmp_path: Path) -> None:
    import subprocess

    bad = tmp_path / "notsonar.raw"
    bad.write_bytes(b"\0" * 64)
    done = subprocess.run([sys.executable, "-m", "hullscan", "oculus2bag", str(bad), "--out", str(tmp_path / "b")],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "notsonar.raw at byte 0: oculus_id" in lines[0], done.stderr
