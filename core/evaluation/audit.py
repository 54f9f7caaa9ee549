"""Label audit: the faces whose label is probably wrong, by confident learning on out-of-sample probabilities.

FER2013's labels are noisy, and so are a lab's own (posed versus felt emotion, one rater versus several),
so a "mistake" may be the label's. :func:`audit` asks cleanlab (Northcutt et al., JAIR 2021) which labels
the models' probabilities contradict: ``cleanlab.filter.find_label_issues`` flags them and
``cleanlab.rank.get_label_quality_scores`` ranks them (lowest score = most likely wrong). The
probabilities must be out-of-sample (a held-out split, or data the models never trained on), or the
models simply agree with labels they have learnt.

One model or several: each model's calibrated probabilities (its fitted temperature, as every page
applies it) over the labels all of them share, renormalised and averaged (:func:`zoo_probabilities`;
with one model, that model alone). Faces whose label is not among the shared labels are left out and
counted. A flag asks for a second look at the face; it is not a verdict on the label.
"""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.analysis.classify import calibrate

FILTER_BY = "prune_by_noise_rate"  # cleanlab's default, named so the artifact says what ran
SCORE_METHOD = "self_confidence"
ZOO = "zoo"
ISSUE_COLUMNS = ("path", "label", "suggested", "score")


class AuditError(ValueError):
    """The faces cannot be audited (too few, one label only, no shared labels); the message says why."""


def method() -> dict:
    """What ran, as the artifacts record it."""
    import cleanlab

    return {"library": f"cleanlab {cleanlab.__version__}",
            "flagging": f"cleanlab.filter.find_label_issues(labels, pred_probs, filter_by='{FILTER_BY}', "
                        f"frac_noise=1.0, min_examples_per_class=1, n_jobs=1)",
            "scores": f"cleanlab.rank.get_label_quality_scores(labels, pred_probs, method='{SCORE_METHOD}', "
                      f"adjust_pred_probs=False): the probability given to the label (0-1, low = probably wrong)",
            "probabilities": "out-of-sample; each model's calibrated probabilities (its fitted temperature) over the "
                             "labels every audited model shares, renormalised, averaged over the models",
            "suggested": "the arg-max of the averaged probabilities"}


@dataclass
class ModelAnswers:
    """One model's out-of-sample answers: its predictions table (``path``, ``true``, ``predicted``,
    ``p_<label>``), the labels it has, and its fitted temperature (None: raw probabilities)."""

    model: str
    predictions: pd.DataFrame
    labels: Sequence[str]
    temperature: float | None = None

    def calibrated(self) -> pd.DataFrame:
        """``path``, ``true``, ``predicted`` and the calibrated ``p_<label>`` of the model's own labels."""
        columns = [f"p_{label}" for label in self.labels]
        missing = [c for c in columns if c not in self.predictions.columns]
        if missing:
            raise AuditError(f"{self.model}: predictions lack {', '.join(missing)}")
        probs = calibrate(self.predictions[columns].to_numpy(np.float64), self.temperature)
        out = self.predictions[["path", "true", "predicted"]].reset_index(drop=True).copy()
        out[columns] = probs
        return out


@dataclass
class Audit:
    """The audit of a set of models' answers on the same faces.

    ``issues``: the flagged faces, worst (lowest score) first: ``path``, ``label``, ``suggested``,
    ``score`` and each model's answer ``<model>_predicted``. ``summary``: the ``label_audit.json`` dict.
    """

    issues: pd.DataFrame
    summary: dict
    scores: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)  # every audited face: path, score, flagged

    @property
    def flagged_paths(self) -> set[str]:
        return set(self.issues["path"])


def zoo_probabilities(answers: Sequence[ModelAnswers]) -> tuple[pd.DataFrame, np.ndarray, list[str], int]:
    """(faces every model answered whose label all share: ``path``, ``true`` and ``<model>_predicted``;
    the averaged probabilities over the shared labels; those labels; how many faces were left out)."""
    if not answers:
        raise AuditError("no model's answers to audit")
    shared = [label for label in answers[0].labels if all(label in a.labels for a in answers[1:])]
    if len(shared) < 2:
        raise AuditError("the models share fewer than two labels, so there is nothing to audit")
    joined, parts = None, []
    for answer in answers:
        table = answer.calibrated().drop_duplicates("path")
        probs = table[[f"p_{label}" for label in shared]].to_numpy(np.float64)
        total = probs.sum(axis=1, keepdims=True)
        probs = np.divide(probs, total, out=np.full_like(probs, 1.0 / len(shared)), where=total > 0)
        part = table[["path", "true"]].assign(**{f"{answer.model}_predicted": table["predicted"]})
        part[[f"_{answer.model}_{label}" for label in shared]] = probs
        parts.append(answer.model)
        joined = part if joined is None else joined.merge(part.drop(columns=["true"]), on="path", how="inner")
    total_faces = len(joined)
    joined = joined[joined["true"].isin(shared)].reset_index(drop=True)
    mean = np.mean([joined[[f"_{m}_{label}" for label in shared]].to_numpy(np.float64) for m in parts], axis=0)
    faces = joined[["path", "true", *(f"{m}_predicted" for m in parts)]]
    return faces, mean, shared, total_faces - len(joined)


