"""The robustness lab: every model on a fixed subset of faces under every corruption at five severities.

:func:`stratified_subset` draws the faces (seeded, per class in proportion, 1,000 by default), and
:func:`run_robustness` reads them once, corrupts them once per family and severity
(:mod:`core.analysis.corruptions`) and gives each model all five severities of a family in one batched
call, so the cost is one forward pass per corrupted face. The result per model is the
``robustness.json`` dict (see ``docs/ARTIFACTS.md``): accuracy and per-class recall at each severity,
the mean over corruptions (ImageNet-C's mean corruption accuracy), the relative drop from clean, and
which emotions break first. :func:`write_robustness` stores it, with ``robustness.csv`` (one row per
family and severity), under ``models/<id>/eval/<dataset>-<split>/robustness/``.

Faces are read as grayscale (every model here takes grayscale input), so the clean pass gives the
same predictions as the model's ``predictions.csv`` on the same files.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from core.analysis import corruptions
from core.evaluation import robustness_alignment as alignment
from core.evaluation.evaluate import model_identity
from core.paths import atomic_write, write_json

DEFAULT_FACES = 1000
DEFAULT_SEED = 0
SUBDIR = "robustness"
FORMAT = 1


def stratified_subset(records: Sequence, count: int | None = DEFAULT_FACES, seed: int = DEFAULT_SEED) -> list:
    """``count`` records drawn per class in proportion to the class sizes (largest remainders), seeded,
    sorted by path; every record when ``count`` is None or not smaller than the set."""
    records = list(records)
    if count is None or count >= len(records):
        return sorted(records, key=lambda r: r.rel_path)
    by_class: dict[str, list] = {}
    for record in sorted(records, key=lambda r: r.rel_path):
        by_class.setdefault(record.label, []).append(record)
    shares = {label: len(group) * count / len(records) for label, group in by_class.items()}
    take = {label: int(share) for label, share in shares.items()}
    for label in sorted(shares, key=lambda k: (take[k] - shares[k], k))[:count - sum(take.values())]:
        take[label] += 1
    rng = np.random.default_rng(seed)
    chosen = []
    for label in sorted(by_class):
        group = by_class[label]
        chosen += [group[i] for i in sorted(rng.choice(len(group), take[label], replace=False))]
    return sorted(chosen, key=lambda r: r.rel_path)


def files_digest(paths: Sequence[str]) -> str:
    """SHA-256 of the subset's paths, one per line, in order: names the exact faces scored."""
    return hashlib.sha256("\n".join(paths).encode()).hexdigest()


def _scores(predicted: np.ndarray, truth: np.ndarray, labels: Sequence[str], known: np.ndarray) -> dict:
    """Accuracy and per-class recall over the faces whose true label the model has."""
    hit = predicted[known] == truth[known]
    recall = {label: (float(hit[truth[known] == j].mean()) if (truth[known] == j).any() else None)
              for j, label in enumerate(labels)}
    return {"accuracy": float(hit.mean()) if hit.size else None, "per_class_recall": recall}


def summarise(clean: dict, families: dict) -> dict:
    """Mean over corruptions, relative drop and which emotions break first, from the per-severity scores."""
    base = clean["accuracy"]
    means = []
    drops: dict[str, list[float]] = {label: [] for label, v in clean["per_class_recall"].items() if v is not None}
    for entry in families.values():
        corrupted = [s for s in entry["severities"] if s["severity"] > 0]
        entry["mean_accuracy"] = float(np.mean([s["accuracy"] for s in corrupted]))
        entry["relative_drop"] = 1 - entry["mean_accuracy"] / base if base else None
        family_drop = {label: float(np.mean([clean["per_class_recall"][label] - s["per_class_recall"][label]
                                             for s in corrupted])) for label in drops}
        entry["recall_drop"] = family_drop
        entry["breaks_first"] = max(family_drop, key=family_drop.get) if family_drop else None
        for label, value in family_drop.items():
            drops[label].append(value)
        means.append(entry["mean_accuracy"])
    mean = float(np.mean(means)) if means else None
    by_class = {label: float(np.mean(values)) for label, values in drops.items() if values}
    return {"mean_corruption_accuracy": mean,
            "relative_drop": (1 - mean / base) if base and mean is not None else None,
            "recall_drop_by_class": dict(sorted(by_class.items(), key=lambda kv: -kv[1])),
            "breaks_first": sorted(by_class, key=lambda k: -by_class[k])}


