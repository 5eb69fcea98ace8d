"""hullscan batch on this machine: serial and process pool give replay's outputs, a failed survey
is a row and not the end, a rerun resumes, the summary lists every survey, bad input is one line."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from hullscan.batch.jobs import DONE_MARKER, read_survey_list, survey_names
from hullscan.cli import main
from hullscan.errors import BatchError
from hullscan.outdir import MANIFEST
from tests.hullscan.batch.helpers import CLI, REPO, Surveys, cli_env, findings_of, replaying_pid


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "summary.csv").open() as f:
        return {r["survey"]: r for r in csv.DictReader(f)}


def test_serial_batch_writes_what_replay_writes(surveys: Surveys, serial_batch: Path, tmp_path: Path) -> None:
    import shutil

    # replay by hand into (a copy of) the batch's folder: taken over as replay's own, the batch's
    # done-marker removed with the rest of the earlier run (it no longer describes the folder).
    folder = tmp_path / "port_a"
    shutil.copytree(serial_batch / "port_a", folder)
    assert main(["-q", "replay", str(surveys.bags[0]), *surveys.options(), "--out", str(folder)]) == 3
    assert not (folder / DONE_MARKER).exists()
    assert findings_of(serial_batch / "port_a") == findings_of(folder)
    # The same files, recorded as replay's run.
    manifest = json.loads((serial_batch / "port_a" / MANIFEST).read_text())
    assert manifest == json.loads((folder / MANIFEST).read_text())


def test_a_failed_survey_is_a_row_and_the_others_finish(surveys: Surveys, serial_batch: Path) -> None:
    rows = _rows(serial_batch)
    assert list(rows) == ["port_a", "port_b", "not_a_bag"]  # the order given
    for name in ("port_a", "port_b"):
        r = rows[name]
        assert (r["status"], r["exit_code"]) == ("done", "3")
        assert r["verdict"].startswith("compartments found") and int(r["findings"]) >= 1
        assert 0.0 < float(r["cleared_fraction"]) <= float(r["seen_fraction"]) <= 1.0
        assert float(r["wall_s"]) > 0 and r["error"] == ""
    bad = rows["not_a_bag"]
    assert bad["status"] == "failed" and bad["exit_code"] == "1"
    assert "not an MCAP file" in bad["error"] and "\n" not in bad["error"]
    assert not (serial_batch / "not_a_bag" / DONE_MARKER).exists()  # redone on a rerun
    page = (serial_batch / "summary.html").read_text()
    assert "3 surveys: 2 with compartments found, 0 nothing found, 1 failed" in page
    assert "href='port_a/report.html'" in page and "not an MCAP file" in page


def test_a_pool_worker_killed_mid_survey_is_retried(surveys: Surveys, serial_batch: Path, tmp_path: Path) -> None:
    # Also the process pool's equality with serial: the surveys left when the pool broke run
    # again in a new pool, from the start (one test for both keeps the suite short).
    out = tmp_path / "killed"
    batch = subprocess.Popen([*CLI, "batch", *map(str, surveys.bags), *surveys.options(), "--workers", "2",
                              "--out", str(out)], cwd=REPO, env=cli_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    killed = None
    try:
        deadline = time.monotonic() + 60
        while killed is None and time.monotonic() < deadline and batch.poll() is None:
            killed = replaying_pid(out / "port_a")
            time.sleep(0.02)
        assert killed is not None, "the first survey never started in a worker"
        os.kill(killed, signal.SIGKILL)  # the pool's worker process, in the middle of the replay
        _, stderr = batch.communicate(timeout=180)
    finally:
        if batch.poll() is None:
            batch.kill()
            batch.wait()
    assert batch.returncode == 3, stderr[-3000:]
    for name in ("port_a", "port_b"):
        assert findings_of(out / name) == findings_of(serial_batch / name)
    assert replaying_pid(out / "port_a") != killed
    assert "failed" not in (out / "summary.csv").read_text()
    workers = {json.loads((out / n / DONE_MARKER).read_text())["result"]["worker"] for n in ("port_a", "port_b")}
    assert all(int(w.split(":")[1]) not in (batch.pid, killed) for w in workers)  # in pool worker processes, not the killed one


def test_rerun_skips_done_surveys_redoes_failed_changed_and_forced(surveys: Surveys, serial_batch: Path,
                                                                   tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "resume"
    shutil.copytree(serial_batch, out, symlinks=True)
    for name in ("port_a", "port_b"):  # the copy is another folder: its marker paths are the same names
        assert (out / name / DONE_MARKER).is_file()
    a_time = (out / "port_a" / "findings.json").stat().st_mtime_ns
    args = ["-q", "batch", *map(str, surveys.bags), str(surveys.junk), *surveys.options(), "--workers", "1",
            "--out", str(out)]
    assert main(args) == 1
    rows = _rows(out)
    assert rows["port_a"]["status"] == rows["port_b"]["status"] == "done earlier"
    assert rows["port_a"]["findings"] == _rows(serial_batch)["port_a"]["findings"]
    assert rows["not_a_bag"]["status"] == "failed"  # tried again
    assert (out / "port_a" / "findings.json").stat().st_mtime_ns == a_time
    # An interrupted survey (no marker: it is written last) is redone, and only it.
    (out / "port_b" / DONE_MARKER).unlink()
    assert main([*args[:2], str(surveys.bags[1]), *args[5:]]) == 3
    assert _rows(out)["port_b"]["status"] == "done"
    assert (out / "port_a" / "findings.json").stat().st_mtime_ns == a_time
    # --force redoes what was done.
    assert main([*args[:2], str(surveys.bags[0]), *args[5:], "--force"]) == 3
    assert _rows(out)["port_a"]["status"] == "done"
    assert (out / "port_a" / "findings.json").stat().st_mtime_ns != a_time
    assert findings_of(out / "port_a") == findings_of(serial_batch / "port_a")


def test_changed_options_redo_a_survey(surveys: Surveys, serial_batch: Path, tmp_path: Path) -> None:
    from hullscan.batch import ReplayOptions
    from hullscan.batch.jobs import plan_jobs
    from hullscan.inspection import ReferenceFile

    opts = ReplayOptions(ReferenceFile(str(surveys.reference)), str(surveys.prior), str(surveys.config), camera=False)
    same = plan_jobs([str(surveys.bags[0])], str(tmp_path), opts)[0]
    other = plan_jobs([str(surveys.bags[0])], str(tmp_path), ReplayOptions(ReferenceFile(str(surveys.reference),
                                                                                          draft=4.0)))[0]
    assert same.fingerprint == plan_jobs([str(surveys.bags[0])], str(tmp_path), opts)[0].fingerprint
    assert same.fingerprint != other.fingerprint
    # The ship's anode plan is an input too, and so is the trim.
    plan = tmp_path / "anodes.yaml"
    plan.write_text("fittings: [{id: A1, x_from_stern_m: 5, side: port, above_keel_m: 1}]\n")
    from dataclasses import replace

    for changed in (replace(opts, fittings=str(plan)),
                    replace(opts, reference=ReferenceFile(str(surveys.reference), trim=0.3))):
        assert plan_jobs([str(surveys.bags[0])], str(tmp_path), changed)[0].fingerprint != same.fingerprint


def test_every_survey_of_a_batch_is_inspected_with_the_plan(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """--fittings reaches each survey's replay as its amend step (as replay --fittings)."""
    import hullscan.inspection
    from hullscan.batch import ReplayOptions
    from hullscan.batch.jobs import SurveyJob
    from hullscan.batch.task import run_survey
    from hullscan.compare.fittings import FittingPlan
    from hullscan.inspection import ReferenceFile

    plan = tmp_path / "anodes.yaml"
    plan.write_text("fittings: [{id: A1, x_from_stern_m: 5, side: port, above_keel_m: 1}]\n")
    seen: list[object] = []
    monkeypatch.setattr(hullscan.inspection, "replay", lambda *a, **k: seen.append(k["amend"]))
    applied: list[FittingPlan] = []
    monkeypatch.setattr("hullscan.compare.fittings.apply_fittings", lambda ins, p: applied.append(p))
    opts = ReplayOptions(ReferenceFile("hull.stl"), fittings=str(plan))
    run_survey(SurveyJob("a", str(tmp_path / "bag"), str(tmp_path / "out"), opts))
    assert callable(seen[0])
    seen[0](object(), object())  # type: ignore[operator]
    assert [p.fittings[0].id for p in applied] == ["A1"]


