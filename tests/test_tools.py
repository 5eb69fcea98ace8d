"""A tool ./setup.sh test installs skips its test elsewhere and fails it under setup.sh."""

from __future__ import annotations

import pytest

from tests.tools import REQUIRE_ENV, missing_tool


def test_missing_tool_skips_on_a_developers_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="CloudCompare not installed"):
        missing_tool("CloudCompare", "Debian: apt-get install cloudcompare")


def test_missing_tool_fails_under_setup_test(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=r"setup\.sh test installs it"):
        missing_tool("CloudCompare", "Debian: apt-get install cloudcompare")


def test_setup_sh_requires_the_tools_it_installs() -> None:
    from pathlib import Path

    setup = (Path(__file__).resolve().parents[1] / "setup.sh").read_text()
    assert f"export {REQUIRE_ENV}=1" in setup and "apt_install cloudcompare" in setup