def _read_faces(dataset, records) -> list[np.ndarray]:
    return [dataset.read(r, grayscale=True) for r in records]


def _predict(classifier, faces: list[np.ndarray]) -> np.ndarray:
    """Arg-max indices for faces, in one batched call (``predict_bulk``: an ONNX Runtime twin or
    DeepFace's network called directly where the classifier has one; chunked by the classifier)."""
    probs = np.asarray(getattr(classifier, "predict_bulk", classifier.predict)(faces))
    if probs.shape != (len(faces), len(classifier.labels)):
        raise ValueError(f"{getattr(classifier, 'name', 'classifier')} returned shape {probs.shape}, "
                         f"expected {(len(faces), len(classifier.labels))}")
    return probs.argmax(axis=1)


def _header(classifier, dataset, split, all_records, records, seed, count) -> dict:
    from core.training.provenance import git_commit

    name, kind = model_identity(classifier)
    paths = [r.rel_path for r in records]
    return {"format": FORMAT, "model": name, "model_kind": kind,
            "dataset": {"name": dataset.name, "split": split, "n_files": len(all_records),
                        "root": Path(dataset.root).name},
            "subset": {"n_images": len(records), "requested": count, "seed": seed,
                       "method": "stratified: per class in proportion to its size, drawn with numpy's "
                                 "default_rng(seed), sorted by path",
                       "files_sha256": files_digest(paths), "files": paths},
            "corruptions": {"library": corruptions.LIBRARY, "colour": "grayscale",
                            "reference_side_px": corruptions.REFERENCE_SIDE, "seed": seed,
                            "families": [f.to_dict() for f in corruptions.FAMILIES]},
            "labels": list(classifier.labels), "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "commit": git_commit()}


def run_robustness(classifiers: Mapping[str, object], dataset, split: str, *, count: int | None = DEFAULT_FACES,
                   seed: int = DEFAULT_SEED, families: Sequence[str] | None = None,
                   severities: Sequence[int] = corruptions.SEVERITIES, align: bool = True,
                   on_progress: Callable[[int, int, str], None] | None = None) -> dict[str, dict]:
    """``{model id: robustness dict}`` for every classifier on ``dataset``'s ``split`` (see the module doc).

    ``families`` / ``severities`` narrow the run (tests, quick looks); ``on_progress(done, total, what)``
    follows it step by step (one step per family and model, plus the clean pass, plus one for alignment).
    With ``align`` (and the rotation family chosen), the rotation family runs again with the faces turned
    back by their eyes (:mod:`core.evaluation.robustness_alignment`), stored apart as ``alignment``.
    """
    chosen = [corruptions.family(name) for name in (families or corruptions.BY_NAME)]
    severities = sorted({int(s) for s in severities})
    if not severities or severities[0] < 1 or severities[-1] > len(corruptions.SEVERITIES):
        raise ValueError(f"severities must lie in 1-{len(corruptions.SEVERITIES)}")
    all_records = dataset.split(split)
    records = stratified_subset(all_records, count, seed)
    faces = _read_faces(dataset, records)
    align = align and alignment.FAMILY in {fam.name for fam in chosen}
    total, done = (len(chosen) + 1) * len(classifiers) + int(align), 0
    started = time.perf_counter()
    results, timing = {}, {name: 0.0 for name in classifiers}
    truths = {}
    for key, classifier in classifiers.items():
        labels = list(classifier.labels)
        truth = np.array([labels.index(r.label) if r.label in labels else -1 for r in records])
        known = truth >= 0
        t = time.perf_counter()
        clean = _scores(_predict(classifier, faces), truth, labels, known)
        timing[key] += time.perf_counter() - t
        results[key] = {**_header(classifier, dataset, split, all_records, records, seed, count),
                        "n_scored": int(known.sum()), "excluded": int((~known).sum()), "clean": clean, "families": {}}
        truths[key] = (truth, labels, known)
        done += 1
        if on_progress:
            on_progress(done, total, f"{results[key]['model']}: clean")
    corrupt_s = 0.0
    for fam in chosen:
        t = time.perf_counter()
        stacks = {s: [corruptions.corrupt(face, fam.name, s, seed, r.rel_path) for face, r in zip(faces, records)]
                  for s in severities}
        corrupt_s += time.perf_counter() - t
        batch = [face for s in severities for face in stacks[s]]
        for key, classifier in classifiers.items():
            truth, labels, known = truths[key]
            t = time.perf_counter()
            predicted = _predict(classifier, batch).reshape(len(severities), len(records))
            timing[key] += time.perf_counter() - t
            rows = [{"severity": 0, "value": fam.value(0), **results[key]["clean"]}]
            rows += [{"severity": s, "value": fam.value(s), **_scores(predicted[i], truth, labels, known)}
                     for i, s in enumerate(severities)]
            results[key]["families"][fam.name] = {"group": fam.group, "title": fam.title,
                                                  "parameter": fam.parameter, "severities": rows}
            done += 1
            if on_progress:
                on_progress(done, total, f"{results[key]['model']}: {fam.title.lower()}")
    align_s = 0.0
    if align:
        if on_progress:
            on_progress(done, total, "rotation again, turned back by the eyes (BlazeFace)")
        align_s = alignment.add_alignment(results, classifiers, truths, faces, [r.rel_path for r in records],
                                          seed, severities, _predict, _scores)
        if on_progress:
            on_progress(total, total, "rotation aligned")
    wall = time.perf_counter() - started
    for key, result in results.items():
        note = getattr(classifiers[key], "bulk_note", None)
        result["forward"] = note() if note else "the classifier's own predict"
        result.update(summarise(result["clean"], result["families"]))
        result["timing"] = {"wall_seconds": round(wall, 2), "model_seconds": round(timing[key], 2),
                            "corruption_seconds": round(corrupt_s, 2), "alignment_seconds": round(align_s, 2),
                            "faces_scored": len(records) * (1 + len(chosen) * len(severities))}
    return results


def robustness_frame(result: dict):
    """``robustness.csv``: one row per family and severity with its parameter value, accuracy and recalls."""
    import pandas as pd

    rows = []
    for name, entry in result["families"].items():
        for s in entry["severities"]:
            rows.append({"family": name, "group": entry["group"], "severity": s["severity"],
                         "parameter": entry["parameter"], "value": s["value"], "accuracy": s["accuracy"],
                         **{f"recall_{label}": v for label, v in s["per_class_recall"].items()}})
    return pd.DataFrame(rows)


def write_robustness(result: dict, out_dir: str | Path) -> Path:
    """``out_dir/robustness.json`` and ``out_dir/robustness.csv`` (atomically); returns ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame = robustness_frame(result)
    atomic_write(out / "robustness.csv", lambda tmp: frame.to_csv(tmp, index=False))
    write_json(out / "robustness.json", result)
    return out


def format_summary(result: dict, out_dir: str | Path | None = None) -> str:
    """A few lines for the terminal: clean and mean corrupted accuracy, the worst families, what breaks."""
    d, sub = result["dataset"], result["subset"]
    worst = sorted(result["families"].items(), key=lambda kv: kv[1]["mean_accuracy"])[:3]
    lines = [f"{result['model']} on {d['name']} {d['split']} ({sub['n_images']} faces, seed {sub['seed']}): "
             f"clean {result['clean']['accuracy'] * 100:.1f}%, mean over {len(result['families'])} corruptions "
             f"{result['mean_corruption_accuracy'] * 100:.1f}% (relative drop {result['relative_drop'] * 100:.0f}%)",
             "hardest: " + ", ".join(f"{e['title'].lower()} {e['mean_accuracy'] * 100:.1f}%" for _, e in worst),
             "breaks first: " + ", ".join(result["breaks_first"][:3])]
    aligned = alignment.summary_line(result)
    if aligned:
        lines.append(aligned)
    if out_dir is not None:
        lines.append(f"wrote {Path(out_dir) / 'robustness.json'} and {Path(out_dir) / 'robustness.csv'}")
    return "\n".join(lines)
