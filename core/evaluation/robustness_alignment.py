"""The rotation family a second time with face alignment on: does turning a tilted face back by its eyes
win back what the tilt cost?

Each rotated face (and each clean one, severity 0) gets one BlazeFace look
(:func:`core.faces.crop_alignment.crop_eye_angle`), shared by every model, and is turned back by its eye
line before it is classified; a face where BlazeFace finds no eyes is classified as it is. Severity 0
goes through the same steps, so it shows what alignment does to clean faces (FER2013's faces are roughly
level, but not exactly, and the keypoints are noisy on a 48 px face). The result is a separate
``alignment`` entry of ``robustness.json``: the 15-family mean corruption accuracy does not include it.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.analysis import corruptions
from core.faces.crop_alignment import PAD_FRACTION, crop_eye_angle, level
from core.faces.framing import MIN_TURN_DEGREES

FAMILY = "rotation"
DETECTOR = "short"  # BlazeFace's short-range model: the crop fills its input
THREADS = 2  # the lab is a batch job: BlazeFace on both cores (0.8 vs 1.3 ms per look here); same boxes
METHOD = ("BlazeFace short-range keypoints on the face padded by half its side with black on every side; "
          "the face turned about its centre by the eye line's angle (OpenCV warpAffine, bilinear, edges "
          "repeated, as the rotation corruption turns it); faces without eyes found are classified as they are")


@dataclass
class AlignedRotation:
    """The rotated faces turned back, per severity (0 first), with what BlazeFace found."""

    severities: list[int]
    faces: dict[int, list[np.ndarray]]
    eyes_found: dict[int, int]
    turned: dict[int, int]
    residual_degrees: dict[int, float | None]  # median |tilt left| over the faces with eyes found
    seconds: float
    detector: dict

    def batch(self) -> list[np.ndarray]:
        return [face for s in self.severities for face in self.faces[s]]


def align_rotated(faces: Sequence[np.ndarray], keys: Sequence[str], seed: int, severities: Sequence[int],
                  detector=None) -> AlignedRotation:
    """Every face rotated as the lab rotates it at severity 0 and each of ``severities``, then levelled
    by its eyes. The tilt left is the measured eye angle less the corruption's own (the face's natural
    tilt plus the keypoints' error)."""
    if detector is None:
        from core.faces.blazeface import BlazeFaceDetector

        detector = BlazeFaceDetector(DETECTOR, num_threads=THREADS)
    started = time.perf_counter()
    levels = [0, *sorted(s for s in severities if s > 0)]
    out = AlignedRotation(levels, {}, {}, {}, {}, 0.0,
                          {"name": detector.name, "min_confidence": detector.min_confidence})
    for s in levels:
        turned_back, left, turned = [], [], 0
        for face, key in zip(faces, keys):
            rotated = corruptions.corrupt(face, FAMILY, s, seed, key)
            angle = crop_eye_angle(rotated, detector)
            turned_back.append(level(rotated, angle))
            if angle is not None:
                left.append(abs(angle + corruptions.rotation_degrees(s, seed, key)))
                turned += abs(angle) >= MIN_TURN_DEGREES
        out.faces[s], out.eyes_found[s], out.turned[s] = turned_back, len(left), turned
        out.residual_degrees[s] = round(float(np.median(left)), 2) if left else None
    out.seconds = time.perf_counter() - started
    return out


def alignment_entry(aligned: AlignedRotation, scores: Sequence[dict], unaligned: Mapping, n_faces: int,
                    model_seconds: float) -> dict:
    """One model's ``alignment`` entry: per severity its accuracy and recalls on the levelled faces beside
    the unaligned accuracy (``unaligned``: the model's rotation family entry), and what BlazeFace found."""
    plain = {row["severity"]: row["accuracy"] for row in unaligned["severities"]}
    rows = [{"severity": s, "value": corruptions.family(FAMILY).value(s), **score,
             "unaligned_accuracy": plain.get(s), "eyes_found": aligned.eyes_found[s], "turned": aligned.turned[s],
             "median_residual_degrees": aligned.residual_degrees[s]}
            for s, score in zip(aligned.severities, scores)]
    corrupted = [row for row in rows if row["severity"] > 0]
    return {"family": FAMILY, "method": METHOD,
            "parameters": {"detector": aligned.detector["name"], "model": f"BlazeFace {DETECTOR}-range",
                           "min_confidence": aligned.detector["min_confidence"],
                           "pad_fraction": PAD_FRACTION, "pad": "black",
                           "min_turn_degrees": MIN_TURN_DEGREES, "interpolation": "bilinear",
                           "border": "replicate"},
            "n_images": n_faces, "severities": rows,
            "mean_accuracy": float(np.mean([r["accuracy"] for r in corrupted])) if corrupted else None,
            "unaligned_mean_accuracy": float(np.mean([r["unaligned_accuracy"] for r in corrupted])) if corrupted else None,
            "seconds": {"blazeface_and_turning": round(aligned.seconds, 2), "model": round(model_seconds, 2)}}


def add_alignment(results: dict, classifiers: Mapping, truths: Mapping, faces: Sequence[np.ndarray],
                  keys: Sequence[str], seed: int, severities: Sequence[int],
                  predict: Callable, score: Callable) -> float:
    """``results[model]["alignment"]`` for every model (faces levelled once, then one batched call per
    model through the lab's ``predict`` and ``score``); returns the seconds it took. Without BlazeFace's
    model files, ``results[model]["alignment_skipped"]`` says why instead."""
    from core.faces.blazeface import BlazeFaceDetector, BlazeFaceUnavailable

    started = time.perf_counter()
    try:
        detector = BlazeFaceDetector(DETECTOR, num_threads=THREADS)
    except BlazeFaceUnavailable as exc:
        for result in results.values():
            result["alignment_skipped"] = str(exc)
        return 0.0
    aligned = align_rotated(faces, keys, seed, severities, detector)
    batch = aligned.batch()
    for key, classifier in classifiers.items():
        truth, labels, known = truths[key]
        t = time.perf_counter()
        predicted = predict(classifier, batch).reshape(len(aligned.severities), len(faces))
        seconds = time.perf_counter() - t
        scores = [score(row, truth, labels, known) for row in predicted]
        results[key]["alignment"] = alignment_entry(aligned, scores, results[key]["families"][FAMILY], len(faces),
                                                    seconds)
    return time.perf_counter() - started


def eyes_found_share(entry: Mapping) -> float:
    """The share of rotated faces (severities 1-5) on which BlazeFace found eyes."""
    corrupted = [row for row in entry["severities"] if row["severity"] > 0]
    return sum(row["eyes_found"] for row in corrupted) / max(1, entry["n_images"] * len(corrupted))


def summary_line(result: Mapping) -> str | None:
    """One terminal line: the rotation family's mean accuracy without and with alignment, and severity 0's."""
    entry = result.get("alignment")
    if not entry or entry.get("mean_accuracy") is None:
        return None
    clean = entry["severities"][0]
    return (f"rotation turned back by the eyes: {entry['unaligned_mean_accuracy'] * 100:.1f}% -> "
            f"{entry['mean_accuracy'] * 100:.1f}% (mean over the rotated severities; eyes found on {eyes_found_share(entry) * 100:.0f}% "
            f"of rotated faces); clean faces aligned: {clean['unaligned_accuracy'] * 100:.1f}% -> "
            f"{clean['accuracy'] * 100:.1f}%")
