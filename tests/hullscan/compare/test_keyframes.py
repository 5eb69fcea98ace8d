"""The camera node's keyframe checkpoint (issue 17): the store's round trip, a torn last record
dropped and counted, its bound, and the survey identity deciding the restore."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from hullscan.compare.keyframes import (
    KeyframeKeeper,
    KeyframeSettings,
    KeyframeStore,
    read_records,
)
from hullscan.model import CameraFrame, CameraModel, NavSample, Transform, TransformStamped
from hullscan.recon.checkpoint import SurveyIdentity, read_identity, write_identity
from hullscan.recon.live import SessionLog

T0 = 1_700_000_000_000_000_000
S = 1_000_000_000
K = np.array([[200.0, 0, 80], [0, 200.0, 60], [0, 0, 1]])


def _image(i: int, mono: bool = False) -> np.ndarray:
    # Smooth, so JPEG keeps it within a few levels.
    y, x = np.mgrid[0:120, 0:160]
    base = ((x + y + 10 * i) % 256).astype(np.uint8)
    return base if mono else np.stack([base, base[::-1], np.full_like(base, 40 + i)], axis=2)


def _frame(i: int, mono: bool = False) -> CameraFrame:
    return CameraFrame(T0 + i * S, "camera", _image(i, mono), format="mono8" if mono else "rgb8")


def _nav(t_from: int, t_to: int, step: int = S // 10) -> list[NavSample]:
    return [NavSample(t, [1e-9 * (t - T0), 0.5, -2.0], [0, 0, 0.1, 1], position_sigma=[0.01, 0.02, 0.03])
            for t in range(t_from, t_to, step)]


def _mount() -> TransformStamped:
    return TransformStamped(0, "base_link", "camera", Transform.from_euler(0.1, 0.2, 0.3, (0.5, 0.0, -0.1)), True)


def test_round_trip(tmp_path: Path) -> None:
    st = KeyframeStore(tmp_path, max_keyframes=10)
    st.add_model(CameraModel(T0, "camera", 160, 120, K, np.array([0.1, -0.01, 0, 0, 0])))
    st.add_mounts([_mount()])
    nav = _nav(T0, T0 + 3 * S)
    st.add_frame(_frame(0), nav[:10])
    st.add_frame(_frame(1, mono=True), nav[10:20])
    png = io.BytesIO()
    from PIL import Image

    Image.fromarray(_image(2)).save(png, format="PNG")
    compressed = CameraFrame(T0 + 2 * S, "camera", _image(2), compressed=True, format="png")
    st.add_frame(compressed, nav[20:], encoded=png.getvalue())

    back = KeyframeStore(tmp_path, max_keyframes=10)
    assert (back.torn_records, back.ignored_bytes, back.missing_images) == (0, 0, 0)
    assert [e.stamp_ns for e in back.entries] == [T0, T0 + S, T0 + 2 * S]
    assert [s.stamp_ns for s in back.nav] == [s.stamp_ns for s in nav]
    assert np.array_equal([s.position for s in back.nav], [s.position for s in nav])
    assert np.array_equal([s.position_sigma for s in back.nav], [s.position_sigma for s in nav])
    assert back.models["camera"].k.tolist() == K.tolist() and back.models["camera"].d[0] == 0.1
    assert back.mounts["camera"].transform.almost_equal(_mount().transform, 1e-12)
    frames, unreadable = back.frames()
    assert unreadable == 0 and [f.image.shape for f in frames] == [(120, 160, 3), (120, 160), (120, 160, 3)]
    for i, f in enumerate(frames[:2]):  # JPEG: close, not exact
        assert np.abs(f.image.astype(int) - _frame(i, mono=i == 1).image.astype(int)).mean() < 3.0
    assert not frames[0].compressed and frames[0].format == "rgb8" and frames[1].format == "mono8"
    assert frames[2].compressed and frames[2].format == "png" and np.array_equal(frames[2].image, _image(2))
    assert (tmp_path / "frames" / back.entries[2].file).read_bytes() == png.getvalue()  # stored as received


def test_unchanged_intrinsics_and_mountings_are_not_written_again(tmp_path: Path) -> None:
    st = KeyframeStore(tmp_path, max_keyframes=10)
    model = CameraModel(T0, "camera", 160, 120, K)
    assert st.add_model(model) and not st.add_model(CameraModel(T0 + S, "camera", 160, 120, K))
    assert st.add_mounts([_mount()]) and not st.add_mounts([_mount()])
    assert st.records == 2 and len(read_records(st.log)[0]) == 2


@pytest.mark.parametrize("damage", ["cut", "crc"])
def test_torn_last_record_is_dropped_and_counted(tmp_path: Path, damage: str) -> None:
    st = KeyframeStore(tmp_path, max_keyframes=10)
    for i in range(3):
        st.add_frame(_frame(i), _nav(T0 + i * S, T0 + (i + 1) * S))
    data = st.log.read_bytes()
    if damage == "cut":  # killed while appending the third record
        st.log.write_bytes(data[:-25])
    else:
        st.log.write_bytes(data[:-5] + bytes([data[-5] ^ 0xFF]) + data[-4:])

    back = KeyframeStore(tmp_path, max_keyframes=10)
    assert back.torn_records == 1 and back.ignored_bytes > 0
    assert [e.stamp_ns for e in back.entries] == [T0, T0 + S]
    assert back.nav[-1].stamp_ns < T0 + 2 * S
    # The third image's record never made it: the file is an orphan, removed.
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == sorted(e.file for e in back.entries)

    back.add_frame(_frame(5), _nav(T0 + 5 * S, T0 + 6 * S))  # overwrites the torn bytes
    again = KeyframeStore(tmp_path, max_keyframes=10)
    assert (again.torn_records, again.ignored_bytes) == (0, 0)
    assert [e.stamp_ns for e in again.entries] == [T0, T0 + S, T0 + 5 * S]


def test_a_missing_image_is_counted_and_skipped(tmp_path: Path) -> None:
    st = KeyframeStore(tmp_path, max_keyframes=10)
    for i in range(3):
        st.add_frame(_frame(i))
    (tmp_path / "frames" / st.entries[1].file).unlink()
    (tmp_path / "frames" / st.entries[2].file).write_bytes(b"not an image")
    back = KeyframeStore(tmp_path, max_keyframes=10)
    assert back.missing_images == 1 and len(back.entries) == 2
    frames, unreadable = back.frames()
    assert unreadable == 1 and [f.stamp_ns for f in frames] == [T0]


def test_bounded_by_max_keyframes(tmp_path: Path) -> None:
    st = KeyframeStore(tmp_path, max_keyframes=3)
    st.add_model(CameraModel(T0, "camera", 160, 120, K))
    st.add_mounts([_mount()])
    for i in range(11):
        st.add_frame(_frame(i), _nav(T0 + i * S, T0 + (i + 1) * S))
        assert len(list((tmp_path / "frames").iterdir())) == min(i + 1, 3)
    assert [e.stamp_ns for e in st.entries] == [T0 + i * S for i in (8, 9, 10)]
    assert st.frame_records < 2 * 3  # the log was rewritten with what is kept
    sizes = []
    for i in range(11, 41):
        st.add_frame(_frame(i), _nav(T0 + i * S, T0 + (i + 1) * S))
        sizes.append(st.log.stat().st_size)
    assert max(sizes[15:]) <= max(sizes[:15])  # no growth with the survey

    back = KeyframeStore(tmp_path, max_keyframes=3)
    assert [e.stamp_ns for e in back.entries] == [T0 + i * S for i in (38, 39, 40)]
    assert back.models and back.mounts  # carried over by the rewrite
    # The odometry from the last sample at or before the oldest kept keyframe on (at most 2 x 3 records ago).
    assert T0 + 35 * S <= back.nav[0].stamp_ns <= T0 + 38 * S and back.nav[-1].stamp_ns == T0 + 41 * S - S // 10
    assert back.torn_records == 0


# --------------------------------------------------------------------------- the keeper


def _keeper(tmp_path: Path, resume: str = "auto", survey_id: str = "", log: SessionLog | None = None
            ) -> tuple[KeyframeKeeper, SessionLog]:
    log = log or SessionLog()
    s = KeyframeSettings(keyframe_period_s=1.0, max_keyframes=50, checkpoint_dir=str(tmp_path), resume=resume,
                         survey_id=survey_id)
    return KeyframeKeeper(s, "odom", log, info=lambda line: None), log


def _survey(k: KeyframeKeeper, t_from: int, t_to: int) -> None:
    """Odometry at 10 Hz and camera frames at 2 Hz, interleaved as they would arrive."""
    k.add_mounts([_mount()])
    for t in range(t_from, t_to, S // 10):
        k.add_nav(NavSample(t, [1e-9 * (t - T0), 0, 0], [0, 0, 0, 1]), "/nav/odom")
        if (t - T0) % (S // 2) == 0:
            k.add_model(CameraModel(t, "camera", 160, 120, K))
            k.offer_frame(CameraFrame(t, "camera", _image(int((t - T0) // S))))


def test_a_restart_of_the_same_survey_restores_keyframes_pose_intrinsics_and_mountings(tmp_path: Path) -> None:
    first, _ = _keeper(tmp_path)
    _survey(first, T0, T0 + 20 * S)
    assert len(first.keyframes) == 20
    del first  # killed: nothing is closed
    # The newest keyframe's pose is bracketed by saved odometry (not only the samples before it).
    assert KeyframeStore(tmp_path / "camera", 50).nav[-1].stamp_ns > T0 + 19 * S

    again, log = _keeper(tmp_path)
    assert not again.keyframes  # decided on the first data, not at start
    _survey(again, T0 + 25 * S, T0 + 27 * S)
    assert log.stats["keyframes_restored"] == 20
    assert "same survey resumed" in str(log.stats["checkpoint_decision"])
    assert [f.stamp_ns for f in again.keyframes] == [T0 + i * S for i in [*range(20), 25, 26]]
    assert again.nav[0].stamp_ns == T0 and "camera" in again.models
    assert again.tf.lookup("base_link", "camera").almost_equal(_mount().transform)
    assert again.first_ns == T0


def test_latched_findings_from_before_the_first_keyframe_are_the_same_survey(tmp_path: Path) -> None:
    """Restarted, the node may first hear the comparator's latched findings of a map whose newest
    ping predates the camera's first keyframe (the sonar started seconds before the camera): that
    is the same survey, and the keyframes are restored. A camera frame that early is not."""
    first, _ = _keeper(tmp_path)
    _survey(first, T0 + 10 * S, T0 + 20 * S)
    del first
    again, log = _keeper(tmp_path)
    again.first_data(T0 + 4 * S, "odom", derived=True)
    assert log.stats["keyframes_restored"] == 10, log.stats["checkpoint_decision"]
    assert again.first_ns == T0 + 10 * S

    other, log2 = _keeper(tmp_path / "other")
    _survey(other, T0 + 10 * S, T0 + 20 * S)
    del other
    own, log2 = _keeper(tmp_path / "other")
    own.first_data(T0 + 4 * S, "odom")  # the camera's own input, before the checkpoint's survey
    assert "another survey" in str(log2.stats["checkpoint_decision"])


def test_a_finished_survey_is_never_restored_into_the_next(tmp_path: Path) -> None:
    first, _ = _keeper(tmp_path)
    _survey(first, T0, T0 + 10 * S)
    first.finish()
    ident = read_identity(tmp_path / "camera" / "keyframes.log")
    assert ident is not None and ident.finished and ident.first_ns == T0

    nxt, log = _keeper(tmp_path)
    _survey(nxt, T0 + 12 * S, T0 + 14 * S)  # within the restart window, but the survey was finished
    assert "finished" in str(log.stats["checkpoint_decision"])
    assert ("camera", "checkpoint_not_restored") in {(Path(w).name, r) for w, r, _ in log.warnings}
    assert [f.stamp_ns for f in nxt.keyframes] == [T0 + 12 * S, T0 + 13 * S]
    # Its checkpoint now holds the new survey only.
    st = KeyframeStore(tmp_path / "camera", 50)
    assert [e.stamp_ns for e in st.entries] == [T0 + 12 * S, T0 + 13 * S]
    assert st.identity is not None and st.identity.first_ns == T0 + 12 * S and not st.identity.finished
    assert st.mounts and st.models  # the new survey's, written on its first data


def test_frames_after_a_finish_are_a_survey_to_finish_again(tmp_path: Path) -> None:
    k, _ = _keeper(tmp_path)
    _survey(k, T0, T0 + 3 * S)
    k.finish()
    _survey(k, T0 + 5 * S, T0 + 7 * S)  # the node not restarted between surveys
    ident = read_identity(tmp_path / "camera" / "keyframes.log")
    assert ident is not None and not ident.finished
    k.finish()
    ident = read_identity(tmp_path / "camera" / "keyframes.log")
    assert ident is not None and ident.finished and ident.last_ns >= T0 + 6 * S


@pytest.mark.parametrize(("ident", "nav_frame", "survey_id", "why"), [
    (SurveyIdentity("", "map", T0, T0 + 10 * S), "odom", "", "navigation frame"),
    (SurveyIdentity("dock-1", "odom", T0, T0 + 10 * S), "odom", "dock-2", "belongs to survey"),
    (SurveyIdentity("", "odom", T0, T0 + 10 * S), "odom", "", "outside the checkpoint's survey"),
])
def test_identity_mismatch_refuses_the_restore(tmp_path: Path, ident: SurveyIdentity, nav_frame: str,
                                               survey_id: str, why: str) -> None:
    first, _ = _keeper(tmp_path)
    _survey(first, T0, T0 + 10 * S)
    write_identity(tmp_path / "camera" / "keyframes.log", ident)

    k, log = _keeper(tmp_path, survey_id=survey_id)
    start = T0 + 11 * S if "outside" not in why else T0 + 500 * S  # past the 120 s restart window
    k.add_nav(NavSample(start, [0, 0, 0], [0, 0, 0, 1], frame_id=nav_frame), "/nav/odom")
    assert why in str(log.stats["checkpoint_decision"])
    assert not k.keyframes and [s.stamp_ns for s in k.nav] == [start]
    assert not KeyframeStore(tmp_path / "camera", 50).entries  # cleared for the new survey


def test_resume_restores_a_finished_survey_and_fresh_clears_it(tmp_path: Path) -> None:
    first, _ = _keeper(tmp_path)
    _survey(first, T0, T0 + 5 * S)
    first.finish()
    k, log = _keeper(tmp_path, resume="resume")
    k.add_nav(NavSample(T0 + 900 * S, [0, 0, 0], [0, 0, 0, 1]), "/nav/odom")
    assert log.stats["keyframes_restored"] == 5

    _, log = _keeper(tmp_path, resume="fresh")
    assert "cleared" in str(log.stats["checkpoint_decision"])
    assert not (tmp_path / "camera" / "keyframes.log").exists()
    assert not list((tmp_path / "camera" / "frames").iterdir())


def test_a_torn_checkpoint_restores_what_is_whole_and_says_so(tmp_path: Path) -> None:
    first, _ = _keeper(tmp_path)
    _survey(first, T0, T0 + 6 * S)
    log_file = tmp_path / "camera" / "keyframes.log"
    log_file.write_bytes(log_file.read_bytes()[:-7])
    again, log = _keeper(tmp_path)
    assert log.stats["checkpoint_torn_records"] == 1
    assert ("torn_record" in {r for _, r, _ in log.warnings})
    _survey(again, T0 + 8 * S, T0 + 9 * S)
    assert 4 <= log.stats["keyframes_restored"] <= 6  # type: ignore[operator]


def test_a_write_failure_is_a_warning_and_the_keyframes_stay_in_memory(tmp_path: Path) -> None:
    k, log = _keeper(tmp_path)
    _survey(k, T0, T0 + 2 * S)
    frames = tmp_path / "camera" / "frames"
    for f in frames.iterdir():
        f.unlink()
    frames.rmdir()
    frames.write_text("a file where the images go")  # as a full disk would, the next image fails
    _survey(k, T0 + 2 * S, T0 + 4 * S)
    assert len(k.keyframes) == 4
    assert "checkpoint_failed" in {r for _, r, _ in log.warnings}


def test_an_unusable_checkpoint_dir_is_a_warning_not_a_dead_node(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    k, log = _keeper(blocker)
    _survey(k, T0, T0 + 3 * S)
    assert k.store is None and len(k.keyframes) == 3
    assert "checkpoint_unusable" in {r for _, r, _ in log.warnings}


def test_no_checkpoint_dir_writes_nothing(tmp_path: Path) -> None:
    log = SessionLog()
    k = KeyframeKeeper(KeyframeSettings(), "odom", log)
    _survey(k, T0, T0 + 3 * S)
    assert k.store is None and len(k.keyframes) == 3 and "checkpoint_keyframes" not in log.stats


def test_an_odometry_gap_is_counted_with_its_span() -> None:
    # Frames in a gap have no pose and give no evidence: the gap is said, never silent.
    log = SessionLog()
    k = KeyframeKeeper(KeyframeSettings(), "odom", log, max_nav_gap_s=0.5)
    for s in [*_nav(T0, T0 + 2 * S), *_nav(T0 + 3 * S, T0 + 4 * S)]:
        k.add_nav(s, "/odom")
    gaps = [d for w, r, d in log.warnings if r == "odometry_gap" and w == "/odom"]
    assert len(gaps) == 1 and f"{(T0 + 19 * S // 10) * 1e-9:.3f}" in gaps[0] and f"{(T0 + 3 * S) * 1e-9:.3f}" in gaps[0]
