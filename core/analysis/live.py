"""The live path: every frame of a webcam stream detected, classified, smoothed and drawn, in memory.

:class:`LiveProcessor` is what the Live page's WebRTC callback calls on every frame it keeps. On
each processed frame the fast models classify every face; models whose record says ``slow``
(DeepFace) run on a :class:`~core.analysis.live_worker.LatestJobWorker` at their own rate,
their latest answer held between updates. Faces keep their number across frames
(:class:`~core.analysis.tracking.FaceTracker`); each face's probabilities per model are smoothed by
an exponential average over ``smoothing_s`` (about half a second) so labels do not flicker.
Classification goes through :func:`core.analysis.classify.classify`, the step Compare uses, so a
frame's probabilities are calibrated exactly as the same image's are there (``calibrated=False``:
raw).

Frames are never stored: what is kept is numbers (time, face, model, probabilities) for the last
``history_s`` seconds (the chart) and for the whole session (the CSV offered after STOP).
"""
from __future__ import annotations

import json
import math
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from core.analysis.classify import (
    classify,
    csv_text,
    error_text,
    framed_crops,
    framing_of,
    prediction_cells,
    probability_columns,
)
from core.analysis.live_worker import FrameBuffer, LatestJobWorker
from core.analysis.tracking import FaceTracker
from core.faces import catalogue
from core.models import registry

SMOOTHING_S = 0.5
HISTORY_S = 30.0
MAX_SESSION_ROWS = 200_000  # ~10 min at 15 fps with 10 face-model pairs
ICE_SERVERS_ENV = "EMOTION_ICE_SERVERS"
BOX_COLOR_BGR = (60, 200, 60)


def ice_configuration(environ=os.environ) -> dict:
    """The WebRTC configuration: no ICE servers (localhost/LAN, never waits for the network), or the
    servers ``$EMOTION_ICE_SERVERS`` gives as JSON: a list of ``{"urls": ..., "username": ...,
    "credential": ...}`` objects, or ``{"iceServers": [...]}``."""
    text = environ.get(ICE_SERVERS_ENV, "").strip()
    if not text:
        return {"iceServers": []}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{ICE_SERVERS_ENV} is not valid JSON ({exc.msg} at character {exc.pos})") from None
    servers = value.get("iceServers") if isinstance(value, dict) else value
    if not isinstance(servers, list) or not all(isinstance(s, dict) and s.get("urls") for s in servers):
        raise ValueError(f'{ICE_SERVERS_ENV} must be a JSON list like [{{"urls": "stun:stun.example.org:3478"}}]')
    return {"iceServers": servers}


def is_slow(classifier) -> bool:
    """Whether the model's record says it is too slow for every frame (it then runs on the worker)."""
    return registry.describe(getattr(classifier, "name", "")).slow


class ExponentialSmoother:
    """Per-key exponential moving average with a time constant: a new value weighs
    ``1 - exp(-dt / time_constant_s)``, so the result does not depend on the frame rate."""

    def __init__(self, time_constant_s: float = SMOOTHING_S):
        self.time_constant_s = time_constant_s
        self._state: dict = {}

    def update(self, key, value: np.ndarray, now: float) -> np.ndarray:
        value = np.asarray(value, dtype=np.float64)
        previous = self._state.get(key)
        if previous is None or self.time_constant_s <= 0:
            smoothed = value
        else:
            weight = 1.0 - math.exp(-max(now - previous[1], 0.0) / self.time_constant_s)
            smoothed = previous[0] + weight * (value - previous[0])
        self._state[key] = (smoothed, now)
        return smoothed

    def get(self, key) -> np.ndarray | None:
        entry = self._state.get(key)
        return None if entry is None else entry[0]

    def keep_only(self, keep) -> None:
        self._state = {k: v for k, v in self._state.items() if keep(k)}

    def clear(self) -> None:
        self._state.clear()


@dataclass(frozen=True)
class Reading:
    """One face's current (smoothed) answer from one model."""

    face: int
    model: str
    emotion: str
    confidence: float  # 0..1


@dataclass
class LiveSnapshot:
    running: bool
    frames: int
    dropped: int
    fps: float
    elapsed_s: float
    readings: list[Reading]
    model_ms: dict[str, float]  # per model, ms per frame (slow models: per answer)
    detect_ms: float
    errors: dict[str, str] = field(default_factory=dict)


