"""The one emotion vocabulary every dataset and model is mapped onto."""
from __future__ import annotations

# FER2013's seven classes in the order of its original integer codes, then contempt (CK+ only).
FER2013_LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
EMOTIONS: tuple[str, ...] = FER2013_LABELS + ("contempt",)

_ALIASES = {
    "anger": "angry", "angry": "angry", "an": "angry", "mad": "angry",
    "disgust": "disgust", "disgusted": "disgust", "di": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "af": "fear", "scared": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy", "ha": "happy",
    "sad": "sad", "sadness": "sad", "sa": "sad",
    "surprise": "surprise", "surprised": "surprise", "su": "surprise",
    "neutral": "neutral", "ne": "neutral", "calm": "neutral",
    "contempt": "contempt", "co": "contempt",
}


def normalize_label(name: str) -> str:
    """Map a dataset's emotion name (any case, common synonyms) onto :data:`EMOTIONS`.

    Raises ``ValueError`` for names that are not emotions of the vocabulary.
    """
    key = str(name).strip().lower()
    if key not in _ALIASES:
        raise ValueError(f"unknown emotion label {name!r}; expected one of {', '.join(EMOTIONS)}")
    return _ALIASES[key]


def parse_classes(spec: str | None) -> tuple[str, ...] | None:
    """Parse a ``--classes happy,sad,angry`` option into normalised labels (``None`` = all)."""
    if not spec:
        return None
    labels = [normalize_label(part) for part in spec.split(",") if part.strip()]
    if len(set(labels)) != len(labels):
        raise ValueError(f"duplicate class in {spec!r}")
    return tuple(labels)
