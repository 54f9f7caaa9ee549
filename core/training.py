"""Training the custom CNN with checkpoints every epoch and exact resumption.

Protocol (FER2013): fit on ``Training``; the learning-rate schedule is fixed in advance (cosine
with warm-up); early stopping and the choice of checkpoint use ``PublicTest`` only. A finished run
can be extended by warm-restart cycles (SGDR: the learning rate climbs back and decays again, with
the weights and optimizer state carried over), decided on ``PublicTest`` alone. ``PrivateTest``
is never touched here: it is evaluated once, on the exported model (:mod:`core.evaluation`).

A run lives in ``runs/<name>/``: ``config.json``, ``state.json`` (epochs done, best epoch, time
spent), ``last.keras`` (model and optimizer, for ``--resume``), ``rng_state.json`` (the dropout
layers' random-generator states, which ``last.keras`` does not hold), ``best.weights.npz``,
``history.csv`` and ``train.log``. :func:`export_run` turns the best checkpoint into ``models/<name>/``.
"""
from __future__ import annotations

import json
import logging
import math
import os
import platform
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from core.architecture import DEFAULT_STAGES
from core.augment import AugmentSpec, augment_batch, replace_augment

log = logging.getLogger("core.training")
log.propagate = False
PROJECT_ROOT = Path(__file__).resolve().parent.parent
BEST_WEIGHTS = "best.weights.npz"
RNG_STATE = "rng_state.json"


def save_weights(model, path: Path) -> None:
    """The model's weights alone (no optimizer state), atomically, as a NumPy archive."""
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, *model.get_weights())
    os.replace(tmp, path)


def load_weights(model, path: Path) -> None:
    with np.load(path) as archive:
        model.set_weights([archive[f"arr_{i}"] for i in range(len(archive.files))])


def seed_states(model) -> dict[str, list[list[int]]]:
    """Each layer's random-seed generator states (dropout masks), by layer name.

    Keras does not save them in ``.keras`` files: a reloaded model would draw new dropout masks,
    so a resumed run would drift from the uninterrupted one. They are kept in ``rng_state.json``.
    """
    states = {}
    for layer in model.layers:
        values = [np.asarray(v.numpy()).tolist() for v in layer.variables if v.name == "seed_generator_state"]
        if values:
            states[layer.name] = values
    return states


def set_seed_states(model, states: dict[str, list[list[int]]]) -> None:
    for layer in model.layers:
        variables = [v for v in layer.variables if v.name == "seed_generator_state"]
        if not variables:
            continue
        values = states.get(layer.name)
        if values is None or len(values) != len(variables):
            raise ValueError(f"no random-generator state for layer {layer.name!r}")
        for variable, value in zip(variables, values):
            variable.assign(np.asarray(value, dtype=variable.dtype))


def _restore_seed_states(model, run_dir: Path, config: "TrainConfig", epochs_completed: int,
                         steps_per_epoch: int) -> str:
    """Put the dropout generators of a reloaded model where the interrupted run left them.

    From ``rng_state.json`` when it belongs to the checkpoint's epoch; otherwise (runs started
    before that file existed) rebuilt: a fresh run builds its model right after
    ``set_random_seed(seed)``, which fixes each generator's seed, and every training step advances
    each generator by one.
    """
    import keras

    from core.architecture import build_cnn

    path = run_dir / RNG_STATE
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved.get("epochs_completed") == epochs_completed:
            set_seed_states(model, saved["seed_generators"])
            return "rng_state.json"
    keras.utils.set_random_seed(config.seed)
    fresh = build_cnn(model.output_shape[-1], config.input_size, config.stages, config.dense_units, config.dropout)
    steps = epochs_completed * steps_per_epoch
    set_seed_states(model, {name: [[seed, counter + steps] for seed, counter in values]
                            for name, values in seed_states(fresh).items()})
    keras.utils.set_random_seed(config.seed + epochs_completed)
    return "rebuilt from the seed"