class LiveProcessor:
    """Processes a stream's frames; :meth:`snapshot`, :meth:`history` and :meth:`csv_bytes` may be
    called from another thread at any time."""

    def __init__(self, classifiers: dict, detector: str = catalogue.LIVE_DETECTOR, min_face_size: int = 40,
                 max_faces: int = 5, smoothing_s: float = SMOOTHING_S, history_s: float = HISTORY_S,
                 slow_every_s: float = 0.0, worker_idle_s: float = 3.0, clock=time.monotonic,
                 max_session_rows: int = MAX_SESSION_ROWS, calibrated: bool = True):
        if not classifiers:
            raise ValueError("at least one classifier is needed")
        if isinstance(detector, str):
            self.detector_name, self.detector = detector, catalogue.build(detector, int(min_face_size))
        else:  # any object with detect(image) -> list[Face]
            self.detector_name, self.detector = type(detector).__name__, detector
        self.fast = {n: c for n, c in classifiers.items() if not is_slow(c)}
        self.slow = {n: c for n, c in classifiers.items() if is_slow(c)}
        self.framings = {n: framing_of(c) for n, c in classifiers.items()}  # looked up once, not per frame
        self.calibrated = calibrated
        self.display_names = {n: registry.describe(n).title for n in classifiers}
        self.labels = {n: tuple(c.labels) for n, c in classifiers.items()}
        self.all_labels = tuple(dict.fromkeys(label for ls in self.labels.values() for label in ls))
        self.max_faces = max_faces
        self.smoothing_s = smoothing_s
        self.history_s = history_s
        self.slow_every_s = slow_every_s
        self.clock = clock
        self.max_session_rows = max_session_rows
        self.frames_in = FrameBuffer(maxsize=1)
        self.worker = LatestJobWorker(self._run_slow, idle_timeout_s=worker_idle_s, name="live-slow-models")
        self._lock = threading.RLock()
        self._reset_state()

    # ------------------------------------------------------------------ stream
    def _reset_state(self) -> None:
        self.tracker = FaceTracker()
        self.smoother = ExponentialSmoother(self.smoothing_s)
        self._start: float | None = None
        self._last: float | None = None
        self._frame_times: deque = deque(maxlen=60)
        self._history: deque = deque()
        self._session: list[tuple] = []
        self.session_truncated = False
        self._faces_now: list[int] = []
        self._ms: dict[str, float] = {}
        self._errors: dict[str, str] = {}
        self._slow_seen = 0
        self._slow_submitted_at = -math.inf
        self.frames = 0
        self.running = False
        self._dropped_before = self.frames_in.dropped

    def reset(self) -> None:
        """Forget the session (a new START)."""
        self.worker.stop()
        with self._lock:
            self._reset_state()

    def end(self) -> None:
        """The stream ended (STOP): stop the slow-model thread; the session's data stay readable."""
        self.worker.stop()
        with self._lock:
            self.running = False

    def submit(self, frame) -> None:
        """Queue an incoming frame (bounded: the oldest one waiting is dropped)."""
        self.frames_in.put(frame)

    # ------------------------------------------------------------------ per frame
    def process(self, image: np.ndarray, now: float | None = None) -> np.ndarray:
        """Detect, classify, smooth and draw one BGR frame; returns the annotated copy."""
        now = self.clock() if now is None else now
        with self._lock:
            if not self.running:
                if self._start is not None:  # a new stream after STOP: a new session
                    self._reset_state()
                self.running = True
            if self._start is None:
                self._start = now
            t = now - self._start
            started = time.perf_counter()
            faces = self.detector.detect(image)[: self.max_faces]
            self._ms_update("detect", (time.perf_counter() - started) * 1000.0)
            numbers = self.tracker.update(faces)
            # each model sees the faces framed as in its training data (core.faces.framing)
            framings = self.framings
            crops = framed_crops(image, faces, framings.values()) if faces else {}
            if crops:
                for name, classifier in self.fast.items():
                    self._classify_fast(name, classifier, crops[framings[name]], numbers, t)
                if self.slow and now - self._slow_submitted_at >= self.slow_every_s:
                    self._slow_submitted_at = now
                    self.worker.submit((t, numbers, crops[framings[next(iter(self.slow))]]))
            self._take_slow_answer()
            self.smoother.keep_only(lambda key: key[0] in numbers or key[0] in self._faces_now)
            self._faces_now = numbers
            self.frames += 1
            self._frame_times.append(now)
            self._last = now
            self._prune(t)
            return self._draw(image, faces, numbers)

    def _classify_fast(self, name, classifier, crops, numbers, t) -> None:
        started = time.perf_counter()
        try:
            predictions = classify(classifier, crops, self.calibrated)
        except Exception as exc:  # one failing model must not stop the stream
            self._errors[name] = error_text(exc)
            return
        self._ms_update(name, (time.perf_counter() - started) * 1000.0)
        for number, prediction in zip(numbers, predictions):
            self._record(t, number, name, prediction.probabilities)

    def _run_slow(self, job) -> dict:
        t, numbers, crops = job
        answers = {}
        for name, classifier in self.slow.items():
            started = time.perf_counter()
            probabilities = np.array([p.probabilities for p in classify(classifier, crops, self.calibrated)])
            answers[name] = (probabilities, (time.perf_counter() - started) * 1000.0)
        return t, numbers, answers

    def _take_slow_answer(self) -> None:
        result = self.worker.latest
        if result is None or result.version == self._slow_seen:
            return
        self._slow_seen = result.version
        if result.error:
            for name in self.slow:
                self._errors[name] = result.error
            return
        t, numbers, answers = result.value
        for name, (probabilities, ms) in answers.items():
            self._ms_update(name, ms)
            for number, row in zip(numbers, probabilities):
                self._record(t, number, name, row)

    def _record(self, t: float, face: int, model: str, probabilities: np.ndarray) -> None:
        smoothed = self.smoother.update((face, model), probabilities, t)
        self._history.append((t, face, model, smoothed.astype(np.float32)))
        if len(self._session) < self.max_session_rows:
            self._session.append((t, face, model, probabilities.astype(np.float32)))
        else:
            self.session_truncated = True

    def _ms_update(self, name: str, ms: float) -> None:
        previous = self._ms.get(name)
        self._ms[name] = ms if previous is None else 0.8 * previous + 0.2 * ms

    def _prune(self, t: float) -> None:
        while self._history and self._history[0][0] < t - self.history_s:
            self._history.popleft()

    def _draw(self, image: np.ndarray, faces, numbers) -> np.ndarray:
        out = image.copy()
        height, width = out.shape[:2]
        scale = max(0.45, min(width, height) / 900)
        thickness = max(1, round(min(width, height) / 400))
        for face, number in zip(faces, numbers):
            cv2.rectangle(out, (face.x, face.y), (face.x + face.w, face.y + face.h), BOX_COLOR_BGR, thickness + 1,
                          cv2.LINE_AA)
            lines = [f"{number}"] + [self._label(number, name) for name in (*self.fast, *self.slow)]
            (_, line_h), base = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
            step = line_h + base + 4
            top = face.y - step * len(lines)
            if top < 0:  # no room above: write inside the box's top
                top = face.y
            for i, text in enumerate(lines):
                (text_w, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
                y0 = top + i * step
                cv2.rectangle(out, (face.x, y0), (face.x + text_w + 8, y0 + step), BOX_COLOR_BGR, -1)
                cv2.putText(out, text, (face.x + 4, y0 + line_h + 2), cv2.FONT_HERSHEY_SIMPLEX, scale,
                            (255, 255, 255), thickness, cv2.LINE_AA)
        return out

    def _label(self, number: int, name: str) -> str:
        smoothed = self.smoother.get((number, name))
        if smoothed is None:
            return f"{self.display_names[name]} ..."
        best = int(np.argmax(smoothed))
        return f"{self.display_names[name]} {self.labels[name][best]} {smoothed[best] * 100:.0f}%"

    # ------------------------------------------------------------------ readers (any thread)
    def snapshot(self) -> LiveSnapshot:
        with self._lock:
            times = list(self._frame_times)
            fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
            elapsed = 0.0 if self._start is None else self._last - self._start  # stops with the stream
            readings = []
            for number in sorted(self._faces_now):
                for name in (*self.fast, *self.slow):
                    smoothed = self.smoother.get((number, name))
                    if smoothed is not None:
                        best = int(np.argmax(smoothed))
                        readings.append(Reading(number, name, self.labels[name][best], float(smoothed[best])))
            model_ms = {n: round(v, 1) for n, v in self._ms.items() if n != "detect"}
            return LiveSnapshot(self.running, self.frames, self.frames_in.dropped - self._dropped_before, round(fps, 1),
                                round(elapsed, 1), readings, model_ms, round(self._ms.get("detect", 0.0), 1),
                                dict(self._errors))

    def history(self) -> list[dict]:
        """The last ``history_s`` seconds, smoothed: rows of time_s, face, model and percent per label."""
        with self._lock:
            items = list(self._history)
        return [self._row(t, face, model, probs) for t, face, model, probs in items]

    def session_rows(self) -> list[dict]:
        """Everything seen since START (raw model answers, percent), in time order."""
        with self._lock:
            items = list(self._session)
        return sorted((self._row(t, face, model, probs) for t, face, model, probs in items),
                      key=lambda r: (r["time_s"], r["face"], r["model"]))

    def _row(self, t, face, model, probs) -> dict:
        return {"time_s": round(float(t), 3), "face": face,
                **prediction_cells(model, self.labels[model], probs, self.all_labels)}

    def csv_bytes(self) -> bytes:
        columns = ["time_s", "face", *probability_columns(self.all_labels)]
        return csv_text(self.session_rows(), columns).encode("utf-8")
