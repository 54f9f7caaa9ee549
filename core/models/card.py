"""``model.json``, the model card: read and written here and nowhere else (docs/ARTIFACTS.md).

:class:`ModelCard` holds the fields the code relies on (``name``, ``kind``, ``labels``, ``input``,
``preprocessing``, ``architecture``, ``training``, ``provenance``) and keeps every other key in
``extra``, so a file written by an older or newer version round-trips unchanged.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from core.paths import write_json

FILE_NAME = "model.json"
# Fields that, when present, must be JSON objects.
OBJECT_FIELDS = ("input", "preprocessing", "architecture", "training", "provenance", "published", "calibration")
_KNOWN = ("name", "kind", "labels", "input", "preprocessing", "architecture", "training", "provenance", "calibration")


class ModelCardError(ValueError):
    """A ``model.json`` that cannot be used. ``kind``: ``missing``, ``corrupt`` or ``invalid``;
    ``problem`` is the one-line reason without the path."""

    def __init__(self, path: str | Path | None, problem: str, kind: str = "invalid"):
        self.path = Path(path) if path is not None else None
        self.problem = " ".join(str(problem).split())
        self.kind = kind
        super().__init__(f"{self.path}: {self.problem}" if self.path is not None else self.problem)


@dataclass
class ModelCard:
    name: str
    kind: str
    labels: list[str]
    input: dict | None = None
    preprocessing: dict | None = None
    architecture: dict | None = None
    training: dict | None = None
    provenance: dict | None = None
    calibration: dict | None = None  # temperature scaling fitted by `python -m core calibrate`
    extra: dict = field(default_factory=dict)  # every other key (description, weights, published, ...)

    # ---------------------------------------------------------------- conversion

    @classmethod
    def from_dict(cls, data: dict, path: str | Path | None = None) -> ModelCard:
        """Check and wrap a parsed model.json; raises :class:`ModelCardError` (``invalid``)."""
        if not isinstance(data, dict):
            raise ModelCardError(path, f"expected a JSON object, found {type(data).__name__}")
        labels = data.get("labels")
        if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
            raise ModelCardError(path, "field 'labels' must be a non-empty list of emotion names")
        for key in OBJECT_FIELDS:
            if data.get(key) is not None and not isinstance(data[key], dict):
                raise ModelCardError(path, f"field '{key}' must be an object, found {type(data[key]).__name__}")
        known = {key: data.get(key) for key in _KNOWN}
        known["name"] = str(known["name"] or (Path(path).parent.name if path is not None else ""))
        known["kind"] = str(known["kind"] or "")
        known["labels"] = list(labels)
        extra = {key: value for key, value in data.items() if key not in _KNOWN}
        card = cls(**known, extra=extra)
        card._order = list(data)
        return card

    def to_dict(self) -> dict:
        """The JSON object: keys in the order they were read (new keys after), ``None`` fields left out
        unless the file had them."""
        values = {"name": self.name, "kind": self.kind, "labels": list(self.labels), "input": self.input,
                  "preprocessing": self.preprocessing, "architecture": self.architecture,
                  "training": self.training, "provenance": self.provenance, "calibration": self.calibration,
                  **self.extra}
        order = getattr(self, "_order", [])
        keys = [k for k in order if k in values] + [k for k in values if k not in order]
        return {k: values[k] for k in keys if values[k] is not None or k in order}

    # ---------------------------------------------------------------- files

    @classmethod
    def read(cls, folder: str | Path) -> ModelCard:
        """``<folder>/model.json``; raises :class:`ModelCardError` saying what is wrong."""
        path = Path(folder) / FILE_NAME
        if not path.is_file():
            raise ModelCardError(path, "file is missing" if not path.exists() else "is not a file", "missing")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise ModelCardError(path, "corrupt JSON (not UTF-8 text)", "corrupt") from None
        except json.JSONDecodeError as exc:
            raise ModelCardError(path, f"corrupt JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})",
                                 "corrupt") from None
        except OSError as exc:
            raise ModelCardError(path, f"cannot read ({exc.strerror or exc})", "corrupt") from None
        return cls.from_dict(data, path)

    def write(self, folder: str | Path, sort_keys: bool = False) -> Path:
        """Write ``<folder>/model.json`` atomically (the folder is created)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        return write_json(folder / FILE_NAME, self.to_dict(), sort_keys=sort_keys)

    # ---------------------------------------------------------------- what the loaders need

    @property
    def temperature(self) -> float | None:
        """The fitted temperature (``calibration.temperature``), or None when the card has none or
        a value that is not a positive number."""
        value = (self.calibration or {}).get("temperature")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
            return None
        return float(value)

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) of the network's input; KeyError/TypeError when the card lacks it."""
        height, width = self.input["size"]
        return int(height), int(width)

    @property
    def normalization(self) -> tuple[float, float]:
        """(scale, offset): ``pixel * scale + offset`` is what the network takes."""
        norm = self.preprocessing["normalization"]
        return float(norm["scale"]), float(norm["offset"])


def stored_temperature(folder) -> float | None:
    """The temperature in ``folder``'s model.json, or None when there is no readable card or no fit."""
    try:
        return ModelCard.read(folder).temperature
    except ModelCardError:
        return None
