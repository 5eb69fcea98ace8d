"""Tools the test run installs (``./setup.sh test``: CloudCompare, Chromium, colcon, PostgreSQL,
the dev and batch extras), and what a test does when one is missing.

On a developer's machine a missing tool skips its test, with the package that provides it. Under
``./setup.sh test`` (which exports ``HULLSCAN_REQUIRE_TOOLS=1``) the tool was to be installed, so
the same test fails instead: a check CI is meant to run can never pass there by being skipped.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRE_ENV = "HULLSCAN_REQUIRE_TOOLS"


def missing_tool(what: str, install: str) -> NoReturn:
    """Skip (or, under ``./setup.sh test``, fail) the calling test: ``what`` is not installed;
    ``install`` says what provides it (``"Debian: apt-get install cloudcompare"``)."""
    message = f"{what} not installed ({install})"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{message}; ./setup.sh test installs it, so its test may not be skipped here", pytrace=False)
    pytest.skip(message)
