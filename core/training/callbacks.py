"""The callbacks of a training run: Keras's own CSVLogger for ``history.csv``, plus what Keras
cannot do for a run that must resume exactly.

Keras's ``ModelCheckpoint`` and ``EarlyStopping`` reset their best value and patience counter in
``on_train_begin``, so a resumed run would forget them; they also write ``last.keras`` in place
(an interruption mid-write loses the run) and do not save the dropout layers' random-generator
states. :class:`RunCheckpoint` keeps all of that in ``state.json`` and ``rng_state.json``.
"""
from __future__ import annotations

import time
from pathlib import Path

from core.paths import atomic_write
from core.training.config import TrainConfig
from core.training.runs import BEST_WEIGHTS, LAST_CHECKPOINT, RNG_STATE, log, save_weights, seed_states, write_run_json


def make_callbacks(run_dir: Path, config: TrainConfig, state: dict, batches, total_batches: int) -> list:
    """In order: epoch bookkeeping (the batches' epoch, time and learning rate into the logs), a
    progress bar, the checkpoint/state/early-stopping keeper, and Keras's CSVLogger."""
    import keras
    from tqdm import tqdm

    class EpochLogs(keras.callbacks.Callback):
        """Tells the batches which epoch it is; adds ``learning_rate`` and ``epoch_seconds`` to the logs."""

        def on_epoch_begin(self, epoch, logs=None):
            batches.set_epoch(epoch)
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            logs["epoch_seconds"] = time.perf_counter() - self.started

    class ProgressBar(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.bar = tqdm(total=total_batches, desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch",
                            leave=False, dynamic_ncols=True)

        def on_train_batch_end(self, batch, logs=None):
            self.bar.update(1)
            if logs and "accuracy" in logs:
                self.bar.set_postfix(loss=f"{float(logs['loss']):.3f}", acc=f"{float(logs['accuracy']):.3f}")

        def on_epoch_end(self, epoch, logs=None):
            self.bar.close()

    class RunCheckpoint(keras.callbacks.Callback):
        """Per epoch: state, best weights, ``last.keras`` (atomically), generator states, a log line,
        and early stopping on the selection split, all surviving a resume."""

        def on_epoch_end(self, epoch, logs=None):
            seconds = logs["epoch_seconds"]
            state["epochs_completed"] = epoch + 1
            state["train_seconds"] = state.get("train_seconds", 0.0) + seconds
            val_acc = float(logs["val_accuracy"])
            improved = val_acc > state.get("best_val_accuracy", -1.0)
            if improved:
                state.update(best_val_accuracy=val_acc, best_epoch=epoch + 1, epochs_without_improvement=0)
                save_weights(self.model, run_dir / BEST_WEIGHTS)
            else:
                state["epochs_without_improvement"] = state.get("epochs_without_improvement", 0) + 1
            atomic_write(run_dir / LAST_CHECKPOINT, self.model.save, suffix=".tmp.keras")
            write_run_json(run_dir / RNG_STATE, {"epochs_completed": epoch + 1,
                                                 "seed_generators": seed_states(self.model)})
            write_run_json(run_dir / "state.json", state)
            log.info("epoch %d/%d  loss %.4f  acc %.4f  val_loss %.4f  val_acc %.4f  lr %.2e  %.0fs%s",
                     epoch + 1, config.epochs, logs["loss"], logs["accuracy"], logs["val_loss"], val_acc,
                     logs["learning_rate"], seconds, "  *best*" if improved else "")
            if state["epochs_without_improvement"] >= config.patience:
                log.info("early stopping: no PublicTest improvement for %d epochs", config.patience)
                state["stopped_early"] = True
                write_run_json(run_dir / "state.json", state)
                self.model.stop_training = True

    csv_logger = keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True)
    return [EpochLogs(), ProgressBar(), RunCheckpoint(), csv_logger]
