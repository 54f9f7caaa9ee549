"""``python -m core train`` and ``python -m core export``: train the CNN (resumably) and export a run."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli.common import positive_int


def run_train(args) -> int:
    from core.labels import parse_classes
    from core.training.augment import parse_augment_changes
    from core.training.config import TrainConfig
    from core.training.export import export_run
    from core.training.runs import extend_run, run_finished
    from core.training.train import train

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


def run_export(args) -> int:
    from core.training.config import read_config
    from core.training.export import export_run
    from core.training.runs import run_finished

    run_dir = Path(args.runs_dir) / args.name
    if not (run_dir / "state.json").is_file():
        print(f"error: {run_dir}: no training run there", file=sys.stderr)
        return 1
    target = Path(args.models_dir) / read_config(run_dir).name
    if (target / "model.keras").is_file() and not args.force:
        print(f"error: {target} already holds a model (a shipped model is replaced only on purpose): "
              f"add --force to overwrite it", file=sys.stderr)
        return 1
    out = export_run(run_dir, args.models_dir)
    status = "finished" if run_finished(run_dir) else "unfinished (interim checkpoint)"
    print(f"exported the best checkpoint of {run_dir} ({status}) to {out}")
    return 0


def add_parsers(sub) -> None:
    from core import paths
    from core.training.runs import RESTART_WARMUP_EPOCHS

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
    p.add_argument("--extend", type=positive_int, metavar="EPOCHS",
                   help="with --resume, on a finished run: add a warm-restart cycle of this many epochs")
    p.add_argument("--restart-lr", type=float, help="peak learning rate of the warm restart (default: half the run's)")
    p.add_argument("--restart-warmup", type=int, default=RESTART_WARMUP_EPOCHS,
                   help="warm-up epochs of the warm restart (default: %(default)s)")
    p.add_argument("--restart-augment", metavar="NAME=VALUE,...",
                   help="augmentation changes for the warm restart, e.g. erase_prob=0.1,rotation_deg=10 "
                        "(settings: flip, rotation_deg, shift, zoom, brightness, contrast, erase_prob)")
    p.add_argument("--export", action="store_true", help="export the best checkpoint even if unfinished")
    p.add_argument("--limit-train", type=int, help=argparse.SUPPRESS)
    p.add_argument("--limit-val", type=int, help=argparse.SUPPRESS)
    p.add_argument("--runs-dir", default=str(paths.runs_root()))
    p.add_argument("--models-dir", default=str(paths.models_root()))
    p.set_defaults(func=run_train)

    p = sub.add_parser("export", help="write models/NAME from the best checkpoint of runs/NAME",
                       description="Write models/NAME (model.keras, model.json, history.csv) from the best "
                                   "checkpoint of runs/NAME. An existing model there is kept unless --force.")
    p.add_argument("--name", default="fer2013_cnn", help="run and model name (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="overwrite the model already in models/NAME")
    p.add_argument("--runs-dir", default=str(paths.runs_root()))
    p.add_argument("--models-dir", default=str(paths.models_root()))
    p.set_defaults(func=run_export)
