"""A training run on disk (``runs/<name>/``): its files, weights, random-generator states and
warm restarts.

``config.json`` and ``state.json`` (epochs done, best epoch, time spent), ``last.keras`` (model and
optimizer, for ``--resume``), ``rng_state.json`` (the dropout layers' random-generator states,
which ``last.keras`` does not hold), ``best.weights.npz``, ``history.csv`` and ``train.log``.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from core.paths import atomic_write, write_json
from core.training.augment import replace_augment
from core.training.config import TrainConfig, read_config

log = logging.getLogger("core.training")
log.propagate = False
LAST_CHECKPOINT = "last.keras"
BEST_WEIGHTS = "best.weights.npz"
RNG_STATE = "rng_state.json"
RESTART_WARMUP_EPOCHS = 1  # default warm-up of a warm restart (the optimizer state is already warm)


def write_run_json(path: Path, data: dict) -> None:
    """config.json, state.json, rng_state.json: sorted keys, written atomically."""
    write_json(path, data, sort_keys=True)


def read_state(run_dir: str | Path) -> dict:
    return json.loads((Path(run_dir) / "state.json").read_text())


def save_weights(model, path: Path) -> None:
    """The model's weights alone (no optimizer state), atomically, as a NumPy archive."""
    atomic_write(path, lambda tmp: np.savez(tmp, *model.get_weights()), suffix=".tmp.npz")


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


def restore_seed_states(model, run_dir: Path, config: TrainConfig, epochs_completed: int,
                         steps_per_epoch: int) -> str:
    """Put the dropout generators of a reloaded model where the interrupted run left them.

    From ``rng_state.json`` when it belongs to the checkpoint's epoch; otherwise (runs started
    before that file existed) rebuilt: a fresh run builds its model right after
    ``set_random_seed(seed)``, which fixes each generator's seed, and every training step advances
    each generator by one.
    """
    import keras

    from core.models.architecture import build_cnn

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
    if not (run_dir / LAST_CHECKPOINT).exists():
        raise FileNotFoundError(f"{run_dir}: nothing to extend (no last.keras)")
    config = read_config(run_dir)
    state = read_state(run_dir)
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
    write_run_json(run_dir / "config.json", config.to_dict())
    state["epochs_without_improvement"] = 0  # patience counts within the new cycle
    write_run_json(run_dir / "state.json", state)
    log.info("%s: warm restart after epoch %d: %d more epochs, peak learning rate %.2e", run_dir, done, epochs, rate)
    return config


def run_finished(run_dir: Path) -> bool:
    config = read_config(run_dir)
    state = read_state(run_dir)
    return bool(state.get("stopped_early")) or state["epochs_completed"] >= config.epochs