def find_issues(given: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(flagged mask, label-quality scores) of ``given`` class indices under ``probs`` (n, k)."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    given = np.asarray(given, np.int64)
    if len(given) < 2 or len(np.unique(given)) < 2:
        raise AuditError(f"a label audit needs at least two faces of two different labels ({len(given)} face"
                         f"{'s' if len(given) != 1 else ''}, {len(np.unique(given))} label"
                         f"{'s' if len(np.unique(given)) != 1 else ''} here)")
    # n_jobs=1: no forked process pool inside the app's server (and a few thousand faces take milliseconds)
    flagged = find_label_issues(given, probs, filter_by=FILTER_BY, frac_noise=1.0, min_examples_per_class=1,
                                n_jobs=1)
    scores = get_label_quality_scores(given, probs, method=SCORE_METHOD, adjust_pred_probs=False)
    return np.asarray(flagged, bool), np.asarray(scores, np.float64)


def pair_counts(issues: pd.DataFrame) -> list[dict]:
    """Flagged faces per (label, suggested) pair, largest first."""
    if issues.empty:
        return []
    counts = issues.groupby(["label", "suggested"]).size().reset_index(name="count")
    counts = counts.sort_values(["count", "label", "suggested"], ascending=[False, True, True])
    return [{"label": r.label, "suggested": r.suggested, "count": int(r.count)} for r in counts.itertuples()]


def accuracy_without(predictions: pd.DataFrame, flagged: set[str]) -> dict:
    """A model's accuracy on all its faces and, as an estimate, on those not flagged."""
    right = (predictions["true"] == predictions["predicted"]).to_numpy()
    kept = ~predictions["path"].isin(flagged).to_numpy()
    return {"accuracy": float(right.mean()) if len(right) else None, "n_images": int(len(right)),
            "accuracy_without_flagged": float(right[kept].mean()) if kept.any() else None,
            "n_kept": int(kept.sum())}


def audit(answers: Sequence[ModelAnswers], name: str = ZOO, dataset: Mapping | None = None) -> Audit:
    """Flag and rank the faces whose label the models' averaged probabilities contradict (module doc).

    ``name`` is the audit's id (a model's, or ``zoo``); ``dataset`` (``name``, ``split``) goes into the
    summary. Raises :class:`AuditError` when the faces cannot be audited.
    """
    from core.training.provenance import git_commit

    faces, probs, labels, left_out = zoo_probabilities(answers)
    index = {label: i for i, label in enumerate(labels)}
    given = faces["true"].map(index).to_numpy(np.int64)
    flagged, scores = find_issues(given, probs)
    table = faces.rename(columns={"true": "label"}).assign(suggested=[labels[i] for i in probs.argmax(axis=1)],
                                                           score=scores, flagged=flagged)
    ranked = table.sort_values(["score", "path"], kind="stable").reset_index(drop=True)
    model_columns = [f"{a.model}_predicted" for a in answers]
    issues = ranked[ranked["flagged"]][[*ISSUE_COLUMNS, *model_columns]].reset_index(drop=True)
    flagged_paths = set(issues["path"])
    summary = {
        "audit": name, "models": [a.model for a in answers], "dataset": dict(dataset or {}), "labels": labels,
        "n_images": int(len(faces)), "n_left_out": int(left_out), "n_flagged": int(len(issues)),
        "flagged_share": float(len(issues) / len(faces)) if len(faces) else 0.0,
        "pairs": pair_counts(issues),
        "accuracy": {a.model: accuracy_without(a.predictions, flagged_paths) for a in answers},
        "method": method(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": git_commit(),
    }
    return Audit(issues, summary, ranked[["path", "label", "score", "flagged"]])


def answers_from_results(results: Mapping) -> list[ModelAnswers]:
    """Answers from in-memory evaluations (``core.evaluation.labelled.ModelResult`` by model): their
    predictions, the model's own labels and the temperature their calibration applied."""
    return [ModelAnswers(r.model, r.predictions, list(r.metrics.get("model_labels") or r.metrics["labels"]),
                         (r.metrics.get("calibration") or {}).get("temperature")) for r in results.values()]


def flagged_csv(result: Audit) -> bytes:
    """The flagged files as CSV bytes (the CLI's ``--csv`` and Your data's download): ``file``, ``label``,
    ``suggested``, ``score`` (0-1, lowest first) and each model's answer."""
    return result.issues.rename(columns={"path": "file"}).to_csv(index=False).encode("utf-8")


def summary_line(result: Audit) -> str:
    """One line for the terminal."""
    s = result.summary
    where = " ".join(str(v) for v in (s["dataset"].get("name"), s["dataset"].get("split")) if v)
    models = ", ".join(s["models"])
    return (f"label audit ({models}{' on ' + where if where else ''}): {s['n_flagged']} of {s['n_images']} faces "
            f"flagged ({s['flagged_share']:.1%}) as probably mislabelled"
            + (f"; {s['n_left_out']} left out (labels not every model has)" if s["n_left_out"] else ""))
