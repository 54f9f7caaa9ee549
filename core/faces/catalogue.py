"""Every face detector, one entry each: its name, title and help text, how to build it, and the
smallest face it finds at a given photo size.

Pages, the CLI, the analysis pipeline and the benchmarks read this table; nothing else names a
detector. A new detector is one :class:`DetectorInfo` here (plus its class under ``core/faces/``).
Built detectors are cached, one per setting: they are thread-safe, and BlazeFace loads a model.

Example::

    >>> from core.faces import catalogue
    >>> catalogue.DEFAULT_DETECTOR, catalogue.title(catalogue.DEFAULT_DETECTOR)
    ('blazeface-or-haar', 'BlazeFace (both ranges), else Haar')
    >>> catalogue.smallest_faces("blazeface-or-haar", 940, 529)
    {'blazeface': 94, 'blazeface-full': 63, 'haar': 71}
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

from core.faces.blazeface import MODELS as BLAZEFACE_MODELS
from core.faces.blazeface import BlazeFaceDetector
from core.faces.haar import FaceDetector
from core.faces.nms import Detector, FallbackDetector, MergingDetector, UnionDetector
from core.faces.tiles import SMALLEST_FRACTION_OF_TILE, TILE_PX, TiledDetector

DEFAULT_MIN_FACE_SIZE = 40
DEFAULT_MAX_DETECT_SIDE = 400  # Haar runs on a copy at most this long (see core.faces.haar)


class UnknownDetector(ValueError):
    """A detector name that is not in the catalogue."""


@dataclass(frozen=True)
class DetectorInfo:
    """One detector.

    ``parts`` are the single detectors a combination runs (a single detector is its own part);
    ``factory(min_face_size, max_detect_side)`` builds it; ``smallest_face(width, height,
    min_face_size, max_detect_side)`` (single detectors only) is the smallest face, in pixels, it
    finds in a photo of that size.
    """

    name: str
    title: str
    help: str
    factory: Callable[[int, int], Detector]
    parts: tuple[str, ...] = ()
    smallest_face: Callable[[int, int, int, int], int] | None = None

    @property
    def components(self) -> tuple[str, ...]:
        return self.parts or (self.name,)


def _haar_smallest(width: int, height: int, min_face_size: int, max_detect_side: int) -> int:
    return FaceDetector(min_face_size=min_face_size, max_detect_side=max_detect_side).effective_min_face_size(
        width, height)


def _blazeface_smallest(model: str) -> Callable[[int, int, int, int], int]:
    def smallest(width: int, height: int, min_face_size: int, _max_detect_side: int) -> int:
        return max(min_face_size, math.ceil(BLAZEFACE_MODELS[model].smallest_fraction * max(width, height)))

    return smallest


def _tiles_smallest(width: int, height: int, min_face_size: int, _max_detect_side: int) -> int:
    return max(min_face_size, math.ceil(SMALLEST_FRACTION_OF_TILE * min(TILE_PX, max(width, height))))


def _both_ranges(min_face_size: int, threads: int = 1) -> UnionDetector:
    return UnionDetector(BlazeFaceDetector("short", min_face_size=min_face_size, num_threads=threads),
                         BlazeFaceDetector("full", min_face_size=min_face_size, num_threads=threads))


_ENTRIES = (
    DetectorInfo(
        "haar", "Haar (OpenCV)",
        "OpenCV's Haar cascade: frontal faces only; finds smaller faces than BlazeFace, more slowly, with more "
        "false faces.",
        lambda min_face, side: MergingDetector(FaceDetector(min_face_size=min_face, max_detect_side=side)),
        smallest_face=_haar_smallest),
    DetectorInfo(
        "blazeface", "BlazeFace short range",
        "MediaPipe's BlazeFace for faces near the camera: the fastest; finds turned and tilted faces, misses "
        "faces under about a tenth of the photo's long side.",
        lambda min_face, side: BlazeFaceDetector("short", min_face_size=min_face),
        smallest_face=_blazeface_smallest("short")),
    DetectorInfo(
        "blazeface-full", "BlazeFace full range",
        "MediaPipe's BlazeFace for faces farther from the camera (group photos); a little slower, fewer false faces.",
        lambda min_face, side: BlazeFaceDetector("full", min_face_size=min_face),
        smallest_face=_blazeface_smallest("full")),
    DetectorInfo(
        "blazeface-or-haar", "BlazeFace (both ranges), else Haar",
        "Both BlazeFace models, and Haar only where they find no face: the default, the best recall among the "
        "detectors fast enough for the photo speed target.",
        lambda min_face, side: FallbackDetector(_both_ranges(min_face, threads=2),
                                                MergingDetector(FaceDetector(min_face_size=min_face,
                                                                             max_detect_side=side))),
        parts=("blazeface", "blazeface-full", "haar")),
    DetectorInfo(
        "blazeface+haar", "BlazeFace + Haar",
        "BlazeFace short range and Haar together, one box per face: as many faces as the default, more false "
        "faces, always Haar's time.",
        lambda min_face, side: UnionDetector(BlazeFaceDetector("short", min_face_size=min_face),
                                             FaceDetector(min_face_size=min_face, max_detect_side=side)),
        parts=("blazeface", "haar")),
    DetectorInfo(
        "blazeface-tiles", "BlazeFace on tiles (small faces)",
        "Both BlazeFace models on the photo, and the short-range model on overlapping tiles, each small face "
        "checked by a second look: for group photos, finds faces down to about 40 px; several times slower than "
        "the default.",
        lambda min_face, side: TiledDetector(_both_ranges(min_face), min_face_size=min_face),
        smallest_face=_tiles_smallest),
)
AVAILABLE: dict[str, DetectorInfo] = {entry.name: entry for entry in _ENTRIES}
DETECTOR_NAMES: tuple[str, ...] = tuple(AVAILABLE)
# Chosen on the detection set (core.bench.detection_set; figures in benchmarks/results.json).
DEFAULT_DETECTOR = "blazeface-or-haar"
LIVE_DETECTOR = "blazeface"  # the fastest: Live must keep its frame rate
SMALL_FACE_DETECTOR = "blazeface-tiles"  # the one offered when faces may be below the default's reach


def info(name: str) -> DetectorInfo:
    """The catalogue entry of ``name``; :class:`UnknownDetector` (a ``ValueError``) names the choices."""
    try:
        return AVAILABLE[name]
    except (KeyError, TypeError):
        raise UnknownDetector(f"unknown face detector {name!r}; choose one of {', '.join(DETECTOR_NAMES)}") from None


def title(name: str) -> str:
    return info(name).title


def help_text(names=DETECTOR_NAMES) -> str:
    """One paragraph per detector (title: help), for a widget's tooltip."""
    return "\n\n".join(f"**{info(n).title}**: {info(n).help}" for n in names)


