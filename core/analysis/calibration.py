"""How far to trust a model's confidence: calibration measures and temperature scaling.

* :func:`calibration_report`: expected calibration error (ECE, 15 equal-width bins of top-label
  confidence, Guo et al. 2017), negative log-likelihood (scikit-learn's ``log_loss``) and the
  multi-class Brier score, with the per-bin numbers a reliability diagram draws.
* :func:`fit_temperature` / :func:`apply_temperature`: one temperature ``T`` for all classes,
  ``softmax(log p / T)``; ``T < 1`` sharpens an under-confident model (label smoothing makes ours
  so), ``T > 1`` softens an over-confident one. The arg-max, hence accuracy, never changes.

Why a one-dimensional minimisation and not scikit-learn: ``CalibratedClassifierCV(method=
"temperature")`` over a ``FrozenEstimator`` does work on stored probabilities (it needs a
pass-through estimator whose ``predict_proba`` returns its input, and gives the same ``T``, 0.904 on
our PublicTest predictions), but it exposes the temperature only through private attributes
(``calibrated_classifiers_[0].calibrators[0].beta_``), while we need ``T`` as a number to store in
``model.json`` and apply to single faces in the app. The minimisation below is what scikit-learn
runs internally (bounded Brent on log T of the multinomial NLL); the tests check that both agree.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

N_BINS = 15
_FLOOR = 1e-12  # log(0) guard when probabilities are turned into logits (as scikit-learn does)


def _check(probs, y_true) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probs, np.float64)
    y_true = np.asarray(y_true)
    if probs.ndim != 2 or probs.shape[0] == 0:
        raise ValueError(f"probabilities must be a non-empty (n, k) array, got shape {probs.shape}")
    if y_true.shape != (probs.shape[0],):
        raise ValueError(f"need one true class per row: {y_true.shape[0] if y_true.ndim else 0} labels "
                         f"for {probs.shape[0]} rows")
    if not np.issubdtype(y_true.dtype, np.integer) or y_true.min() < 0 or y_true.max() >= probs.shape[1]:
        raise ValueError(f"true classes must be integers in 0..{probs.shape[1] - 1}")
    if not np.isfinite(probs).all() or (probs < 0).any():
        raise ValueError("probabilities must be finite and non-negative")
    total = probs.sum(axis=1, keepdims=True)
    if (total <= 0).any():
        raise ValueError("every row needs a positive probability")
    return probs / total, y_true  # stored float32 rows sum to 1 only up to rounding


def reliability_bins(probs, y_true, n_bins: int = N_BINS) -> list[dict]:
    """Equal-width bins (lower, upper] of top-label confidence: count, mean confidence, accuracy.

    Empty bins are listed with count 0 and ``None`` for confidence and accuracy.
    """
    probs, y_true = _check(probs, y_true)
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    index = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    bins = []
    for b in range(n_bins):
        mask = index == b
        count = int(mask.sum())
        bins.append({"lower": b / n_bins, "upper": (b + 1) / n_bins, "count": count,
                     "confidence": float(confidence[mask].mean()) if count else None,
                     "accuracy": float(correct[mask].mean()) if count else None})
    return bins


def expected_calibration_error(bins: Sequence[dict]) -> float:
    """ECE: the count-weighted mean gap |accuracy - confidence| over the bins."""
    total = sum(b["count"] for b in bins)
    return float(sum(b["count"] * abs(b["accuracy"] - b["confidence"]) for b in bins if b["count"]) / total)


def calibration_report(probs, y_true, n_bins: int = N_BINS) -> dict:
    """``ece``, ``nll`` (also stored as ``log_loss``, the name most readers know), ``brier`` and ``bins``.

    Brier is the multi-class score (Brier 1950): squared error summed over classes, 0..2, written
    out because scikit-learn's ``brier_score_loss`` switches to the one-class form for two classes.
    """
    from sklearn.metrics import log_loss

    probs, y_true = _check(probs, y_true)
    labels = list(range(probs.shape[1]))
    bins = reliability_bins(probs, y_true, n_bins)
    nll = float(log_loss(y_true, probs, labels=labels))
    return {"ece": expected_calibration_error(bins), "nll": nll, "log_loss": nll,
            "brier": float(((probs - np.eye(probs.shape[1])[y_true]) ** 2).sum(axis=1).mean()), "bins": bins}


def _logits(values, logits: bool) -> np.ndarray:
    values = np.asarray(values, np.float64)
    return values if logits else np.log(np.maximum(values, _FLOOR))


def apply_temperature(probs, temperature: float, logits: bool = False) -> np.ndarray:
    """``softmax(log p / T)`` row by row (``softmax(z / T)`` when ``logits``)."""
    if not np.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a positive number, got {temperature}")
    return softmax(_logits(probs, logits) / temperature, axis=-1)


def fit_temperature(probs_or_logits, y_true, logits: bool = False, bounds: tuple[float, float] = (-5.0, 5.0)) -> float:
    """The temperature minimising the NLL of ``y_true``; searched over log T within ``bounds``.

    Pass stored probabilities (``logits=False``; their logs stand in for the logits, which only
    shifts each row by a constant softmax ignores) or raw logits (``logits=True``).
    """
    z = _logits(probs_or_logits, logits)
    if z.ndim != 2 or len(z) == 0:
        raise ValueError(f"need a non-empty (n, k) array, got shape {z.shape}")
    if not logits:
        _check(probs_or_logits, y_true)
    y_true = np.asarray(y_true)
    rows = np.arange(len(z))

    def nll(log_t: float) -> float:
        return float(-log_softmax(z * np.exp(-log_t), axis=1)[rows, y_true].mean())

    result = minimize_scalar(nll, bounds=bounds, method="bounded", options={"xatol": 1e-6})
    if not result.success:
        raise RuntimeError(f"temperature fit failed: {result.message}")
    return float(np.exp(result.x))


def fit_calibration(probs, y_true, split: str) -> dict:
    """What ``model.json`` stores under ``calibration``: the temperature and its evidence."""
    temperature = fit_temperature(probs, y_true)
    before = calibration_report(probs, y_true)
    after = calibration_report(apply_temperature(probs, temperature), y_true)
    return {"temperature": temperature, "fitted_on": split, "n_images": len(y_true),
            "nll_before": before["nll"], "nll_after": after["nll"],
            "method": "temperature scaling: 1-D minimisation of NLL over log T (scipy, bounded)"}


def add_calibration(metrics: dict, probs, y_true, temperature: float | None = None) -> dict:
    """Fill ``metrics["calibration"]`` (and return ``metrics``), as ``metrics.json`` stores it.

    With a ``temperature`` (fitted on another split), the scaled figures are added:
    ``temperature``, ``ece_temperature_scaled``, ``nll_temperature_scaled``, plus
    ``brier_temperature_scaled`` and ``bins_temperature_scaled`` for the table and the diagram.
    """
    section = calibration_report(probs, y_true)
    if temperature is not None:
        scaled = calibration_report(apply_temperature(probs, temperature), y_true)
        section.update({"temperature": float(temperature), "ece_temperature_scaled": scaled["ece"],
                        "nll_temperature_scaled": scaled["nll"], "log_loss_temperature_scaled": scaled["nll"],
                        "brier_temperature_scaled": scaled["brier"],
                        "bins_temperature_scaled": scaled["bins"]})
    metrics["calibration"] = section
    return metrics


def predictions_from_csv(path: str | Path, labels: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray, tuple]:
    """(probabilities, true class indices, labels) from an evaluation's ``predictions.csv``.

    Columns ``true`` and ``p_<label>``; ``labels`` defaults to the ``p_`` columns in file order.
    """
    import pandas as pd

    table = pd.read_csv(path)
    labels = tuple(labels or [c[2:] for c in table.columns if c.startswith("p_")])
    missing = [f"p_{label}" for label in labels if f"p_{label}" not in table.columns]
    if "true" not in table.columns or missing or not labels:
        raise ValueError(f"{path}: not a predictions.csv (needs 'true' and p_<label> columns; "
                         f"missing {', '.join(missing) or 'true'})")
    unknown = sorted(set(table["true"]) - set(labels))
    if unknown:
        raise ValueError(f"{path}: true labels not among the model's labels: {', '.join(map(str, unknown))}")
    index = {label: i for i, label in enumerate(labels)}
    return (table[[f"p_{label}" for label in labels]].to_numpy(np.float64),
            table["true"].map(index).to_numpy(np.int64), labels)