@dataclass
class TrainConfig:
    data: str
    name: str = "fer2013_cnn"
    dataset_kind: str = "auto"
    classes: tuple[str, ...] | None = None
    epochs: int = 60
    batch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 5e-4
    warmup_epochs: int = 2
    label_smoothing: float = 0.1
    patience: int = 20
    seed: int = 42
    input_size: int = 48
    stages: tuple[tuple[int, ...], ...] = DEFAULT_STAGES
    dense_units: int = 256
    dropout: float = 0.4
    augment: AugmentSpec = field(default_factory=AugmentSpec)
    limit_train: int | None = None  # use only the first N training images (smoke tests)
    limit_val: int | None = None
    # Warm restarts appended to a finished run, in order: {"after_epoch", "epochs", "learning_rate",
    # "warmup_epochs"[, "augment"]}. ``epochs`` counts every epoch, the restarts' included. ``augment``
    # (a whole AugmentSpec) applies from that restart on; without it the previous cycle's carries over.
    restarts: tuple[dict, ...] = ()

    def cycles(self) -> list[dict]:
        """The learning-rate cycles: the first schedule, then each warm restart; epochs 0-based, end exclusive.

        Each cycle also carries the ``augment`` spec its training batches use.
        """
        first_end = self.restarts[0]["after_epoch"] if self.restarts else self.epochs
        cycles = [{"start_epoch": 0, "end_epoch": first_end, "learning_rate": self.learning_rate,
                   "warmup_epochs": self.warmup_epochs, "augment": self.augment}]
        for restart in self.restarts:
            augment = AugmentSpec(**restart["augment"]) if restart.get("augment") else cycles[-1]["augment"]
            cycles.append({"start_epoch": restart["after_epoch"], "end_epoch": restart["after_epoch"] + restart["epochs"],
                           "learning_rate": restart["learning_rate"], "warmup_epochs": restart["warmup_epochs"],
                           "augment": augment})
        return cycles

    def augment_for_epoch(self, epoch: int) -> AugmentSpec:
        """The augmentation of the cycle that holds ``epoch`` (0-based)."""
        return [c for c in self.cycles() if c["start_epoch"] <= epoch][-1]["augment"]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["stages"] = [list(s) for s in self.stages]
        data["classes"] = list(self.classes) if self.classes else None
        data["restarts"] = [dict(r) for r in self.restarts]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        data = dict(data)
        data["stages"] = tuple(tuple(s) for s in data["stages"])
        data["classes"] = tuple(data["classes"]) if data.get("classes") else None
        data["augment"] = AugmentSpec(**data.get("augment", {}))
        data["restarts"] = tuple(dict(r) for r in data.get("restarts") or ())
        return cls(**data)


def learning_rate_schedule(config: TrainConfig, steps_per_epoch: int):
    """Cosine decay to 1% with a linear warm-up from 1/20 of the peak, restarted at each warm restart.

    A pure function of the optimizer's step counter, so a resumed run follows it exactly.
    """
    import keras

    def cosine(cycle: dict):
        steps = (cycle["end_epoch"] - cycle["start_epoch"]) * steps_per_epoch
        warmup = cycle["warmup_epochs"] * steps_per_epoch
        return keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=cycle["learning_rate"] / 20, warmup_target=cycle["learning_rate"],
            warmup_steps=warmup, decay_steps=max(steps - warmup, 1), alpha=0.01)

    cycles = config.cycles()
    if len(cycles) == 1:
        return cosine(cycles[0])
    return _restarts_class()([cosine(c) for c in cycles], [c["start_epoch"] * steps_per_epoch for c in cycles])


_RESTARTS_CLASS = None


def _restarts_class():
    """The warm-restart schedule class, registered with Keras so that ``last.keras`` reloads it."""
    global _RESTARTS_CLASS
    if _RESTARTS_CLASS is not None:
        return _RESTARTS_CLASS
    import keras

    @keras.saving.register_keras_serializable(package="core")
    class CosineWarmRestarts(keras.optimizers.schedules.LearningRateSchedule):
        """Schedule ``i`` runs from step ``starts[i]`` on, counting its own steps from there."""

        def __init__(self, schedules, starts):
            self.schedules = [s if isinstance(s, keras.optimizers.schedules.LearningRateSchedule)
                              else keras.optimizers.schedules.deserialize(s) for s in schedules]
            self.starts = [int(s) for s in starts]

        def __call__(self, step):
            step = keras.ops.cast(step, "float32")
            rate = self.schedules[0](step)
            for schedule, start in zip(self.schedules[1:], self.starts[1:]):
                rate = keras.ops.where(step >= start, schedule(keras.ops.maximum(step - start, 0.0)), rate)
            return rate

        def get_config(self):
            return {"schedules": [keras.optimizers.schedules.serialize(s) for s in self.schedules],
                    "starts": self.starts}

    _RESTARTS_CLASS = CosineWarmRestarts
    return _RESTARTS_CLASS


