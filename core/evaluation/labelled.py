"""Every model on the user's own labelled faces: in memory, with progress, into the artifact format.

:func:`evaluate_model` scores one classifier on a whole labelled dataset (split ``"all"``), leaving out the
labels the model does not have (contempt, for the 7-class models: counted in ``excluded_labels`` and
explained in ``notes``), and keeps the ``predictions.csv`` table in memory. :func:`evaluate_models` does it
for several models; :func:`results_zip` packs ``<model>/metrics.json`` and ``<model>/predictions.csv`` into
zip bytes (the page's download), :func:`write_results` writes the same files into folders (the CLI).
"""
from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.data.inmemory import ALL, excluded_counts, scoreable
from core.evaluation.evaluate import evaluate, model_identity
from core.paths import atomic_write, write_json


@dataclass
class ModelResult:
    """One model's evaluation: its ``metrics.json`` dict and ``predictions.csv`` table."""

    model: str  # its artifacts name (model_id), e.g. fer2013_cnn
    display_name: str
    metrics: dict
    predictions: pd.DataFrame
    note: str | None = None

    def probabilities(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """(probabilities over the model's labels, true class indices, the model's labels)."""
        labels = list(self.metrics.get("model_labels") or self.metrics["labels"])
        index = {label: i for i, label in enumerate(labels)}
        probs = self.predictions[[f"p_{label}" for label in labels]].to_numpy(np.float64)
        return probs, self.predictions["true"].map(index).to_numpy(np.int64), labels


def evaluate_model(classifier, dataset, split: str = ALL, batch_size: int = 128,
                   on_progress: Callable[[int, int], None] | None = None, progress: bool = False,
                   **options) -> ModelResult:
    """Score ``classifier`` on ``dataset``'s ``split`` (nothing written); see the module doc.

    Raises :class:`core.data.datasets.DatasetError` when the model knows none of the data's labels.
    """
    name, _ = model_identity(classifier)
    display = getattr(classifier, "display_name", name)
    records = dataset.split(split)
    excluded = excluded_counts(records, classifier.labels)
    view, note = scoreable(dataset, classifier.labels, display)
    metrics, frame = evaluate(classifier, view, split, out_dir=None, batch_size=batch_size, progress=progress,
                              on_progress=on_progress, return_predictions=True, **options)
    metrics["dataset"]["n_files"] = len(records)
    metrics["model_labels"] = list(classifier.labels)
    metrics["excluded_labels"] = excluded
    metrics["notes"] = [note] if note else []
    return ModelResult(name, display, metrics, frame, note)  # evaluate() filled metrics["calibration"]


def evaluate_models(classifiers: Mapping[str, object], dataset, split: str = ALL, batch_size: int = 128,
                    on_progress: Callable[[str, int, int], None] | None = None) -> tuple[dict[str, ModelResult],
                                                                                          dict[str, str]]:
    """Every classifier on ``dataset``: ``({model: ModelResult}, {model: why it could not be scored})``.

    ``on_progress(model, done, total)`` follows each model's pass.
    """
    from core.data.datasets import DatasetError

    results, failed = {}, {}
    for classifier in classifiers.values():
        name, _ = model_identity(classifier)

        def step(done, total, name=name):
            if on_progress is not None:
                on_progress(name, done, total)

        try:
            results[name] = evaluate_model(classifier, dataset, split, batch_size, on_progress=step)
        except DatasetError as exc:
            failed[name] = str(exc)
    return results, failed


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def with_slices(result: ModelResult, slices: Mapping | None) -> dict:
    """The model's ``metrics.json`` dict, with its own rows of ``slices`` (see
    :func:`core.evaluation.slices.slice_metrics`) under ``slices`` when there are any."""
    if not slices:
        return result.metrics
    own = [row for row in slices["slices"] if row["model"] == result.model]
    return {**result.metrics, "slices": {**{k: v for k, v in slices.items() if k != "slices"}, "slices": own}}


def results_zip(results: Mapping[str, ModelResult], slices: Mapping | None = None) -> bytes:
    """Zip bytes (built in memory) holding ``<model>/metrics.json`` and ``<model>/predictions.csv``; with
    ``slices``, each metrics.json holds its model's slice scores too (the page's figures)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, result in results.items():
            archive.writestr(f"{name}/metrics.json", json.dumps(with_slices(result, slices), indent=2) + "\n")
            archive.writestr(f"{name}/predictions.csv", _csv_bytes(result.predictions))
    return buffer.getvalue()


def add_comparisons(results: Mapping[str, ModelResult]) -> None:
    """Each result's ``metrics["comparisons"]``: the paired test against every other model (same faces,
    matched by path), as the stored evaluations hold them."""
    from core.evaluation.paired import by_model

    found = by_model({name: r.predictions for name, r in results.items()},
                     {name: r.display_name for name, r in results.items()})
    for name, comparisons in found.items():
        results[name].metrics["comparisons"] = comparisons


def write_result(result: ModelResult, out_dir: str | Path) -> Path:
    """``out_dir/metrics.json`` and ``out_dir/predictions.csv`` (atomically); returns ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "predictions.csv", lambda tmp: result.predictions.to_csv(tmp, index=False))
    write_json(out / "metrics.json", result.metrics)
    return out


