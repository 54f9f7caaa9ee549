"""The label audit of the stored evaluations: per model and for the zoo, one artifact per split.

Reads each model's ``models/<id>/eval/<dataset>-<split>/predictions.csv`` (out-of-sample: never the
Training split, where the models have seen the labels) with the temperature its ``metrics.json``
recorded, and writes ``label_issues.csv`` and ``label_audit.json`` beside it; the zoo's (every model
with that evaluation, averaged) go to ``<models root>/_zoo/audit/<dataset>-<split>/``, a folder with
no ``model.json`` and no ``eval/``, so nothing takes it for a model (``docs/ARTIFACTS.md``).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from core.evaluation import audit_flips
from core.evaluation.audit import ZOO, Audit, AuditError, ModelAnswers, audit, zoo_probabilities
from core.models import registry
from core.paths import atomic_write, write_json

ZOO_FOLDER = "_zoo"
ISSUES_FILE, SUMMARY_FILE = "label_issues.csv", "label_audit.json"
IN_SAMPLE_SPLITS = ("training", "train")


def zoo_dir(models_root: str | Path, key: str) -> Path:
    """``<models root>/_zoo/audit/<dataset>-<split>``: where the zoo's audit of that split lives."""
    return Path(models_root) / ZOO_FOLDER / "audit" / key


def refuse_in_sample(split: str) -> None:
    """The models learnt the Training split's labels: auditing it would only confirm them."""
    if str(split).lower() in IN_SAMPLE_SPLITS:
        raise AuditError(f"{split} is the split the models were trained on; audit only held-out splits "
                         f"(PublicTest, PrivateTest) or data they never saw")


def stored_answers(models_root: str | Path, key: str, extra_model_dirs=()) -> list[tuple[Path, ModelAnswers]]:
    """(eval folder, answers) of every model with a stored ``predictions.csv`` on ``key``, in the order
    every page lists models."""
    root = Path(models_root)
    folders = [Path(p) for p in extra_model_dirs] + (sorted(p for p in root.iterdir() if p.is_dir())
                                                     if root.is_dir() else [])
    found: dict[str, tuple[Path, ModelAnswers]] = {}
    for folder in folders:
        eval_dir = folder / "eval" / key
        if folder.name == ZOO_FOLDER or not (eval_dir / "predictions.csv").is_file():
            continue
        spec = registry.for_folder(folder)
        if spec.name in found:
            continue
        try:
            metrics = json.loads((eval_dir / "metrics.json").read_text())
        except (OSError, ValueError):
            metrics = {}
        temperature = (metrics.get("calibration") or {}).get("temperature")
        predictions = pd.read_csv(eval_dir / "predictions.csv")
        labels = [label for label in (metrics.get("model_labels") or spec.labels) if f"p_{label}" in predictions]
        found[spec.name] = (eval_dir, ModelAnswers(spec.name, predictions, labels, temperature))
    return [found[name] for name in sorted(found, key=registry.sort_key)]


def with_flip_check(result: Audit, answers: list[ModelAnswers]) -> Audit:
    """The summary with the seeded-flip measurement (:mod:`core.evaluation.audit_flips`) on the same
    probabilities."""
    faces, probs, labels, _ = zoo_probabilities(answers)
    given = faces["true"].map({label: i for i, label in enumerate(labels)}).to_numpy(np.int64)
    result.summary["flip_check"] = audit_flips.measure(given, probs)
    return result


def write_audit(result: Audit, out_dir: str | Path) -> Path:
    """``out_dir/label_issues.csv`` and ``out_dir/label_audit.json`` (atomically); returns ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / ISSUES_FILE, lambda tmp: result.issues.to_csv(tmp, index=False))
    write_json(out / SUMMARY_FILE, result.summary)
    return out


def audit_stored(models_root: str | Path, dataset: str, split: str, extra_model_dirs=(), flips: bool = True,
                 ) -> list[tuple[Path, Audit]]:
    """Audit every model's stored evaluation of ``<dataset>-<split>`` and the zoo's; write them all.

    Returns ``(folder written, audit)`` per model, the zoo last. Raises :class:`AuditError` for the
    Training split or when no model has an evaluation there.
    """
    refuse_in_sample(split)
    key = f"{dataset}-{split}"
    stored = stored_answers(models_root, key, extra_model_dirs)
    if not stored:
        raise AuditError(f"no stored predictions.csv for {key} under {Path(models_root).name}/ "
                         f"(run `make evaluate-all` first)")
    where = {"name": dataset, "split": split}
    written = []
    for eval_dir, answers in stored:
        result = audit([answers], answers.model, where)
        written.append((write_audit(with_flip_check(result, [answers]) if flips else result, eval_dir), result))
    everyone = [answers for _, answers in stored]
    zoo = audit(everyone, ZOO, where)
    written.append((write_audit(with_flip_check(zoo, everyone) if flips else zoo, zoo_dir(models_root, key)), zoo))
    return written
