"""IMO ship identification numbers: seven digits, the last a check digit.

The check digit is the last digit of the sum of the first six, weighted 7, 6, 5, 4, 3, 2
(IMO resolution A.1078(28)); 9074729: 9*7 + 0*6 + 7*5 + 4*4 + 7*3 + 2*2 = 139 -> 9.
"""

from __future__ import annotations

import re

from hullscan.history.errors import InvalidIMOError

_FORM = re.compile(r"(?:IMO)?\s*(\d{7})", re.IGNORECASE)


def check_digit(first_six: str) -> int:
    """The IMO check digit of the first six digits."""
    return sum(int(d) * w for d, w in zip(first_six, range(7, 1, -1), strict=True)) % 10


def parse_imo(text: str) -> str:
    """``text`` ("9074729", "IMO 9074729") as the seven digits; :class:`InvalidIMOError` otherwise."""
    m = _FORM.fullmatch(text.strip())
    if m is None:
        raise InvalidIMOError(f"IMO number {text!r}: expected 7 digits, e.g. 9074729 or 'IMO 9074729'")
    digits = m.group(1)
    want = check_digit(digits[:6])
    if int(digits[6]) != want:
        raise InvalidIMOError(f"IMO number {text!r}: the check digit is {digits[6]}, the first six digits give "
                              f"{want}; a digit is mistyped (see the ship's certificate)")
    return digits
