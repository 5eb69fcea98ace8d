from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hullscan.config import dump_config, load_config
from hullscan.errors import ConfigError


def test_defaults_and_roundtrip(tmp_path: Path) -> None:
    cfg = load_config(None)
    assert cfg.topics.scan == "/sonar/scan"
    dump_config(cfg, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == cfg


def test_unknown_key_is_named(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump({"topics": {"scann": "/x"}}))
    with pytest.raises(ConfigError, match=r"topics.scann: unknown key"):
        load_config(p)


def test_bad_value_is_named(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump({"recon": {"voxel_size": 0.5}}))
    with pytest.raises(ConfigError, match=r"recon.voxel_size"):
        load_config(p)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml"):
        load_config(tmp_path / "nope.yaml")