def build(name: str = DEFAULT_DETECTOR, min_face_size: int = DEFAULT_MIN_FACE_SIZE,
          max_detect_side: int = DEFAULT_MAX_DETECT_SIDE) -> Detector:
    """The detector ``name`` with these settings, built once and shared (every one merges overlapping boxes)."""
    if min_face_size < 1:
        raise ValueError("min_face_size must be at least 1 pixel")
    return _built(info(name).name, int(min_face_size), int(max_detect_side))


@functools.lru_cache(maxsize=32)
def _built(name: str, min_face_size: int, max_detect_side: int) -> Detector:
    return AVAILABLE[name].factory(min_face_size, max_detect_side)


def smallest_faces(name: str, width: int, height: int, min_face_size: int = DEFAULT_MIN_FACE_SIZE,
                   max_detect_side: int = DEFAULT_MAX_DETECT_SIDE) -> dict[str, int]:
    """The smallest face (pixels) each single detector behind ``name`` finds in a ``width`` x ``height``
    photo, by part name, e.g. ``{"blazeface": 128, "blazeface-full": 86, "haar": 96}`` for the default
    at 1280x720 (Haar works on a copy shrunk to ``max_detect_side``; BlazeFace sees the photo
    letterboxed to its 128 or 192 px input)."""
    return {part: info(part).smallest_face(width, height, min_face_size, max_detect_side)
            for part in info(name).components}


def smallest_face(name: str, width: int, height: int, min_face_size: int = DEFAULT_MIN_FACE_SIZE,
                  max_detect_side: int = DEFAULT_MAX_DETECT_SIDE) -> int:
    """The smallest face ``name`` finds at this photo size: its best part's."""
    return min(smallest_faces(name, width, height, min_face_size, max_detect_side).values())
