"""The input check: how an imported model expects its input, and whether its labels are in the right order.

Published accuracies most often fail to reproduce because of preprocessing (BGR vs RGB, scaling,
interpolation) or a wrong label order. The check scores the model on a fixed, seeded, stratified
sample of the selection split (PublicTest for FER2013: never the report split) under every plausible
:class:`~core.models.imported.Convention`, and finds, from each confusion matrix, the assignment of the
model's outputs to classes that maximises the diagonal (``scipy.optimize.linear_sum_assignment``).

It proposes and never picks: :class:`CheckResult` says what it would change and by how much; the
caller asks the user (``--yes`` on the command line, a button in the app). Only images whose label
the model has are scored (a 3-class model on FER2013 is scored on its three classes).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from core.models.imported import CHANNELS, RESIZES, SCALINGS, Convention, prepare, probability_problem, softmax

SAMPLE_SIZE = 700
SEED = 2013
MARGIN = 0.02  # a proposal must gain at least this much accuracy on the sample


def check_sample(dataset, split: str, labels, size: int = SAMPLE_SIZE, seed: int = SEED) -> list:
    """``size`` records of ``split`` whose label is in ``labels``, stratified by class (each class its
    share of the split, at least one), drawn with a fixed seed: the same faces on every run."""
    records = [r for r in dataset.split(split) if r.label in set(labels)]
    if len(records) <= size:
        return records
    rng = np.random.default_rng(seed)
    by_class: dict[str, list] = {}
    for record in records:
        by_class.setdefault(record.label, []).append(record)
    chosen = []
    for label in sorted(by_class):
        group = by_class[label]
        take = max(1, round(size * len(group) / len(records)))
        chosen += [group[i] for i in sorted(rng.choice(len(group), min(take, len(group)), replace=False))]
    return chosen


def conventions(channels: int) -> list[Convention]:
    """Every plausible convention for an input with ``channels`` channels (1: gray only)."""
    orders = ("gray",) if channels == 1 else CHANNELS
    return [Convention(c, s, r) for c in orders for s in SCALINGS for r in RESIZES]


def best_order(predicted: np.ndarray, truth: np.ndarray, k: int) -> tuple[np.ndarray, int, int]:
    """``(assignment, correct as labelled, correct under it)``: ``assignment[j]`` is the class output ``j``
    should be named after so that the confusion matrix's diagonal is largest; ties keep the given order."""
    from scipy.optimize import linear_sum_assignment

    counts = np.zeros((k, k))
    np.add.at(counts, (predicted, truth), 1)
    rows, cols = linear_sum_assignment(counts + np.eye(k) * 1e-6, maximize=True)
    assignment = cols[np.argsort(rows)]
    return assignment, int(np.trace(counts)), int(counts[np.arange(k), assignment].sum())


@dataclass
class CheckResult:
    """The table (one row per convention) and what the check proposes, if anything."""

    rows: list[dict]
    current: Convention
    labels: tuple[str, ...]
    n_images: int
    split: str
    dataset: str
    output_problem: str | None = None
    proposed_convention: Convention | None = None
    proposed_labels: tuple[str, ...] | None = None
    messages: list[str] = field(default_factory=list)

    @property
    def has_proposal(self) -> bool:
        return bool(self.proposed_convention or self.proposed_labels or self.output_problem)

    def to_dict(self) -> dict:
        """What the model card keeps (``input_check``)."""
        return {"dataset": self.dataset, "split": self.split, "n_images": self.n_images, "seed": SEED,
                "rows": self.rows, "output_problem": self.output_problem,
                "proposed_input": str(self.proposed_convention) if self.proposed_convention else None,
                "proposed_labels": list(self.proposed_labels) if self.proposed_labels else None,
                "messages": self.messages}


def _row(convention, probs, truth, labels, same_as) -> dict:
    predicted = probs.argmax(axis=1)
    assignment, plain, best = best_order(predicted, truth, len(labels))
    return {"input": str(convention), "channels": convention.channels, "scaling": convention.scaling,
            "resize": convention.resize, "accuracy": plain / len(truth), "accuracy_best_order": best / len(truth),
            "best_order": [labels[i] for i in assignment], "same_input_as": same_as}


