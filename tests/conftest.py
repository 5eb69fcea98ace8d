"""Shared fixtures: loopback-only ROS environment, paths to shared data, sample factories."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_HULLS = REPO.parent / "shared" / "data" / "hulls"
_domain = itertools.count((os.getpid() % 50) * 4 + 20)


def ros_env(domain_id: int | None = None) -> dict[str, str]:
    """Environment for a DDS process: loopback only, a domain of its own."""
    env = dict(os.environ)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["ROS_DOMAIN_ID"] = str(domain_id if domain_id is not None else next(_domain) % 230)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that starts DDS participants (the ``ros_domain_env`` or ``rclpy_ctx`` fixture) is
    marked ``ros``: ``./setup.sh test`` runs those one at a time, as their timing assumes, and the rest
    on two workers."""
    for item in items:
        if {"ros_domain_env", "rclpy_ctx"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.ros)


@pytest.fixture
def ros_domain_env() -> dict[str, str]:
    pytest.importorskip("rclpy", reason="needs the ROS 2 wheels (pip install -e '.[ros]')")
    return ros_env()


@pytest.fixture
def rclpy_ctx(ros_domain_env: dict[str, str]) -> Iterator[Any]:
    """rclpy initialised in this process (nodes made and called directly), on the test's own domain."""
    import rclpy

    old = {k: os.environ.get(k) for k in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_DOMAIN_ID")}
    os.environ.update({k: ros_domain_env[k] for k in old})
    try:
        with rclpy.init():
            yield rclpy
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def shared_hulls() -> Path:
    if not SHARED_HULLS.is_dir():
        pytest.skip(f"shared hull meshes not found at {SHARED_HULLS}")
    return SHARED_HULLS


@pytest.fixture(autouse=True)
def _findings_json_matches_schema(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """Every findings.json a test writes (anywhere under pytest's tmp dirs) validates against the
    JSON Schema shipped in the package (``hullscan schema findings``)."""
    import time

    start = time.time()
    yield
    base = tmp_path_factory.getbasetemp()
    written = [p for p in base.rglob("findings.json") if p.stat().st_mtime >= start - 1.0]
    if not written:
        return
    import json

    from hullscan.report.schema import validate_findings

    for p in written:
        validate_findings(json.loads(p.read_text()), str(p))
