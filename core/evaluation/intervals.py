"""95% intervals and chance baselines for the scores of one evaluation, seeded so artifacts reproduce.

A score from 927 faces is an estimate: another 927 faces from the same source would give another
figure. :func:`metric_intervals` says how far it could move with a **percentile bootstrap over
faces**: the faces are resampled with replacement ``n_resamples`` times (a seeded numpy generator,
so a stored ``metrics.json`` is reproduced exactly), every score is recomputed on each resample, and
the 2.5th and 97.5th percentiles of those scores bound the 95% interval. One vectorised pass builds
every resample's confusion matrix (``np.bincount``), from which accuracy, macro F1 and per-class
precision/recall/F1 all follow, so 2,000 resamples of 3,589 faces take well under a second.

:func:`wilson_interval` is the closed-form interval of a proportion; the tests check the bootstrap
against it. :func:`baselines` gives the two accuracies a model must beat to have learnt anything:
always answering the most common true class, and guessing at random with the data's class shares.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

N_RESAMPLES = 2000
SEED = 0
CONFIDENCE = 0.95
METHOD = ("percentile bootstrap over faces: the faces resampled with replacement {n} times (numpy "
          "default_rng, seed {seed}), every score recomputed on each resample, interval = the "
          "{lo:g}th to {hi:g}th percentiles")
_CHUNK_CELLS = 8_000_000  # resampled indices held at once (int32): about 32 MB whatever the data size


def resample_indices(n: int, n_resamples: int = N_RESAMPLES, seed: int = SEED) -> Iterator[np.ndarray]:
    """Chunks of bootstrap resamples, ``(rows, n)`` face indices drawn with replacement.

    The same ``(n, n_resamples, seed)`` always yields the same resamples, so two models' paired
    bootstrap and their own intervals can use identical draws.
    """
    if n < 1:
        raise ValueError("cannot resample an empty set of faces")
    rng = np.random.default_rng(seed)
    rows = max(1, _CHUNK_CELLS // n)
    for start in range(0, n_resamples, rows):
        yield rng.integers(0, n, size=(min(rows, n_resamples - start), n), dtype=np.int32)


def percentile_interval(values: np.ndarray, confidence: float = CONFIDENCE) -> list[float] | None:
    """``[lo, hi]``, the central ``confidence`` share of ``values`` (NaNs ignored); None when all are NaN."""
    values = np.asarray(values, np.float64)
    if not np.isfinite(values).any():
        return None
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.nanpercentile(values, [tail, 100 - tail])
    return [float(lo), float(hi)]


def _resampled_confusions(truth: np.ndarray, predicted: np.ndarray, k: int, n_resamples: int,
                          seed: int) -> np.ndarray:
    """``(n_resamples, k, k)`` confusion counts (rows true), one per bootstrap resample."""
    cells = truth.astype(np.int64) * k + predicted
    out = []
    for chunk in resample_indices(len(truth), n_resamples, seed):
        offsets = (np.arange(len(chunk), dtype=np.int64) * k * k)[:, None]
        flat = np.bincount((cells[chunk] + offsets).ravel(), minlength=len(chunk) * k * k)
        out.append(flat.reshape(len(chunk), k, k))
    return np.concatenate(out)


def _scores(confusions: np.ndarray, present: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy, macro F1 (over ``present`` classes) and per-class P/R/F1 of each confusion matrix.

    Precision of a class never predicted is 0 (scikit-learn's ``zero_division=0``, as the point
    estimate); recall of a class absent from a resample is NaN and left out of its percentiles.
    """
    tp = np.diagonal(confusions, axis1=1, axis2=2).astype(np.float64)
    predicted, support = confusions.sum(axis=1), confusions.sum(axis=2)
    n = confusions.sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, np.nan)
        denominator = predicted + support
        f1 = np.where(denominator > 0, 2 * tp / denominator, np.nan)
        macro = np.nanmean(np.where(present, np.nan_to_num(f1), np.nan), axis=1) if present.any() else None
    return {"accuracy": tp.sum(axis=1) / n, "macro_f1": macro, "precision": precision, "recall": recall, "f1": f1}


def metric_intervals(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str], *,
                     n_resamples: int = N_RESAMPLES, seed: int = SEED, confidence: float = CONFIDENCE) -> dict:
    """``metrics.json``'s ``intervals``: method, settings, ``accuracy``, ``macro_f1`` and ``per_class``.

    Macro F1 averages the classes with at least one true face (as :func:`compute_metrics` does);
    a class with no true face gets no per-class interval (its row holds ``null``).
    """
    labels = list(labels)
    index = {label: i for i, label in enumerate(labels)}
    truth = np.array([index[t] for t in y_true], np.int64)
    predicted = np.array([index[p] for p in y_pred], np.int64)
    support = np.bincount(truth, minlength=len(labels))
    scores = _scores(_resampled_confusions(truth, predicted, len(labels), n_resamples, seed), support > 0)
    tail = (1 - confidence) / 2 * 100
    per_class = {}
    for j, label in enumerate(labels):
        per_class[label] = ({m: percentile_interval(scores[m][:, j], confidence) for m in ("precision", "recall", "f1")}
                            if support[j] else {"precision": None, "recall": None, "f1": None})
    macro = scores["macro_f1"]
    return {"method": METHOD.format(n=n_resamples, seed=seed, lo=tail, hi=100 - tail), "confidence": confidence,
            "n_resamples": n_resamples, "seed": seed,
            "accuracy": percentile_interval(scores["accuracy"], confidence),
            "macro_f1": percentile_interval(macro, confidence) if macro is not None else None,
            "per_class": per_class}


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson's score interval of a proportion (closed form; good even near 0 or 1)."""
    from scipy.stats import norm

    if n < 1:
        raise ValueError("a proportion needs at least one trial")
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return float(centre - half), float(centre + half)


def baselines(y_true: Sequence[str], labels: Sequence[str]) -> dict:
    """``metrics.json``'s ``baselines``: the accuracy of always answering the most common true class
    (ties: the first in ``labels``) and the expected accuracy of guessing at random with the data's
    class shares (the sum of the squared shares)."""
    labels = list(labels)
    counts = np.array([sum(1 for t in y_true if t == label) for label in labels], np.float64)
    total = counts.sum()
    if total == 0:
        return {"majority_class": None, "stratified_chance": None}
    best = int(counts.argmax())
    return {"majority_class": {"label": labels[best], "accuracy": float(counts[best] / total)},
            "stratified_chance": float(((counts / total) ** 2).sum())}
