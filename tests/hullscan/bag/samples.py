"""Sample factories shared by the bag tests: every contract topic, values exact in float32."""

from __future__ import annotations

import dataclasses

import numpy as np

from hullscan.model import (
    CameraFrame,
    CameraModel,
    ImagingPing,
    MultibeamDetections,
    NavSample,
    PointsPing,
    ProfilingPing,
    Transform,
    TransformStamped,
)

T0 = 1_700_000_000_123_456_789


def contract_samples(n: int = 4) -> list[object]:
    """Samples for every topic of the input contract, in time order."""
    rng = np.random.default_rng(7)
    out: list[object] = [
        TransformStamped(T0, "base_link", "sonar", Transform.from_euler(0.0, 0.5, 0.0, (0.5, 0.0, -0.25)), True),
        TransformStamped(T0, "base_link", "camera", Transform.from_euler(0.0, 0.0, 0.25, (0.25, 0.0, 0.0)), True),
        TransformStamped(T0, "base_link", "multibeam", Transform.from_euler(1.5, 0.0, 0.0, (0.5, 0.0, 0.0)), True),
    ]
    beams = 16
    angles = (-1.0 + 0.125 * np.arange(beams)).astype(np.float32)  # exact in float32 and float64
    for i in range(n):
        t = T0 + i * 50_000_000
        out.append(NavSample(t, rng.normal(size=3), [0.0, 0.0, 0.6, 0.8], position_sigma=[0.5, 0.25, 0.125],
                             orientation_sigma=[0.0625, 0.0625, 0.25], velocity=[0.5, 0.0, 0.0]))
        out.append(TransformStamped(t, "odom", "base_link_truth", Transform.from_euler(0, 0, 0.5, (i, 0, 0))))
        out.append(ProfilingPing(t, "sonar", angles, rng.uniform(1, 10, beams).astype(np.float32),
                                 rng.uniform(0, 100, beams).astype(np.float32), range_min=0.5, range_max=30.0,
                                 beamwidth=float(np.deg2rad(1.0))))
        out.append(PointsPing(t, "sonar", rng.normal(size=(20, 3)), rng.uniform(0, 1, 20)))
        d = rng.normal(size=(8, 3))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        out.append(ImagingPing(t, "sonar", d.astype(np.float32), np.linspace(0.5, 4.0, 8),
                               rng.uniform(0, 255, (8, 8)).round(), beamwidth=0.015625,
                               elevation_aperture=0.25, sound_speed=1500.0, frequency=900000.0))
        rx = np.linspace(-0.75, 0.75, 12)
        out.append(MultibeamDetections(t, "multibeam", rng.uniform(0.002, 0.01, 12), rx, np.zeros(12),
                                       np.zeros(12, np.uint8), rng.uniform(0, 1, 12), sound_speed=1480.0))
        img = rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)
        out.append(CameraFrame(t, "camera", img, compressed=False, format="rgb8"))
        out.append(CameraFrame(t, "camera", img, compressed=True, format="png"))
        out.append(CameraModel(t, "camera", 16, 12, np.array([[20.0, 0, 8], [0, 20.0, 6], [0, 0, 1]])))
    return out


def assert_same(a: object, b: object) -> None:
    """Field-by-field equality of two core dataclasses (arrays compared exactly)."""
    assert type(a) is type(b), (type(a), type(b))
    for f in dataclasses.fields(a):  # type: ignore[arg-type]
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if isinstance(va, Transform):
            assert va.almost_equal(vb, 1e-12), f.name
        elif isinstance(va, np.ndarray):
            np.testing.assert_array_equal(va, vb, err_msg=f"{type(a).__name__}.{f.name}")
        elif isinstance(va, float):
            assert np.float32(va) == np.float32(vb), (f.name, va, vb)
        else:
            assert va == vb, (f.name, va, vb)
