"""``python -m core evaluate``: score a model on a dataset split; writes models/NAME/eval/."""
from __future__ import annotations

import sys
from pathlib import Path

from core.cli.common import positive_int


def run(args) -> int:
    if _wants_labelled_run(args):
        return run_labelled(args)
    from core import paths
    from core.data.datasets import DatasetError, load_dataset
    from core.evaluation.evaluate import eval_dir, evaluate, format_summary, model_identity
    from core.media.images import ImageDecodeError
    from core.models import registry
    from core.models.base import ModelUnavailable

    try:
        classifier = registry.get(args.model, args.models_dir)
    except ModelUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        dataset = load_dataset(args.data, args.kind)
        dataset.split(args.split)  # fail early, naming the splits that exist
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    model_name, _ = model_identity(classifier)
    # The results go beside the model: its own folder's eval/ (models/<name>/eval/ for DeepFace).
    folder = getattr(classifier, "model_dir", None)
    root = Path(folder).parent if folder is not None else Path(args.models_dir or paths.models_root())
    out = eval_dir(root, model_name, dataset.name, args.split)
    try:
        metrics = evaluate(classifier, dataset, args.split, out_dir=out, limit=args.limit, flip_tta=args.flip_tta,
                           batch_size=args.batch_size)
    except ImageDecodeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    metrics["comparisons"] = _store_comparisons(root, out.name).get(model_name, [])
    print(format_summary(metrics, out))
    return 0


def _store_comparisons(root: Path, key: str) -> dict[str, list[dict]]:
    """Every stored evaluation on split ``key`` under the models folder ``root`` compared with every
    other (the ``comparisons`` of their metrics.json; see core.evaluation.paired)."""
    from core.evaluation.paired import store_comparisons

    return store_comparisons(sorted(p for p in Path(root).glob(f"*/eval/{key}") if p.is_dir()))


def _write_comparisons(results: dict, dataset_name: str, split: str, out: Path | None) -> list[dict]:
    """The pairwise comparisons of this run's models on one split: each model's metrics.json gains its
    own (``a`` is the model), and ``--out`` gets ``comparison.json``. Returns the unordered pairs."""
    from core.evaluation.labelled import write_result
    from core.evaluation.paired import by_model, compare_frames
    from core.paths import write_json

    frames = {name: result.predictions for name, (result, _folder) in results.items()}
    pairs = compare_frames(frames)
    for name, comparisons in by_model(frames).items():
        result, folder = results[name]
        result.metrics["comparisons"] = comparisons
        write_result(result, folder)
    if out is not None and pairs:
        write_json(out, {"dataset": dataset_name, "split": split, "comparisons": pairs})
    return pairs


def _wants_labelled_run(args) -> bool:
    """Anything beyond one model on one named split of a dataset folder: ``--all``, several models or
    splits, split ``all`` (the default), a zip, or ``--out``."""
    split = getattr(args, "split", None) or "all"
    return (bool(getattr(args, "all", False)) or "," in str(args.model or "") or "," in split or split == "all"
            or str(args.data).lower().endswith(".zip") or getattr(args, "out", None) is not None)


def _load_labelled_data(args, splits):
    from core.data.archive import load_labelled
    from core.data.datasets import load_dataset

    if splits == ["all"] or str(args.data).lower().endswith(".zip") or Path(args.data).suffix.lower() == ".zip":
        return load_labelled(args.data)
    dataset = load_dataset(args.data, args.kind)
    for split in splits:
        dataset.split(split)  # fail early, naming the splits that exist
    return dataset


