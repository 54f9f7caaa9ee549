"""Is model A really better than model B on these faces? A paired comparison of two models' answers.

Both models answered the same faces, so the question is about the faces where they differ:
:func:`outcome_counts` is the 2x2 table (both right, only A, only B, both wrong; the Mistakes page's
disagreement view draws the same table). From it:

* the difference in accuracy with a **paired percentile bootstrap** interval (the faces resampled
  with replacement, both models' answers kept together; the draws of
  :func:`core.evaluation.intervals.resample_indices`);
* an **exact McNemar test**: under "no difference" each discordant face is equally likely to favour
  either model, so ``only_a`` is Binomial(``only_a + only_b``, 1/2); the two-sided p-value is
  ``scipy.stats.binomtest``'s;
* when the gap is not significant, **how many faces would settle it**: Connor's (1987) sample size
  for McNemar's test at the 5% level with 80% power, from the observed discordant rate and gap;
* one plain sentence saying all of that (:func:`sentence`).
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from core.evaluation.intervals import CONFIDENCE, N_RESAMPLES, SEED, percentile_interval, resample_indices

ALPHA = 0.05
POWER = 0.8
POWER_METHOD = "Connor (1987) sample size for McNemar's test, two-sided 5% level, 80% power"


def outcome_counts(right_a, right_b) -> dict[str, int]:
    """``both_right``, ``only_a``, ``only_b``, ``both_wrong`` from two aligned boolean arrays."""
    a, b = np.asarray(right_a, bool), np.asarray(right_b, bool)
    if a.shape != b.shape:
        raise ValueError(f"the two models answered different numbers of faces ({a.size} and {b.size})")
    return {"both_right": int((a & b).sum()), "only_a": int((a & ~b).sum()), "only_b": int((~a & b).sum()),
            "both_wrong": int((~a & ~b).sum())}


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of ``only_a`` out of the discordant faces at 1/2."""
    from scipy.stats import binomtest

    discordant = only_a + only_b
    return 1.0 if discordant == 0 else float(binomtest(only_a, discordant, 0.5).pvalue)


def faces_to_settle(only_a: int, only_b: int, n: int, alpha: float = ALPHA, power: float = POWER) -> int | None:
    """About how many faces a McNemar test would need to call a gap this size real (Connor 1987):
    ``n = (z_a sqrt(p_d) + z_b sqrt(p_d - d^2))^2 / d^2`` with discordant rate ``p_d`` and gap ``d``.
    None when there is no gap to settle."""
    from scipy.stats import norm

    if n < 1 or only_a == only_b:
        return None
    discordant, gap = (only_a + only_b) / n, abs(only_a - only_b) / n
    z_a, z_b = norm.ppf(1 - alpha / 2), norm.ppf(power)
    needed = (z_a * math.sqrt(discordant) + z_b * math.sqrt(max(discordant - gap * gap, 0.0))) ** 2 / gap ** 2
    return int(math.ceil(needed))


def paired_interval(right_a, right_b, n_resamples: int = N_RESAMPLES, seed: int = SEED,
                    confidence: float = CONFIDENCE) -> list[float]:
    """The percentile bootstrap interval of accuracy(A) - accuracy(B), resampling faces in pairs."""
    diff = np.asarray(right_a, np.int8) - np.asarray(right_b, np.int8)
    means = np.concatenate([diff[chunk].mean(axis=1) for chunk in resample_indices(len(diff), n_resamples, seed)])
    return percentile_interval(means, confidence)


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


def sentence(comparison: Mapping, name_a: str, name_b: str) -> str:
    """One plain sentence: the gap in points, its interval, the test, and whether it is real."""
    n, gap = comparison["n"], comparison["difference"] * 100
    lo, hi = (v * 100 for v in comparison["interval"])
    evidence = f"(95% CI {lo:.1f} to {hi:.1f}; McNemar {_p_text(comparison['mcnemar_p'])})"
    if gap == 0:
        claim = f"{name_a} and {name_b} are right equally often {evidence}"
    else:
        better, worse = (name_a, name_b) if gap > 0 else (name_b, name_a)
        if gap < 0:  # the interval of the better model's lead, as the sentence reads
            lo, hi = -hi, -lo
            evidence = f"(95% CI {lo:.1f} to {hi:.1f}; McNemar {_p_text(comparison['mcnemar_p'])})"
        claim = f"{better} is right {abs(gap):.1f} points more often than {worse} {evidence}"
    if comparison["mcnemar_p"] < ALPHA and (lo > 0 or hi < 0):
        return f"On these {n:,} faces {claim}: the difference is real."
    needed = comparison.get("faces_to_settle")
    settle = (f"; about {needed:,} faces would settle a gap this size" if needed else
              "; there is no gap to settle")
    return f"On these {n:,} faces {claim}: the difference is within noise{settle}."


