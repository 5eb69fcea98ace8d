"""Case files: read, validated with one clear line, survey times from the bag."""

from __future__ import annotations

from pathlib import Path

import pytest

from hullscan.errors import ConfigError
from hullscan.report.case import case_record, load_case


def test_case_file_round_trip(tmp_path: Path) -> None:
    p = tmp_path / "case.yaml"
    p.write_text("case_number: C-1\nvessel_name: MV Test\nimo_number: 9074729\nsurvey_start: 2026-12-02T06:10:00Z\n"
                 "sensor_serials: {sonar: 12345}\n")
    case = load_case(p)
    assert case.imo_number == "9074729" and case.sensor_serials == {"sonar": "12345"}
    rec = case_record(case)
    assert rec["case_number"] == "C-1" and rec["survey_times_from"] == "case file"
    assert rec["survey_start"].startswith("2026-12-02")


@pytest.mark.parametrize(("text", "match"), [
    ("imo_number: 12345\n", r"case\.yaml: case field 'imo_number'"),
    ("vessel: MV Test\n", r"case field 'vessel'"),
    ("- a list\n", "expected a mapping"),
])
def test_bad_case_file_is_one_line(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "case.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        load_case(p)
    assert "\n" not in str(info.value)


def test_missing_case_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read case file"):
        load_case(tmp_path / "nope.yaml")


def test_survey_times_from_the_bag(tmp_path: Path) -> None:
    from hullscan.bag import BagWriter
    from tests.hullscan.bag.samples import contract_samples

    with BagWriter(tmp_path / "bag") as bag:
        for x in contract_samples(2):
            bag.write(x)
    rec = case_record(load_case(None), tmp_path / "bag")
    assert rec["survey_times_from"] == "bag" and rec["survey_start"] <= rec["survey_end"]
    assert case_record(load_case(None), tmp_path / "not-a-bag")["survey_times_from"] is None
