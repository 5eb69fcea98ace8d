"""The configuration reference (docs/config.md), generated from the pydantic models so that the
documented keys, defaults and meanings are the ones the code reads::

    python -m hullscan.configdoc > docs/config.md
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import BaseModel

from hullscan.config import HullscanConfig

INTRO = """# Configuration reference

Every run writes the configuration it used to `config.yaml` in its output folder; `--config FILE`
(CLI) or `config_file` (ROS nodes) reads the same YAML, and each ROS node also takes every key as a
parameter (`compare.detection.min_zscore`). Unknown keys are errors. The comparator's settings are
grouped by concern (issue 14); a flat key of the earlier layout (`compare: {min_zscore: 3}`) is
still read, moved into its group with a warning.

Generated from the models by `python -m hullscan.configdoc > docs/config.md` (a test checks it is
current).
"""


def _default(field: Any) -> str:
    value = field.default_factory() if field.default_factory is not None else field.default
    if isinstance(value, BaseModel):
        return ""
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows: list[str] = []
    nested: list[tuple[str, type[BaseModel], str]] = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            nested.append((f"{prefix}{name}", ann, (field.description or ann.__doc__ or "").strip()))
            continue
        desc = (field.description or "").replace("|", "/").replace("\n", " ")
        rows.append(f"| `{prefix}{name}` | `{_default(field)}` | {desc} |")
    out = []
    if rows:
        out += ["| key | default | meaning |", "|---|---|---|", *rows, ""]
    for key, sub, doc in nested:
        first = doc.split("\n\n")[0].replace("\n", " ")
        out += [f"### `{key}`", "", first, "", *_rows(sub, key + ".")]
    return out


def render() -> str:
    lines = [INTRO]
    for name, field in HullscanConfig.model_fields.items():
        ann = field.annotation
        assert isinstance(ann, type) and issubclass(ann, BaseModel)
        doc = (ann.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        lines += [f"## `{name}`", "", doc, "", *_rows(ann, name + ".")]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
