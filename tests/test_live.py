"""The live path (core.analysis.live, live_worker, tracking) with fake models and a fake detector.

The fakes make the outputs known, so smoothing, face numbering, the DeepFace worker's replacing
queue, frame dropping, the session CSV and the worker's end can be checked exactly; no TensorFlow.
"""
from __future__ import annotations

import csv
import io
import math
import threading
import time

import numpy as np
import pytest

from core.analysis.live import ExponentialSmoother, LiveProcessor, ice_configuration
from core.analysis.live_worker import FrameBuffer, LatestJobWorker
from core.analysis.tracking import FaceTracker
from core.faces.base import Face

LABELS = ("angry", "happy", "sad")
FRAME = np.full((480, 640, 3), 120, np.uint8)


def wait_until(condition, timeout_s: float = 10.0) -> bool:
    """Poll for a thread's effect (a liveness wait, not a speed threshold)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class FakeDetector:
    def __init__(self, faces):
        self.faces = list(faces)

    def detect(self, image):
        return list(self.faces)


class Fixed:
    """Face i (in detection order) always gets ``rows[i]``."""

    kind, labels = "cnn", LABELS

    def __init__(self, name, rows, display_name=None):
        self.name, self.rows = name, np.asarray(rows, float)
        self.display_name = display_name or name.upper()
        self.calls = 0

    def predict(self, crops):
        self.calls += 1
        return self.rows[: len(crops)]


class Alternating(Fixed):
    """Answers angry, then happy, then angry ... (a flickering model)."""

    def predict(self, crops):
        self.calls += 1
        row = [1.0, 0.0, 0.0] if self.calls % 2 else [0.0, 1.0, 0.0]
        return np.array([row] * len(crops))


class SlowFixed(Fixed):
    kind = "deepface"


LEFT, RIGHT = Face(50, 100, 120, 120, 0.9), Face(400, 100, 100, 100, 0.9)


def processor(classifiers, faces=(LEFT,), **kwargs) -> LiveProcessor:
    return LiveProcessor(classifiers, detector=FakeDetector(faces), **kwargs)


# --------------------------------------------------------------------------- configuration

def test_ice_configuration_has_no_servers_by_default():
    assert ice_configuration({}) == {"iceServers": []}


def test_ice_configuration_reads_the_environment():
    servers = [{"urls": "turn:turn.example.org:3478", "username": "u", "credential": "p"}]
    import json

    assert ice_configuration({"EMOTION_ICE_SERVERS": json.dumps(servers)}) == {"iceServers": servers}
    assert ice_configuration({"EMOTION_ICE_SERVERS": json.dumps({"iceServers": servers})}) == {"iceServers": servers}


@pytest.mark.parametrize("value", ["not json", '{"urls": 1}', '[{"username": "u"}]', "[1]"])
def test_bad_ice_configuration_is_one_line(value):
    with pytest.raises(ValueError) as error:
        ice_configuration({"EMOTION_ICE_SERVERS": value})
    assert "EMOTION_ICE_SERVERS" in str(error.value) and "\n" not in str(error.value)


# --------------------------------------------------------------------------- smoothing, queues

def test_smoother_weighs_a_new_value_by_elapsed_time():
    smoother = ExponentialSmoother(0.5)
    assert smoother.update("k", [1.0, 0.0], 0.0).tolist() == [1.0, 0.0]
    out = smoother.update("k", [0.0, 1.0], 0.5)
    assert out[1] == pytest.approx(1 - math.exp(-1))
    assert smoother.update("other", [0.0, 1.0], 0.5).tolist() == [0.0, 1.0]  # keys are independent


def test_smoothing_does_not_depend_on_the_frame_rate():
    fast, slow = ExponentialSmoother(0.5), ExponentialSmoother(0.5)
    fast.update("k", [1.0, 0.0], 0.0)
    slow.update("k", [1.0, 0.0], 0.0)
    for i in range(1, 31):
        fast.update("k", [0.0, 1.0], i / 30)
    for i in range(1, 6):
        slow.update("k", [0.0, 1.0], i / 5)
    assert fast.get("k") == pytest.approx(slow.get("k"))


def test_frame_buffer_drops_the_oldest_rather_than_lag():
    buffer = FrameBuffer(maxsize=1)
    for i in range(5):
        buffer.put(i)
    assert len(buffer) == 1 and buffer.dropped == 4 and buffer.received == 5
    assert buffer.take_newest() == 4 and buffer.take_newest() is None
    bigger = FrameBuffer(maxsize=3)
    for i in range(3):
        bigger.put(i)
    assert bigger.take_newest() == 2 and bigger.dropped == 2


def test_worker_replaces_the_pending_job_instead_of_queueing_it():
    release, started, done = threading.Event(), threading.Event(), []

    def work(job):
        started.set()
        release.wait(10)
        done.append(job)
        return job * 10

    worker = LatestJobWorker(work, idle_timeout_s=5)
    worker.submit(1)
    assert started.wait(10)
    for job in (2, 3, 4, 5):
        worker.submit(job)
    release.set()
    assert wait_until(lambda: worker.finished == 2)
    assert done == [1, 5]  # 2, 3, 4 were replaced before they started
    assert worker.replaced == 3 and worker.latest.value == 50 and worker.latest.version == 2
    worker.stop()
    assert not worker.is_alive()


def test_worker_thread_ends_when_jobs_stop_and_restarts():
    worker = LatestJobWorker(lambda job: job, idle_timeout_s=0.05)
    worker.submit("a")
    assert wait_until(lambda: worker.finished == 1)
    assert wait_until(lambda: not worker.is_alive())
    worker.submit("b")
    assert wait_until(lambda: worker.latest.value == "b")


def test_worker_reports_a_failing_job_and_goes_on():
    def work(job):
        if job == "bad":
            raise RuntimeError("model exploded\nsecond line")
        return job

    worker = LatestJobWorker(work, idle_timeout_s=5)
    worker.submit("bad")
    assert wait_until(lambda: worker.finished == 1)
    assert worker.latest.error == "RuntimeError: model exploded second line"
    worker.submit("good")
    assert wait_until(lambda: worker.finished == 2)
    assert worker.latest.value == "good" and worker.latest.error is None
    worker.stop()


def test_tracker_keeps_numbers_while_faces_move_and_swap_order():
    tracker = FaceTracker()
    assert tracker.update([LEFT, RIGHT]) == [1, 2]
    moved_left, moved_right = Face(60, 100, 120, 120, 0.9), Face(390, 100, 100, 100, 0.9)
    assert tracker.update([moved_right, moved_left]) == [2, 1]
    assert tracker.update([Face(250, 300, 80, 80, 0.9)]) == [3]


# --------------------------------------------------------------------------- the processor

def test_every_face_gets_every_model_and_deepface_arrives_from_its_worker():
    cnn = Fixed("cnn", [[0.1, 0.8, 0.1], [0.7, 0.2, 0.1]])
    deepface = SlowFixed("deepface", [[0.2, 0.2, 0.6], [0.2, 0.2, 0.6]], "DeepFace")
    live = processor({"cnn": cnn, "deepface": deepface}, faces=(LEFT, RIGHT))
    for i in range(3):
        live.process(FRAME, now=i / 15)
    assert wait_until(lambda: deepface.calls >= 1)
    polls = []  # frames processed while waiting: as many as the worker needs on a busy machine

    def answered() -> bool:
        polls.append(live.process(FRAME, now=1.0))
        return live.snapshot().model_ms.get("deepface") is not None

    assert wait_until(answered)
    snap = live.snapshot()
    seen = {(r.face, r.model): r.emotion for r in snap.readings}
    assert seen == {(1, "cnn"): "happy", (1, "deepface"): "sad", (2, "cnn"): "angry", (2, "deepface"): "sad"}
    assert snap.frames == 3 + len(polls) and snap.fps > 0
    live.end()


def test_labels_do_not_flicker_with_a_flickering_model():
    live = processor({"cnn": Alternating("cnn", [])})
    shown = []
    for i in range(30):
        live.process(FRAME, now=i / 30)
        shown.append(live.snapshot().readings[0].emotion)
    changes = sum(a != b for a, b in zip(shown, shown[1:]))
    assert changes <= 1  # raw answers change on every frame (29 times)


def test_the_chart_never_averages_two_faces():
    cnn = Fixed("cnn", [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    live = processor({"cnn": cnn}, faces=(LEFT, RIGHT))
    for i in range(10):
        live.process(FRAME, now=i / 10)
    history = live.history()
    assert {row["face"] for row in history} == {1, 2}
    assert all(row["p_happy"] == 100.0 for row in history if row["face"] == 1)
    assert all(row["p_sad"] == 100.0 for row in history if row["face"] == 2)


def test_history_keeps_only_the_last_window():
    live = processor({"cnn": Fixed("cnn", [[1.0, 0.0, 0.0]])}, history_s=30)
    for second in range(0, 61, 5):
        live.process(FRAME, now=float(second))
    times = [row["time_s"] for row in live.history()]
    assert min(times) == 30.0 and max(times) == 60.0


def test_session_csv_has_every_answer_in_percent():
    cnn = Fixed("cnn", [[0.25, 0.5, 0.25], [0.1, 0.1, 0.8]])
    live = processor({"cnn": cnn}, faces=(LEFT, RIGHT))
    for i in range(4):
        live.process(FRAME, now=10.0 + i * 0.5)
    live.end()
    rows = list(csv.DictReader(io.StringIO(live.csv_bytes().decode())))
    assert list(rows[0]) == ["time_s", "face", "model", "dominant_emotion", "p_angry", "p_happy", "p_sad"]
    assert len(rows) == 8
    assert [float(r["time_s"]) for r in rows[::2]] == [0.0, 0.5, 1.0, 1.5]
    first = rows[0]
    assert (first["face"], first["model"], first["dominant_emotion"]) == ("1", "cnn", "happy")
    assert float(first["p_happy"]) == 50.0 and float(rows[1]["p_sad"]) == 80.0


def test_seconds_stop_counting_after_stop_and_a_new_start_is_a_new_session():
    clock = [0.0]
    live = processor({"cnn": Fixed("cnn", [[1.0, 0.0, 0.0]])}, clock=lambda: clock[0])
    for i in range(11):
        clock[0] = i * 0.5
        live.process(FRAME)
    live.end()
    clock[0] = 100.0
    snap = live.snapshot()
    assert snap.elapsed_s == 5.0 and not snap.running and snap.frames == 11
    live.process(FRAME)
    assert live.snapshot().frames == 1 and live.snapshot().elapsed_s == 0.0


def test_only_the_newest_queued_frame_is_processed():
    live = processor({"cnn": Fixed("cnn", [[1.0, 0.0, 0.0]])})
    frames = [np.full((480, 640, 3), value, np.uint8) for value in (10, 20, 30)]
    for frame in frames:
        live.submit(frame)
    drawn = live.process(live.frames_in.take_newest())
    assert drawn is not None and drawn[470, 630, 0] == 30  # the last frame, drawn
    assert live.snapshot().frames == 1 and live.snapshot().dropped == 2
    assert live.frames_in.take_newest() is None


def test_worker_ends_when_frames_stop():
    deepface = SlowFixed("deepface", [[0.2, 0.2, 0.6]])
    live = processor({"cnn": Fixed("cnn", [[1.0, 0.0, 0.0]]), "deepface": deepface}, worker_idle_s=0.05)
    live.process(FRAME, now=0.0)
    assert wait_until(lambda: deepface.calls == 1)
    assert wait_until(lambda: not live.worker.is_alive())


def test_end_stops_the_worker_at_once():
    deepface = SlowFixed("deepface", [[0.2, 0.2, 0.6]])
    live = processor({"cnn": Fixed("cnn", [[1.0, 0.0, 0.0]]), "deepface": deepface}, worker_idle_s=60)
    live.process(FRAME, now=0.0)
    assert wait_until(lambda: deepface.calls == 1)
    live.end()
    assert not live.worker.is_alive()


def test_a_failing_model_is_reported_and_the_others_go_on():
    class Broken(Fixed):
        def predict(self, crops):
            raise RuntimeError("no weights")

    live = processor({"cnn": Fixed("cnn", [[1.0, 0.0, 0.0]]), "other": Broken("other", [])})
    live.process(FRAME, now=0.0)
    snap = live.snapshot()
    assert snap.errors == {"other": "RuntimeError: no weights"}
    assert [(r.model, r.emotion) for r in snap.readings] == [("cnn", "angry")]


def test_the_drawing_is_a_copy_and_boxes_the_face():
    live = processor({"cnn": Fixed("cnn", [[1.0, 0.0, 0.0]])})
    frame = FRAME.copy()
    drawn = live.process(frame, now=0.0)
    assert np.array_equal(frame, FRAME)  # the input is untouched
    assert not np.array_equal(drawn[LEFT.y + 60, LEFT.x - 1:LEFT.x + 3], FRAME[LEFT.y + 60, LEFT.x - 1:LEFT.x + 3])
    assert np.array_equal(drawn[400:, 300:], FRAME[400:, 300:])  # away from the face: untouched


def test_a_frame_reads_as_compare_reads_the_same_image(tiny_model_dir, astronaut, monkeypatch):
    """One classification step: Live's calibrated probabilities for a fixed frame equal Compare's
    (Analyzer.analyze) for that image, face for face; with calibration off both are the raw ones."""
    from core.analysis.pipeline import AnalysisOptions, Analyzer
    from core.models.cnn import CnnClassifier

    monkeypatch.setattr(CnnClassifier, "temperature", 2.5, raising=False)  # as if model.json held one
    classifiers = {"fer2013_cnn": CnnClassifier(tiny_model_dir, name="fer2013_cnn")}
    confidence = {}
    for calibrated in (True, False):
        photo = Analyzer(classifiers).analyze(astronaut, options=AnalysisOptions(detector="blazeface",
                                                                                 calibrated=calibrated))
        live = LiveProcessor(classifiers, detector="blazeface", calibrated=calibrated)
        live.process(astronaut, now=0.0)
        (row,) = live.session_rows()
        (face,) = photo.faces
        expected = face.predictions["fer2013_cnn"]
        assert expected.temperature == (2.5 if calibrated else None)
        for label, p in zip(expected.labels, expected.probabilities):
            assert row[f"p_{label}"] == pytest.approx(p * 100, abs=0.006)
        assert row["dominant_emotion"] == expected.dominant
        confidence[calibrated] = expected.confidence
        live.end()
    assert confidence[True] < confidence[False]  # T = 2.5 softens: a path that skipped it would differ
