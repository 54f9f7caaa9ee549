"""The analysis pipeline: decode -> detect faces -> classify every face with every model.

:func:`Analyzer.analyze` returns a :class:`PhotoResult` whose :meth:`~PhotoResult.to_dict` is the
one JSON-serialisable result format used by the CLI, the app and the downloads. Per face it holds
``region`` {x, y, w, h} and ``face_confidence`` as DeepFace writes them, and per model the
DeepFace-style ``emotion`` {label: percent} and ``dominant_emotion``, plus ``confidence`` and
``time_ms``. Only plain Python types appear in it.

Probabilities are calibrated by default: a classifier with a fitted ``temperature`` (from its
``model.json``) has its probabilities divided in log space by it (``AnalysisOptions.calibrated``).
Small images (long side at most :data:`FACE_CROP_MAX_SIDE`) are taken to be a face crop already and
classified whole, as FER2013's 48x48 faces are; ``AnalysisOptions.face_crops`` does so for any size.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from core.analysis.classify import ModelPrediction, calibrate, classify_faces, error_text, temperature_for
from core.faces import Face, catalogue, whole_image_face
from core.media.images import ImageSource, decode_image, source_name
from core.models.base import FULL_PHOTO_PIPELINE, EmotionClassifier

FACE_CROP_MAX_SIDE = 96  # an image this small (long side, px) is a face crop: no detector can find a face in it

NoFacePolicy = Literal["report", "whole_image"]
DeepFaceMode = Literal["crops", "full"]


@dataclass(frozen=True)
class AnalysisOptions:
    """How a photo is analysed.

    * ``no_face``: ``"report"`` says no face was found; ``"whole_image"`` classifies the whole photo.
    * ``deepface_mode``: ``"crops"`` runs DeepFace on our face crops (both models judge the same
      faces); ``"full"`` runs DeepFace's own detector and alignment on the whole photo.
    * ``min_face_size``: faces smaller than this (pixels, full resolution) are ignored.
    * ``detector``: the face detector's name (see :mod:`core.faces.catalogue`; an unknown name
      raises :class:`core.faces.catalogue.UnknownDetector`).
    * ``calibrated``: apply each model's fitted temperature (models without one are unchanged).
    * ``face_crops``: every image is already one face crop (no detection); images whose long side
      is at most :data:`FACE_CROP_MAX_SIDE` are treated so regardless.
    * ``align``: turn each face so that its eyes are level before classifying (faces with BlazeFace
      keypoints; measured in ``benchmarks/results.json``, ``framing.alignment``).
    """

    no_face: NoFacePolicy = "report"
    deepface_mode: DeepFaceMode = "crops"
    min_face_size: int = 40
    max_faces: int = 20
    detector: str = catalogue.DEFAULT_DETECTOR
    calibrated: bool = True
    face_crops: bool = False
    align: bool = False

    def __post_init__(self):
        catalogue.info(self.detector)  # an unknown name fails here, with the choices, not later

    def to_dict(self) -> dict:
        return {"no_face": self.no_face, "deepface_mode": self.deepface_mode, "min_face_size": self.min_face_size,
                "detector": self.detector, "calibrated": self.calibrated, "face_crops": self.face_crops, "align": self.align}


def detection_limits(width: int, height: int, detector: str = catalogue.DEFAULT_DETECTOR, min_face_size: int = 40,
                     max_detect_side: int = catalogue.DEFAULT_MAX_DETECT_SIDE) -> dict[str, int]:
    """The smallest face (pixels) each detector behind ``detector`` can find in a photo of this size
    (:func:`core.faces.catalogue.smallest_faces`)."""
    return catalogue.smallest_faces(detector, width, height, min_face_size, max_detect_side)


def is_face_crop(width: int, height: int, options: AnalysisOptions = AnalysisOptions()) -> bool:
    """Whether an image of this size is classified whole, as one face crop."""
    return options.face_crops or max(width, height) <= FACE_CROP_MAX_SIDE


@dataclass
class FaceResult:
    index: int  # 1-based, largest face first
    face: Face
    source: str  # "detector", "whole_image" or "deepface_detector"
    predictions: dict[str, ModelPrediction] = field(default_factory=dict)
    deepface_region: dict | None = None  # DeepFace's own box in "full" mode

    @property
    def agreement(self) -> dict | None:
        """``{"emotion", "votes", "models"}``: the most voted emotion (None on a tie for first place),
        how many models chose it, out of how many; None with fewer than two models."""
        if len(self.predictions) < 2:
            return None
        votes: dict[str, int] = {}
        for prediction in self.predictions.values():
            votes[prediction.dominant] = votes.get(prediction.dominant, 0) + 1
        best = max(votes.values())
        leaders = [emotion for emotion, count in votes.items() if count == best]
        return {"emotion": leaders[0] if len(leaders) == 1 else None, "votes": best, "models": len(self.predictions)}

    def to_dict(self) -> dict:
        agreement = self.agreement
        data = {"face": self.index, "region": self.face.region(), "face_confidence": float(self.face.confidence),
                "source": self.source, "models": {name: p.to_dict() for name, p in self.predictions.items()},
                "agree": None if agreement is None else agreement["votes"] == agreement["models"],
                "agreement": agreement}
        if self.deepface_region is not None:
            data["deepface_region"] = dict(self.deepface_region)
        return data


@dataclass
class PhotoResult:
    name: str
    width: int
    height: int
    faces: list[FaceResult]
    timings_ms: dict[str, float]
    options: AnalysisOptions
    model_errors: dict[str, str] = field(default_factory=dict)

    @property
    def no_face_found(self) -> bool:
        return not any(f.source != "whole_image" for f in self.faces)

    @property
    def faces_found(self) -> int:
        """Faces found by a detector or given as a face crop (the whole-image fallback is not one)."""
        return sum(f.source != "whole_image" for f in self.faces)

    def to_dict(self) -> dict:
        return {
            "image": self.name,
            "width": self.width,
            "height": self.height,
            "faces": [f.to_dict() for f in self.faces],
            "faces_found": self.faces_found,
            "no_face_found": self.no_face_found,
            "options": self.options.to_dict(),
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
            "model_errors": dict(self.model_errors),
        }


class Analyzer:
    """Runs the detector and the classifiers over photos. Thread-safe; load it once and share it."""

    def __init__(self, classifiers: dict[str, EmotionClassifier],
                 max_detect_side: int = catalogue.DEFAULT_MAX_DETECT_SIDE):
        if not classifiers:
            raise ValueError("at least one classifier is needed")
        self.classifiers = classifiers
        self.max_detect_side = max_detect_side

    def face_detector(self, options: AnalysisOptions):
        """The detector ``options.detector`` names, from the catalogue's cache, with this analyser's
        detection-size cap for Haar."""
        return catalogue.build(options.detector, options.min_face_size, self.max_detect_side)

    def detection_limits(self, width: int, height: int, options: AnalysisOptions = AnalysisOptions()) -> dict[str, int]:
        """See :func:`detection_limits` (with this analyser's Haar detection-size cap)."""
        return detection_limits(width, height, options.detector, options.min_face_size, self.max_detect_side)

    def smallest_findable_face(self, width: int, height: int, options: AnalysisOptions = AnalysisOptions()) -> int:
        """The smallest face (pixels) the detector can find in a photo of this size with these options."""
        return min(self.detection_limits(width, height, options).values())

    def analyze_source(self, source: ImageSource | np.ndarray, name: str | None = None,
                       options: AnalysisOptions = AnalysisOptions()) -> PhotoResult:
        """Decode (raising :class:`core.media.images.ImageDecodeError` for bad input), then analyse."""
        return self.decode_and_analyze(source, name, options)[1]

    def decode_and_analyze(self, source: ImageSource | np.ndarray, name: str | None = None,
                           options: AnalysisOptions = AnalysisOptions()) -> tuple[np.ndarray, PhotoResult]:
        """The decoded BGR image and its analysis, the decode timed into ``timings_ms``.

        An already decoded array is analysed as it is (no decode time is recorded).
        """
        if isinstance(source, np.ndarray):
            return source, self.analyze(source, name or "<image>", options)
        name = name or source_name(source)
        start = time.perf_counter()
        image = decode_image(source, name=name)
        decode_ms = (time.perf_counter() - start) * 1000.0
        result = self.analyze(image, name, options)
        result.timings_ms = {"decode": decode_ms, **result.timings_ms, "total": result.timings_ms["total"] + decode_ms}
        return image, result

    def analyze(self, image: np.ndarray, name: str = "<image>",
                options: AnalysisOptions = AnalysisOptions()) -> PhotoResult:
        """Analyse a decoded BGR image."""
        start = time.perf_counter()
        timings: dict[str, float] = {}
        errors: dict[str, str] = {}
        if is_face_crop(image.shape[1], image.shape[0], options):
            results = [FaceResult(1, whole_image_face(image, confidence=1.0), "face_crop")]
            options = replace(options, deepface_mode="crops")  # DeepFace's detector would not find it either
        else:
            faces = self.face_detector(options).detect(image)[: options.max_faces]
            timings["detect"] = (time.perf_counter() - start) * 1000.0
            results = [FaceResult(i + 1, face, "detector") for i, face in enumerate(faces)]

        # Models with their own full-photo pipeline (DeepFace) run it in "full" mode.
        full_photo = [name_ for name_, c in self.classifiers.items()
                      if options.deepface_mode == "full" and FULL_PHOTO_PIPELINE in getattr(c, "capabilities", ())]
        for name_ in full_photo:
            t = time.perf_counter()
            try:
                self._add_full_photo(name_, image, results, temperature_for(self.classifiers[name_], options.calibrated))
            except Exception as exc:  # a model failure must not lose the other model's results
                errors[name_] = error_text(exc)
            timings[name_] = (time.perf_counter() - t) * 1000.0

        if not results and options.no_face == "whole_image":
            results = [FaceResult(1, whole_image_face(image), "whole_image")]

        others = {name_: c for name_, c in self.classifiers.items() if name_ not in full_photo}
        # each model sees the faces framed as in its training data (core.faces.framing)
        answers, failed, elapsed = classify_faces(others, image, [r.face for r in results], options.calibrated,
                                                 options.align)
        errors.update(failed)
        timings.update(elapsed)
        for name_, predictions in answers.items():
            for result, prediction in zip(results, predictions):
                result.predictions[name_] = prediction
        timings["total"] = (time.perf_counter() - start) * 1000.0
        return PhotoResult(name, int(image.shape[1]), int(image.shape[0]), results, timings, options, errors)

    def _add_full_photo(self, model: str, image: np.ndarray, results: list[FaceResult],
                        temperature: float | None = None) -> None:
        """A model's own pipeline (DeepFace) on the whole photo; its faces are matched to ours by
        overlap (IoU >= 0.3).

        A face it finds and we do not is added (source ``deepface_detector``) so the CNN judges it
        too; a face only we find has no prediction from it.
        """
        classifier = self.classifiers[model]
        t = time.perf_counter()
        found = classifier.analyze_image(image)
        per_face_ms = (time.perf_counter() - t) * 1000.0 / max(len(found), 1)
        for item in found:
            region = item["region"]
            theirs = Face(region["x"], region["y"], region["w"], region["h"], item["face_confidence"])
            match = max(results, key=lambda r: r.face.iou(theirs), default=None)
            if match is None or match.face.iou(theirs) < 0.3 or model in match.predictions:
                match = FaceResult(len(results) + 1, theirs, "deepface_detector")
                results.append(match)
            match.deepface_region = region
            probabilities = calibrate(item["probabilities"][None], temperature)[0]
            match.predictions[model] = ModelPrediction(probabilities, classifier.labels, per_face_ms, temperature)


def load_classifiers(model: str = "all", model_dir=None, deepface_detector: str = "opencv"):
    """Load the classifiers a ``--model`` value names (``all``, ids, aliases or folders).

    Returns ``(classifiers, unavailable)``: the ones that loaded, and for each that did not, why.
    """
    from core.models import registry

    return registry.load(model, model_dir, deepface_detector)
