"""A photo analysed for the Compare page: the result, a display-sized annotated copy, a thumbnail and
a small BGR crop (for Grad-CAM) per face, and what limits detection at that size, with advice that
works; plus the session's small LRU of analysed photos.

Everything stays in memory: nothing is written or logged.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict

import cv2
import numpy as np

from core.analysis.classify import framed_crops, framing_of
from core.analysis.pipeline import FACE_CROP_MAX_SIDE, AnalysisOptions, Analyzer, detection_limits
from core.faces import catalogue
from core.faces.framing import DETECTOR_FRAMING
from core.media.images import FILE_TYPES, IMAGE_SUFFIXES, MAX_BYTES, MAX_PIXELS, ImageDecodeError
from core.presentation.annotate import annotate_faces, to_rgb
from core.presentation.charts import display_name, model_color

DISPLAY_MAX_SIDE = 1280  # the annotated photo is shown (and kept) at most this large
THUMBNAIL_SIDE = 160  # a face's crop is shown at most this large
EXPLAIN_SIDE = 192  # the crop kept for Grad-CAM (the models' inputs are 48-64 px)
MAX_PHOTOS = 10  # per session: about 10 x (5 MB of bytes + the analysis) held in memory at most
PHOTO_MB = MAX_BYTES // 2**20


def shrink_to(image: np.ndarray, max_side: int) -> np.ndarray:
    """``image`` scaled down (never up) so that its longer side is at most ``max_side``."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def face_thumbnail(image: np.ndarray, region: dict, max_side: int = THUMBNAIL_SIDE) -> np.ndarray:
    """The face's box cut from the BGR photo (the whole photo if the box is empty), small, as RGB."""
    x, y, w, h = (int(region[k]) for k in ("x", "y", "w", "h"))
    crop = image[max(0, y):y + h, max(0, x):x + w]
    if crop.size == 0:
        crop = image
    return to_rgb(shrink_to(crop, max_side))


def _scaled(faces: list[dict], scale: float) -> list[dict]:
    def box(region):
        return {k: int(round(region[k] * scale)) for k in ("x", "y", "w", "h")}

    return [{**f, "region": box(f["region"]), **({"deepface_region": box(f["deepface_region"])}
                                                 if f.get("deepface_region") else {})} for f in faces]


def annotated_photo(image: np.ndarray, faces: list[dict]) -> np.ndarray:
    """The photo at display size (RGB), every face boxed, numbered and tagged with each model's answer
    (tags drawn at display size so that they stay legible)."""
    shown = shrink_to(image, DISPLAY_MAX_SIDE)
    scale = shown.shape[1] / image.shape[1]
    models = list(dict.fromkeys(m for f in faces for m in f.get("models", {})))
    return to_rgb(annotate_faces(shown, _scaled(faces, scale), names={m: display_name(m) for m in models},
                                 colors={m: model_color(m) for m in models}))


def analyse_photo(analyzer: Analyzer, name: str, payload, options: AnalysisOptions) -> dict:
    """``{"result", "annotated", "crops", "explain_crops", "limits"}``, or ``{"error", "reason"}`` for a
    photo that cannot be decoded. ``payload``: the file's bytes, or an already decoded BGR array."""
    try:
        image, photo = analyzer.decode_and_analyze(payload, name=name, options=options)
    except ImageDecodeError as exc:
        return {"error": str(exc), "reason": exc.reason}
    result = photo.to_dict()
    # Grad-CAM explains the crop the models saw: the face in their training framing (core.faces.framing)
    framings = {framing_of(c) for c in analyzer.classifiers.values()}
    framing = framings.pop() if len(framings) == 1 else DETECTOR_FRAMING
    (crops,) = framed_crops(image, [f.face for f in photo.faces], [framing]).values()
    return {"result": result, "annotated": annotated_photo(image, result["faces"]),
            "crops": [face_thumbnail(image, face["region"]) for face in result["faces"]],
            "explain_crops": [shrink_to(crop, EXPLAIN_SIDE) for crop in crops],
            "limits": analyzer.detection_limits(image.shape[1], image.shape[0], options)}


