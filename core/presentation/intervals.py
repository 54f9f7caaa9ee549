"""The intervals and paired tests stored in ``metrics.json``, as tables (issue 26's schema).

The evaluation writes ``intervals``, ``baselines`` and ``comparisons`` into ``metrics.json``; these builders
only lay them out, so every report (the HTML report, the pages) reads the same rows. A metrics dict written
before intervals existed gives no rows, and :data:`MISSING` says how to refresh it.

Examples
--------
>>> from core.presentation.report import ModelScores
>>> metrics = {"accuracy": 0.5, "macro_f1": 0.4, "intervals": {"method": "percentile bootstrap",
...            "confidence": 0.95, "accuracy": [0.4, 0.6], "macro_f1": [0.3, 0.5]}}
>>> interval_table([ModelScores(name="fer2013_cnn", metrics=metrics)]).iloc[0]["interval"]
'40.0 to 60.0'
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

MISSING = ("This evaluation predates intervals and paired tests: rerun `python -m core evaluate` for these models "
           "(or `make evaluate-all`) to add them to metrics.json.")


def has_intervals(metrics: Mapping) -> bool:
    return isinstance(metrics.get("intervals"), Mapping)


def _pair(value) -> tuple[float, float] | None:
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        return float(value[0]), float(value[1])
    return None


def _span(value, scale: float, digits: int) -> str | None:
    pair = _pair(value)
    return None if pair is None else f"{pair[0] * scale:.{digits}f} to {pair[1] * scale:.{digits}f}"


def _confidence(intervals: Mapping) -> str:
    level = intervals.get("confidence")
    return f"{level:.0%}" if isinstance(level, (int, float)) else "95%"


def interval_table(scores: Sequence) -> pd.DataFrame:
    """One row per model and measure (accuracy in percent, macro F1): value, its interval, how it was
    computed, and the baselines beside the accuracy. Models without ``intervals`` are left out."""
    rows = []
    for score in scores:
        m, intervals = score.metrics, score.metrics.get("intervals")
        if not isinstance(intervals, Mapping):
            continue
        baselines = m.get("baselines") if isinstance(m.get("baselines"), Mapping) else {}
        majority = baselines.get("majority_class") if isinstance(baselines.get("majority_class"), Mapping) else {}
        for measure, key, scale, digits in (("accuracy (%)", "accuracy", 100, 1), ("macro F1", "macro_f1", 1, 3)):
            value = m.get(key)
            rows.append({"model": score.label, "measure": measure,
                         "value": f"{value * scale:.{digits}f}" if isinstance(value, (int, float)) else "—",
                         "interval": _span(intervals.get(key), scale, digits) or "—",
                         "majority-class accuracy (%)": (f"{majority['accuracy'] * 100:.1f} ({majority.get('label')})"
                                                         if key == "accuracy" and "accuracy" in majority else ""),
                         "stratified chance (%)": (f"{baselines['stratified_chance'] * 100:.1f}"
                                                   if key == "accuracy" and isinstance(baselines.get("stratified_chance"),
                                                                                       (int, float)) else "")})
    return pd.DataFrame(rows)


def methods(scores: Sequence) -> list[str]:
    """How each model's intervals were computed, once per distinct method: ``95% <method> (2,000
    resamples, seed 0): CNN, DeepFace``."""
    by_method: dict[str, list[str]] = {}
    for score in scores:
        intervals = score.metrics.get("intervals")
        if not isinstance(intervals, Mapping):
            continue
        details = ", ".join(p for p in (intervals.get("n_resamples") and f"{intervals['n_resamples']:,} resamples",
                                        intervals.get("seed") is not None and f"seed {intervals['seed']}") if p)
        text = f"{_confidence(intervals)} {intervals.get('method') or 'interval'}" + (f" ({details})" if details else "")
        by_method.setdefault(text, []).append(score.label)
    return [f"{text}: {', '.join(models)}" for text, models in by_method.items()]


def per_class_interval_table(scores: Sequence) -> pd.DataFrame:
    """One row per model and emotion: precision, recall and F1 with their intervals (``—`` where the
    class has no support and no score)."""
    rows = []
    for score in scores:
        intervals = score.metrics.get("intervals")
        if not isinstance(intervals, Mapping) or not isinstance(intervals.get("per_class"), Mapping):
            continue
        per_class = score.metrics.get("per_class") or {}
        for label, spans in intervals["per_class"].items():
            values = per_class.get(label) or {}
            row = {"model": score.label, "emotion": label, "support": values.get("support")}
            for measure in ("precision", "recall", "f1"):
                value = values.get(measure)
                span = _span((spans or {}).get(measure), 1, 3)
                row[measure] = f"{value:.3f} ({span})" if isinstance(value, (int, float)) and span else (
                    f"{value:.3f}" if isinstance(value, (int, float)) else "—")
            rows.append(row)
    return pd.DataFrame(rows)


def absent_classes(scores: Sequence) -> dict[str, list[str]]:
    """``{model shown name: [labels with no image]}`` for the models whose metrics name any."""
    return {s.label: list(s.metrics["classes_absent"]) for s in scores
            if isinstance(s.metrics.get("classes_absent"), list) and s.metrics["classes_absent"]}


def comparisons(scores: Sequence, extra: Sequence[Mapping] = ()) -> list[dict]:
    """Every stored pairwise comparison among these models, once per pair: from each model's
    ``metrics.json`` ``comparisons`` and from ``extra`` (a ``comparison.json``'s list)."""
    names = {s.name for s in scores}
    seen, out = set(), []
    for item in [c for s in scores for c in (s.metrics.get("comparisons") or [])] + list(extra):
        if not isinstance(item, Mapping) or item.get("a") not in names or item.get("b") not in names:
            continue
        pair = frozenset((item["a"], item["b"]))
        if pair not in seen:
            seen.add(pair)
            out.append(dict(item))
    return out


def _p(value) -> str:
    if not isinstance(value, (int, float)):
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def comparison_table(items: Sequence[Mapping], label=str) -> pd.DataFrame:
    """One row per pair: faces, accuracy difference (points, a minus b) with its interval, the 2x2
    agree/disagree counts, McNemar's exact p and the sentence; ``label(model id)`` names the models."""
    rows = []
    for c in items:
        difference = c.get("difference")
        rows.append({"A": label(c["a"]), "B": label(c["b"]), "faces": c.get("n"),
                     "A - B (points)": f"{difference * 100:+.1f}" if isinstance(difference, (int, float)) else "—",
                     "95% CI (points)": _span(c.get("interval"), 100, 1) or "—",
                     "both right": c.get("both_right"), "only A right": c.get("only_a"),
                     "only B right": c.get("only_b"), "both wrong": c.get("both_wrong"),
                     "McNemar p": _p(c.get("mcnemar_p")), "in words": c.get("sentence") or ""})
    return pd.DataFrame(rows)
