"""The one classification step every entry point shares: Compare, Live, video, ``predict`` and ``explain``.

:func:`classify` runs one model on face crops, times it and applies its fitted temperature when
asked (calibrated probabilities are the default everywhere); :func:`classify_all` does so for every
model, keeping one model's failure from losing the others' answers. The answers stay
:class:`ModelPrediction` objects until an edge turns them into a dict or a CSV row
(:func:`prediction_cells`).
"""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.analysis.calibration import apply_temperature
from core.faces.framing import DETECTOR_FRAMING, framed_crops

CALIBRATED_NOTE = "probabilities calibrated by each model's fitted temperature (where it has one)"
RAW_NOTE = "raw probabilities (no temperature applied)"


@dataclass
class ModelPrediction:
    """One model's answer for one face."""

    probabilities: np.ndarray
    labels: tuple[str, ...]
    time_ms: float
    temperature: float | None = None  # the temperature applied (None: raw probabilities)

    @property
    def dominant(self) -> str:
        return self.labels[int(np.argmax(self.probabilities))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probabilities))

    def to_dict(self) -> dict:
        return {
            "emotion": {label: round(float(p) * 100.0, 4) for label, p in zip(self.labels, self.probabilities)},
            "dominant_emotion": self.dominant,
            "confidence": round(self.confidence, 6),
            "time_ms": round(self.time_ms, 3),
            "temperature": None if self.temperature is None else round(float(self.temperature), 4),
        }


def temperature_for(classifier, calibrated: bool = True) -> float | None:
    """The temperature to apply: the classifier's fitted one when ``calibrated``, else None."""
    temperature = getattr(classifier, "temperature", None)
    return float(temperature) if calibrated and temperature else None


def calibrate(probabilities: np.ndarray, temperature: float | None) -> np.ndarray:
    """``probabilities`` (n, k) with ``temperature`` applied (unchanged when None)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    return probabilities if temperature is None else apply_temperature(probabilities, temperature)


def classify(classifier, crops: Sequence[np.ndarray], calibrated: bool = True) -> list[ModelPrediction]:
    """One model's answers for ``crops``: timed (each face gets its share), temperature applied when
    ``calibrated``. Raises whatever the model raises."""
    start = time.perf_counter()
    probabilities = classifier.predict(crops)
    elapsed = (time.perf_counter() - start) * 1000.0
    temperature = temperature_for(classifier, calibrated)
    rows = calibrate(probabilities, temperature)
    share = elapsed / max(len(crops), 1)
    return [ModelPrediction(row, tuple(classifier.labels), share, temperature) for row in rows]


def error_text(exc: BaseException) -> str:
    """A model failure on one line, for results and logs."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


def classify_all(classifiers: Mapping[str, object], crops: Sequence[np.ndarray], calibrated: bool = True,
                 ) -> tuple[dict[str, list[ModelPrediction]], dict[str, str], dict[str, float]]:
    """Every model on the same crops: ``(answers, errors, timings_ms)`` keyed by model id. A model that
    raises is reported in ``errors`` and the others still answer."""
    answers: dict[str, list[ModelPrediction]] = {}
    errors: dict[str, str] = {}
    timings: dict[str, float] = {}
    if not crops:
        return answers, errors, timings
    for name, classifier in classifiers.items():
        start = time.perf_counter()
        try:
            answers[name] = classify(classifier, crops, calibrated)
        except Exception as exc:  # a model failure must not lose the other models' results
            errors[name] = error_text(exc)
            continue
        timings[name] = (time.perf_counter() - start) * 1000.0
    return answers, errors, timings


def framing_of(classifier) -> str:
    """How faces were framed in the model's training data (its record's ``preprocessing.framing``)."""
    try:
        return classifier.record.preprocessing.framing
    except Exception:  # noqa: BLE001 - an unregistered stand-in: crop the detector's box as it is
        return DETECTOR_FRAMING


def classify_faces(classifiers: Mapping[str, object], image: np.ndarray, faces: Sequence, calibrated: bool = True,
                   align: bool = False) -> tuple[dict[str, list[ModelPrediction]], dict[str, str], dict[str, float]]:
    """:func:`classify_all` with each model given the faces in its own training framing."""
    framings = {name: framing_of(c) for name, c in classifiers.items()}
    answers: dict[str, list[ModelPrediction]] = {}
    errors: dict[str, str] = {}
    timings: dict[str, float] = {}
    for framing, crops in framed_crops(image, faces, framings.values(), align).items():
        group = {name: c for name, c in classifiers.items() if framings[name] == framing}
        found, failed, elapsed = classify_all(group, crops, calibrated)
        answers.update(found)
        errors.update(failed)
        timings.update(elapsed)
    return answers, errors, timings


def prediction_cells(model: str, labels: Sequence[str], probabilities, all_labels: Sequence[str]) -> dict:
    """The model part of every CSV row (``predict``, ``video``, Live): ``model``, ``dominant_emotion``
    and ``p_<label>`` in percent (0-100, two decimals) for each of ``all_labels`` (empty for a label
    the model lacks)."""
    values = dict(zip(labels, np.asarray(probabilities, dtype=np.float64)))
    cells = {"model": model, "dominant_emotion": labels[int(np.argmax(probabilities))]}
    cells.update({f"p_{label}": round(float(values[label]) * 100.0, 2) if label in values else None
                  for label in all_labels})
    return cells


def probability_columns(labels: Sequence[str]) -> list[str]:
    return ["model", "dominant_emotion", *(f"p_{label}" for label in labels)]


def csv_text(rows: Sequence[dict], columns: Sequence[str]) -> str:
    """Rows as CSV text with these columns (the one CSV writer of ``predict``, ``video`` and Live)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
