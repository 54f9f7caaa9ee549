"""Exporting a run: its best checkpoint becomes ``models/<name>/`` (model.keras, model.json, history.csv)."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from core import paths
from core.models.card import ModelCard
from core.training.config import read_config
from core.training.provenance import git_commit
from core.training.runs import BEST_WEIGHTS, load_weights, read_state
from core.training.schedule import describe_schedule


def layer_table(model) -> str:
    """The model's layers as a plain-text table (name and type, output shape, parameters), in full:
    Keras's own ``summary()`` draws box characters at a console width and cuts the last column."""
    rows = [("Layer (type)", "Output shape", "Parameters")]
    rows += [(f"{layer.name} ({type(layer).__name__})", str(tuple(layer.output.shape)), f"{layer.count_params():,}")
             for layer in model.layers]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}" for a, b, c in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.append("-" * len(lines[0]))
    lines.append(f"Total parameters: {model.count_params():,}")
    return "\n".join(lines)


def export_run(run_dir: str | Path, models_dir: str | Path | None = None) -> Path:
    """Write ``models/<name>/`` from a run's best checkpoint: model.keras, model.json, history.csv."""

    from core.models.architecture import build_cnn, multiply_adds

    run_dir = Path(run_dir)
    config = read_config(run_dir)
    state = read_state(run_dir)
    labels = state["labels"]
    model = build_cnn(len(labels), config.input_size, config.stages, config.dense_units, config.dropout)
    load_weights(model, run_dir / BEST_WEIGHTS)
    out = Path(models_dir if models_dir is not None else paths.models_root()) / config.name
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.keras")
    shutil.copyfile(run_dir / "history.csv", out / "history.csv")
    card = ModelCard(
        name=config.name,
        kind="keras-cnn",
        labels=list(labels),
        input={"size": [config.input_size, config.input_size], "color_mode": "grayscale", "channels": 1,
               "dtype": "float32", "layout": "NHWC"},
        preprocessing={"resize": "cv2.INTER_AREA to 48x48 from the face crop", "grayscale": "cv2.COLOR_BGR2GRAY",
                       "normalization": {"scale": 1 / 255, "offset": 0.0}},
        architecture={
            "description": "VGG-style: per stage Conv3x3-BN-ReLU blocks, 2x2 max-pool, spatial dropout; "
                           "flatten, dropout, Dense-BN-ReLU, dropout, softmax",
            "stages": [list(s) for s in config.stages], "dense_units": config.dense_units, "dropout": config.dropout,
            "parameters": int(model.count_params()), "multiply_adds": multiply_adds(model),
            "summary": layer_table(model),
        },
        training={
            "dataset": state["dataset"], "data_dir_name": Path(config.data).name,
            "protocol": {"fit": state["train_split"], "select": state["val_split"],
                         "report": "PrivateTest" if state["dataset"] == "fer2013" else "test",
                         "note": "checkpoint chosen by best accuracy on the selection split; "
                                 "the report split is evaluated once, on this exported model"},
            "n_train": state["n_train"], "n_val": state["n_val"],
            "epochs_planned": config.epochs, "epochs_run": state["epochs_completed"],
            "best_epoch": state["best_epoch"], "best_val_accuracy": state["best_val_accuracy"],
            "stopped_early": bool(state.get("stopped_early")),
            "optimizer": {"name": "AdamW", "learning_rate": config.learning_rate,
                          "weight_decay": config.weight_decay, "schedule": describe_schedule(config),
                          "warmup_epochs": config.warmup_epochs, "batch_size": config.batch_size,
                          **({"warm_restarts": [dict(r) for r in config.restarts]} if config.restarts else {})},
            "loss": {"name": "categorical cross-entropy", "label_smoothing": config.label_smoothing},
            "augmentation": config.augment.to_dict(),
            # one entry per learning-rate cycle, as the batches used it (a warm restart may change it)
            "augmentation_by_cycle": {f"epochs {c['start_epoch'] + 1}-{c['end_epoch']}": c["augment"].to_dict()
                                      for c in config.cycles()},
            "seed": config.seed,
            "train_seconds": round(state["train_seconds"], 1),
            "sessions": state.get("sessions", 1),
            "hardware": state["hardware"],
        },
        provenance={"commit": git_commit(), "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "run_dir": paths.display_path(run_dir)},
    )
    card.write(out, sort_keys=True)
    return out
