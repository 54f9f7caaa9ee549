"""The analysis pipeline: decode -> detect faces -> classify every face with every model.

:func:`Analyzer.analyze` returns a :class:`PhotoResult` whose :meth:`~PhotoResult.to_dict` is the
one JSON-serialisable result format used by the CLI, the app and the downloads. Per face it holds
``region`` {x, y, w, h} and ``face_confidence`` as DeepFace writes them, and per model the
DeepFace-style ``emotion`` {label: percent} and ``dominant_emotion``, plus ``confidence`` and
``time_ms``. Only plain Python types appear in it.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from core.faces import Face, FaceDetector, crop_face, whole_image_face
from core.faces.nms import MergingDetector, make_detector
from core.media.images import ImageSource, decode_image, source_name
from core.models.base import FULL_PHOTO_PIPELINE, EmotionClassifier, timed_predict


@functools.lru_cache(maxsize=16)
def _named_detector(name: str, min_face_size: int):
    """Detectors are thread-safe and costly to build (BlazeFace loads a model): one per setting."""
    return make_detector(name, min_face_size=min_face_size)


NoFacePolicy = Literal["report", "whole_image"]
DeepFaceMode = Literal["crops", "full"]


@dataclass(frozen=True)
class AnalysisOptions:
    """How a photo is analysed.

    * ``no_face``: ``"report"`` says no face was found; ``"whole_image"`` classifies the whole photo.
    * ``deepface_mode``: ``"crops"`` runs DeepFace on our face crops (both models judge the same
      faces); ``"full"`` runs DeepFace's own detector and alignment on the whole photo.
    * ``min_face_size``: faces smaller than this (pixels, full resolution) are ignored.
    * ``detector``: the face detector's name (see :data:`core.faces.nms.DETECTOR_NAMES`).
    """

    no_face: NoFacePolicy = "report"
    deepface_mode: DeepFaceMode = "crops"
    min_face_size: int = 40
    max_faces: int = 20
    detector: str = "haar"


@dataclass
class ModelPrediction:
    probabilities: np.ndarray
    labels: tuple[str, ...]
    time_ms: float

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
        }


@dataclass
class FaceResult:
    index: int  # 1-based, largest face first
    face: Face
    source: str  # "detector", "whole_image" or "deepface_detector"
    predictions: dict[str, ModelPrediction] = field(default_factory=dict)
    deepface_region: dict | None = None  # DeepFace's own box in "full" mode

    @property
    def agree(self) -> bool | None:
        if len(self.predictions) < 2:
            return None
        return len({p.dominant for p in self.predictions.values()}) == 1

    def to_dict(self) -> dict:
        data = {"face": self.index, "region": self.face.region(), "face_confidence": float(self.face.confidence),
                "source": self.source, "models": {name: p.to_dict() for name, p in self.predictions.items()},
                "agree": self.agree}
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

    def to_dict(self) -> dict:
        return {
            "image": self.name,
            "width": self.width,
            "height": self.height,
            "faces": [f.to_dict() for f in self.faces],
            "no_face_found": self.no_face_found,
            "options": {"no_face": self.options.no_face, "deepface_mode": self.options.deepface_mode,
                        "min_face_size": self.options.min_face_size, "detector": self.options.detector},
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
            "model_errors": dict(self.model_errors),
        }


class Analyzer:
    """Runs the detector and the classifiers over photos. Thread-safe; load it once and share it."""

    def __init__(self, classifiers: dict[str, EmotionClassifier], max_detect_side: int = 400):
        if not classifiers:
            raise ValueError("at least one classifier is needed")
        self.classifiers = classifiers
        self.max_detect_side = max_detect_side

    def detector(self, options: AnalysisOptions) -> FaceDetector:
        return FaceDetector(min_face_size=options.min_face_size, max_detect_side=self.max_detect_side)

    def face_detector(self, options: AnalysisOptions):
        """The detector ``options.detector`` names; Haar keeps this analyser's detection-size cap."""
        if options.detector == "haar":
            return MergingDetector(self.detector(options))
        return _named_detector(options.detector, options.min_face_size)

    def smallest_findable_face(self, width: int, height: int, options: AnalysisOptions = AnalysisOptions()) -> int:
        """The smallest face (pixels) the detector can find in a photo of this size with these options."""
        return self.detector(options).effective_min_face_size(width, height)

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
        faces = self.face_detector(options).detect(image)[: options.max_faces]
        timings["detect"] = (time.perf_counter() - start) * 1000.0
        results = [FaceResult(i + 1, face, "detector") for i, face in enumerate(faces)]
        errors: dict[str, str] = {}

        # Models with their own full-photo pipeline (DeepFace) run it in "full" mode.
        full_photo = [name_ for name_, c in self.classifiers.items()
                      if options.deepface_mode == "full" and FULL_PHOTO_PIPELINE in getattr(c, "capabilities", ())]
        for name_ in full_photo:
            t = time.perf_counter()
            try:
                self._add_full_photo(name_, image, results)
            except Exception as exc:  # a model failure must not lose the other model's results
                errors[name_] = f"{type(exc).__name__}: {exc}"
            timings[name_] = (time.perf_counter() - t) * 1000.0

        if not results and options.no_face == "whole_image":
            results = [FaceResult(1, whole_image_face(image), "whole_image")]

        crops = [crop_face(image, r.face) for r in results]
        for name_, classifier in self.classifiers.items():
            if name_ in full_photo:
                continue
            if not crops:
                continue
            try:
                probabilities, elapsed = timed_predict(classifier, crops)
            except Exception as exc:
                errors[name_] = f"{type(exc).__name__}: {exc}"
                continue
            timings[name_] = elapsed
            for result, row in zip(results, probabilities):
                result.predictions[name_] = ModelPrediction(row, classifier.labels, elapsed / len(crops))
        timings["total"] = (time.perf_counter() - start) * 1000.0
        return PhotoResult(name, int(image.shape[1]), int(image.shape[0]), results, timings, options, errors)

    def _add_full_photo(self, model: str, image: np.ndarray, results: list[FaceResult]) -> None:
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
            match.predictions[model] = ModelPrediction(item["probabilities"], classifier.labels, per_face_ms)


def load_classifiers(model: str = "both", model_dir=None, deepface_detector: str = "opencv"):
    """Load the classifiers a ``--model`` value names ("cnn", "deepface", "both" or registry names).

    Returns ``(classifiers, unavailable)``: the ones that loaded, and for each that did not, why.
    """
    from core.models import registry

    return registry.load(model, model_dir, deepface_detector)