def display_names(models) -> dict[str, str]:
    """The names people read, from each model's record."""
    from core.models import registry

    return {m: registry.describe(m).title for m in models}


def compare(a: str, b: str, right_a, right_b, names: Mapping[str, str] | None = None) -> dict:
    """One entry of ``comparisons`` (see docs/ARTIFACTS.md): ``a``'s accuracy minus ``b``'s on the same
    faces, its interval, the 2x2 counts, the McNemar p-value, the faces needed and the sentence.
    ``names`` maps the ids to the names people read (default: the ids)."""
    counts = outcome_counts(right_a, right_b)
    n = sum(counts.values())
    if n == 0:
        raise ValueError(f"{a} and {b} share no scored face")
    out = {"a": a, "b": b, "n": n, "difference": (counts["only_a"] - counts["only_b"]) / n,
           "interval": paired_interval(right_a, right_b), **counts,
           "mcnemar_p": mcnemar_exact(counts["only_a"], counts["only_b"]),
           "faces_to_settle": faces_to_settle(counts["only_a"], counts["only_b"], n),
           "power_method": POWER_METHOD}
    names = names if names is not None else display_names((a, b))
    out["sentence"] = sentence(out, names.get(a, a), names.get(b, b))
    return out


def correctness(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per face every model scored (joined on ``path``): ``true`` and, per model, whether it
    was right (a bool column named after the model)."""
    joined = None
    for model, frame in frames.items():
        part = frame[["path", "true", "predicted"]].drop_duplicates("path")
        part = part.assign(**{model: part["predicted"] == part["true"]}).drop(columns=["predicted"])
        joined = part if joined is None else joined.merge(part.drop(columns=["true"]), on="path", how="inner")
    return joined if joined is not None else pd.DataFrame(columns=["path", "true"])


def compare_frames(frames: Mapping[str, pd.DataFrame], names: Mapping[str, str] | None = None) -> list[dict]:
    """Every unordered pair of models (in ``frames`` order) on the faces both scored, matched by path:
    their ``predictions.csv`` tables. Pairs sharing no face are left out."""
    models, out = list(frames), []
    for i, a in enumerate(models):
        for b in models[i + 1:]:
            right = correctness({a: frames[a], b: frames[b]})
            if len(right):
                out.append(compare(a, b, right[a].to_numpy(), right[b].to_numpy(), names))
    return out


def by_model(frames: Mapping[str, pd.DataFrame], names: Mapping[str, str] | None = None) -> dict[str, list[dict]]:
    """For each model, its comparison with every other one (``a`` is the model itself), on the faces
    both scored, matched by path; what each model's ``metrics.json`` stores under ``comparisons``."""
    out: dict[str, list[dict]] = {}
    for a in frames:
        out[a] = []
        for b in frames:
            if b != a:
                right = correctness({a: frames[a], b: frames[b]})
                if len(right):
                    out[a].append(compare(a, b, right[a].to_numpy(), right[b].to_numpy(), names))
    return out


def store_comparisons(eval_dirs) -> dict[str, list[dict]]:
    """Rewrite ``comparisons`` in the ``metrics.json`` of each evaluation folder (``models/<id>/eval/
    <dataset>-<split>/``, all on the same split): every model against every other, from their
    ``predictions.csv``, matched by path. Returns ``{model: comparisons}``."""
    import json
    from pathlib import Path

    from core.paths import write_json

    metrics, frames = {}, {}
    for folder in map(Path, eval_dirs):
        if (folder / "metrics.json").is_file() and (folder / "predictions.csv").is_file():
            data = json.loads((folder / "metrics.json").read_text())
            model = data.get("model") or folder.parent.parent.name  # models/<id>/eval/<key>
            metrics[model] = (folder, data)
            frames[model] = pd.read_csv(folder / "predictions.csv", usecols=["path", "true", "predicted"])
    found = by_model(frames)
    for model, (folder, data) in metrics.items():
        data["comparisons"] = found.get(model, [])
        write_json(folder / "metrics.json", data)
    return found
