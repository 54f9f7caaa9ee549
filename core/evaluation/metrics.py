"""Scores from true and predicted labels: accuracy, F1s, per-class figures, confusions.

The one place top confusions are computed: :func:`top_confusions` ranks the off-diagonal cells of
a confusion matrix by count, largest first; ties go by the true label's position in ``labels``,
then the predicted label's (``labels`` is in :data:`core.labels.EMOTIONS` order), so the list is
deterministic and the same wherever it is shown.
"""
from __future__ import annotations

from collections.abc import Sequence

from core.labels import EMOTIONS

MAX_TOP_CONFUSIONS = 10


def metric_labels(classifier_labels, dataset_labels) -> list[str]:
    """The union of both label sets, in :data:`EMOTIONS` order (unknown names last, sorted)."""
    union = set(classifier_labels) | set(dataset_labels)
    return [label for label in EMOTIONS if label in union] + sorted(union - set(EMOTIONS))


def top_confusions(labels: Sequence[str], counts, limit: int | None = MAX_TOP_CONFUSIONS) -> list[dict]:
    """Off-diagonal cells of a confusion matrix (rows: true, columns: predicted), largest count first.

    Each is ``{"true", "predicted", "count", "share_of_true"}`` (the share of that true class's
    images). Ties: by the true label's position in ``labels``, then the predicted label's.
    ``limit=None`` keeps them all.
    """
    labels = list(labels)
    cells = []
    for i, row in enumerate(counts):
        row_total = int(sum(row))
        for j, count in enumerate(row):
            if i != j and count > 0:
                cells.append({"true": labels[i], "predicted": labels[j], "count": int(count),
                              "share_of_true": float(count / row_total) if row_total else 0.0})
    cells.sort(key=lambda c: (-c["count"], labels.index(c["true"]), labels.index(c["predicted"])))
    return cells if limit is None else cells[:limit]


def compute_metrics(y_true, y_pred, labels, *, intervals: bool = True) -> dict:
    """Accuracy, F1s, per-class figures, confusion matrix, top confusions, baselines and (unless
    ``intervals=False``) their 95% intervals, as ``docs/ARTIFACTS.md`` lists them.

    Macro and weighted F1 average only the classes with at least one true face: a class absent from
    the data has no F1 to average (scoring it 0 would pull the mean down for nothing the model did).
    Those classes are named in ``classes_absent`` and their ``per_class`` rows hold ``support: 0``
    and ``null`` precision, recall and F1.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    from core.evaluation.intervals import baselines, metric_intervals

    labels = list(labels)
    y_true, y_pred = list(y_true), list(y_pred)
    present = [label for label in labels if label in set(y_true)]
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    counts = confusion_matrix(y_true, y_pred, labels=labels)

    def average(kind: str) -> float:
        return float(f1_score(y_true, y_pred, labels=present, average=kind, zero_division=0)) if present else 0.0

    per_class = {label: ({"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                          "support": int(support[i])} if support[i] else
                         {"precision": None, "recall": None, "f1": None, "support": 0})
                 for i, label in enumerate(labels)}
    out = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": average("macro"), "weighted_f1": average("weighted"),
        "per_class": per_class,
        "classes_absent": [label for label in labels if label not in present],
        "confusion_matrix": {"labels": labels, "counts": counts.astype(int).tolist()},
        "top_confusions": top_confusions(labels, counts),
        "baselines": baselines(y_true, labels),
    }
    if intervals and y_true:
        out["intervals"] = metric_intervals(y_true, y_pred, labels)
    return out
