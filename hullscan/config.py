"""Typed configuration: one pydantic model per subsystem, loaded from YAML.

Unknown keys are errors (a typo must not silently fall back to a default), and
every run writes the config it used into its output folder.

Subsystems own their model in their own module (``hullscan.recon.config``,
``hullscan.compare.config``); this module only assembles them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hullscan.compare.config import CompareConfig
from hullscan.recon.config import ReconConfig
from hullscan.report.config import ReportConfig
from hullscan.settings import (
    BagConfig,
    StrictModel,
    TopicsConfig,
    deep_merge,
    dump_config,
    model_from_dict,
    read_yaml,
)


class HullscanConfig(StrictModel):
    """Everything a run needs; written to ``config.yaml`` in each output folder."""

    topics: TopicsConfig = TopicsConfig()
    bag: BagConfig = BagConfig()
    recon: ReconConfig = ReconConfig()
    compare: CompareConfig = CompareConfig()
    report: ReportConfig = ReportConfig()


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> HullscanConfig:
    """Load a :class:`HullscanConfig` from YAML (defaults when ``path`` is None)."""
    data = read_yaml(path) if path is not None else {}
    if overrides:
        data = deep_merge(data, overrides)
    return model_from_dict(HullscanConfig, data, str(path) if path else "<defaults>")


__all__ = ["BagConfig", "HullscanConfig", "StrictModel", "TopicsConfig", "deep_merge", "dump_config", "load_config",
           "model_from_dict", "read_yaml"]
