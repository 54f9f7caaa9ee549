"""Safe readers of the stored evaluations (``models/<model>/eval/<dataset>-<split>/``): finding
them, ``metrics.json``, ``predictions.csv`` and the dataset images they name.

Like :mod:`core.presentation.artifacts`, every reader returns the data or raises one
:class:`~core.presentation.artifacts.ArtifactError` with a one-line explanation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from core.evaluation import paired
from core.evaluation.metrics import MAX_TOP_CONFUSIONS, top_confusions
from core.models import registry
from core.presentation.artifacts import ArtifactError, _numeric, models_root, read_csv, read_json

PREDICTION_COLUMNS = ("path", "true", "predicted", "confidence")

EVALUATE_HINT = "run `make evaluate` (and `make evaluate-deepface` on a machine with DeepFace's weights)"


@dataclass(frozen=True)
class EvalRef:
    """One stored evaluation: ``<models root>/<model>/eval/<key>/``."""

    model: str
    key: str  # "<dataset>-<split>", the folder name
    path: Path

    @property
    def dataset(self) -> str:
        return self.key.rsplit("-", 1)[0] if "-" in self.key else self.key

    @property
    def split(self) -> str:
        return self.key.rsplit("-", 1)[1] if "-" in self.key else ""

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.json"

    @property
    def predictions_path(self) -> Path:
        return self.path / "predictions.csv"


def find_evaluations(root: str | Path | None = None, extra_model_dirs=()) -> dict[str, dict[str, EvalRef]]:
    """Stored evaluations by split key, then model id (its record's, :func:`registry.for_folder`):
    scans ``<folder>/eval/*/metrics.json`` for each of ``extra_model_dirs`` (e.g. a CNN folder
    outside the root; these come first, so the app's CNN keeps its id) and ``<root>/*/eval/*/metrics.json``.

    Keys are sorted; FER2013's PrivateTest (the report split) comes first when present.
    """
    root = Path(root) if root is not None else models_root()
    folders = [Path(p) for p in extra_model_dirs]
    folders += sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    found: dict[str, dict[str, EvalRef]] = {}
    seen: set[Path] = set()
    for folder in folders:
        try:
            resolved = folder.resolve()
        except OSError:
            continue
        if resolved in seen or not folder.is_dir():
            continue
        seen.add(resolved)
        model = registry.for_folder(folder).name
        for metrics in sorted(folder.glob("eval/*/metrics.json")):
            eval_dir = metrics.parent
            found.setdefault(eval_dir.name, {}).setdefault(model, EvalRef(model, eval_dir.name, eval_dir))

    def order(key: str):
        return (0 if key.lower() == "fer2013-privatetest" else 1, key.lower())

    return {key: dict(sorted(found[key].items(), key=lambda item: registry.sort_key(item[0])))
            for key in sorted(found, key=order)}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_metrics(eval_dir: str | Path) -> dict:
    """``metrics.json`` checked against the contract; ``top_confusions`` and ``n_images`` are
    filled in from the confusion matrix when absent."""
    path = Path(eval_dir) / "metrics.json"
    data = read_json(path, hint=EVALUATE_HINT)

    def bad(problem: str):
        return ArtifactError(path, problem, "invalid", EVALUATE_HINT)

    labels = data.get("labels")
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise bad("field 'labels' must be a non-empty list of emotion names")
    for key in ("accuracy", "macro_f1"):
        if key not in data:
            raise bad(f"missing field '{key}'")
        if not _number(data[key]) or not 0.0 <= data[key] <= 1.0:
            raise bad(f"field '{key}' must be a number between 0 and 1, found {data[key]!r}")
    matrix = data.get("confusion_matrix")
    if not isinstance(matrix, dict):
        raise bad("missing field 'confusion_matrix' (an object with 'labels' and 'counts')")
    cm_labels, counts = matrix.get("labels", labels), matrix.get("counts")
    if not isinstance(cm_labels, list) or not all(isinstance(x, str) for x in cm_labels):
        raise bad("confusion_matrix.labels must be a list of emotion names")
    n = len(cm_labels)
    if (not isinstance(counts, list) or len(counts) != n
            or not all(isinstance(row, list) and len(row) == n for row in counts)):
        raise bad(f"confusion_matrix.counts must be a {n}x{n} table (one row and column per label)")
    if not all(_number(c) and c >= 0 for row in counts for c in row):
        raise bad("confusion_matrix.counts must hold non-negative numbers")
    counts = [[int(c) for c in row] for row in counts]
    per_class = data.get("per_class")
    if not isinstance(per_class, dict):
        raise bad("missing field 'per_class' (precision, recall, f1, support per label)")
    clean_per_class = {}
    for label, values in per_class.items():
        if not isinstance(values, dict):
            raise bad(f"per_class.{label} must be an object")
        row = {}
        support = values.get("support")
        row["support"] = int(support) if _number(support) else None
        for key in ("precision", "recall", "f1"):
            if values.get(key) is None and row["support"] == 0:  # no true face: no score (marked, never 0)
                row[key] = None
                continue
            if not _number(values.get(key)):
                raise bad(f"per_class.{label}.{key} must be a number, found {values.get(key)!r}")
            row[key] = float(values[key])
        clean_per_class[label] = row

    out = dict(data)
    out["labels"] = list(labels)
    out["confusion_matrix"] = {"labels": list(cm_labels), "counts": counts}
    out["per_class"] = clean_per_class
    if not _number(out.get("n_images")):
        out["n_images"] = int(sum(map(sum, counts)))
    tops = data.get("top_confusions")
    valid_tops = isinstance(tops, list) and all(
        isinstance(t, dict) and isinstance(t.get("true"), str) and isinstance(t.get("predicted"), str)
        and _number(t.get("count")) for t in tops)
    out["top_confusions"] = tops if valid_tops else top_confusions(list(cm_labels), counts, MAX_TOP_CONFUSIONS)
    dataset = data.get("dataset")
    out["dataset"] = dataset if isinstance(dataset, dict) else {}
    return out


def read_predictions(eval_dir: str | Path) -> pd.DataFrame:
    """``predictions.csv``: path, true, predicted, confidence (0-1), then optional ``p_<label>``."""
    path = Path(eval_dir)
    if path.is_dir() or path.suffix != ".csv":
        path = path / "predictions.csv"
    frame = read_csv(path, PREDICTION_COLUMNS, hint=EVALUATE_HINT)
    probability_columns = [c for c in frame.columns if c.startswith("p_")]
    _numeric(frame, ("confidence", *probability_columns), path, EVALUATE_HINT)
    for column in ("path", "true", "predicted"):
        if frame[column].isna().any():
            row = int(frame[column].isna().to_numpy().nonzero()[0][0])
            raise ArtifactError(path, f"empty value in column {column} (data row {row + 1})", "invalid", EVALUATE_HINT)
        frame[column] = frame[column].astype(str)
    if frame["confidence"].isna().any():
        raise ArtifactError(path, "empty value in column confidence", "invalid", EVALUATE_HINT)
    if ((frame["confidence"] < 0) | (frame["confidence"] > 1)).any():
        raise ArtifactError(path, "column confidence must hold probabilities between 0 and 1", "invalid", EVALUATE_HINT)
    return frame


def resolve_dataset_file(root: str | Path, relative: str) -> Path | None:
    """``root / relative`` when it is a file inside ``root`` (no ``..`` escapes), else ``None``."""
    try:
        base = Path(root).resolve()
        target = (base / str(relative)).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    if not target.is_relative_to(base) or not target.is_file():
        return None
    return target


def cross_dataset_frame(evaluations: dict[str, dict[str, EvalRef]], read, label=str) -> pd.DataFrame | None:
    """Model x dataset split: ``<split> accuracy`` (percent) and ``<split> macro F1`` columns, one row per
    model; None unless the evaluations cover at least two datasets. ``read(ref)`` returns a metrics
    dict (unreadable ones are left out); ``label(model)`` names the rows."""
    datasets = {ref.dataset for refs in evaluations.values() for ref in refs.values()}
    if len(datasets) < 2:
        return None
    rows: dict[str, dict] = {}
    for key, refs in evaluations.items():
        for model, ref in refs.items():
            try:
                metrics = read(ref)
            except ArtifactError:
                continue
            row = rows.setdefault(model, {"model": label(model)})
            row[f"{key} accuracy"] = metrics["accuracy"] * 100
            row[f"{key} macro F1"] = metrics["macro_f1"]
    if not rows:
        return None
    columns = ["model"] + [f"{key} {m}" for key in evaluations for m in ("accuracy", "macro F1")]
    frame = pd.DataFrame(list(rows.values()))
    return frame.reindex(columns=[c for c in columns if c in frame.columns])


def correctness(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per image every model scored (joined on ``path``): ``true`` and, per model, whether
    it was right (see :func:`core.evaluation.paired.correctness`, which the paired test uses too)."""
    return paired.correctness(frames)


def disagreement_matrix(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """For every ordered pair of models: how many images the row model got right and the column
    model wrong (the diagonal is left empty). Index and columns are the model names."""
    right = correctness(frames)
    models = list(frames)
    table = pd.DataFrame(index=models, columns=models, dtype="Int64")
    for a in models:
        for b in models:
            if a != b:
                table.loc[a, b] = int((right[a] & ~right[b]).sum())
    return table


def pair_outcomes(frames: dict[str, pd.DataFrame], a: str, b: str) -> dict[str, int]:
    """Images of two models by outcome: both right, only ``a`` right, only ``b`` right, both wrong: the
    2x2 table of the paired test (:func:`core.evaluation.paired.outcome_counts`), the same numbers."""
    right = correctness({a: frames[a], b: frames[b]})
    counts = paired.outcome_counts(right[a].to_numpy(), right[b].to_numpy())
    return {"both right": counts["both_right"], "only first right": counts["only_a"],
            "only second right": counts["only_b"], "both wrong": counts["both_wrong"]}


def pair_sentence(frames: dict[str, pd.DataFrame], a: str, b: str) -> str:
    """The paired test's plain sentence for ``a`` against ``b`` on the images both scored (the counts of
    :func:`pair_outcomes`, McNemar and the paired bootstrap: :func:`core.evaluation.paired.compare`)."""
    right = correctness({a: frames[a], b: frames[b]})
    return paired.compare(a, b, right[a].to_numpy(), right[b].to_numpy())["sentence"]


def disagreements(joined: pd.DataFrame, right_model: str, wrong_model: str) -> pd.DataFrame:
    """Rows of :func:`core.presentation.tables.join_predictions` that ``right_model`` got right and
    ``wrong_model`` wrong, the wrong model's most confident mistakes first."""
    rows = joined[(joined[f"{right_model}_predicted"] == joined["true"])
                  & joined[f"{wrong_model}_predicted"].notna()
                  & (joined[f"{wrong_model}_predicted"] != joined["true"])]
    return rows.sort_values([f"{wrong_model}_confidence", "path"], ascending=[False, True]).reset_index(drop=True)


def rounded_for_csv(rows: pd.DataFrame) -> pd.DataFrame:
    """A download copy: every ``*_confidence`` column (a 0-1 fraction) in percent with 2 decimals, the
    unit the app's other CSVs use."""
    out = rows.copy()
    for column in [c for c in out.columns if c.endswith("_confidence") or c == "confidence"]:
        out[column] = (pd.to_numeric(out[column], errors="coerce") * 100).round(2)
    return out
