"""Command line: ``python -m core {predict,train,evaluate,bench} ...``."""
from __future__ import annotations

import argparse
import logging
import os
import sys


def format_face_line(photo: str, face: dict) -> str:
    """``photo.jpg face 1 (x=176 y=66 w=97 h=97): cnn happy 88.0% | deepface happy 71.3%``."""
    r = face["region"]
    where = "whole image" if face["source"] == "whole_image" else f"x={r['x']} y={r['y']} w={r['w']} h={r['h']}"
    parts = [f"{name} {m['dominant_emotion']} {m['confidence'] * 100:.1f}%" for name, m in face["models"].items()]
    return f"{photo} face {face['face']} ({where}): " + (" | ".join(parts) or "no model result")


def _cmd_predict(args) -> int:
    import json

    from core.imaging import ImageDecodeError
    from core.pipeline import AnalysisOptions, Analyzer, load_classifiers

    classifiers, unavailable = load_classifiers(args.model, args.model_dir, args.deepface_detector)
    for name, reason in unavailable.items():
        print(f"note: {name} unavailable: {reason}", file=sys.stderr)
    if not classifiers:
        print("error: no model could be loaded", file=sys.stderr)
        return 1
    if unavailable:
        print(f"note: showing {', '.join(classifiers)} only", file=sys.stderr)
    analyzer = Analyzer(classifiers)
    options = AnalysisOptions(no_face="whole_image" if args.whole_image else "report",
                              deepface_mode=args.deepface_mode, min_face_size=args.min_face_size)
    results, bad = [], 0
    for path in args.images:
        try:
            result = analyzer.analyze_source(path, name=path, options=options).to_dict()
        except ImageDecodeError as exc:
            bad += 1
            print(f"error: {exc}", file=sys.stderr)
            results.append({"image": path, "error": exc.reason})
            continue
        except Exception as exc:  # anything else: report it on one line and go on with the next photo
            bad += 1
            reason = " ".join(f"analysis failed ({type(exc).__name__}: {exc})".split())
            print(f"error: {path}: {reason}", file=sys.stderr)
            results.append({"image": path, "error": reason})
            continue
        results.append(result)
        if args.json:
            continue
        for model, message in result["model_errors"].items():
            print(f"error: {path}: {model} failed: {message}", file=sys.stderr)
        if not result["faces"]:
            print(f"{path}: no face found", flush=True)
        for face in result["faces"]:
            print(format_face_line(path, face), flush=True)
    if args.json:
        print(json.dumps({"models": {n: c.describe() for n, c in classifiers.items()}, "unavailable": unavailable,
                          "results": results}, indent=2))
    return 2 if bad else 0