def test_survey_names_are_the_bags_and_stay_apart(tmp_path: Path) -> None:
    assert survey_names(["a/port", "b/stbd.mcap"]) == ["port", "stbd"]
    two = survey_names(["a/port", "b/port/"])
    assert two[0] != two[1] and all(n.startswith("port-") for n in two)
    assert two == survey_names(["a/port", "b/port/"])  # the same folders on a rerun
    with pytest.raises(BatchError, match="named twice"):
        survey_names(["a/port", "a/port"])


def test_survey_list_reads_paths_and_comments(tmp_path: Path) -> None:
    lst = tmp_path / "list.txt"
    lst.write_text("# archive 2024\nbags/a\n\n/abs/b   # second\n")
    assert read_survey_list(str(lst)) == [str(tmp_path / "bags" / "a"), "/abs/b"]


@pytest.mark.parametrize("case", ["missing bag", "missing list", "empty list", "no bags", "bad dask",
                                  "unreachable scheduler", "bad fittings"])
def test_bad_input_is_one_clear_line(case: str, surveys: Surveys, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n")
    ref = ["--reference", str(surveys.reference), "--out", str(tmp_path / "out")]
    args, expected = {
        "missing bag": ([str(surveys.bags[0]), str(tmp_path / "nope"), *ref], "no such bag: "),
        "missing list": (["--from", str(tmp_path / "none.txt"), *ref], "survey list not found"),
        "empty list": (["--from", str(empty), *ref], "names no bag"),
        "no bags": (ref, "no survey to replay"),
        "bad dask": ([str(surveys.bags[0]), *ref, "--dask", "local:0"], "expected local:N"),
        "unreachable scheduler": ([str(surveys.bags[0]), *ref, "--dask", "tcp://127.0.0.1:9", "--dask-timeout", "1"],
                                  "Dask scheduler tcp://127.0.0.1:9 cannot be reached within 1 s"),
        "bad fittings": ([str(surveys.bags[0]), *ref, "--fittings", str(empty)], "empty.txt: expected a mapping"),
    }[case]
    done = subprocess.run([*CLI, "batch", *args], cwd=REPO, env=cli_env(), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and expected in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()  # nothing written before the input was checked


def test_help_has_examples_and_says_what_is_not_there(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["batch", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and "--dask tcp://scheduler:8786" in text and "--from surveys.txt" in text
    assert "per-tile tasks" in text and "part 1" in text  # not faked: said to be missing


def test_a_crashing_survey_is_retried_then_a_failed_row(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from hullscan.batch import engines
    from hullscan.batch.jobs import ReplayOptions, SurveyJob, SurveyResult
    from hullscan.inspection import ReferenceFile

    calls: list[str] = []

    def crash(job: SurveyJob) -> SurveyResult:  # a bug or a vanished disk, not a HullscanError
        calls.append(job.name)
        raise RuntimeError("shared disk gone\nsecond line")

    monkeypatch.setattr(engines, "run_survey", crash)
    job = SurveyJob("s1", "bag", str(tmp_path / "s1"), ReplayOptions(ReferenceFile(None)))
    rows: list[SurveyResult] = []
    with engines.open_engine(engines.Engine("serial", retries=2)) as run:
        run([job], rows.append)
    assert calls == ["s1"] * 3
    assert [(r.kind, r.exit_code, r.error) for r in rows] == [
        ("failed", 1, "RuntimeError: shared disk gone second line (after 3 tries)")]


def test_batch_exit_code_puts_failures_first() -> None:
    from hullscan.batch import batch_exit_code
    from hullscan.batch.jobs import SurveyResult

    def row(code: int) -> SurveyResult:
        return SurveyResult("s", "b", "o", "x", "v", code)

    assert batch_exit_code([row(0), row(4)]) == 4
    assert batch_exit_code([row(0), row(3), row(4)]) == 3
    assert batch_exit_code([row(3), row(1)]) == 1
    assert batch_exit_code([row(0), row(0)]) == 0
