"""The held-out scenarios (sim/scenarios/holdout): new hull forms and survey patterns that nothing in
hullscan was chosen on, checked apart from the library (README there)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hullscan_sim import SCENARIO_DIR, load_scenario, simulate

HOLDOUT = SCENARIO_DIR / "holdout"


def _files() -> list[Path]:
    return sorted(HOLDOUT.glob("*.yaml"))


def test_the_held_out_set_is_apart_from_the_library_and_documented() -> None:
    files = _files()
    assert len(files) >= 5
    library = {p.stem for p in SCENARIO_DIR.glob("*.yaml")}
    readme = (HOLDOUT / "README.md").read_text()
    for f in files:
        assert f.stem not in library and f.stem.startswith("ho_")
        assert f"| {f.stem} |" in readme, f"{f.name} is not described in holdout/README.md"


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.stem)
def test_each_held_out_scenario_loads_and_holds_the_target_classes(path: Path, shared_hulls: Path) -> None:
    sc = load_scenario(path)
    assert sc.name == path.stem
    if sc.hull.mesh is not None:
        # A real design mesh from ../shared, never copied into the project.
        assert Path(sc.hull.mesh.path).resolve().parent == shared_hulls.resolve()
    # Each holds a compartment of issue 15's classes: 10 cm proud (0.03 m^3 or more) or 0.01 m^3.
    sizes = [p.size_m for p in sc.parasites]
    assert any(min(s) <= 0.1 or s[0] * s[1] * s[2] <= 0.011 for s in sizes), sizes


def test_a_held_out_survey_simulates(tmp_path: Path) -> None:
    sc = load_scenario(HOLDOUT / "ho_tug_stern.yaml")
    res = simulate(sc, tmp_path / "bag", duration_s=3)
    truth = json.loads((res.truth_dir / "truth.json").read_text())
    assert {p["id"] for p in truth["parasites"]} == {"rudder_pack", "stern_limpet"}


FITTINGS = SCENARIO_DIR / "fittings"


@pytest.mark.parametrize("path", sorted(FITTINGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_each_fittings_scenario_is_documented_and_puts_a_compartment_at_an_anode(path: Path, shared_hulls: Path) -> None:
    """sim/scenarios/fittings: a mesh hull whose anodes the simulator fits (so it writes their plan),
    with compartments at the anodes: what a plan must never explain away (README there)."""
    sc = load_scenario(path)
    assert sc.name == path.stem and f"| {path.stem} |" in (FITTINGS / "README.md").read_text()
    assert sc.hull.mesh is not None and sc.hull.mesh.anodes > 0
    assert Path(sc.hull.mesh.path).resolve().parent == shared_hulls.resolve()
    assert path.stem not in {p.stem for p in SCENARIO_DIR.glob("*.yaml")}
    assert sum(p.position is not None for p in sc.parasites) >= 2  # placed at anodes by position
