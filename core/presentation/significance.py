"""How sure the scores are: intervals, chance baselines and the paired comparisons, as tables and text.

Pure builders over the ``intervals``, ``baselines``, ``classes_absent`` and ``comparisons`` fields of
``metrics.json`` (computed in :mod:`core.evaluation.intervals` and :mod:`core.evaluation.paired`),
so the Evaluation, Your data and About pages show the same figures, through ``pages/report.py``.

Examples
--------
>>> interval_text([0.673, 0.703], percent=True)
'67.3–70.3%'
>>> interval_text([0.6295, 0.6747])
'0.629–0.675'
>>> interval_text(None)
''
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from core.presentation import charts

NO_SUPPORT = "no true face here: not scored"
MISSING = ("This evaluation predates intervals and paired tests: rerun `python -m core evaluate` for these models "
           "(or `make evaluate-all`) to add them to metrics.json.")
COMPARISON_KEYS = {"a", "b", "n", "difference", "interval", "both_right", "only_a", "only_b", "both_wrong",
                   "mcnemar_p", "sentence"}
READING = (
    "**How to read these.** Each score comes with a 95% interval: the faces were resampled with replacement 2,000 "
    "times (a seeded bootstrap) and the interval holds the middle 95% of the scores on those resamples, so a "
    "different set of faces like these would most likely score inside it. Two models scored on the same faces are "
    "compared on the faces where exactly one of them is right: the exact McNemar test asks whether that split "
    "could be a coin toss, and the paired bootstrap gives the interval of the gap. A gap is called real when "
    "p < 0.05 and its interval leaves out 0; otherwise the sentence says how many faces would settle it "
    "(Connor 1987: 5% level, 80% power). The baselines are what a model with no skill gets: always answering the "
    "most common emotion, or guessing with the data's class shares.")


def interval_text(interval: Sequence[float] | None, *, percent: bool = False) -> str:
    """``lo–hi`` (percent with one decimal, else three decimals); empty without an interval."""
    if not interval:
        return ""
    lo, hi = interval
    return f"{lo * 100:.1f}–{hi * 100:.1f}%" if percent else f"{lo:.3f}–{hi:.3f}"


def intervals_of(metrics: Mapping) -> Mapping:
    found = metrics.get("intervals")
    return found if isinstance(found, Mapping) else {}


def methods(metrics_by_label: Mapping[str, Mapping]) -> list[str]:
    """How each model's intervals were computed, once per distinct method: ``95% <method> (2,000
    resamples, seed 0): CNN, DeepFace`` (keys are the models' shown names)."""
    by_method: dict[str, list[str]] = {}
    for label, metrics in metrics_by_label.items():
        ci = intervals_of(metrics)
        if not ci:
            continue
        details = ", ".join(p for p in (ci.get("n_resamples") and f"{ci['n_resamples']:,} resamples",
                                        ci.get("seed") is not None and f"seed {ci['seed']}") if p)
        level = ci.get("confidence")
        text = (f"{level:.0%} " if isinstance(level, (int, float)) else "95% ") + (ci.get("method") or "interval")
        by_method.setdefault(text + (f" ({details})" if details else ""), []).append(label)
    return [f"{text}: {', '.join(labels)}" for text, labels in by_method.items()]


def headline_extras(metrics: Mapping) -> dict:
    """The headline table's extra cells: both intervals, both baselines (percent) and the absent
    classes; None where the metrics do not hold them (an older metrics.json)."""
    ci, base = intervals_of(metrics), metrics.get("baselines") or {}
    majority = base.get("majority_class") or {}
    chance = base.get("stratified_chance")
    return {"accuracy 95% CI": interval_text(ci.get("accuracy"), percent=True) or None,
            "macro F1 95% CI": interval_text(ci.get("macro_f1")) or None,
            "always the commonest": (f"{majority['accuracy'] * 100:.1f}% ({majority['label']})"
                                     if majority.get("label") else None),
            "chance": f"{chance * 100:.1f}%" if isinstance(chance, (int, float)) else None,
            "classes absent": ", ".join(metrics.get("classes_absent") or []) or None}


def per_class_extras(metrics: Mapping, label: str) -> dict:
    """A per-class row's intervals for one model (``precision 95% CI`` ...), or the no-support mark."""
    row = (metrics.get("per_class") or {}).get(label) or {}
    ci = (intervals_of(metrics).get("per_class") or {}).get(label) or {}
    if row.get("support") == 0:
        return {f"{m} 95% CI": NO_SUPPORT for m in ("precision", "recall", "F1")}
    return {f"{name} 95% CI": interval_text(ci.get(key)) for key, name in (("precision", "precision"),
                                                                           ("recall", "recall"), ("f1", "F1"))}


def _unique_pairs(metrics_by_model: Mapping[str, Mapping], extra: Sequence[Mapping] = ()) -> list[dict]:
    """Each comparison once (A against B, A first in the given order), among the models given; ``extra``
    adds comparisons stored apart (a ``comparison.json``'s list)."""
    models, seen, out = list(metrics_by_model), set(), []
    stored = [metrics_by_model[m].get("comparisons") for m in models] + [list(extra)]
    for found in stored:
        for c in found if isinstance(found, list) else []:
            if not isinstance(c, Mapping) or not set(c) >= COMPARISON_KEYS:
                continue  # a hand-edited or older entry: left out rather than breaking the page
            pair = frozenset((c["a"], c["b"]))
            if c["a"] in models and c["b"] in models and pair not in seen:
                seen.add(pair)
                out.append(c)
    return out


def comparison_sentences(metrics_by_model: Mapping[str, Mapping], extra: Sequence[Mapping] = ()) -> list[str]:
    """The plain sentence of every pair of the shown models."""
    return [c["sentence"] for c in _unique_pairs(metrics_by_model, extra)]


def comparison_table(metrics_by_model: Mapping[str, Mapping], extra: Sequence[Mapping] = ()) -> pd.DataFrame | None:
    """One row per pair of shown models: the gap in points with its interval, the 2x2 counts, McNemar's
    p and the faces that would settle the gap; None when no pair was compared."""
    pairs = _unique_pairs(metrics_by_model, extra)
    if not pairs:
        return None
    rows = [{"model A": charts.display_name(c["a"]), "model B": charts.display_name(c["b"]), "faces": c["n"],
             "A − B (points)": c["difference"] * 100, "95% CI (points)": f"{c['interval'][0] * 100:.1f} to {c['interval'][1] * 100:.1f}",
             "both right": c["both_right"], "only A right": c["only_a"], "only B right": c["only_b"],
             "both wrong": c["both_wrong"], "McNemar p": c["mcnemar_p"],
             "faces to settle": c.get("faces_to_settle")} for c in pairs]
    return pd.DataFrame(rows)


def baselines_caption(metrics: Mapping) -> str:
    """One line: what no skill would score on these faces."""
    base = metrics.get("baselines") or {}
    majority = base.get("majority_class")
    if not majority:
        return ""
    return (f"No-skill baselines on these faces: always answering {majority['label']} scores "
            f"{majority['accuracy']:.1%}; guessing with the class shares scores {base['stratified_chance']:.1%}.")


def absent_caption(metrics: Mapping) -> str:
    """One line naming the classes with no true face (left out of macro F1), or nothing."""
    absent = metrics.get("classes_absent") or []
    if not absent:
        return ""
    return (f"No true face of {', '.join(absent)} in these images: "
            f"{'it is' if len(absent) == 1 else 'they are'} left out of macro F1, and "
            f"{'its' if len(absent) == 1 else 'their'} per-class rows are marked, not scored.")


def slices_table(slices: Mapping | None) -> pd.DataFrame | None:
    """One row per model and slice: size, accuracy and macro F1 with their intervals, the Holm-adjusted
    p-value of "worse than its overall accuracy" and the flag; None without slices."""
    if not slices or not slices.get("slices"):
        return None
    rows = [{"model": charts.display_name(r["model"]), "column": r["column"], "value": r["value"], "faces": r["n"],
             "accuracy": r["accuracy"] * 100, "accuracy 95% CI": interval_text(r["accuracy_interval"], percent=True),
             "macro F1": r["macro_f1"], "macro F1 95% CI": interval_text(r["macro_f1_interval"]),
             "p (Holm)": r["p_holm"], "worse than overall": "yes" if r["worse"] else ""} for r in slices["slices"]]
    return pd.DataFrame(rows)


def slices_caption(slices: Mapping) -> str:
    """How the slices were matched and tested, in one paragraph."""
    worse = [r for r in slices["slices"] if r["worse"]]
    flagged = "; ".join(f"{charts.display_name(r['model'])} on {r['column']} = {r['value']} "
                        f"({r['accuracy']:.1%} of {r['n']})" for r in worse)
    return (f"{slices['n_matched']:,} images matched a metadata row, {slices['n_unmatched']:,} did not. "
            f"Method: {slices['method']}. "
            + (f"Significantly worse than overall: {flagged}." if worse else
               "No slice is significantly worse than the model's overall accuracy."))
