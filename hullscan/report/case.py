"""Case data: who inspected which ship where and when (``--case FILE.yaml``).

Shown at the top of the report and recorded in findings.json under ``case``. The survey's start and
end come from the bag (rosbag2 ``metadata.yaml``) when the case file does not give them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hullscan.errors import ConfigError

# Order and labels as the report shows them.
CASE_FIELDS: tuple[tuple[str, str], ...] = (
    ("case_number", "case number"), ("vessel_name", "vessel"), ("imo_number", "IMO number"), ("flag", "flag"),
    ("port", "port"), ("berth", "berth"), ("agency", "agency"), ("operator", "operator"),
    ("survey_start", "survey start (UTC)"), ("survey_end", "survey end (UTC)"), ("vehicle", "vehicle"),
)


class CaseData(BaseModel):
    """One case file. Every field is optional: the report says 'not given' for what is missing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    case_number: str | None = None
    vessel_name: str | None = None
    imo_number: str | None = Field(None, pattern=r"^(IMO ?)?\d{7}$", description="IMO ship number, 7 digits")
    flag: str | None = None
    port: str | None = None
    berth: str | None = None
    operator: str | None = None
    agency: str | None = None
    survey_start: str | None = Field(None, description="ISO 8601, UTC")
    survey_end: str | None = Field(None, description="ISO 8601, UTC")
    vehicle: str | None = Field(None, description="vehicle make, model and serial")
    sensor_serials: dict[str, str] = Field(default_factory=dict, description="sensor -> serial number")


def load_case(path: str | Path | None) -> CaseData:
    """Read a case YAML; a bad file is one :class:`ConfigError` line naming the file and field."""
    if path is None:
        return CaseData()
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{p}: cannot read case file: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping of case fields (case_number, vessel_name, ...)")
    # YAML reads an unquoted date as a date and 9074729 as an int: the case file holds text.
    data = {k: (v if isinstance(v, dict) or v is None else str(v)) for k, v in data.items()}
    if isinstance(data.get("sensor_serials"), dict):
        data["sensor_serials"] = {str(k): str(v) for k, v in data["sensor_serials"].items()}
    try:
        return CaseData.model_validate(data)
    except ValidationError as err:
        e = err.errors()[0]
        where = ".".join(str(x) for x in e["loc"])
        raise ConfigError(f"{p}: case field {where!r}: {e['msg']}") from err


def _iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns * 1e-9, dt.UTC).isoformat(timespec="seconds")


def survey_span_from_bag(bag: str | Path | None) -> dict[str, Any] | None:
    """{start, end (ISO 8601 UTC), duration_s} of a rosbag2 recording from its ``metadata.yaml``; None
    when there is none (a bare .mcap/.db3, or not a bag)."""
    if bag is None:
        return None
    meta = Path(bag) / "metadata.yaml"
    if not meta.is_file():
        return None
    try:
        info = yaml.safe_load(meta.read_text())["rosbag2_bagfile_information"]
        start = int(info["starting_time"]["nanoseconds_since_epoch"])
        dur = int(info["duration"]["nanoseconds"])
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError):
        return None
    return {"start": _iso(start), "end": _iso(start + dur), "duration_s": dur * 1e-9}


def survey_times_from_bag(bag: str | Path | None) -> tuple[str | None, str | None]:
    """(start, end) of a rosbag2 recording, ISO 8601 UTC; (None, None) when not known."""
    span = survey_span_from_bag(bag)
    return (None, None) if span is None else (span["start"], span["end"])


def case_record(case: CaseData, bag: str | Path | None = None) -> dict[str, Any]:
    """The case as findings.json records it, survey times filled from the bag where not given."""
    d = case.model_dump(mode="json")
    start, end = survey_times_from_bag(bag)
    d["survey_times_from"] = "case file"
    if d["survey_start"] is None and start is not None:
        d["survey_start"], d["survey_end"] = start, end
        d["survey_times_from"] = "bag"
    elif d["survey_start"] is None:
        d["survey_times_from"] = None
    return d
