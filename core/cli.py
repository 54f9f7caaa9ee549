"""Command line: ``python -m core {predict,train,evaluate,bench} ...``."""
from __future__ import annotations

import argparse
import logging
import sys


def _cmd_train(args) -> int:
    from core.labels import parse_classes
    from core.training import TrainConfig, export_run, run_finished, train

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


def build_parser() -> argparse.ArgumentParser:
    from core.training import PROJECT_ROOT

    parser = argparse.ArgumentParser(prog="python -m core", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

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
    p.add_argument("--export", action="store_true", help="export the best checkpoint even if unfinished")
    p.add_argument("--limit-train", type=int, help=argparse.SUPPRESS)
    p.add_argument("--limit-val", type=int, help=argparse.SUPPRESS)
    p.add_argument("--runs-dir", default=str(PROJECT_ROOT / "runs"))
    p.add_argument("--models-dir", default=str(PROJECT_ROOT / "models"))
    p.set_defaults(func=_cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    args = build_parser().parse_args(argv)
    return args.func(args)
