"""Emotions over time in a video file: sampled frames (:mod:`core.media.video`, decoded from bytes in
memory), every face classified by every model, faces numbered consistently across frames.

One row per sampled frame, face and model: ``frame`` (0-based index in the file), ``time_s``,
``face``, ``x``, ``y``, ``w``, ``h``, ``model``, ``dominant_emotion`` and ``p_<label>`` per label,
probabilities in **percent** (0-100), the unit of every CSV this project writes.

A face number is one track: a face keeps it while it stays in view (short misses included), and
never across a shot cut (:mod:`core.analysis.shots`). :meth:`VideoAnalysis.tracks` summarises each
track per model (duration, mean probabilities, dominant emotion). A "strongest moment" is kept only
where a model's probability reached :data:`STRONG_MOMENT_PERCENT`.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from core.analysis.classify import csv_text, prediction_cells, probability_columns
from core.analysis.shots import ShotCuts
from core.analysis.tracking import FaceTracker
from core.faces import crop_face
from core.media import video as media

BASE_COLUMNS = ("frame", "time_s", "face", "x", "y", "w", "h")
THUMBNAIL_SIDE = 112
STRONG_MOMENT_PERCENT = 50.0  # below this, an emotion's peak is no strong moment
TRACK_COLUMNS = ("face", "model", "first_s", "last_s", "duration_s", "frames", "dominant_emotion")


def columns(labels) -> list[str]:
    return [*BASE_COLUMNS, *probability_columns(labels)]


@dataclass
class Moment:
    """The frame where one model saw one emotion most strongly, with the face's thumbnail (RGB)."""

    model: str
    emotion: str
    percent: float
    frame: int
    time_s: float
    face: int
    thumbnail: np.ndarray = field(repr=False)


@dataclass
class VideoAnalysis:
    info: media.VideoInfo
    labels: tuple[str, ...]
    models: tuple[str, ...]
    rows: list[dict]
    frames_sampled: int = 0
    frames_without_face: int = 0
    frame_failures: dict[str, int] = field(default_factory=dict)  # per model: frames it failed on
    failure_examples: dict[str, str] = field(default_factory=dict)
    stopped_at_max_frames: bool = False
    max_frames: int = media.MAX_FRAMES
    moments: dict[tuple[str, str], Moment] = field(default_factory=dict)
    detector: str = ""
    shot_cuts: int = 0

    @property
    def faces(self) -> list[int]:
        return sorted({row["face"] for row in self.rows})

    def csv_text(self) -> str:
        return csv_text(self.rows, columns(self.labels))

    def tracks(self) -> list[dict]:
        """One summary per track and model: ``face``, ``model``, ``first_s``, ``last_s``, ``duration_s``,
        ``frames``, ``dominant_emotion`` (of the mean) and ``mean_<label>`` in percent."""
        groups: dict[tuple[int, str], list[dict]] = {}
        for row in self.rows:
            groups.setdefault((row["face"], row["model"]), []).append(row)
        out = []
        for (face, model), rows in sorted(groups.items()):
            means = {label: round(float(np.mean([r[f"p_{label}"] for r in rows])), 2) for label in self.labels
                     if rows[0][f"p_{label}"] is not None}
            first, last = rows[0]["time_s"], rows[-1]["time_s"]
            out.append({"face": face, "model": model, "first_s": first, "last_s": last,
                        "duration_s": round(last - first, 3), "frames": len(rows),
                        "dominant_emotion": max(means, key=means.get),
                        **{f"mean_{label}": means.get(label) for label in self.labels}})
        return out

    def tracks_csv_text(self) -> str:
        return csv_text(self.tracks(), [*TRACK_COLUMNS, *(f"mean_{label}" for label in self.labels)])

    def summary(self) -> dict:
        return {"video": {k: getattr(self.info, k) for k in self.info.__dataclass_fields__},
                "models": list(self.models), "labels": list(self.labels), "detector": self.detector,
                "probability_unit": "percent", "frames_sampled": self.frames_sampled,
                "frames_without_face": self.frames_without_face, "faces": len(self.faces),
                "shot_cuts": self.shot_cuts, "tracks": self.tracks(),
                "frame_failures": dict(self.frame_failures), "failure_examples": dict(self.failure_examples),
                "stopped_at_max_frames": self.stopped_at_max_frames, "max_frames": self.max_frames}

    def to_json(self) -> str:
        return json.dumps({**self.summary(), "rows": self.rows}, indent=1)


