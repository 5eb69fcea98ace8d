"""A checkpoint is restored only into the survey it belongs to (--resume / --fresh make the intent explicit)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hullscan.errors import HullscanError
from hullscan.recon.checkpoint import (
    SurveyIdentity,
    read_identity,
    restore_decision,
    write_identity,
)

S = 1_000_000_000
IDENT = SurveyIdentity("bag-a", "odom", 100 * S, 400 * S)


def test_identity_round_trip_and_absent(tmp_path: Path) -> None:
    base = tmp_path / "mapper.ckpt"
    assert read_identity(base) is None
    write_identity(base, IDENT)
    assert read_identity(base) == IDENT
    (tmp_path / "mapper.ckpt.survey.json").write_text("{not json")
    assert read_identity(base) is None


@pytest.mark.parametrize(("ident", "mode", "first_s", "frame", "sid", "restore"), [
    (IDENT, "auto", 406, "odom", "bag-a", True),        # a restart a few seconds later
    (IDENT, "auto", 406, "odom", "", True),             # no id given: stamps and frame decide
    (IDENT, "auto", 5000, "odom", "", False),           # a later survey
    (IDENT, "auto", 50, "odom", "", False),             # an earlier one (another bag played)
    (IDENT, "auto", 406, "map", "", False),             # another navigation frame
    (IDENT, "auto", 406, "odom", "bag-b", False),       # another survey id
    (SurveyIdentity("bag-a", "odom", 100 * S, 400 * S, finished=True), "auto", 406, "odom", "", False),
    (SurveyIdentity("bag-a", "odom", 100 * S, 400 * S, finished=True), "resume", 406, "odom", "", True),
    (IDENT, "resume", 5000, "odom", "", True),          # asked to
    (IDENT, "resume", 406, "map", "", False),           # not even asked to: the poses would be meaningless
    (IDENT, "fresh", 406, "odom", "bag-a", False),
    (None, "auto", 406, "odom", "", False),             # an old checkpoint without identity
    (None, "resume", 406, "odom", "", True),
])
def test_restore_decision(ident: SurveyIdentity | None, mode: str, first_s: int, frame: str, sid: str,
                          restore: bool) -> None:
    ok, why = restore_decision(ident, mode, first_ns=first_s * S, nav_frame=frame, survey_id=sid)
    assert ok is restore and why and "\n" not in why


def test_unknown_mode_is_an_error() -> None:
    with pytest.raises(HullscanError, match="expected one of auto, resume, fresh"):
        restore_decision(IDENT, "maybe", first_ns=0, nav_frame="odom")
