"""Video analysis (core.analysis.video) on clips encoded in memory by the test.

The classifier is a fake with known answers so the rows can be checked exactly; detection is real
(BlazeFace) on frames of the example photo's head drifting across the picture.
"""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from video_clips import face_clip

from core.analysis.pipeline import AnalysisOptions, Analyzer
from core.analysis.video import analyse_video, columns
from core.media.video import VideoDecodeError, VideoLimitError

LABELS = ("angry", "happy", "sad")
OPTIONS = AnalysisOptions(detector="blazeface")


class Fake:
    name = kind = "cnn"
    display_name = "CNN"
    labels = LABELS

    def __init__(self, fail_every: int = 0):
        self.fail_every, self.calls = fail_every, 0

    def predict(self, crops):
        self.calls += 1
        if self.fail_every and self.calls % self.fail_every == 0:
            raise RuntimeError("planted failure")
        return np.tile([0.1, 0.7, 0.2], (len(crops), 1))


@pytest.fixture(scope="module")
def one_face() -> bytes:
    return face_clip(count=20, faces=1, rate=10)


@pytest.fixture(scope="module")
def two_faces() -> bytes:
    return face_clip(count=10, faces=2, rate=10)


def analyse(data, classifier=None, options=OPTIONS, **kwargs):
    return analyse_video(data, Analyzer({"cnn": classifier or Fake()}), options, **kwargs)


def test_every_n_samples_exact_frames_and_writes_one_row_per_face_and_model(one_face):
    result = analyse(one_face, every=5)
    assert [row["frame"] for row in result.rows] == [0, 5, 10, 15]
    assert [row["time_s"] for row in result.rows] == pytest.approx([0.0, 0.5, 1.0, 1.5])
    assert result.frames_sampled == 4 and not result.stopped_at_max_frames
    row = result.rows[0]
    assert list(row) == columns(LABELS) == ["frame", "time_s", "face", "x", "y", "w", "h", "model",
                                             "dominant_emotion", "p_angry", "p_happy", "p_sad"]
    assert (row["face"], row["model"], row["dominant_emotion"]) == (1, "cnn", "happy")
    assert (row["p_angry"], row["p_happy"], row["p_sad"]) == (10.0, 70.0, 20.0)  # percent
    assert row["w"] > 30 and 0 <= row["x"] < 320


def test_every_seconds_uses_presentation_time(one_face):
    assert [r["frame"] for r in analyse(one_face, every_seconds=0.5).rows] == [0, 5, 10, 15]
    assert [r["frame"] for r in analyse(one_face).rows] == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]  # 5 a second


def test_csv_and_json_carry_the_rows(one_face):
    result = analyse(one_face, every=10)
    rows = list(csv.DictReader(io.StringIO(result.csv_text())))
    assert list(rows[0]) == columns(LABELS) and [r["frame"] for r in rows] == ["0", "10"]
    data = json.loads(result.to_json())
    assert data["probability_unit"] == "percent" and data["frames_sampled"] == 2 and len(data["rows"]) == 2
    assert data["video"]["width"] == 320 and data["detector"] == "blazeface"


def test_faces_keep_their_numbers_across_frames(two_faces):
    result = analyse(two_faces, every=1)
    assert result.faces == [1, 2]
    for number in (1, 2):
        xs = [r["x"] for r in result.rows if r["face"] == number]
        assert len(xs) == 10
        assert max(xs) - min(xs) < 60  # each number follows one drifting head (they are ~150 px apart)
    left = [r["x"] for r in result.rows if r["face"] == 1]
    right = [r["x"] for r in result.rows if r["face"] == 2]
    assert all(a < b for a, b in zip(left, right)) or all(a > b for a, b in zip(left, right))


def test_max_frames_stops_and_says_so(one_face):
    result = analyse(one_face, every=1, max_frames=3)
    assert result.frames_sampled == 3 and result.stopped_at_max_frames
    assert [r["frame"] for r in result.rows] == [0, 1, 2]


def test_model_failures_are_counted_per_frame(one_face):
    result = analyse(one_face, Fake(fail_every=2), every=5)
    assert result.frame_failures == {"cnn": 2} and "planted failure" in result.failure_examples["cnn"]
    assert [r["frame"] for r in result.rows] == [0, 10]