RESTART_WARMUP_EPOCHS = 1  # default warm-up of a warm restart (the optimizer state is already warm)


def extend_run(run_dir: str | Path, epochs: int, learning_rate: float | None = None,
               warmup_epochs: int = RESTART_WARMUP_EPOCHS,
               augment: dict | None = None) -> TrainConfig:
    """Append a warm-restart cycle of ``epochs`` epochs to a finished run (then ``--resume`` trains it).

    The peak learning rate defaults to half the run's first peak. The restart starts from the last
    weights and optimizer state; checkpoint choice stays on the selection split across cycles.
    ``augment`` changes some augmentation settings for this cycle (e.g. ``{"erase_prob": 0.1}`` for
    an underfitting model); the rest carry over from the previous cycle.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "last.keras").exists():
        raise FileNotFoundError(f"{run_dir}: nothing to extend (no last.keras)")
    config = TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    state = json.loads((run_dir / "state.json").read_text())
    done = state["epochs_completed"]
    if state.get("stopped_early"):
        # config.cycles() takes a cycle's planned end from the next restart's start, which an early
        # stop would falsify; and early stopping already said this schedule stopped paying.
        raise ValueError(f"{run_dir}: stopped early after {done} of {config.epochs} epochs; a warm restart "
                         f"extends a schedule that ran to its end (start a new run instead)")
    if done < config.epochs:
        raise ValueError(f"{run_dir}: {done} of {config.epochs} epochs done; finish the schedule "
                         f"(--resume) before extending it")
    if epochs < 1 or warmup_epochs < 0 or warmup_epochs >= epochs:
        raise ValueError(f"a restart needs at least 1 epoch and fewer warm-up epochs than epochs "
                         f"(got {epochs} epochs, {warmup_epochs} warm-up)")
    rate = config.learning_rate / 2 if learning_rate is None else float(learning_rate)
    if not rate > 0:
        raise ValueError(f"the restart's learning rate must be positive, not {rate}")
    restart = {"after_epoch": done, "epochs": int(epochs), "learning_rate": rate, "warmup_epochs": int(warmup_epochs)}
    if augment:
        restart["augment"] = replace_augment(config.cycles()[-1]["augment"], augment).to_dict()
    config.restarts = (*config.restarts, restart)
    config.epochs = done + int(epochs)
    _write_json(run_dir / "config.json", config.to_dict())
    state["epochs_without_improvement"] = 0  # patience counts within the new cycle
    _write_json(run_dir / "state.json", state)
    log.info("%s: warm restart after epoch %d: %d more epochs, peak learning rate %.2e", run_dir, done, epochs, rate)
    return config


def hardware_description() -> dict:
    """CPU model, core count and software versions, recorded with every run."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import keras

    info = {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "keras": keras.__version__, "backend": keras.backend.backend()}
    if info["backend"] == "tensorflow":
        import tensorflow as tf

        info["tensorflow"] = tf.__version__
        info["gpus"] = [d.name for d in tf.config.list_physical_devices("GPU")]
    elif info["backend"] == "jax":
        import jax

        info["jax"] = jax.__version__
        info["devices"] = [str(d) for d in jax.devices()]
    return info


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _batches_class():
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


