"""A training run's settings (``runs/<name>/config.json``), including its warm-restart cycles."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.models.architecture import DEFAULT_STAGES
from core.training.augment import AugmentSpec


@dataclass
class TrainConfig:
    data: str
    name: str = "fer2013_cnn"
    dataset_kind: str = "auto"
    classes: tuple[str, ...] | None = None
    epochs: int = 60
    batch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 5e-4
    warmup_epochs: int = 2
    label_smoothing: float = 0.1
    patience: int = 20
    seed: int = 42
    input_size: int = 48
    stages: tuple[tuple[int, ...], ...] = DEFAULT_STAGES
    dense_units: int = 256
    dropout: float = 0.4
    augment: AugmentSpec = field(default_factory=AugmentSpec)
    limit_train: int | None = None  # use only the first N training images (smoke tests)
    limit_val: int | None = None
    # Warm restarts appended to a finished run, in order: {"after_epoch", "epochs", "learning_rate",
    # "warmup_epochs"[, "augment"]}. ``epochs`` counts every epoch, the restarts' included. ``augment``
    # (a whole AugmentSpec) applies from that restart on; without it the previous cycle's carries over.
    restarts: tuple[dict, ...] = ()

    def cycles(self) -> list[dict]:
        """The learning-rate cycles: the first schedule, then each warm restart; epochs 0-based, end exclusive.

        Each cycle also carries the ``augment`` spec its training batches use.
        """
        first_end = self.restarts[0]["after_epoch"] if self.restarts else self.epochs
        cycles = [{"start_epoch": 0, "end_epoch": first_end, "learning_rate": self.learning_rate,
                   "warmup_epochs": self.warmup_epochs, "augment": self.augment}]
        for restart in self.restarts:
            augment = AugmentSpec(**restart["augment"]) if restart.get("augment") else cycles[-1]["augment"]
            cycles.append({"start_epoch": restart["after_epoch"], "end_epoch": restart["after_epoch"] + restart["epochs"],
                           "learning_rate": restart["learning_rate"], "warmup_epochs": restart["warmup_epochs"],
                           "augment": augment})
        return cycles

    def augment_for_epoch(self, epoch: int) -> AugmentSpec:
        """The augmentation of the cycle that holds ``epoch`` (0-based)."""
        return [c for c in self.cycles() if c["start_epoch"] <= epoch][-1]["augment"]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["stages"] = [list(s) for s in self.stages]
        data["classes"] = list(self.classes) if self.classes else None
        data["restarts"] = [dict(r) for r in self.restarts]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        data = dict(data)
        data["stages"] = tuple(tuple(s) for s in data["stages"])
        data["classes"] = tuple(data["classes"]) if data.get("classes") else None
        data["augment"] = AugmentSpec(**data.get("augment", {}))
        data["restarts"] = tuple(dict(r) for r in data.get("restarts") or ())
        return cls(**data)


def read_config(run_dir: str | Path) -> TrainConfig:
    return TrainConfig.from_dict(json.loads((Path(run_dir) / "config.json").read_text()))