def test_strongest_moments_have_thumbnails(one_face):
    result = analyse(one_face, every=5)
    assert set(result.moments) == {("cnn", "happy")}  # 70%; angry (10%) and sad (20%) had no strong moment
    moment = result.moments[("cnn", "happy")]
    assert moment.percent == 70.0 and moment.frame == 0 and moment.face == 1
    assert moment.thumbnail.ndim == 3 and max(moment.thumbnail.shape[:2]) == 112


def test_progress_is_reported_per_frame(one_face):
    calls = []
    analyse(one_face, every=5, progress=lambda done, expected: calls.append((done, expected)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_corrupt_truncated_and_over_limit_videos_are_refused(one_face):
    with pytest.raises(VideoDecodeError, match="not a supported video"):
        analyse(b"this is not a video at all")
    with pytest.raises(VideoDecodeError):
        analyse(one_face[: len(one_face) // 2])
    with pytest.raises(VideoLimitError, match="MiB"):
        analyse(one_face, max_bytes=1000)
    with pytest.raises(VideoLimitError, match="limit"):
        analyse(one_face, max_duration_s=1.0)


def test_a_video_without_faces_has_no_rows():
    blank = face_clip(count=5, faces=0, rate=5)
    result = analyse(blank, every=1)
    assert result.rows == [] and result.frames_without_face == 5 and result.frames_sampled == 5


def test_each_track_is_summarised_per_model(one_face):
    result = analyse(one_face, every=5)
    (track,) = result.tracks()
    assert result.shot_cuts == 0  # a head drifting across one shot is one track
    assert track["face"] == 1 and track["model"] == "cnn" and track["frames"] == 4
    assert track["dominant_emotion"] == "happy" and track["mean_happy"] == 70.0 and track["mean_sad"] == 20.0
    assert track["duration_s"] == pytest.approx(track["last_s"] - track["first_s"]) and track["duration_s"] > 0
    assert json.loads(result.to_json())["tracks"] == [track]
    rows = list(csv.DictReader(io.StringIO(result.tracks_csv_text())))
    assert rows[0]["dominant_emotion"] == "happy" and float(rows[0]["mean_happy"]) == 70.0


def _shots(patches, frames_per_shot=6, width=320, height=240):
    """One shot per face patch, each on its own background, the face at the same place in every shot."""
    from core.bench.detection_set import paste_face

    backgrounds = [(150, 60, 40), (40, 140, 60), (60, 50, 150), (140, 140, 140)]
    rng = np.random.default_rng(0)
    frames = []
    for shot, (patch, box) in enumerate(patches):
        for i in range(frames_per_shot):
            canvas = np.empty((height, width, 3), np.uint8)
            canvas[:] = backgrounds[shot % len(backgrounds)]
            canvas = np.clip(canvas + rng.normal(0, 6, canvas.shape), 0, 255).astype(np.uint8)
            paste_face(canvas, patch, box, (width / 2 + 2 * i, height / 2), 110.0, 0.0)
            frames.append(canvas)
    return frames


def test_a_track_never_continues_across_a_shot_cut(astronaut):
    """The same place in three shots: three tracks (without the cut test the tracker would keep one)."""
    from video_clips import encode_frames

    head = astronaut[40:260, 120:340]
    patches = [(head, (50, 20, 110, 130)), (head[:, ::-1].copy(), (60, 20, 110, 130)), (head, (50, 20, 110, 130))]
    result = analyse(encode_frames(_shots(patches), rate=10), every=1,
                     options=AnalysisOptions(detector="blazeface-or-haar"))
    assert result.shot_cuts == 2
    assert result.faces == [1, 2, 3]
    assert [t["face"] for t in result.tracks()] == [1, 2, 3]


def test_a_clip_cutting_between_three_fer2013_faces_gives_three_tracks(fer2013_dir):
    """Non-regression test for issue 22: three people in turn were all tracked as "face 1"."""
    from video_clips import encode_frames

    from core.bench.detection_set import FER_FACE_BOX
    from core.data.datasets import load_fer2013_folder

    dataset = load_fer2013_folder(fer2013_dir)
    records = sorted((r for r in dataset.records if r.split == "PrivateTest"), key=lambda r: r.rel_path)[:3]
    patches = [(dataset.read(r, grayscale=False), tuple(round(v * 48) for v in FER_FACE_BOX)) for r in records]
    result = analyse(encode_frames(_shots(patches), rate=10), every=1,
                     options=AnalysisOptions(detector="blazeface-or-haar"))
    assert result.shot_cuts == 2
    assert len({t["face"] for t in result.tracks()}) == 3