def expected_samples(info: media.VideoInfo, every: int | None, every_seconds: float | None, max_frames: int) -> int:
    """About how many frames sampling will take (for a progress bar)."""
    if every is not None:
        estimate = math.ceil(max(info.frame_count, 1) / every)
    else:
        estimate = math.floor(info.duration_s / (every_seconds or media.DEFAULT_EVERY_SECONDS)) + 1
    return max(1, min(estimate, max_frames))


def analyse_video(data: bytes, analyzer, options=None, every: int | None = None, every_seconds: float | None = None,
                  max_frames: int = media.MAX_FRAMES, max_bytes: int = media.MAX_BYTES,
                  max_duration_s: float = media.MAX_DURATION_S,
                  progress: Callable[[int, int], None] | None = None) -> VideoAnalysis:
    """Analyse the sampled frames of a video held in memory.

    ``analyzer`` is a :class:`core.analysis.pipeline.Analyzer`; ``options`` its AnalysisOptions.
    ``progress(done, expected)`` is called after each frame. Raises
    :class:`core.media.video.VideoDecodeError` (one line) for a bad, truncated or too large file.
    """
    from core.analysis.pipeline import AnalysisOptions

    options = options or AnalysisOptions()
    info = media.probe(data, max_bytes=max_bytes)
    if info.duration_s > max_duration_s:
        raise media.VideoLimitError(f"the video lasts {info.duration_s:.0f} s; the limit is {max_duration_s:.0f} s")
    classifiers = analyzer.classifiers
    labels = tuple(dict.fromkeys(label for c in classifiers.values() for label in c.labels))
    result = VideoAnalysis(info, labels, tuple(classifiers), [], max_frames=max_frames, detector=options.detector)
    expected = expected_samples(info, every, every_seconds, max_frames)
    tracker = FaceTracker(max_missing=3)
    cuts = ShotCuts()
    for frame in media.iter_frames(data, every, every_seconds, max_bytes, max_duration_s, max_frames):
        if cuts.is_cut(frame.image):
            tracker.end_shot()
        photo = analyzer.analyze(frame.image, f"frame {frame.index}", options)
        result.frames_sampled += 1
        for model, message in photo.model_errors.items():
            result.frame_failures[model] = result.frame_failures.get(model, 0) + 1
            result.failure_examples.setdefault(model, message)
        faces = photo.faces
        if not any(f.source != "whole_image" for f in faces):
            result.frames_without_face += 1
        numbers = tracker.update([f.face for f in faces])
        for number, face in zip(numbers, faces):
            for model, prediction in face.predictions.items():
                row = _row(frame, number, face.face, model, prediction, labels)
                result.rows.append(row)
                _keep_strongest(result, frame, number, face.face, model, row, labels)
        if progress:
            progress(result.frames_sampled, max(expected, result.frames_sampled))
    result.stopped_at_max_frames = result.frames_sampled >= max_frames
    result.shot_cuts = cuts.cuts
    return result


def _row(frame, number, box, model, prediction, labels) -> dict:
    return {"frame": frame.index, "time_s": round(frame.time_s, 3), "face": number, "x": int(box.x), "y": int(box.y),
            "w": int(box.w), "h": int(box.h),
            **prediction_cells(model, prediction.labels, prediction.probabilities, labels)}


def _keep_strongest(result: VideoAnalysis, frame, number, box, model, row, labels) -> None:
    for label in labels:
        percent = row[f"p_{label}"]
        if percent is None or percent < STRONG_MOMENT_PERCENT:
            continue
        best = result.moments.get((model, label))
        if best is None or percent > best.percent:
            result.moments[(model, label)] = Moment(model, label, percent, frame.index, round(frame.time_s, 3), number,
                                                    _thumbnail(crop_face(frame.image, box, margin=0.15)))


def _thumbnail(crop: np.ndarray) -> np.ndarray:
    height, width = crop.shape[:2]
    scale = THUMBNAIL_SIDE / max(height, width, 1)
    small = cv2.resize(crop, (max(1, round(width * scale)), max(1, round(height * scale))),
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return np.ascontiguousarray(small[..., ::-1])