def run_labelled(args) -> int:
    """Every named (or, with ``--all``, every ready) model on each split; a zip or folder is evaluated whole
    (split ``all``), labels a model lacks left out of its scores with a note. Writes
    ``models/<model>/eval/<dataset>-<split>/`` (or ``--out DIR/<model>/``)."""
    from core import paths
    from core.data.datasets import DatasetError
    from core.evaluation.evaluate import eval_dir, format_summary, model_identity, write_model_card
    from core.evaluation.labelled import evaluate_model, write_result
    from core.media.images import ImageDecodeError
    from core.models import registry
    from core.models.base import ModelUnavailable

    if args.all:
        names = [name for name, status in registry.available().items() if status.ready]
    elif args.model:
        names = registry.expand_cli_choice(args.model)
    else:
        print("error: name a model with --model NAME[,NAME...] or use --all", file=sys.stderr)
        return 2
    splits = [s.strip() for s in (args.split or "all").split(",") if s.strip()]
    try:
        dataset = _load_labelled_data(args, splits)
    except DatasetError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    for note in getattr(dataset, "notes", []):
        print(f"note: {note}", file=sys.stderr)
    failures = 0
    done: dict[str, dict] = {}  # split -> {model: (result, folder)}, for the pairwise comparisons
    for name in names:
        try:
            classifier = registry.get(name, args.models_dir)
        except ModelUnavailable as exc:
            print(f"error: {name}: {exc}", file=sys.stderr)
            failures += 1
            continue
        model_name, _ = model_identity(classifier)
        folder = getattr(classifier, "model_dir", None)
        root = Path(folder).parent if folder is not None else Path(args.models_dir or paths.models_root())
        for split in splits:
            try:
                result = evaluate_model(classifier, dataset, split, args.batch_size, progress=True,
                                        limit=args.limit, flip_tta=args.flip_tta)
            except (DatasetError, ImageDecodeError) as exc:
                print(f"error: {model_name}: {' '.join(str(exc).split())}", file=sys.stderr)
                failures += 1
                continue
            if args.out is not None:
                out = Path(args.out) / model_name
                out = out if len(splits) == 1 else out / f"{dataset.name}-{split}"
            else:
                out = eval_dir(root, model_name, dataset.name, split)
            write_result(result, out)
            done.setdefault(split, {})[model_name] = (result, out)
            if args.out is None:
                write_model_card(out.parent.parent, classifier)
            if result.note:
                print(f"note: {result.note}")
            print(format_summary(result.metrics, out))
    for split, results in done.items():
        if len(results) < 2 and args.out is not None:
            continue
        if args.out is None:  # the stored evaluations: every model on this split, this run's or not
            root = next(iter(results.values()))[1].parent.parent.parent
            stored = _store_comparisons(root, f"{dataset.name}-{split}")
            pairs = [c for i, (model, found) in enumerate(stored.items()) for c in found
                     if c["b"] in list(stored)[i + 1:]]
        else:
            target = Path(args.out) / ("comparison.json" if len(splits) == 1 else f"comparison-{dataset.name}-{split}.json")
            pairs = _write_comparisons(results, dataset.name, split, target)
        for pair in pairs:
            print(f"{split}: {pair['sentence']}")
    return 1 if failures else 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="evaluate a model on a dataset split; writes models/NAME/eval/",
                              description="Evaluate the CNN or DeepFace on one split of a labelled dataset and "
                                          "write metrics.json and predictions.csv under "
                                          "MODELS_DIR/NAME/eval/DATASET-SPLIT/.")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", metavar="NAME",
                       help="a registered model (fer2013_cnn, deepface, fer_minixception; see `python -m core "
                            "models`), several separated by commas, or a model folder under --models-dir")
    which.add_argument("--all", action="store_true", help="every model that is ready here")
    p.add_argument("--data", required=True, metavar="DIR_OR_ZIP",
                   help="dataset folder, FER2013 CSV, or a zip of labelled faces (one folder per emotion, "
                        "FER2013, KDEF or CK+ layout)")
    p.add_argument("--split", default="all",
                   help="e.g. PublicTest or PrivateTest (FER2013), validation or test; several separated by commas; "
                        "'all' (default) evaluates every image")
    p.add_argument("--out", metavar="DIR", help="write DIR/<model>/metrics.json and predictions.csv instead of "
                                                "models/<model>/eval/<dataset>-<split>/")
    p.add_argument("--kind", default="auto", choices=["auto", "fer2013", "csv", "kdef", "folders"])
    p.add_argument("--limit", type=positive_int, help="evaluate only N images, spread evenly over the split (all classes)")
    p.add_argument("--flip-tta", action="store_true",
                   help="also report accuracy with horizontal-flip test-time augmentation")
    p.add_argument("--batch-size", type=positive_int, default=256)
    p.add_argument("--models-dir", help="the models folder (default: $EMOTION_MODELS_ROOT, else models/)")
    p.set_defaults(func=run)
