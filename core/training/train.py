"""Training the custom CNN with checkpoints every epoch and exact resumption.

Protocol (FER2013): fit on ``Training``; the learning-rate schedule is fixed in advance (cosine
with warm-up); early stopping and the choice of checkpoint use ``PublicTest`` only. A finished run
can be extended by warm-restart cycles (SGDR: the learning rate climbs back and decays again, with
the weights and optimizer state carried over), decided on ``PublicTest`` alone. ``PrivateTest``
is never touched here: it is evaluated once, on the exported model (:mod:`core.evaluation`).

The run's files are described in :mod:`core.training.runs`; :func:`core.training.export.export_run`
turns the best checkpoint into ``models/<name>/``.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from core import paths
from core.training.augment import augment_batch
from core.training.callbacks import make_callbacks
from core.training.config import TrainConfig, read_config
from core.training.provenance import hardware_description
from core.training.runs import (
    BEST_WEIGHTS,
    LAST_CHECKPOINT,
    RNG_STATE,
    log,
    read_state,
    restore_seed_states,
    write_run_json,
)
from core.training.schedule import learning_rate_schedule, restarts_class


def batches_class():
    import keras

    class AugmentedBatches(keras.utils.PyDataset):
        """Shuffled, augmented training batches, reproducible from (seed, epoch, batch index)."""

        def __init__(self, x, y, num_classes, batch_size, seed, spec_for_epoch):
            super().__init__()
            self.x, self.y, self.num_classes = x, y, num_classes
            self.batch_size, self.seed, self.spec_for_epoch = batch_size, seed, spec_for_epoch
            self.set_epoch(0)

        def set_epoch(self, epoch: int) -> None:
            self.epoch = epoch
            self.spec = self.spec_for_epoch(epoch)
            self.order = np.random.default_rng([self.seed, epoch]).permutation(len(self.x))

        def __len__(self):
            return math.ceil(len(self.x) / self.batch_size)

        def __getitem__(self, index):
            idx = self.order[index * self.batch_size:(index + 1) * self.batch_size]
            rng = np.random.default_rng([self.seed, self.epoch, index])
            images = augment_batch(self.x[idx], rng, self.spec)
            return to_model_input(images), one_hot(self.y[idx], self.num_classes)

    return AugmentedBatches


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 (n, h, w) grayscale faces -> float32 (n, h, w, 1) in [0, 1] (the model's normalisation)."""
    return (images.astype(np.float32) / 255.0)[..., None]


def one_hot(y: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k, dtype=np.float32)[y]


def _setup_file_log(run_dir: Path) -> logging.Handler:
    handler = logging.FileHandler(run_dir / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    if not any(isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler) for h in log.handlers):
        console = logging.StreamHandler()
        console.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        log.addHandler(console)
    return handler


def load_training_data(config: TrainConfig):
    """(x_train, y_train, x_val, y_val, labels, dataset) as uint8 arrays and int labels."""
    from core.data.datasets import load_dataset

    dataset = load_dataset(config.data, config.dataset_kind).with_classes(config.classes)
    labels = config.classes or dataset.labels
    train_split, val_split, _ = dataset.splits
    train = dataset.split(train_split)[: config.limit_train]
    val = dataset.split(val_split)[: config.limit_val]
    x_train, y_train = dataset.load_arrays(train, config.input_size, labels=labels, progress=True)
    x_val, y_val = dataset.load_arrays(val, config.input_size, labels=labels, progress=True)
    return x_train, y_train, x_val, y_val, tuple(labels), dataset


