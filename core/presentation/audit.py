"""The label audit as the pages show it: the stored zoo audit of a split, and the tables built from an audit.

Readers return the data or raise one :class:`~core.presentation.artifacts.ArtifactError`; builders take
data and return ``DataFrame``s. The audit itself is :mod:`core.evaluation.audit`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.evaluation.audit import ISSUE_COLUMNS, pair_counts
from core.evaluation.audit_store import ISSUES_FILE, SUMMARY_FILE, zoo_dir
from core.presentation import tables
from core.presentation.artifacts import ArtifactError, _numeric, read_csv, read_json

AUDIT_HINT = "run `make audit` (it audits the stored PublicTest and PrivateTest predictions)"
MEANING = ("A flag asks for a second look at the face: the models' averaged, calibrated probabilities put little "
           "weight on its label (cleanlab's confident learning). It is not a verdict: the models can be wrong, and "
           "some faces carry two emotions.")
ESTIMATE = "accuracy without flagged (estimate)"


@dataclass(frozen=True)
class StoredAudit:
    """A ``label_audit.json`` and its ``label_issues.csv``."""

    summary: dict
    issues: pd.DataFrame


def read_audit(folder: str | Path) -> StoredAudit:
    """The audit stored in ``folder``, checked: the summary's counts must match the CSV."""
    folder = Path(folder)
    summary = read_json(folder / SUMMARY_FILE, hint=AUDIT_HINT)
    issues = read_csv(folder / ISSUES_FILE, ISSUE_COLUMNS, hint=AUDIT_HINT)
    _numeric(issues, ("score",), folder / ISSUES_FILE, AUDIT_HINT)
    if not isinstance(summary.get("models"), list) or not isinstance(summary.get("accuracy"), dict):
        raise ArtifactError(folder / SUMMARY_FILE, "needs 'models' (a list) and 'accuracy' (an object)", "invalid",
                            AUDIT_HINT)
    if summary.get("n_flagged") != len(issues):
        raise ArtifactError(folder / ISSUES_FILE, f"holds {len(issues)} rows, but {SUMMARY_FILE} says "
                                                  f"{summary.get('n_flagged')} flagged", "invalid", AUDIT_HINT)
    for column in ("path", "label", "suggested"):
        issues[column] = issues[column].astype(str)
    return StoredAudit(summary, issues)


def read_zoo_audit(models_root: str | Path, key: str) -> StoredAudit:
    """The zoo's audit of ``<dataset>-<split>`` (``<models root>/_zoo/audit/<key>/``)."""
    return read_audit(zoo_dir(models_root, key))


def ranked_faces(issues: pd.DataFrame, frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The flagged faces in the audit's order (worst first), with every model's answer and confidence
    (:func:`core.presentation.tables.join_predictions`): ``path``, ``true`` (the label), ``suggested``,
    ``score``, ``<model>_predicted``, ``<model>_confidence``."""
    base = issues[["path", "label", "suggested", "score"]].rename(columns={"label": "true"})
    if not frames:
        return base
    joined = tables.join_predictions(frames).drop(columns=["true"])
    return base.merge(joined, on="path", how="left")


def pairs_table(issues: pd.DataFrame) -> pd.DataFrame:
    """Flagged faces per (label, suggested) pair, largest first: ``label``, ``suggested``, ``faces``."""
    rows = pair_counts(issues)
    return pd.DataFrame(rows, columns=["label", "suggested", "count"]).rename(columns={"count": "faces"})


def estimate_table(accuracy: Mapping[str, Mapping], label: Callable[[str], str] = str) -> pd.DataFrame:
    """Per model: its accuracy on every face and, beside it, the estimate without the flagged faces
    (both in percent), with how many faces each counts."""
    rows = []
    for model, figures in accuracy.items():
        full, without = figures.get("accuracy"), figures.get("accuracy_without_flagged")
        rows.append({"model": label(model), "accuracy": None if full is None else full * 100,
                     ESTIMATE: None if without is None else without * 100, "images": figures.get("n_images"),
                     "flagged left out": (figures.get("n_images") or 0) - (figures.get("n_kept") or 0)})
    return pd.DataFrame(rows, columns=["model", "accuracy", ESTIMATE, "images", "flagged left out"])


def summary_text(summary: Mapping) -> str:
    """One sentence: how many faces were flagged, by which models."""
    share = summary.get("flagged_share") or 0.0
    return (f"{summary.get('n_flagged', 0):,} of {summary.get('n_images', 0):,} faces ({share:.1%}) flagged as "
            f"probably mislabelled by the averaged probabilities of {len(summary.get('models') or [])} model"
            f"{'s' if len(summary.get('models') or []) != 1 else ''}")
