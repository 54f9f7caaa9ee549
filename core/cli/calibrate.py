"""``python -m core calibrate``: fit a model's temperature on the selection split; store it in model.json.

Temperature scaling (core.analysis.calibration) needs the model's probabilities on held-out images
that are not the report split: FER2013's PublicTest (the split checkpoints are chosen on), never
PrivateTest, whose calibration figures would otherwise be optimistic. The probabilities come from
the stored ``eval/<dataset>-<split>/predictions.csv`` when it covers exactly that split's images and
a spot check of a few images with the model agrees (no second pass over thousands of faces), else
the model is run. The command refreshes a shipped artifact: it says which ``model.json`` it updates.
"""
from __future__ import annotations

import sys
from pathlib import Path

from core.cli.common import positive_int

SPOT_CHECK = 16  # images re-predicted to confirm the stored predictions come from this model
SPOT_TOLERANCE = 1e-4


def artifacts_folder(name: str, models_dir: str | None) -> Path:
    """The model's folder (where its model.json and eval/ live), found without loading the model."""
    from core import paths
    from core.models import registry

    spec = registry.resolve(name, models_dir)
    if spec.folder is not None and models_dir is None:
        return Path(spec.folder())
    root = Path(models_dir) if models_dir else paths.models_root()
    if not (root / spec.name).is_dir() and Path(name).is_dir():
        return Path(name)
    return root / spec.name


def stored_predictions(folder: Path, dataset, split: str, records, labels):
    """(probabilities, true indices, path) from the stored predictions.csv when it holds exactly these
    records (same paths, same labels, in order); else (None, None, reason)."""
    import pandas as pd

    from core.analysis.calibration import predictions_from_csv
    from core.evaluation.evaluate import eval_dir

    path = eval_dir(folder.parent, folder.name, dataset.name, split) / "predictions.csv"
    if not path.is_file():
        return None, None, f"no stored predictions at {path}"
    try:
        table = pd.read_csv(path, usecols=["path", "true"])
        if list(table["path"]) != [r.rel_path for r in records] or list(table["true"]) != [r.label for r in records]:
            return None, None, f"{path} does not list exactly the {len(records)} images of {dataset.name} {split}"
        probs, truth, _ = predictions_from_csv(path, labels)
    except (ValueError, KeyError, OSError) as exc:
        return None, None, f"{path} is not usable ({' '.join(str(exc).split())})"
    return probs, truth, path


def spot_check(classifier, dataset, records, probs) -> float:
    """Largest difference between stored and freshly computed probabilities on a few spread images."""
    import numpy as np

    from core.evaluation.evaluate import predict_records, spread_sample

    positions = spread_sample(list(range(len(records))), SPOT_CHECK)
    fresh = predict_records(classifier, dataset, [records[i] for i in positions], progress=False)
    return float(np.abs(fresh - probs[positions]).max())


def run(args) -> int:
    from core.data.datasets import DatasetError, load_dataset
    from core.models.base import ModelUnavailable

    try:
        folder = artifacts_folder(args.model, args.models_dir)
        dataset = load_dataset(args.data, args.kind)
    except (ModelUnavailable, DatasetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    train_split, selection, report = dataset.splits
    split = args.split or selection
    if split != selection:
        role = {report: "the report split", train_split: "the training split"}.get(split, "not the selection split")
        print(f"error: {split} is {role} of {dataset.name}; the temperature is fitted on the selection split "
              f"{selection} only, so that the {report} calibration figures stay honest", file=sys.stderr)
        return 2
    try:
        records = dataset.split(split)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return _fit_and_store(args, folder, dataset, split, records)


def _fit_and_store(args, folder, dataset, split: str, records) -> int:
    """Fit the temperature on the split's stored (spot-checked) or freshly computed predictions and
    write it into the model's card."""
    import numpy as np

    from core.analysis.calibration import apply_temperature, calibration_report, fit_calibration
    from core.evaluation.evaluate import predict_records, write_model_card
    from core.media.images import ImageDecodeError
    from core.models import registry
    from core.models.base import ModelUnavailable
    from core.models.card import ModelCard, ModelCardError

    classifier, why_not = None, None
    try:
        classifier = registry.get(args.model, args.models_dir)
    except ModelUnavailable as exc:
        why_not = str(exc)
    try:
        card = ModelCard.read(folder)
    except ModelCardError as exc:
        written = write_model_card(folder, classifier) if exc.kind == "missing" and classifier is not None else None
        if written is None:  # only a model that describes itself (DeepFace) gets a new card here
            print(f"error: {exc}", file=sys.stderr)
            return 1
        card = ModelCard.read(written.parent)
    labels = list(classifier.labels) if classifier is not None else list(card.labels)

    probs, truth, source = (None, None, "--recompute given") if args.recompute else \
        stored_predictions(folder, dataset, split, records, labels)
    if probs is not None and classifier is not None:
        gap = spot_check(classifier, dataset, records, probs)
        if gap > SPOT_TOLERANCE:
            probs, truth, source = None, None, (f"{source} differs from the model's predictions (by up to "
                                                f"{gap:.2g} on {SPOT_CHECK} images: an older model?)")
        else:
            source = f"{source} (spot check of {SPOT_CHECK} images agrees)"
    elif probs is not None:
        source = f"{source} (the model cannot be loaded here, so unchecked: {why_not})"
    if probs is not None:
        print(f"{folder.name}: using the stored predictions {source}")
    else:
        if classifier is None:
            print(f"error: {why_not}; and {source}", file=sys.stderr)
            return 1
        print(f"{folder.name}: computing predictions on {dataset.name} {split} ({len(records)} images): {source}")
        records = [r for r in records if r.label in labels]
        try:
            probs = predict_records(classifier, dataset, records, args.batch_size, progress=not args.quiet)
        except ImageDecodeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        truth = np.array([labels.index(r.label) for r in records])

    calibration = fit_calibration(probs, truth, split)
    before = calibration_report(probs, truth)["ece"]
    after = calibration_report(apply_temperature(probs, calibration["temperature"]), truth)["ece"]
    card.calibration = {**calibration, "dataset": dataset.name}
    written = card.write(folder)
    print(f"temperature {calibration['temperature']:.4f} fitted on {dataset.name} {split} ({len(truth)} images): "
          f"NLL {calibration['nll_before']:.4f} -> {calibration['nll_after']:.4f}, "
          f"ECE {before * 100:.2f}% -> {after * 100:.2f}%")
    print(f"updated {written} (field 'calibration'); rerun `python -m core evaluate` to refresh metrics.json")
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "calibrate", help="fit a model's temperature on the selection split; updates its model.json",
        description="Fit temperature scaling (one temperature minimising the negative log-likelihood) on the "
                    "dataset's selection split (PublicTest for FER2013; the report split is refused) and store it "
                    "under 'calibration' in the model's model.json. Reads the stored predictions.csv when it "
                    "matches the split, else runs the model.")
    p.add_argument("--model", required=True, metavar="NAME",
                   help="a registered model (fer2013_cnn, deepface, fer_minixception; see `python -m core models`) "
                        "or a model folder")
    p.add_argument("--data", required=True, help="dataset folder or FER2013 CSV")
    p.add_argument("--split", help="the selection split (the default; PublicTest for FER2013)")
    p.add_argument("--kind", default="auto", choices=["auto", "fer2013", "csv", "kdef", "folders"])
    p.add_argument("--recompute", action="store_true", help="run the model even when stored predictions match")
    p.add_argument("--batch-size", type=positive_int, default=256)
    p.add_argument("--models-dir", help="the models folder (default: $EMOTION_MODELS_ROOT, else models/)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
