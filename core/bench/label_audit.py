"""The label audit's seeded-flip measurement for ``make bench`` (``results["label_audit"]``).

Recomputed from the stored out-of-sample predictions (no model is run): the zoo's averaged calibrated
probabilities, 10% of the labels flipped with five seeds (:mod:`core.evaluation.audit_flips`). FER2013
PublicTest as labelled (its own label noise counts against precision), and the "clean" PrivateTest
faces whose label the zoo's arg-max agrees with (the floors apply there).
"""
from __future__ import annotations

import numpy as np

from core import paths
from core.evaluation import audit_flips
from core.evaluation.audit import AuditError, zoo_probabilities
from core.evaluation.audit_store import stored_answers

FIGURES = ("n_images", "n_flipped", "n_flagged", "precision", "recall", "top_k_precision")


def _given_and_probs(key: str):
    answers = [a for _, a in stored_answers(paths.models_root(), key, [paths.model_dir()])]
    faces, probs, labels, _ = zoo_probabilities(answers)
    return faces["true"].map({label: i for i, label in enumerate(labels)}).to_numpy(np.int64), probs, answers


def label_audit_benchmark(log=print) -> dict:
    """``{"public_test": {...}, "clean_private_test": {...}, "models", "target_met"}``, or ``{"skipped": why}``."""
    log("measuring the label audit against seeded label flips ...")
    try:
        public, public_probs, answers = _given_and_probs("fer2013-PublicTest")
        private, private_probs, _ = _given_and_probs("fer2013-PrivateTest")
    except (AuditError, OSError) as exc:
        return {"skipped": str(exc)}
    as_labelled = audit_flips.flip_check(public, public_probs)
    clean = audit_flips.agreeing(private, private_probs)
    check = audit_flips.flip_check(private[clean], private_probs[clean])
    met = bool(check["recall"] >= audit_flips.TARGET_RECALL
               and check["top_k_precision"] >= audit_flips.TARGET_TOP_K_PRECISION)
    return {"models": [a.model for a in answers], "rate": audit_flips.RATE, "seeds": list(audit_flips.SEEDS),
            "public_test": {k: as_labelled[k] for k in FIGURES},
            "clean_private_test": {**{k: check[k] for k in FIGURES},
                                   "selection": "PrivateTest faces whose label the zoo's arg-max agrees with"},
            "target_recall": audit_flips.TARGET_RECALL, "target_top_k_precision": audit_flips.TARGET_TOP_K_PRECISION,
            "target_met": met}
