"""``python -m core import-model FILE --name NAME``: bring your own model (.keras, .h5, .onnx, .tflite).

Loads the file safely, runs the input check (core.evaluation.input_check) on a PublicTest sample,
and stops when the check proposes a change, until the user confirms it with ``--yes`` (or keeps
their settings with ``--as-given``). Then writes ``models/NAME/`` (the file and its model card) and
evaluates the model on both FER2013 test splits, its temperature fitted on PublicTest.
"""
from __future__ import annotations

import sys
from pathlib import Path

PROPOSAL_PENDING = 3  # exit code: nothing written, the check proposes a change


def _labels(text: str | None, outputs: int) -> tuple[str, ...]:
    from core.labels import FER2013_LABELS, parse_classes

    if text:
        return parse_classes(text)
    if outputs == len(FER2013_LABELS):
        return FER2013_LABELS
    raise ValueError(f"the model has {outputs} outputs: name its labels in output order with --labels a,b,...")


def _prepare(args):
    """(classifier, file bytes) or raises ValueError / ModelUnavailable with the one-line reason."""
    from core.models.formats import format_of, load_network
    from core.models.imported import Convention, ImportedClassifier

    path = Path(args.file)
    data = path.read_bytes()
    network = load_network(data, format_of(path.name))
    defaults = "gray" if network.channels == 1 else "rgb"
    convention = Convention.parse(f"{defaults},{args.input or ''}")
    labels = _labels(args.labels, network.outputs)
    return ImportedClassifier(network, labels, convention, args.name, args.output), data


def _check(args, classifier, dataset) -> int:
    """Run and print the input check; 0 to go on (the proposal taken with --yes), else the exit code."""
    from core.evaluation.input_check import accepted, format_table, run_check

    result = run_check(classifier, dataset, size=args.sample)
    print(format_table(result))
    for message in result.messages:
        print(f"check: {message}")
    if not result.has_proposal:
        print("check: the setting given is the best of those tried")
        return 0
    if args.yes:
        accepted(classifier, result)
        print(f"check: proposal taken (--yes): input {classifier.convention}, labels {','.join(classifier.labels)}, "
              f"outputs {classifier.output}")
    elif not args.as_given:
        print(f"nothing written: rerun with --yes to take the proposal, or --as-given to keep "
              f"{result.current} and your labels", file=sys.stderr)
        return PROPOSAL_PENDING
    classifier.input_check = result.to_dict()
    return 0


def run(args) -> int:
    from core import paths
    from core.data.datasets import DatasetError, load_dataset
    from core.evaluation.evaluate import format_summary
    from core.evaluation.imports import check_name, evaluate_stored, store
    from core.models.base import ModelUnavailable
    from core.models.imported import card_for

    root = Path(args.models_dir) if args.models_dir else paths.models_root()
    problem = check_name(args.name, root, args.force)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        classifier, data = _prepare(args)
    except (ModelUnavailable, ValueError, OSError) as exc:
        print(f"error: {args.file}: refused: {exc}", file=sys.stderr)
        return 1
    data_dir = args.data or paths.dataset_dir_from_env()
    try:
        dataset = load_dataset(data_dir) if data_dir else None
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if dataset is None:
        print("note: no dataset (--data or FER2013_DIR): no input check and no evaluation", file=sys.stderr)
    else:
        code = _check(args, classifier, dataset)
        if code:
            return code
    card = card_for(classifier, data, source=f"imported from {Path(args.file).name} with python -m core import-model",
                    display_name=args.display_name or args.name, input_check=getattr(classifier, "input_check", None))
    folder = store(classifier, data, card, root)
    print(f"wrote {folder / card.extra['file']['name']} and {folder / 'model.json'}")
    if dataset is not None and not args.no_evaluate:
        results = evaluate_stored(classifier, dataset, folder, progress=not args.quiet)
        print(f"temperature {classifier.temperature:.4f} fitted on {dataset.name} {dataset.splits[1]}")
        for split, metrics in results.items():
            print(format_summary(metrics, folder / "eval" / f"{dataset.name}-{split}"))
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "import-model", help="import a .keras/.h5/.onnx/.tflite emotion model into models/NAME/",
        description="Import a model file (Keras 2 or 3 .keras/.h5, ONNX, TensorFlow Lite), loaded safely (no Lambda "
                    "layers, no custom objects). The input check scores it on a seeded sample of the dataset's "
                    "selection split under every plausible input convention and proposes a better convention or "
                    "label order; nothing is written until you confirm with --yes (or keep yours with --as-given). "
                    "Then writes models/NAME/ and evaluates it on both FER2013 test splits.")
    p.add_argument("file", help="the model file")
    p.add_argument("--name", required=True, help="its id: the folder models/NAME/, its CSV columns and legend entries")
    p.add_argument("--display-name", help="the name pages show (default: NAME)")
    p.add_argument("--labels", help="its labels in output order (default for 7 outputs: FER2013's order, "
                                    "angry,disgust,fear,happy,sad,surprise,neutral)")
    p.add_argument("--input", help="input convention, any of: gray|rgb|bgr, 0..1|-1..1|0..255|imagenet, area|bilinear "
                                   "(default: gray or rgb by the input's channels, 0..1, area; write --input=-1..1 for a value starting with -)")
    p.add_argument("--output", default="probabilities", choices=["probabilities", "logits"],
                   help="what the model outputs (logits get a softmax)")
    p.add_argument("--data", help="dataset for the check and the evaluation (default: $FER2013_DIR)")
    p.add_argument("--sample", type=int, default=700, help="faces in the input check's sample (default 700)")
    p.add_argument("--yes", action="store_true", help="take the input check's proposal")
    p.add_argument("--as-given", action="store_true", help="keep the given settings whatever the check proposes")
    p.add_argument("--no-evaluate", action="store_true", help="write the folder without evaluating")
    p.add_argument("--force", action="store_true", help="replace an imported model of that name")
    p.add_argument("--models-dir", help="the models folder (default: $EMOTION_MODELS_ROOT, else models/)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)
