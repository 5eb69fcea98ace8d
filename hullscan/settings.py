"""Configuration foundations every layer may use: strict models, the input contract (topics
and frames), bag settings, and YAML reading/writing with errors that name the key.

The whole configuration (:class:`hullscan.config.HullscanConfig`) sits on top and imports each
stage's model; the stages import only this module, so no stage imports the aggregate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hullscan.errors import ConfigError


class StrictModel(BaseModel):
    """Base for config models: unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TopicsConfig(StrictModel):
    """Input contract: topic names and frames. Empty string disables a topic.

    When a named topic is absent from a bag, the reader falls back to the only
    topic of the expected message type, so bags from other drones work unchanged.
    """

    scan: str = "/sonar/scan"
    points: str = "/sonar/points"
    image: str = "/sonar/image"
    detections: str = "/sonar/detections"  # marine_acoustic_msgs/SonarDetections (a multibeam's own detections)
    odom: str = "/nav/odom"
    tf: str = "/tf"
    tf_static: str = "/tf_static"
    camera_image: str = "/camera/image_raw"
    camera_compressed: str = "/camera/image_raw/compressed"
    camera_info: str = "/camera/camera_info"
    nav_frame: str = "odom"
    base_frame: str = "base_link"
    find_by_type: bool = Field(True, description="fall back to the message type when a name is absent")


class BagConfig(StrictModel):
    """How bags are read and written."""

    storage: str = Field("mcap", pattern="^(mcap|sqlite3)$", description="storage plugin when writing")
    max_backwards_s: float = Field(0.0, ge=0.0, description="tolerated per-topic stamp regression")


def _format_validation(err: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key")
        else:
            lines.append(f"  {key}: {e['msg']} (got {e.get('input')!r})")
    return "\n".join(lines)


def model_from_dict(model: type[StrictModel] | type[BaseModel], data: dict[str, Any], source: str) -> Any:
    """Validate ``data`` against ``model``; errors name the key and the expectation."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_validation(err, source)) from err


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with an error that names the file."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as err:
        raise ConfigError(f"{p}: cannot read config file: {err.strerror}") from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{p}: not valid YAML: {err}") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def dump_config(config: BaseModel, path: str | Path) -> None:
    """Write ``config`` as YAML (the record of what a run used)."""
    Path(path).write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