def run_check(classifier, dataset, split: str | None = None, size: int = SAMPLE_SIZE,
              on_progress=None) -> CheckResult:
    """Score ``classifier`` (an :class:`~core.models.imported.ImportedClassifier`) under every convention
    on the check sample of ``split`` (default: the dataset's selection split)."""
    split = split or dataset.splits[1]
    labels = tuple(classifier.labels)
    records = check_sample(dataset, split, labels, size)
    if not records:
        raise ValueError(f"{dataset.name} {split} has no images of the model's labels ({', '.join(labels)})")
    faces = [dataset.read(r, grayscale=False) for r in records]
    truth = np.array([labels.index(r.label) for r in records])
    net, seen, rows, problem = classifier.network, {}, [], None
    candidates = conventions(net.channels)
    for done, convention in enumerate(candidates, 1):
        batch = prepare(faces, convention, classifier.input_size, net.channels)
        digest = hashlib.sha1(batch.tobytes()).hexdigest()
        same_as = seen.get(digest, (None, None))[0]
        if same_as is None:
            raw = classifier.raw_outputs(batch)
            problem = problem or probability_problem(raw)
            seen[digest] = (str(convention), softmax(raw) if classifier.output == "logits" or problem else raw)
        rows.append(_row(convention, seen[digest][1], truth, labels, same_as))
        if on_progress is not None:
            on_progress(done, len(candidates))
    result = CheckResult(rows, classifier.convention, labels, len(records), split, dataset.name,
                         problem if classifier.output != "logits" else None)
    return propose(result)


def propose(result: CheckResult) -> CheckResult:
    """Fill in the proposal: the best convention (with the best label order) when it beats the current
    setting by :data:`MARGIN`, and the messages that say so."""
    current = next(r for r in result.rows if r["input"] == str(result.current))
    def closeness(row) -> int:  # settings shared with the current one: a tie keeps what the user gave
        return sum(row[key] == value for key, value in result.current.to_dict().items())

    best = max(result.rows, key=lambda r: (round(r["accuracy_best_order"], 3), closeness(r), r["accuracy"]))
    messages = []
    if result.output_problem:
        messages.append(result.output_problem)
    if best["accuracy_best_order"] >= current["accuracy_best_order"] + MARGIN and best["input"] != current["input"]:
        result.proposed_convention = Convention(best["channels"], best["scaling"], best["resize"])
        messages.append(f"your input looks like {best['input']} rather than {current['input']}: accuracy "
                        f"{current['accuracy']:.0%} -> {best['accuracy']:.0%}")
    start = best if result.proposed_convention else current
    if start["accuracy_best_order"] >= start["accuracy"] + MARGIN and tuple(start["best_order"]) != result.labels:
        result.proposed_labels = tuple(start["best_order"])
        messages.append(f"your labels look like [{', '.join(start['best_order'])}]: accuracy "
                        f"{start['accuracy']:.0%} -> {start['accuracy_best_order']:.0%}")
    result.messages = messages
    return result


def accepted(classifier, result: CheckResult):
    """The classifier with the check's proposal taken (convention, label order, logits)."""
    classifier.convention = result.proposed_convention or result.current
    if result.proposed_labels:
        classifier.labels = tuple(result.proposed_labels)
    if result.output_problem:
        classifier.output = "logits"
    return classifier


def format_table(result: CheckResult) -> str:
    """The table the CLI prints: one line per convention, the current one marked."""
    lines = [f"input check on {result.n_images} faces of {result.dataset} {result.split} (seed {SEED}, stratified):",
             f"  {'input':<24} {'accuracy':>9} {'best label order':>17}"]
    for row in result.rows:
        mark = "*" if row["input"] == str(result.current) else " "
        note = f"  (same input as {row['same_input_as']}: the faces are grayscale)" if row["same_input_as"] else ""
        lines.append(f"{mark} {row['input']:<24} {row['accuracy']:>9.1%} {row['accuracy_best_order']:>17.1%}{note}")
    lines.append("  (* = the setting given; 'best label order' = accuracy once outputs are renamed as the "
                 "confusion matrix suggests)")
    return "\n".join(lines)
