"""Output folders: a file, an uncreatable path, read-only, full disk, two writers, a rerun."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hullscan.cli import main
from hullscan.errors import OutputError
from hullscan.outdir import MANIFEST, atomic_path, output_folder
from tests.hullscan.recon.synth import survey as cylinder_survey


@pytest.fixture(scope="module")
def small_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hullscan.bag import BagWriter

    path = tmp_path_factory.mktemp("bag") / "bag"
    with BagWriter(path) as bag:
        for it in cylinder_survey(n_pings=80, beams=64, lanes=(0.0,)).items:
            bag.write(it)
    return path


def _mount(kind: str, path: Path, size: str = "1m") -> bool:
    """Mount a small tmpfs (root only); False where that is not possible."""
    if os.geteuid() != 0:
        return False
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if kind == "ro" else "")
    return subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True).returncode == 0


@pytest.fixture
def mounts() -> Iterator[list[Path]]:
    held: list[Path] = []
    yield held
    for p in held:
        subprocess.run(["umount", str(p)], capture_output=True)


def test_out_is_a_file_fails_before_work(tmp_path: Path, small_bag: Path, caplog: pytest.LogCaptureFixture) -> None:
    f = tmp_path / "out"
    f.write_text("x")
    assert main(["reconstruct", str(small_bag), "--out", str(f), "--no-progress"]) == 1
    assert "--out is a file" in caplog.text and f.read_text() == "x"


def test_out_cannot_be_created(tmp_path: Path, small_bag: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "file").write_text("x")
    assert main(["reconstruct", str(small_bag), "--out", str(tmp_path / "file" / "out"), "--no-progress"]) == 1
    assert "cannot create the output folder" in caplog.text


def test_read_only_output(tmp_path: Path, small_bag: Path, mounts: list[Path],
                          caplog: pytest.LogCaptureFixture) -> None:
    ro = tmp_path / "ro"
    if _mount("ro", ro):
        mounts.append(ro)
    elif os.geteuid() != 0:
        ro.mkdir()
        ro.chmod(0o555)
    else:
        pytest.skip("cannot mount a read-only tmpfs here and root ignores permissions")
    assert main(["reconstruct", str(small_bag), "--out", str(ro), "--no-progress"]) == 1
    assert "not writable" in caplog.text


def test_full_disk_keeps_the_summary_and_no_truncated_cloud(tmp_path: Path, small_bag: Path, mounts: list[Path],
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "full"
    if _mount("rw", out, size="48k"):
        mounts.append(out)
        (out / "filler").parent.mkdir(exist_ok=True)
    else:  # simulated ENOSPC on the PLY write
        import hullscan.cloud_io as cio

        real = cio.atomic_path

        def full(target: Path):  # type: ignore[no-untyped-def]
            if str(target).endswith(".ply"):
                raise OSError(errno.ENOSPC, "No space left on device", str(target))
            return real(target)

        monkeypatch.setattr(cio, "atomic_path", full)
    rc = main(["reconstruct", str(small_bag), "--out", str(out), "--no-progress"])
    assert rc == 1 and "No space left on device" in caplog.text
    assert json.loads((out / "summary.json").read_text())["points"] > 0  # the findings/summary came first
    assert not (out / "cloud.ply").exists()  # never a truncated cloud
    assert not list(out.glob(".tmp-*"))


def test_two_writers_into_one_folder(tmp_path: Path, small_bag: Path, caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "out"
    with output_folder(out, "test"):
        assert main(["reconstruct", str(small_bag), "--out", str(out), "--no-progress"]) == 1
    assert "another hullscan run" in caplog.text
    assert main(["reconstruct", str(small_bag), "--out", str(out), "--no-progress"]) == 0


def test_rerun_clears_the_previous_run_and_refuses_foreign_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with output_folder(out, "first") as f:
        (f.path / "old.json").write_text("{}")
        (f.path / "sub").mkdir()
        (f.path / "sub" / "crop.png").write_bytes(b"x")
    assert json.loads((out / MANIFEST).read_text())["files"] == ["old.json", "sub/crop.png"]
    with output_folder(out, "second") as f:
        assert not (out / "old.json").exists() and not (out / "sub").exists()
        (f.path / "new.json").write_text("{}")
    (out / "mine.txt").write_text("user data")
    with pytest.raises(OutputError, match="did not write"), output_folder(out, "third"):
        pass
    assert (out / "mine.txt").exists() and (out / "new.json").exists()


def test_atomic_path_leaves_nothing_on_error(tmp_path: Path) -> None:
    target = tmp_path / "cloud.ply"
    target.write_text("previous")
    with pytest.raises(OSError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_text() == "previous" and not list(tmp_path.glob(".tmp-*"))


def test_two_batches_into_one_folder(tmp_path: Path) -> None:
    """The batch folder's lock names the batch holding it; it is released when that batch ends."""
    from hullscan.batch import _batch_lock
    from hullscan.errors import OutputError

    busy = r"another hullscan batch \(pid \d+ \(batch\)\)"
    with _batch_lock(tmp_path / "b"), pytest.raises(OutputError, match=busy), _batch_lock(tmp_path / "b"):
        pass
    with _batch_lock(tmp_path / "b"):
        pass