def _callbacks(run_dir: Path, config: TrainConfig, state: dict, batches, total_batches: int):
    import keras
    from tqdm import tqdm

    class RunKeeper(keras.callbacks.Callback):
        """Per epoch: learning rate into the logs, a log line, checkpoints, state, early stopping."""

        def on_epoch_begin(self, epoch, logs=None):
            batches.set_epoch(epoch)
            self.started = time.perf_counter()
            self.bar = tqdm(total=total_batches, desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch",
                            leave=False, dynamic_ncols=True)

        def on_train_batch_end(self, batch, logs=None):
            self.bar.update(1)
            if logs and "accuracy" in logs:
                self.bar.set_postfix(loss=f"{float(logs['loss']):.3f}", acc=f"{float(logs['accuracy']):.3f}")

        def on_epoch_end(self, epoch, logs=None):
            self.bar.close()
            opt = self.model.optimizer
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(opt.learning_rate))
            seconds = time.perf_counter() - self.started
            logs["epoch_seconds"] = seconds
            state["epochs_completed"] = epoch + 1
            state["train_seconds"] = state.get("train_seconds", 0.0) + seconds
            val_acc = float(logs["val_accuracy"])
            improved = val_acc > state.get("best_val_accuracy", -1.0)
            if improved:
                state.update(best_val_accuracy=val_acc, best_epoch=epoch + 1, epochs_without_improvement=0)
                save_weights(self.model, run_dir / BEST_WEIGHTS)
            else:
                state["epochs_without_improvement"] = state.get("epochs_without_improvement", 0) + 1
            tmp = run_dir / "last.tmp.keras"
            self.model.save(tmp)
            os.replace(tmp, run_dir / "last.keras")
            _write_json(run_dir / RNG_STATE, {"epochs_completed": epoch + 1, "seed_generators": seed_states(self.model)})
            _write_json(run_dir / "state.json", state)
            log.info("epoch %d/%d  loss %.4f  acc %.4f  val_loss %.4f  val_acc %.4f  lr %.2e  %.0fs%s",
                     epoch + 1, config.epochs, logs["loss"], logs["accuracy"], logs["val_loss"], val_acc,
                     logs["learning_rate"], seconds, "  *best*" if improved else "")
            if state["epochs_without_improvement"] >= config.patience:
                log.info("early stopping: no PublicTest improvement for %d epochs", config.patience)
                state["stopped_early"] = True
                _write_json(run_dir / "state.json", state)
                self.model.stop_training = True

    csv_logger = keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True)
    return [RunKeeper(), csv_logger]


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


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
    from core.datasets import load_dataset

    dataset = load_dataset(config.data, config.dataset_kind).with_classes(config.classes)
    labels = config.classes or dataset.labels
    train_split, val_split, _ = dataset.splits
    train = dataset.split(train_split)[: config.limit_train]
    val = dataset.split(val_split)[: config.limit_val]
    x_train, y_train = dataset.load_arrays(train, config.input_size, labels=labels, progress=True)
    x_val, y_val = dataset.load_arrays(val, config.input_size, labels=labels, progress=True)
    return x_train, y_train, x_val, y_val, tuple(labels), dataset


def train(config: TrainConfig, runs_dir: str | Path = PROJECT_ROOT / "runs", resume: bool = False,
          max_epochs_this_call: int | None = None) -> Path:
    """Train (or resume) the run ``runs_dir/config.name``; returns the run directory.

    ``max_epochs_this_call`` stops after that many epochs (the run stays resumable), so a long
    schedule can be spread over several sessions.
    """
    import keras

    from core.architecture import build_cnn, multiply_adds

    run_dir = Path(runs_dir) / config.name
    state_path = run_dir / "state.json"
    if resume:
        if not (run_dir / "last.keras").exists():
            raise FileNotFoundError(f"{run_dir}: nothing to resume (no last.keras)")
        config = TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
        state = json.loads(state_path.read_text())
    else:
        if (run_dir / "last.keras").exists():
            raise FileExistsError(f"{run_dir} already holds a run: pass --resume to continue it, or delete it")
        run_dir.mkdir(parents=True, exist_ok=True)
        for stale in ("history.csv", "train.log", BEST_WEIGHTS, RNG_STATE):
            (run_dir / stale).unlink(missing_ok=True)
        state = {"epochs_completed": 0, "train_seconds": 0.0, "hardware": [], "sessions": 0}
        _write_json(run_dir / "config.json", config.to_dict())

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
            _restarts_class()  # registered, for a checkpoint saved during a warm restart
            model = keras.models.load_model(run_dir / "last.keras", safe_mode=True)
            # config.json is the source of truth for the schedule (it holds any warm restart added since)
            model.optimizer.learning_rate = schedule
            source = _restore_seed_states(model, run_dir, config, state["epochs_completed"], steps_per_epoch)
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
        Batches = _batches_class()
        batches = Batches(x_train, y_train, k, config.batch_size, config.seed, config.augment_for_epoch)
        # shuffle=False: the batches are already shuffled, from (seed, epoch); Keras would otherwise
        # reorder them with Python's global `random`, which a resumed run cannot reproduce.
        model.fit(batches, validation_data=(to_model_input(x_val), one_hot(y_val, k)), validation_batch_size=512,
                  initial_epoch=start, epochs=end, verbose=0, shuffle=False,
                  callbacks=_callbacks(run_dir, config, state, batches, steps_per_epoch))
        return run_dir
    finally:
        log.removeHandler(handler)
        handler.close()


