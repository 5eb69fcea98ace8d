from __future__ import annotations

import pytest

from hullscan.history.errors import InvalidIMOError
from hullscan.history.imo import check_digit, parse_imo


@pytest.mark.parametrize("text", ["9074729", "IMO 9074729", "imo9074729", " 9074729 "])
def test_valid_imo_numbers(text: str) -> None:
    assert parse_imo(text) == "9074729"


def test_check_digit_as_the_imo_defines_it() -> None:
    assert check_digit("907472") == 9 and parse_imo("9176187") == "9176187"


@pytest.mark.parametrize(("text", "why"), [("9074728", "check digit is 8"), ("907472", "expected 7 digits"),
                                          ("90747290", "expected 7 digits"), ("ABCDEFG", "expected 7 digits"),
                                          ("", "expected 7 digits")])
def test_invalid_imo_numbers_say_why(text: str, why: str) -> None:
    with pytest.raises(InvalidIMOError, match=why):
        parse_imo(text)
