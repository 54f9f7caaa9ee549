"""The one record per model: every fact that anything shows or decides by (timm's ``PretrainedCfg``).

A :class:`ModelSpec` is what :mod:`core.models.registry` keeps for each model. Its ``name`` is the
model's one id: the key of its results, the folder of its artifacts (``models/<name>/``), the prefix
of its CSV columns and the name behind its legend entries. Pages, charts, the CLI, Live and the
evaluation read the display name, colour, labels, input preprocessing, capabilities and provenance
from here; nobody keeps a side table keyed by model name.
"""
from __future__ import annotations

import contextlib
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from core.labels import FER2013_LABELS

# Colours for models that do not name their own: picked by the model's id, so stable everywhere.
FALLBACK_COLORS = ("#9467bd", "#8c564b", "#d62728", "#17becf", "#7f7f7f", "#bcbd22")


@dataclass(frozen=True)
class Availability:
    """Whether a model can be built here; when not, ``reason`` says why and what to do."""

    ready: bool
    reason: str = ""
    location: str = ""  # its folder or weights file, for the listing

    @property
    def status(self) -> str:
        return "ready" if self.ready else f"unavailable: {self.reason}"


@dataclass(frozen=True)
class Preprocessing:
    """How a face crop becomes the network's input; shown on model cards so a reader can check it.

    ``framing`` names how faces were framed in the model's training data (``fer2013``: FER2013's
    loose crops), so detector boxes can be mapped to it before cropping.
    """

    size: tuple[int, int] = (48, 48)  # (height, width)
    channels: str = "gray"  # "gray", "rgb" or "bgr"
    scaling: str = "x / 255 (0 to 1)"
    resize: str = "area"
    framing: str = "fer2013"

    def summary(self) -> str:
        height, width = self.size
        return f"{width}x{height} {self.channels}, {self.scaling}, resized by {self.resize}, {self.framing} framing"


@dataclass(frozen=True)
class Provenance:
    """Where a model comes from, and whether its training could have seen the test splits."""

    source: str = "not recorded"
    training_data: str = "not recorded"
    test_split_exposure: str = "not recorded"
    licence: str = "not recorded"
    upstream: str = ""


def _not_loadable() -> Availability:
    return Availability(False, "known only by its stored artifacts; it cannot be loaded here")


def _no_factory(**_options):
    from core.models.base import ModelUnavailable

    raise ModelUnavailable("this model is known only by its stored artifacts; it cannot be loaded here")


@dataclass(frozen=True)
class ModelSpec:
    """One model: how to find and build it, and everything known about it.

    ``factory(**options)`` returns an :class:`~core.models.base.EmotionClassifier` or raises
    :class:`~core.models.base.ModelUnavailable`; ``availability()`` is cheap (no model is loaded).

    Capabilities: ``slow`` models run on Live's worker thread at their own rate; ``explainable`` ones
    have a Keras network for Grad-CAM; ``calibratable`` ones can take a fitted temperature;
    ``full_photo`` ones can also run their own face detector on a whole photo (Compare's "sees" switch).
    """

    name: str
    kind: str = "keras"
    factory: Callable[..., object] = _no_factory
    availability: Callable[[], Availability] = _not_loadable
    display_name: str = ""
    color: str = ""
    labels: tuple[str, ...] = FER2013_LABELS
    preprocessing: Preprocessing = Preprocessing()
    slow: bool = False
    explainable: bool = True
    calibratable: bool = True
    full_photo: bool = False
    provenance: Provenance = Provenance()
    description: str = ""
    evaluate_hint: str = "run `make evaluate-all` (every ready model, both FER2013 test splits)"
    aliases: tuple[str, ...] = ()
    folder: Callable[[], Path] | None = None  # for models stored in a folder: where it is now

    @property
    def title(self) -> str:
        """The name people read: the display name, else the id."""
        return self.display_name or self.name

    @property
    def colour(self) -> str:
        """The model's colour on every page: its own, else one picked by its id."""
        return self.color or FALLBACK_COLORS[zlib.crc32(self.name.encode()) % len(FALLBACK_COLORS)]

    def artifacts_dir(self, models_root: str | Path) -> Path:
        """Where its model card and evaluations live: its own folder, else ``models_root/<name>``."""
        return Path(self.folder()) if self.folder is not None else Path(models_root) / self.name

    def build(self, **options):
        """The classifier, named by this record's id.

        TensorFlow is imported first with its C++ start-up lines muted (:mod:`core.console`): building
        a model is where the app and the CLI first need it."""
        from core.console import import_tensorflow_quietly

        import_tensorflow_quietly()
        classifier = self.factory(**options)
        with contextlib.suppress(AttributeError):  # a read-only name: the classifier keeps its own
            classifier.name = self.name
        return classifier

    def to_dict(self) -> dict:
        """The record's facts as plain JSON types (for ``python -m core models --json`` and cards)."""
        return {"name": self.name, "display_name": self.title, "kind": self.kind, "color": self.colour,
                "labels": list(self.labels), "preprocessing": asdict(self.preprocessing),
                "capabilities": {"slow": self.slow, "explainable": self.explainable,
                                 "calibratable": self.calibratable, "full_photo": self.full_photo},
                "provenance": asdict(self.provenance), "description": self.description,
                "aliases": list(self.aliases)}
