"""docs/config.md is the configuration the code reads: regenerated, it is unchanged."""

from __future__ import annotations

from pathlib import Path

from hullscan.config import HullscanConfig
from hullscan.configdoc import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "config.md"


def test_config_reference_is_current() -> None:
    assert DOC.read_text() == render(), "docs/config.md is stale: python -m hullscan.configdoc > docs/config.md"


def test_every_compare_key_is_documented() -> None:
    text = DOC.read_text()
    cfg = HullscanConfig().compare
    for group in ("alignment", "detection", "coverage", "mirror", "scoring", "evidence"):
        for key in type(getattr(cfg, group)).model_fields:
            assert f"`compare.{group}.{key}`" in text or key == "registration", (group, key)
