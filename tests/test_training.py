"""A tiny training run on generated data: checkpoints, exact resumption, export, the train CLI."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from core.paths import PROJECT_ROOT
from core.training.augment import AugmentSpec, augment_batch
from core.training.config import TrainConfig
from core.training.export import export_run
from core.training.runs import BEST_WEIGHTS, RNG_STATE, run_finished
from core.training.train import train

HISTORY_COLUMNS = ["epoch", "accuracy", "epoch_seconds", "learning_rate", "loss", "val_accuracy", "val_loss"]
LABELS = ("angry", "happy", "sad", "neutral")


def make_random_fer(root: Path, train_per_class: int = 16, test_per_class: int = 4, labels=LABELS) -> Path:
    """FER2013 folder layout with random 48x48 grayscale faces."""
    rng = np.random.default_rng(0)
    n = 0
    for sub, split, count in (("train", "Training", train_per_class), ("test", "PublicTest", test_per_class),
                              ("test", "PrivateTest", test_per_class)):
        for label in labels:
            folder = root / sub / label
            folder.mkdir(parents=True, exist_ok=True)
            for _ in range(count):
                assert cv2.imwrite(str(folder / f"{split}_{n}.jpg"), rng.integers(0, 256, (48, 48), dtype=np.uint8))
                n += 1
    return root


def tiny_config(data: Path, name: str) -> TrainConfig:
    return TrainConfig(data=str(data), name=name, epochs=2, stages=((8,), (16,)), dense_units=16, batch_size=16)


def history(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "history.csv")


def last_weights(run_dir: Path) -> list[np.ndarray]:
    import keras

    return keras.models.load_model(run_dir / "last.keras", safe_mode=True).get_weights()


def best_weights(run_dir: Path) -> list[np.ndarray]:
    with np.load(run_dir / BEST_WEIGHTS) as archive:
        return [archive[f"arr_{i}"] for i in range(len(archive.files))]


def assert_same_run(a: Path, b: Path) -> None:
    ha, hb = history(a), history(b)
    pd.testing.assert_frame_equal(ha.drop(columns="epoch_seconds"), hb.drop(columns="epoch_seconds"),
                                  check_exact=True)
    for wa, wb in zip(last_weights(a), last_weights(b), strict=True):
        np.testing.assert_array_equal(wa, wb)
    for wa, wb in zip(best_weights(a), best_weights(b), strict=True):
        np.testing.assert_array_equal(wa, wb)
    sa, sb = (json.loads((d / "state.json").read_text()) for d in (a, b))
    for key in ("epochs_completed", "best_epoch", "best_val_accuracy", "labels", "n_train", "n_val"):
        assert sa[key] == sb[key], key


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return make_random_fer(tmp_path_factory.mktemp("data") / "fer_random")


@pytest.fixture(scope="module")
def runs(data_dir, tmp_path_factory) -> dict[str, Path]:
    """One uninterrupted 2-epoch run, and the same run stopped after epoch 1 and resumed."""
    runs_dir = tmp_path_factory.mktemp("runs")
    whole = train(tiny_config(data_dir, "whole"), runs_dir)
    split = train(tiny_config(data_dir, "split"), runs_dir, max_epochs_this_call=1)
    after_one = {"state": json.loads((split / "state.json").read_text()), "history": history(split),
                 "finished": run_finished(split)}
    # the same checkpoint as a run started before rng_state.json existed
    shutil.copytree(split, runs_dir / "old_style")
    (runs_dir / "old_style" / RNG_STATE).unlink()
    # resume takes everything from the run's stored config.json, not from the config passed in
    train(TrainConfig(data="ignored", name="split"), runs_dir, resume=True)
    return {"dir": runs_dir, "whole": whole, "split": split, "after_one": after_one}


@pytest.mark.slow
def test_history_and_state(runs):
    after_one = runs["after_one"]
    assert after_one["state"]["epochs_completed"] == 1 and not after_one["finished"]
    assert len(after_one["history"]) == 1
    for run in (runs["whole"], runs["split"]):
        frame = history(run)
        assert list(frame.columns) == HISTORY_COLUMNS
        assert frame["epoch"].tolist() == [0, 1]
        assert frame[["accuracy", "val_accuracy"]].stack().between(0, 1).all()
        state = json.loads((run / "state.json").read_text())
        assert state["epochs_completed"] == 2
        assert state["labels"] == ["angry", "happy", "sad", "neutral"]
        assert (state["n_train"], state["n_val"]) == (64, 16)
        assert state["best_epoch"] in (1, 2)
        assert run_finished(run)
        for name in ("config.json", "last.keras", BEST_WEIGHTS, RNG_STATE, "train.log"):
            assert (run / name).is_file(), name
    assert json.loads((runs["split"] / "state.json").read_text())["sessions"] == 2
    assert "resuming" in (runs["split"] / "train.log").read_text()


@pytest.mark.slow
def test_resume_reproduces_the_uninterrupted_run_exactly(runs):
    assert_same_run(runs["whole"], runs["split"])
    assert (json.loads((runs["whole"] / RNG_STATE).read_text())
            == json.loads((runs["split"] / RNG_STATE).read_text()))


@pytest.mark.slow
def test_resume_of_a_run_without_rng_state_is_exact_too(data_dir, runs):
    """Runs started before rng_state.json existed: the dropout generators are rebuilt from the seed."""
    run = train(tiny_config(data_dir, "old_style"), runs["dir"], resume=True)
    assert "dropout generators: rebuilt from the seed" in (run / "train.log").read_text()
    assert_same_run(runs["whole"], run)


@pytest.mark.slow
def test_finished_run_and_refusals(data_dir, runs):
    before = (runs["whole"] / "history.csv").read_text()
    train(tiny_config(data_dir, "whole"), runs["dir"], resume=True)  # already finished: nothing to do
    assert (runs["whole"] / "history.csv").read_text() == before
    with pytest.raises(FileExistsError, match="pass --resume"):
        train(tiny_config(data_dir, "whole"), runs["dir"])
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train(tiny_config(data_dir, "never_started"), runs["dir"], resume=True)


@pytest.mark.slow
def test_export_refuses_to_overwrite_a_model_without_force(runs, tmp_path, capsys):
    from core.cli import main

    models = tmp_path / "models"
    base = ["export", "--name", "whole", "--runs-dir", str(runs["dir"]), "--models-dir", str(models)]
    assert main(base) == 0
    shipped = (models / "whole" / "model.keras").read_bytes()
    (models / "whole" / "model.json").write_text('{"shipped": true}')
    capsys.readouterr()
    assert main(base) == 1
    err = capsys.readouterr().err
    assert "already holds a model" in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert (models / "whole" / "model.json").read_text() == '{"shipped": true}'  # nothing was touched
    assert (models / "whole" / "model.keras").read_bytes() == shipped
    assert main([*base, "--force"]) == 0
    assert json.loads((models / "whole" / "model.json").read_text())["name"] == "whole"


@pytest.mark.slow
def test_export_and_load(runs, tmp_path):
    import keras

    from core.models.architecture import build_cnn
    from core.models.cnn import CnnClassifier

    out = export_run(runs["split"], tmp_path / "models")
    assert out == tmp_path / "models" / "split"
    for name in ("model.keras", "model.json", "history.csv"):
        assert (out / name).is_file(), name
    assert (out / "history.csv").read_text() == (runs["split"] / "history.csv").read_text()
    meta = json.loads((out / "model.json").read_text())
    assert meta["name"] == "split" and meta["kind"] == "keras-cnn"
    assert meta["labels"] == ["angry", "happy", "sad", "neutral"]
    assert meta["input"]["size"] == [48, 48] and meta["input"]["channels"] == 1
    assert meta["preprocessing"]["normalization"] == {"scale": 1 / 255, "offset": 0.0}
    training = meta["training"]
    assert training["seed"] == 42
    assert training["protocol"] == {"fit": "Training", "select": "PublicTest", "report": "PrivateTest",
                                    "note": training["protocol"]["note"]}
    assert training["epochs_run"] == 2 and training["best_epoch"] in (1, 2)
    assert isinstance(training["train_seconds"], float) and training["train_seconds"] > 0
    assert training["hardware"] and "cpu" in training["hardware"][0] and "keras" in training["hardware"][0]
    assert training["sessions"] == 2
    assert meta["architecture"]["stages"] == [[8], [16]] and meta["architecture"]["parameters"] > 0

    classifier = CnnClassifier(out)
    assert classifier.labels == ("angry", "happy", "sad", "neutral")
    faces = [np.random.default_rng(i).integers(0, 256, (48, 48), dtype=np.uint8) for i in range(5)]
    faces.append(np.random.default_rng(9).integers(0, 256, (96, 80, 3), dtype=np.uint8))  # BGR, resized
    probs = classifier.predict(faces)
    assert probs.shape == (6, 4)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # the exported model is the best checkpoint
    model = build_cnn(4, 48, ((8,), (16,)), 16)
    model.set_weights(best_weights(runs["split"]))
    expected = keras.ops.convert_to_numpy(model(classifier.preprocess(faces), training=False))
    np.testing.assert_allclose(probs, expected, atol=1e-5)


@pytest.mark.slow
def test_train_cli_max_epochs_then_resume(tmp_path, capsys):
    data = make_random_fer(tmp_path / "data", train_per_class=4, test_per_class=2)
    runs_dir, models_dir = tmp_path / "runs", tmp_path / "models"
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    base = [sys.executable, "-m", "core", "train", "--data", str(data), "--name", "cli_run",
            "--runs-dir", str(runs_dir), "--models-dir", str(models_dir)]
    first = subprocess.run(base + ["--epochs", "2", "--batch-size", "8", "--max-epochs", "1"],
                           cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "continue with: python -m core train --resume" in first.stdout
    assert json.loads((runs_dir / "cli_run" / "state.json").read_text())["epochs_completed"] == 1
    assert not (models_dir / "cli_run").exists()
    # the resume through the same command line, in this process (a second TensorFlow start-up costs too much)
    from core.cli import main

    assert main(base[3:] + ["--resume"]) == 0
    assert f"exported {models_dir / 'cli_run'}" in capsys.readouterr().out
    assert len(history(runs_dir / "cli_run")) == 2
    config = json.loads((runs_dir / "cli_run" / "config.json").read_text())
    assert (config["epochs"], config["batch_size"]) == (2, 8)  # kept from the first call
    meta = json.loads((models_dir / "cli_run" / "model.json").read_text())
    assert meta["training"]["epochs_run"] == 2 and meta["labels"] == list(LABELS)


def test_learning_rate_schedule_with_warm_restarts():
    """Pure schedule arithmetic: the first cosine as before, then a restart from 1/20 of its peak."""
    import keras

    from core.training.schedule import learning_rate_schedule

    spe = 10
    plain = TrainConfig(data="x", epochs=4, learning_rate=2e-3, warmup_epochs=1)
    old_formula = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=1e-4, warmup_target=2e-3, warmup_steps=10, decay_steps=30, alpha=0.01)
    schedule = learning_rate_schedule(plain, spe)
    for step in (0, 5, 10, 25, 40):
        assert float(schedule(step)) == pytest.approx(float(old_formula(step)), rel=1e-6)

    restarted = TrainConfig(data="x", epochs=7, learning_rate=2e-3, warmup_epochs=1,
                            restarts=({"after_epoch": 4, "epochs": 3, "learning_rate": 1e-3, "warmup_epochs": 1},))
    assert [(c["start_epoch"], c["end_epoch"]) for c in restarted.cycles()] == [(0, 4), (4, 7)]
    schedule = learning_rate_schedule(restarted, spe)
    values = {step: float(schedule(step)) for step in (0, 10, 39, 40, 50, 70)}
    assert values[0] == pytest.approx(1e-4, rel=1e-5)      # warm-up start: peak / 20
    assert values[10] == pytest.approx(2e-3, rel=1e-5)     # first peak
    assert values[39] < 5e-5                                # the first cosine nearly done
    assert values[40] == pytest.approx(5e-5, rel=1e-5)     # restart: its own peak / 20
    assert values[50] == pytest.approx(1e-3, rel=1e-5)     # restart peak after one warm-up epoch
    assert values[70] == pytest.approx(1e-5, rel=1e-4)     # decayed to 1% at the end
    # the schedule survives a Keras save/load round trip (it lives in last.keras during a restart)
    config = keras.optimizers.schedules.serialize(schedule)
    reloaded = keras.optimizers.schedules.deserialize(config)
    assert float(reloaded(50)) == pytest.approx(values[50], rel=1e-6)


@pytest.mark.slow
def test_warm_restart_extends_a_finished_run_and_resumes_exactly(runs, tmp_path):
    from core.training.runs import extend_run

    for name in ("restart_whole", "restart_split"):
        shutil.copytree(runs["whole"], runs["dir"] / name)
        extend_run(runs["dir"] / name, epochs=2, learning_rate=1e-3, warmup_epochs=1,
                   augment={"erase_prob": "0", "rotation_deg": 5})
    config = json.loads((runs["dir"] / "restart_whole" / "config.json").read_text())
    assert config["epochs"] == 4
    lighter = {**AugmentSpec().to_dict(), "erase_prob": 0.0, "rotation_deg": 5.0}  # the rest carried over
    assert config["restarts"] == [{"after_epoch": 2, "epochs": 2, "learning_rate": 1e-3, "warmup_epochs": 1,
                                   "augment": lighter}]
    assert config["augment"] == AugmentSpec().to_dict()  # the first cycle keeps its own
    assert not run_finished(runs["dir"] / "restart_whole")

    whole = train(TrainConfig(data="ignored", name="restart_whole"), runs["dir"], resume=True)
    split = train(TrainConfig(data="ignored", name="restart_split"), runs["dir"], resume=True, max_epochs_this_call=1)
    split = train(TrainConfig(data="ignored", name="restart_split"), runs["dir"], resume=True)
    assert_same_run(whole, split)  # the restart's schedule reloads from last.keras and continues exactly
    assert "warm restart: epochs 3-4, cosine decay from 1.00e-03, augmentation {" in (whole / "train.log").read_text()
    frame = history(whole)
    assert frame["epoch"].tolist() == [0, 1, 2, 3]
    lr = frame["learning_rate"].tolist()
    assert lr[1] == pytest.approx(2e-3, rel=1e-3)   # the tiny run's two epochs are its warm-up
    assert lr[2] == pytest.approx(1e-3, rel=1e-3)   # after the restart's warm-up epoch
    assert lr[3] == pytest.approx(1e-5, rel=1e-3)
    assert run_finished(whole)
    # the checkpoint choice spans both cycles
    state = json.loads((whole / "state.json").read_text())
    assert state["best_val_accuracy"] == pytest.approx(frame["val_accuracy"].max())
    assert state["best_epoch"] == int(frame["val_accuracy"].idxmax()) + 1

    meta = json.loads((export_run(whole, tmp_path / "models") / "model.json").read_text())
    optimizer = meta["training"]["optimizer"]
    assert optimizer["schedule"].startswith("cosine with warm restarts (SGDR); epochs 1-2: cosine decay from 0.002")
    assert ("epochs 3-4: cosine decay from 0.001 after 1 warm-up epoch(s), augmentation changed to "
            "rotation_deg 5, erase_prob 0") in optimizer["schedule"]
    assert optimizer["warm_restarts"] == config["restarts"]
    assert meta["training"]["augmentation_by_cycle"] == {"epochs 1-2": AugmentSpec().to_dict(), "epochs 3-4": lighter}
    assert (meta["training"]["epochs_planned"], meta["training"]["epochs_run"]) == (4, 4)


@pytest.mark.slow
def test_warm_restart_refusals(data_dir, runs, tmp_path, capsys):
    from core.cli import main
    from core.training.runs import extend_run

    shutil.copytree(runs["whole"], tmp_path / "unfinished")
    state = json.loads((tmp_path / "unfinished" / "state.json").read_text())
    (tmp_path / "unfinished" / "state.json").write_text(json.dumps({**state, "epochs_completed": 1}))
    with pytest.raises(ValueError, match="1 of 2 epochs done; finish the schedule"):
        extend_run(tmp_path / "unfinished", epochs=2)
    (tmp_path / "unfinished" / "state.json").write_text(json.dumps({**state, "epochs_completed": 1,
                                                                    "stopped_early": True}))
    with pytest.raises(ValueError, match="stopped early after 1 of 2 epochs; a warm restart extends a schedule"):
        extend_run(tmp_path / "unfinished", epochs=2)
    with pytest.raises(ValueError, match="fewer warm-up epochs than epochs"):
        extend_run(runs["whole"], epochs=1, warmup_epochs=1)
    with pytest.raises(ValueError, match="must be positive"):
        extend_run(runs["whole"], epochs=2, learning_rate=0.0)
    with pytest.raises(FileNotFoundError, match="nothing to extend"):
        extend_run(tmp_path / "nothing", epochs=2)
    with pytest.raises(ValueError, match="unknown augmentation setting"):
        extend_run(runs["whole"], epochs=2, augment={"blur": "1"})
    with pytest.raises(ValueError, match=r"erase_prob must lie in \[0, 1\]"):
        extend_run(runs["whole"], epochs=2, augment={"erase_prob": "1.5"})
    assert json.loads((runs["whole"] / "config.json").read_text())["restarts"] == []  # refusals change nothing
    assert main(["train", "--data", str(data_dir), "--name", "whole", "--runs-dir", str(runs["dir"]),
                 "--resume", "--extend", "2", "--restart-augment", "erase_prob"]) == 2
    assert "error: expected NAME=VALUE, not 'erase_prob'" in capsys.readouterr().err
    assert main(["train", "--data", str(data_dir), "--name", "whole", "--runs-dir", str(runs["dir"]),
                 "--resume", "--restart-augment", "erase_prob=0.1"]) == 2
    assert "error: --restart-augment belongs to a warm restart" in capsys.readouterr().err
    assert json.loads((runs["whole"] / "config.json").read_text())["restarts"] == []
    assert main(["train", "--data", str(data_dir), "--name", "whole", "--runs-dir", str(runs["dir"]),
                 "--extend", "2"]) == 2
    assert "error: --extend adds a warm restart to an existing run: pass --resume too" in capsys.readouterr().err


def test_training_batches_use_the_augmentation_of_their_cycle():
    """After a warm restart with its own augmentation, that epoch's batches are augmented with it."""
    from core.training.train import batches_class as _batches_class
    from core.training.train import to_model_input

    restart_spec = AugmentSpec(rotation_deg=0.0, shift=0.0, zoom=0.0, erase_prob=0.0)
    config = TrainConfig(data="x", epochs=4, restarts=({"after_epoch": 2, "epochs": 2, "learning_rate": 1e-3,
                                                        "warmup_epochs": 1, "augment": restart_spec.to_dict()},
                                                       ))
    assert [config.augment_for_epoch(e) for e in range(4)] == [AugmentSpec()] * 2 + [restart_spec] * 2
    x = np.random.default_rng(1).integers(0, 256, (10, 48, 48), dtype=np.uint8)
    batches = _batches_class()(x, np.arange(10) % 3, 3, 4, 7, config.augment_for_epoch)
    for epoch, spec in ((1, AugmentSpec()), (3, restart_spec)):
        batches.set_epoch(epoch)
        images, _ = batches[0]
        expected = augment_batch(x[batches.order[:4]], np.random.default_rng([7, epoch, 0]), spec)
        np.testing.assert_array_equal(images, to_model_input(expected))
    # a later restart without its own augmentation keeps the previous cycle's
    later = TrainConfig(data="x", epochs=5, restarts=(*config.restarts, {"after_epoch": 4, "epochs": 1,
                                                                       "learning_rate": 5e-4, "warmup_epochs": 0}))
    assert later.augment_for_epoch(4) == restart_spec


def test_layer_table_keeps_every_column():
    """The layer summary stored in model.json is complete (Keras's own summary cut the parameter column)."""
    from core.models.architecture import build_cnn
    from core.training.export import layer_table

    model = build_cnn(7, 48, ((8,), (16,)), 16, 0.1)
    lines = layer_table(model).splitlines()
    assert lines[0].split() == ["Layer", "(type)", "Output", "shape", "Parameters"]
    assert len(lines) == len(model.layers) + 4
    assert sum(int(line.rsplit(None, 1)[-1].replace(",", "")) for line in lines[2:-2]) == model.count_params()
    assert lines[-1] == f"Total parameters: {model.count_params():,}"
