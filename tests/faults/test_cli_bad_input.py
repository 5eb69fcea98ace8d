"""The bad-input table (docs/faults.md): every command fails with one clear line, never a traceback."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from hullscan.cli import main
from tests.faults.helpers import storage_file, survey, write

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    garbage = d / "garbage.mcap"
    garbage.write_bytes(b"this is not a bag" * 100)
    notply = d / "cloud.ply"
    notply.write_text("ply\nformat nonsense\n")
    afile = d / "afile"
    afile.write_text("x")
    sq = write(d / "sq", survey(300), "sqlite3")
    f = storage_file(sq)
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    badyaml = d / "bad.yaml"
    badyaml.write_text("recon: {voxel_size: -1}\n")
    return {"dir": d, "garbage": garbage, "notply": notply, "afile": afile, "sq": sq, "badyaml": badyaml}


CASES = [
    ("info missing bag", ["info", "{dir}/nope"]),
    ("info garbage mcap", ["info", "{garbage}", "--read"]),
    ("info truncated sqlite3", ["info", "{sq}", "--read"]),
    ("info bad config", ["info", "{garbage}", "--config", "{badyaml}"]),
    ("info missing config", ["info", "{garbage}", "--config", "{dir}/none.yaml"]),
    ("reconstruct missing bag", ["reconstruct", "{dir}/nope", "--out", "{dir}/o1", "--no-progress"]),
    ("reconstruct garbage bag", ["reconstruct", "{garbage}", "--out", "{dir}/o2", "--no-progress"]),
    ("reconstruct out is a file", ["reconstruct", "{garbage}", "--out", "{afile}", "--no-progress"]),
    ("reconstruct out under a file", ["reconstruct", "{garbage}", "--out", "{afile}/x", "--no-progress"]),
    ("compare missing cloud", ["compare", "{dir}/none.ply", "--mirror", "--out", "{dir}/o3", "--no-progress"]),
    ("compare bad cloud", ["compare", "{notply}", "--mirror", "--out", "{dir}/o4", "--no-progress"]),
    ("compare missing reference", ["compare", "{notply}", "--reference", "{dir}/none.stl", "--out", "{dir}/o5",
                                   "--no-progress"]),
    ("compare out is a file", ["compare", "{notply}", "--mirror", "--out", "{afile}", "--no-progress"]),
    ("replay missing bag", ["replay", "{dir}/nope", "--mirror", "--out", "{dir}/o6", "--no-progress"]),
    ("replay garbage bag", ["replay", "{garbage}", "--mirror", "--out", "{dir}/o7", "--no-progress"]),
    ("replay out is a file", ["replay", "{garbage}", "--mirror", "--out", "{afile}", "--no-progress"]),
    ("replay missing reference", ["replay", "{garbage}", "--reference", "{dir}/none.stl", "--out", "{dir}/o8",
                                  "--no-progress"]),
    ("simulate missing scenario", ["simulate", "--scenario", "{dir}/none.yaml", "--out", "{dir}/b1"]),
    ("simulate out is a file", ["simulate", "--scenario", "demo", "--out", "{afile}"]),
    ("live missing params", ["live", "--params", "{dir}/none.yaml", "--duration", "1"]),
    ("play missing bag", ["play", "{dir}/nope"]),
    ("evaluate missing scenarios", ["evaluate", "--scenarios", "{dir}/none", "--out", "{dir}/o9"]),
]


@pytest.mark.parametrize(("name", "argv"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line(name: str, argv: list[str], inputs: dict[str, Path],
                               caplog: pytest.LogCaptureFixture) -> None:
    args = [a.format(**{k: str(v) for k, v in inputs.items()}) for a in argv]
    caplog.set_level(logging.ERROR)
    rc = main(args)  # raising here would be a traceback for the user
    assert rc == 1, name
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors, f"{name}: failed without saying why"
    msg = errors[-1].getMessage()
    assert "Traceback" not in msg and "internal error" not in msg, msg


@pytest.mark.parametrize("argv", [["info", "{garbage}", "--read"], ["reconstruct", "{garbage}", "--out", "{afile}"]])
def test_no_traceback_in_a_real_process(argv: list[str], inputs: dict[str, Path]) -> None:
    args = [a.format(**{k: str(v) for k, v in inputs.items()}) for a in argv]
    p = subprocess.run([sys.executable, "-m", "hullscan", *args], capture_output=True, text=True, cwd=REPO,
                       timeout=120)
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    errors = [ln for ln in p.stderr.splitlines() if ln.startswith("ERROR")]
    assert len(errors) == 1, p.stderr