def _cmd_train(args) -> int:
    from core.augment import parse_augment_changes
    from core.labels import parse_classes
    from pathlib import Path

    from core.training import TrainConfig, export_run, extend_run, run_finished, train

    if args.restart_augment and args.extend is None:
        print("error: --restart-augment belongs to a warm restart: pass --extend N --resume too", file=sys.stderr)
        return 2
    if args.extend is not None:
        if not args.resume:
            print("error: --extend adds a warm restart to an existing run: pass --resume too", file=sys.stderr)
            return 2
        try:
            augment = parse_augment_changes(args.restart_augment) if args.restart_augment else None
            extend_run(Path(args.runs_dir) / args.name, args.extend, args.restart_lr, args.restart_warmup, augment)
        except (FileNotFoundError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.resume:
        config = TrainConfig(data=args.data, name=args.name)
    else:
        config = TrainConfig(data=args.data, name=args.name, dataset_kind=args.kind, classes=parse_classes(args.classes),
                             epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                             patience=args.patience, seed=args.seed, limit_train=args.limit_train,
                             limit_val=args.limit_val)
    run_dir = train(config, args.runs_dir, resume=args.resume, max_epochs_this_call=args.max_epochs)
    if run_finished(run_dir) or args.export:
        out = export_run(run_dir, args.models_dir)
        print(f"exported {out}")
    else:
        print(f"stopped before the end of the schedule; continue with: python -m core train --resume --name {args.name} --data {args.data}")
    return 0


def _cmd_export(args) -> int:
    from pathlib import Path

    from core.training import export_run, run_finished

    run_dir = Path(args.runs_dir) / args.name
    if not (run_dir / "state.json").is_file():
        print(f"error: {run_dir}: no training run there", file=sys.stderr)
        return 1
    out = export_run(run_dir, args.models_dir)
    status = "finished" if run_finished(run_dir) else "unfinished (interim checkpoint)"
    print(f"exported the best checkpoint of {run_dir} ({status}) to {out}")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from core.training import PROJECT_ROOT, RESTART_WARMUP_EPOCHS

    parser = argparse.ArgumentParser(prog="python -m core", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("predict", help="emotions of every face in photos, by both models")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--model", default="both", choices=["cnn", "deepface", "both"])
    p.add_argument("--json", action="store_true", help="print the full results as JSON")
    p.add_argument("--model-dir", help="CNN model folder (default: models/fer2013_cnn)")
    p.add_argument("--deepface-mode", default="crops", choices=["crops", "full"],
                   help="DeepFace on our face crops, or with its own detector on the whole photo")
    p.add_argument("--deepface-detector", default="opencv", help="DeepFace detector backend in full mode")
    p.add_argument("--whole-image", action="store_true", help="classify the whole image when no face is found")
    p.add_argument("--min-face-size", type=_positive_int, default=40, help="ignore faces smaller than this (pixels)")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("train", help="train the CNN (checkpoint every epoch, --resume continues)")
    p.add_argument("--data", required=True, help="dataset folder or FER2013 CSV")
    p.add_argument("--kind", default="auto", choices=["auto", "fer2013", "csv", "kdef", "folders"])
    p.add_argument("--name", default="fer2013_cnn", help="run and model name (runs/NAME, models/NAME)")
    p.add_argument("--classes", help="comma-separated subset, e.g. happy,sad,angry")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--learning-rate", type=float, default=2e-3)
    p.add_argument("--patience", type=int, default=20, help="early stopping on the validation split")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--resume", action="store_true", help="continue runs/NAME exactly where it stopped")
    p.add_argument("--max-epochs", type=int, help="stop (resumably) after this many epochs in this call")
    p.add_argument("--extend", type=_positive_int, metavar="EPOCHS",
                   help="with --resume, on a finished run: add a warm-restart cycle of this many epochs")
    p.add_argument("--restart-lr", type=float, help="peak learning rate of the warm restart (default: half the run's)")
    p.add_argument("--restart-warmup", type=int, default=RESTART_WARMUP_EPOCHS, help="warm-up epochs of the warm restart (default: %(default)s)")
    p.add_argument("--restart-augment", metavar="NAME=VALUE,...",
                   help="augmentation changes for the warm restart, e.g. erase_prob=0.1,rotation_deg=10 "
                        "(settings: flip, rotation_deg, shift, zoom, brightness, contrast, erase_prob)")
    p.add_argument("--export", action="store_true", help="export the best checkpoint even if unfinished")
    p.add_argument("--limit-train", type=int, help=argparse.SUPPRESS)
    p.add_argument("--limit-val", type=int, help=argparse.SUPPRESS)
    p.add_argument("--runs-dir", default=str(PROJECT_ROOT / "runs"))
    p.add_argument("--models-dir", default=str(PROJECT_ROOT / "models"))
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("export", help="write models/NAME from the best checkpoint of runs/NAME")
    p.add_argument("--name", default="fer2013_cnn")
    p.add_argument("--runs-dir", default=str(PROJECT_ROOT / "runs"))
    p.add_argument("--models-dir", default=str(PROJECT_ROOT / "models"))
    p.set_defaults(func=_cmd_export)

    from core.bench import add_parser as add_bench_parser
    add_bench_parser(sub)
    from core.evaluation import add_parser as add_evaluate_parser
    add_evaluate_parser(sub)
    return parser


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with C++ start-up chatter (printed before its logging is set up) muted.

    Only file descriptor 2 is redirected, and only during the import; Python errors still show.
    """
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                import tensorflow  # noqa: F401
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    args = build_parser().parse_args(argv)
    import_tensorflow_quietly()
    return args.func(args)