def train(config: TrainConfig, runs_dir: str | Path | None = None, resume: bool = False,
          max_epochs_this_call: int | None = None) -> Path:
    """Train (or resume) the run ``runs_dir/config.name``; returns the run directory.

    ``max_epochs_this_call`` stops after that many epochs (the run stays resumable), so a long
    schedule can be spread over several sessions.
    """
    import keras

    from core.models.architecture import build_cnn, multiply_adds

    run_dir = Path(runs_dir if runs_dir is not None else paths.runs_root()) / config.name
    if resume:
        if not (run_dir / LAST_CHECKPOINT).exists():
            raise FileNotFoundError(f"{run_dir}: nothing to resume (no last.keras)")
        config = read_config(run_dir)
        state = read_state(run_dir)
    else:
        if (run_dir / LAST_CHECKPOINT).exists():
            raise FileExistsError(f"{run_dir} already holds a run: pass --resume to continue it, or delete it")
        run_dir.mkdir(parents=True, exist_ok=True)
        for stale in ("history.csv", "train.log", BEST_WEIGHTS, RNG_STATE):
            (run_dir / stale).unlink(missing_ok=True)
        state = {"epochs_completed": 0, "train_seconds": 0.0, "hardware": [], "sessions": 0}
        write_run_json(run_dir / "config.json", config.to_dict())

    handler = _setup_file_log(run_dir)
    try:
        keras.utils.set_random_seed(config.seed + state["epochs_completed"])
        x_train, y_train, x_val, y_val, labels, dataset = load_training_data(config)
        k = len(labels)
        state.update(labels=list(labels), dataset=dataset.name, train_split=dataset.splits[0],
                     val_split=dataset.splits[1], n_train=int(len(x_train)), n_val=int(len(x_val)))
        steps_per_epoch = math.ceil(len(x_train) / config.batch_size)
        schedule = learning_rate_schedule(config, steps_per_epoch)
        if resume:
            restarts_class()  # registered, for a checkpoint saved during a warm restart
            model = keras.models.load_model(run_dir / LAST_CHECKPOINT, safe_mode=True)
            # config.json is the source of truth for the schedule (it holds any warm restart added since)
            model.optimizer.learning_rate = schedule
            source = restore_seed_states(model, run_dir, config, state["epochs_completed"], steps_per_epoch)
            log.info("resuming %s after epoch %d (dropout generators: %s)", run_dir, state["epochs_completed"], source)
            for cycle in config.cycles()[1:]:
                if cycle["start_epoch"] == state["epochs_completed"]:
                    log.info("warm restart: epochs %d-%d, cosine decay from %.2e, augmentation %s",
                             cycle["start_epoch"] + 1, cycle["end_epoch"], cycle["learning_rate"],
                             cycle["augment"].to_dict())
        else:
            model = build_cnn(k, config.input_size, config.stages, config.dense_units, config.dropout)
            model.compile(
                optimizer=keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay),
                loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
                metrics=["accuracy"])
            log.info("new run %s: %d parameters, %.1fM multiply-adds per face, %d train / %d val images",
                     run_dir, model.count_params(), multiply_adds(model) / 1e6, len(x_train), len(x_val))
        state["sessions"] = state.get("sessions", 0) + 1
        hardware = hardware_description()
        if hardware not in state["hardware"]:
            state["hardware"].append(hardware)
        start = state["epochs_completed"]
        end = config.epochs if max_epochs_this_call is None else min(config.epochs, start + max_epochs_this_call)
        if state.get("stopped_early") or start >= config.epochs:
            log.info("run already finished after %d epochs", start)
            return run_dir
        Batches = batches_class()
        batches = Batches(x_train, y_train, k, config.batch_size, config.seed, config.augment_for_epoch)
        # shuffle=False: the batches are already shuffled, from (seed, epoch); Keras would otherwise
        # reorder them with Python's global `random`, which a resumed run cannot reproduce.
        model.fit(batches, validation_data=(to_model_input(x_val), one_hot(y_val, k)), validation_batch_size=512,
                  initial_epoch=start, epochs=end, verbose=0, shuffle=False,
                  callbacks=make_callbacks(run_dir, config, state, batches, steps_per_epoch))
        return run_dir
    finally:
        log.removeHandler(handler)
        handler.close()
