"""Storing an imported model: its folder, its card, and its evaluation on both FER2013 test splits.

:func:`store` writes ``models/<name>/model.<suffix>`` (the file's bytes as given) and ``model.json``;
:func:`evaluate_stored` scores the selection split once, fits the temperature on those probabilities
(never on the report split), then scores the report split with it, writing each split's
``metrics.json`` and ``predictions.csv`` as ``python -m core evaluate`` does (docs/ARTIFACTS.md).
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np

from core.evaluation.evaluate import add_calibration, eval_dir, evaluate
from core.paths import atomic_write, write_json

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")


def check_name(name: str, models_root: Path, force: bool = False) -> str | None:
    """Why ``name`` cannot be an imported model's id (None when it can)."""
    from core.models import registry

    if not NAME_PATTERN.match(name):
        return f"{name!r}: a name is 1-48 lower-case letters, digits, '_' or '-' (it becomes the folder models/{name}/)"
    spec = registry.describe(name)
    if name in registry.names() and spec.kind != "imported":
        return f"{name!r} is a built-in model's id; choose another name"
    if (models_root / name).exists() and not force:
        return f"{models_root / name} already exists (--force replaces it)"
    return None


def store(classifier, data: bytes, card, models_root: Path) -> Path:
    """Write the model's folder (replacing one of that name); returns it."""
    folder = Path(models_root) / classifier.name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    file = folder / card.extra["file"]["name"]
    atomic_write(file, lambda tmp: Path(tmp).write_bytes(data))
    card.write(folder)
    return folder


def _write(out: Path, metrics: dict, frame) -> None:
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "predictions.csv", lambda tmp: frame.to_csv(tmp, index=False))
    write_json(out / "metrics.json", metrics)


def evaluate_stored(classifier, dataset, folder: Path, progress: bool = True) -> dict:
    """``{split: metrics}`` for the selection and report splits; the fitted temperature goes into the
    card (``calibration``) and onto ``classifier.temperature``."""
    from core.analysis.calibration import fit_calibration
    from core.models.card import ModelCard

    _, selection, report = dataset.splits
    labels = list(classifier.labels)
    metrics, frame = evaluate(classifier, dataset, selection, progress=progress, return_predictions=True)
    truth = np.array([labels.index(t) if t in labels else -1 for t in frame["true"]])
    probs = frame[[f"p_{label}" for label in labels]].to_numpy(np.float64)
    known = truth >= 0
    calibration = fit_calibration(probs[known], truth[known], selection)
    card = ModelCard.read(folder)
    card.calibration = {**calibration, "dataset": dataset.name}
    card.write(folder)
    classifier.temperature = card.temperature
    metrics.pop("calibration", None)
    add_calibration(metrics, probs, truth, classifier.temperature)
    _write(eval_dir(folder.parent, folder.name, dataset.name, selection), metrics, frame)
    results = {selection: metrics}
    results[report] = evaluate(classifier, dataset, report, progress=progress,
                               out_dir=eval_dir(folder.parent, folder.name, dataset.name, report))
    return results
