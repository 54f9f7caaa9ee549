"""The learning-rate schedule: cosine decay with warm-up, restarted at each warm restart (SGDR)."""
from __future__ import annotations

from core.training.config import TrainConfig


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
    return restarts_class()([cosine(c) for c in cycles], [c["start_epoch"] * steps_per_epoch for c in cycles])


_RESTARTS_CLASS = None


def restarts_class():
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
