"""``python -m core evaluate``: score a model on a dataset split; writes models/NAME/eval/."""
from __future__ import annotations

import sys
from pathlib import Path

from core.cli.common import positive_int


def run(args) -> int:
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
    print(format_summary(metrics, out))
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="evaluate a model on a dataset split; writes models/NAME/eval/",
                              description="Evaluate the CNN or DeepFace on one split of a labelled dataset and "
                                          "write metrics.json and predictions.csv under "
                                          "MODELS_DIR/NAME/eval/DATASET-SPLIT/.")
    p.add_argument("--model", required=True, metavar="NAME",
                   help="a registered model (fer2013_cnn, deepface; see `python -m core models`), "
                        "or a model folder under --models-dir")
    p.add_argument("--data", required=True, help="dataset folder or FER2013 CSV")
    p.add_argument("--split", required=True, help="e.g. PublicTest or PrivateTest (FER2013), validation or test")
    p.add_argument("--kind", default="auto", choices=["auto", "fer2013", "csv", "kdef", "folders"])
    p.add_argument("--limit", type=positive_int, help="evaluate only N images, spread evenly over the split (all classes)")
    p.add_argument("--flip-tta", action="store_true",
                   help="also report accuracy with horizontal-flip test-time augmentation")
    p.add_argument("--batch-size", type=positive_int, default=256)
    p.add_argument("--models-dir", help="the models folder (default: $EMOTION_MODELS_ROOT, else models/)")
    p.set_defaults(func=run)