def mistakes(result: ModelResult, limit: int = 24) -> pd.DataFrame:
    """The model's wrong predictions, most confident first (the gallery's order)."""
    frame = result.predictions
    wrong = frame[frame["true"] != frame["predicted"]]
    return wrong.sort_values(["confidence", "path"], ascending=[False, True]).head(limit)


def comparison_rows(results: Mapping[str, ModelResult], reference: Mapping[str, Mapping[str, dict]]) -> list[dict]:
    """Cross-dataset table rows: each model's accuracy and macro F1 here and in ``reference``
    (``{model: {"fer2013 / PrivateTest": metrics}}``, e.g. the stored FER2013 evaluations)."""
    rows = []
    for name, result in results.items():
        m = result.metrics
        rows.append({"model": result.display_name, "data": f"{m['dataset']['name']} (yours)",
                     "images": m["n_images"], "accuracy": m["accuracy"], "macro F1": m["macro_f1"]})
        for where, other in (reference.get(name) or {}).items():
            rows.append({"model": result.display_name, "data": where, "images": other.get("n_images"),
                         "accuracy": other.get("accuracy"), "macro F1": other.get("macro_f1")})
    return rows


@dataclass
class Report:
    """What the data page shows: the data (in memory), each model's result, and every note."""

    dataset: object  # core.data.inmemory.LabelledData (or a CropDataset of detected faces)
    results: dict[str, ModelResult]
    failed: dict[str, str]
    notes: list[str]
    framings: dict[str, str] = field(default_factory=dict)  # result key -> the framing its faces were cut in

    def faces_for(self, model: str):
        """The images ``model`` was scored on: for detected faces, cut in its own framing."""
        framing = self.framings.get(model)
        return self.dataset.with_framing(framing) if framing and hasattr(self.dataset, "with_framing") else self.dataset


def evaluate_source(source, classifiers: Mapping[str, object], photos: bool = False, detector=None,
                    name: str | None = None, on_progress: Callable[[str, float], None] | None = None,
                    batch_size: int = 128, roots=None) -> Report:
    """Labelled faces from a zip (bytes or file) or a server folder, every classifier scored on all of them.

    ``roots``: the server folders a path may lie in (see :func:`core.data.archive.load_labelled`).

    ``photos=True`` first keeps the largest face ``detector`` finds in each image, cut for each model as
    the Photo page cuts it (its training framing). ``on_progress(text,
    fraction)`` follows the whole job (0 to 1). Raises :class:`core.data.archive.ArchiveError` /
    :class:`core.data.datasets.DatasetError` with a one-line message for unusable data.
    """
    from core.analysis.classify import framing_of
    from core.data.archive import load_labelled, summary
    from core.data.detect import detect_faces_first

    def report(text: str, fraction: float) -> None:
        if on_progress is not None:
            on_progress(text, min(1.0, max(0.0, fraction)))

    dataset = load_labelled(source, name, roots=roots)
    stages = len(classifiers) + (1 if photos else 0)
    if photos:
        if detector is None:
            raise ValueError("photos=True needs a face detector")
        framings = [framing_of(classifier) for classifier in classifiers.values()]
        dataset = detect_faces_first(dataset, detector, framings, on_progress=lambda done, total: report(
            f"Finding faces: {done} of {total} photos", done / total / stages))
    report(summary(dataset), (1 if photos else 0) / stages)
    results, failed, framings = {}, {}, {}
    for i, classifier in enumerate(classifiers.values()):
        display = getattr(classifier, "display_name", "model")
        offset = (i + (1 if photos else 0)) / stages

        def step(done, total, display=display, offset=offset):
            report(f"{display}: {done} of {total} images", offset + done / max(total, 1) / stages)

        faces = dataset.with_framing(framing_of(classifier)) if photos else dataset  # the crop the Photo page gives it
        part, why = evaluate_models({display: classifier}, faces, ALL, batch_size,
                                    on_progress=lambda _name, done, total, step=step: step(done, total))
        results.update(part)
        failed.update(why)
        framings.update({key: framing_of(classifier) for key in part})
    if len(results) > 1:
        report("Comparing the models", 1.0)
        add_comparisons(results)
    report("Done", 1.0)
    notes = list(getattr(dataset, "notes", []))
    notes += [r.note for r in results.values() if r.note]
    notes += [f"{model}: {why}" for model, why in failed.items()]
    return Report(dataset, results, failed, notes, framings if photos else {})