def no_face_advice(result: dict, limits: dict[str, int], options: AnalysisOptions) -> str:
    """Why no face was found in this photo and the option that can change that (never one that cannot).

    What limits detection is the smallest face each detector finds at this photo size (Haar works
    on a copy shrunk to ~400 px; BlazeFace sees the photo at 128 px): a smaller face needs the
    detector that reaches lower, or the photo to be taken as one face crop.
    """
    width, height = result["width"], result["height"]
    reach = ", ".join(f"{catalogue.title(d)} {px} px" for d, px in limits.items())
    text = (f"No face found. In a {width}×{height} photo the smallest face the detector can find is: {reach} "
            f"(minimum face size setting: {options.min_face_size} px). Profiles, strong tilts and covered faces "
            f"are often missed.")
    tips = []
    # what each detector could reach with the smallest minimum-face-size setting (20 px)
    floor = detection_limits(width, height, options.detector, 20)
    haar_floor = detection_limits(width, height, "haar", 20)["haar"]
    if "haar" not in limits:
        tips.append(f"choose the Haar detector in the sidebar (it finds frontal faces down to {haar_floor} px here)")
    if min(limits.values()) > min(floor.values()):  # the setting, not the detector, is what limits
        tips.append(f"lower the minimum face size (down to {min(floor.values())} px helps here)")
    if max(width, height) <= 4 * FACE_CROP_MAX_SIDE:
        tips.append("tick “each image is one face crop” if the photo is a single face")
    if options.no_face != "whole_image":
        tips.append("choose “classify the whole image”")
    if tips:
        text += " To analyse it anyway: " + "; or ".join(tips) + "."
    return text


def small_face_note(result: dict, limits: dict[str, int], options: AnalysisOptions) -> str | None:
    """Next to a photo's faces: that faces smaller than the detector finds at this photo size may have
    been missed (None when none can be: a face crop, no face found (:func:`no_face_advice` says it),
    or the minimum-face-size setting, not the detector, is the limit)."""
    if not limits or result["no_face_found"] or any(f["source"] == "face_crop" for f in result["faces"]):
        return None
    smallest = min(limits.values())
    if smallest <= options.min_face_size:
        return None
    width, height = result["width"], result["height"]
    reach = ", ".join(f"{catalogue.title(d)} {px} px" for d, px in limits.items())
    text = (f"Faces smaller than {smallest} px may have been missed: in a {width}×{height} photo that is the "
            f"smallest face the detector finds ({reach}).")
    haar = detection_limits(width, height, "haar", options.min_face_size)["haar"]
    if "haar" not in limits and haar < smallest:
        text += f" The Haar detector finds frontal faces down to {haar} px here."
    tiles = detection_limits(width, height, catalogue.SMALL_FACE_DETECTOR, options.min_face_size)[catalogue.SMALL_FACE_DETECTOR]
    if catalogue.SMALL_FACE_DETECTOR not in limits and tiles < smallest:
        text += f" {catalogue.title(catalogue.SMALL_FACE_DETECTOR)} finds faces down to {tiles} px here, more slowly."
    return text


def payload_digest(payload) -> str:
    """A cache key for a photo's content (``example`` for the built-in, already decoded photo)."""
    return "example" if isinstance(payload, np.ndarray) else hashlib.sha256(payload).hexdigest()


class LruCache(OrderedDict):
    """A dict that keeps at most ``size`` entries, dropping the least recently used first."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def touch(self, keys) -> None:
        """Mark ``keys`` as just used (in order), then drop the oldest beyond the size, never
        dropping any of ``keys``."""
        keys = list(keys)
        for key in keys:
            if key in self:
                self.move_to_end(key)
        while len(self) > max(self.size, len(keys)):
            self.popitem(last=False)


def intake_problem(name: str, size: int, held: int) -> str | None:
    """Why a file cannot be added to a session holding ``held`` photos (None: it can)."""
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in IMAGE_SUFFIXES:
        return f"not a supported image type ({suffix or 'no extension'}; use {', '.join(FILE_TYPES)})"
    if size > MAX_BYTES:
        return f"file is too large ({size / 2**20:.1f} MB; the limit is {PHOTO_MB} MB)"
    if held >= MAX_PHOTOS:
        return f"this session already holds {MAX_PHOTOS} photos, the most it keeps: press “Remove all” first"
    return None


def upload_help() -> str:
    """The photo uploader's help: the types and limits :func:`intake_problem` applies."""
    return (f"{', '.join(t.upper() for t in FILE_TYPES)}; up to {PHOTO_MB} MB and {MAX_PIXELS // 1_000_000} "
            f"megapixels each, {MAX_PHOTOS} photos per session.")