def run_finished(run_dir: Path) -> bool:
    config = TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    state = json.loads((run_dir / "state.json").read_text())
    return bool(state.get("stopped_early")) or state["epochs_completed"] >= config.epochs


def describe_schedule(config: TrainConfig) -> str:
    """The learning-rate schedule in words, epochs numbered from 1."""
    parts = []
    previous = None
    for cycle in config.cycles():
        part = (f"epochs {cycle['start_epoch'] + 1}-{cycle['end_epoch']}: cosine decay from "
                f"{cycle['learning_rate']:g} after {cycle['warmup_epochs']} warm-up epoch(s)")
        if previous is not None and cycle["augment"] != previous:
            changed = [f"{k} {v:g}" if not isinstance(v, bool) else f"{k} {v}"
                       for k, v in cycle["augment"].to_dict().items() if v != previous.to_dict()[k]]
            part += f", augmentation changed to {', '.join(changed)}"
        parts.append(part)
        previous = cycle["augment"]
    if len(parts) == 1:
        return "cosine decay with linear warm-up"
    return "cosine with warm restarts (SGDR); " + "; ".join(parts)


def export_run(run_dir: str | Path, models_dir: str | Path = PROJECT_ROOT / "models") -> Path:
    """Write ``models/<name>/`` from a run's best checkpoint: model.keras, model.json, history.csv."""
    import keras

    from core.architecture import build_cnn, multiply_adds

    run_dir = Path(run_dir)
    config = TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    state = json.loads((run_dir / "state.json").read_text())
    labels = state["labels"]
    model = build_cnn(len(labels), config.input_size, config.stages, config.dense_units, config.dropout)
    load_weights(model, run_dir / BEST_WEIGHTS)
    out = Path(models_dir) / config.name
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.keras")
    shutil.copyfile(run_dir / "history.csv", out / "history.csv")
    summary: list[str] = []
    model.summary(print_fn=lambda line, *a, **k: summary.append(line), line_length=100)
    metadata = {
        "name": config.name,
        "kind": "keras-cnn",
        "labels": labels,
        "input": {"size": [config.input_size, config.input_size], "color_mode": "grayscale", "channels": 1,
                  "dtype": "float32", "layout": "NHWC"},
        "preprocessing": {"resize": "cv2.INTER_AREA to 48x48 from the face crop", "grayscale": "cv2.COLOR_BGR2GRAY",
                          "normalization": {"scale": 1 / 255, "offset": 0.0}},
        "architecture": {
            "description": "VGG-style: per stage Conv3x3-BN-ReLU blocks, 2x2 max-pool, spatial dropout; "
                           "flatten, dropout, Dense-BN-ReLU, dropout, softmax",
            "stages": [list(s) for s in config.stages], "dense_units": config.dense_units, "dropout": config.dropout,
            "parameters": int(model.count_params()), "multiply_adds": multiply_adds(model),
            "summary": "\n".join(summary),
        },
        "training": {
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
        "provenance": {"commit": git_commit(), "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       "run_dir": str(run_dir.relative_to(PROJECT_ROOT)) if run_dir.is_relative_to(PROJECT_ROOT) else str(run_dir)},
    }
    _write_json(out / "model.json", metadata)
    return out
