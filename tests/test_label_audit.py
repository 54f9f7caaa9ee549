"""The label audit (cleanlab confident learning): the core, its artifacts, the shipped ones and the CLI (issue 25)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.evaluation import audit_flips
from core.evaluation.audit import AuditError, ModelAnswers, audit, flagged_csv, zoo_probabilities
from core.evaluation.audit_store import ISSUES_FILE, SUMMARY_FILE, audit_stored, refuse_in_sample, zoo_dir
from core.paths import PROJECT_ROOT

LABELS = ["angry", "happy", "sad"]
SHIPPED_MODELS = PROJECT_ROOT / "models"


def answers_for(probs: np.ndarray, truth: list[str], model: str = "m", labels=LABELS, temperature=None) -> ModelAnswers:
    frame = pd.DataFrame({"path": [f"f{i}.png" for i in range(len(truth))], "true": truth,
                          "predicted": [labels[i] for i in probs.argmax(axis=1)]})
    for j, label in enumerate(labels):
        frame[f"p_{label}"] = probs[:, j]
    return ModelAnswers(model, frame, labels, temperature)


def confident(n_per_class: int = 40, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Probabilities that agree with their labels (0.8 on the label)."""
    rng = np.random.default_rng(seed)
    truth = [LABELS[i % 3] for i in range(3 * n_per_class)]
    probs = np.full((len(truth), 3), 0.1)
    probs[np.arange(len(truth)), [LABELS.index(t) for t in truth]] = 0.8
    probs += rng.uniform(0, 0.02, probs.shape)
    return probs / probs.sum(axis=1, keepdims=True), truth


def test_a_label_the_probabilities_contradict_is_flagged_first_with_the_suggested_label():
    probs, truth = confident()
    truth[6] = "sad"  # the models say angry (index 6 is angry)
    truth[7] = "angry"  # the models say happy
    result = audit([answers_for(probs, truth)], dataset={"name": "toy", "split": "all"})
    assert set(result.issues["path"]) == {"f6.png", "f7.png"}
    assert result.issues[["label", "suggested"]].values.tolist() in ([["sad", "angry"], ["angry", "happy"]],
                                                                     [["angry", "happy"], ["sad", "angry"]])
    assert result.issues["score"].is_monotonic_increasing and (result.issues["score"] < 0.15).all()
    assert result.summary["n_flagged"] == 2 and result.summary["n_images"] == 120
    assert {(p["label"], p["suggested"]): p["count"] for p in result.summary["pairs"]} == {("sad", "angry"): 1,
                                                                                        ("angry", "happy"): 1}
    assert "cleanlab 2.9.0" in result.summary["method"]["library"]
    # the estimate: both flagged faces were the model's "mistakes", so it is right on every other face
    accuracy = result.summary["accuracy"]["m"]
    assert accuracy["accuracy"] == pytest.approx(118 / 120) and accuracy["accuracy_without_flagged"] == 1.0
    assert accuracy["n_kept"] == 118
    text = flagged_csv(result).decode().splitlines()
    assert text[0] == "file,label,suggested,score,m_predicted" and len(text) == 3


def test_the_zoo_averages_calibrated_probabilities_over_the_shared_labels():
    probs, truth = confident(4)
    a = answers_for(probs, truth, "a", temperature=2.0)
    other = np.hstack([probs[:, ::-1] * 0.5, np.full((len(truth), 1), 0.5)])  # a fourth label only b has
    b = answers_for(other, truth, "b", labels=[*LABELS, "contempt"])
    faces, mean, shared, left_out = zoo_probabilities([a, b])
    assert shared == LABELS and left_out == 0 and list(faces.columns) == ["path", "true", "a_predicted", "b_predicted"]
    from core.analysis.calibration import apply_temperature

    expected = (apply_temperature(probs, 2.0) + probs[:, ::-1] / probs.sum(axis=1, keepdims=True)) / 2
    np.testing.assert_allclose(mean, expected, atol=1e-9)


def test_faces_of_a_label_not_every_model_has_are_left_out_and_counted():
    probs, truth = confident(4)
    probs4 = np.hstack([probs * 0.9, np.full((len(truth), 1), 0.1)])
    truth4 = truth[:-2] + ["contempt", "contempt"]
    faces, _, shared, left_out = zoo_probabilities([answers_for(probs4, truth4, "a", labels=[*LABELS, "contempt"]),
                                                    answers_for(probs, truth4, "b")])
    assert shared == LABELS and left_out == 2 and len(faces) == len(truth) - 2


@pytest.mark.parametrize("truth, says", [(["happy"], "1 face"), (["happy", "happy"], "1 label")])
def test_too_little_to_audit_is_one_clear_error(truth, says):
    with pytest.raises(AuditError, match=says):
        audit([answers_for(np.full((len(truth), 3), 1 / 3), truth)])


def test_the_training_split_is_refused():
    with pytest.raises(AuditError, match="trained on"):
        refuse_in_sample("Training")


def test_seeded_flips_are_exact_and_never_the_original():
    given = np.arange(1000) % 7
    flipped, mask = audit_flips.flip_labels(given, 7, 0.1, seed=3)
    assert mask.sum() == 100 and (flipped[mask] != given[mask]).all() and (flipped[~mask] == given[~mask]).all()
    again, _ = audit_flips.flip_labels(given, 7, 0.1, seed=3)
    assert (again == flipped).all()


def test_flip_check_finds_flips_on_confident_probabilities():
    probs, truth = confident(100)
    given = np.array([LABELS.index(t) for t in truth])
    check = audit_flips.flip_check(given, probs, seeds=(0, 1))
    assert check["n_flipped"] == 30 and check["recall"] == 1.0 and check["top_k_precision"] == 1.0
    noisy = np.full_like(probs, 1 / 3) + np.random.default_rng(0).uniform(0, 0.01, probs.shape)
    assert audit_flips.flip_check(given, noisy / noisy.sum(axis=1, keepdims=True), seeds=(0,))["top_k_precision"] < 0.5


@pytest.fixture
def models_copy(tmp_path):
    """The shipped models' FER2013 evaluations (predictions and metrics only), in a scratch models root."""
    root = tmp_path / "models"
    for folder in sorted(SHIPPED_MODELS.glob("*/eval/fer2013-PrivateTest")):
        target = root / folder.parent.parent.name
        shutil.copytree(folder, target / "eval" / folder.name, ignore=shutil.ignore_patterns("label_*"))
        shutil.copy(folder.parent.parent / "model.json", target / "model.json")
    return root


def test_audit_stored_writes_per_model_and_zoo_artifacts_the_registry_does_not_take_for_models(models_copy,
                                                                                                 monkeypatch):
    written = audit_stored(models_copy, "fer2013", "PrivateTest")
    models = sorted(p.name for p in models_copy.iterdir() if p.name != "_zoo")
    assert [r.summary["audit"] for _, r in written] == [*models, "zoo"]
    zoo = zoo_dir(models_copy, "fer2013-PrivateTest")
    assert written[-1][0] == zoo and (zoo / ISSUES_FILE).is_file()
    summary = json.loads((zoo / SUMMARY_FILE).read_text())
    assert summary["n_flagged"] == len(pd.read_csv(zoo / ISSUES_FILE)) > 0
    monkeypatch.setenv("EMOTION_MODELS_ROOT", str(models_copy))
    from core.models import registry
    from core.presentation.evaluations import find_evaluations

    assert "_zoo" not in registry.known()
    assert "_zoo" not in {m for refs in find_evaluations(models_copy).values() for m in refs}


# --------------------------------------------------------------------------- the shipped artifacts

SHIPPED_SPLITS = ("PublicTest", "PrivateTest")


def shipped_audit_dirs(split: str) -> list[Path]:
    models = [p.parent for p in sorted(SHIPPED_MODELS.glob(f"*/eval/fer2013-{split}/predictions.csv"))]
    return models + [zoo_dir(SHIPPED_MODELS, f"fer2013-{split}")]


@pytest.mark.parametrize("split", SHIPPED_SPLITS)
def test_shipped_audits_exist_for_every_model_and_the_zoo_and_agree_with_their_csv(split):
    folders = shipped_audit_dirs(split)
    assert len(folders) >= 3
    for folder in folders:
        summary = json.loads((folder / SUMMARY_FILE).read_text())
        issues = pd.read_csv(folder / ISSUES_FILE)
        assert summary["dataset"] == {"name": "fer2013", "split": split}
        assert summary["n_flagged"] == len(issues) and sum(p["count"] for p in summary["pairs"]) == len(issues)
        assert list(issues.columns[:4]) == ["path", "label", "suggested", "score"]
        assert issues["score"].is_monotonic_increasing and issues["score"].between(0, 1).all()
        assert (issues["label"] != issues["suggested"]).mean() > 0.9
        assert "cleanlab 2.9.0" in summary["method"]["library"]
        for model in summary["models"]:
            predictions = pd.read_csv(SHIPPED_MODELS / model / "eval" / f"fer2013-{split}" / "predictions.csv")
            assert issues["path"].isin(predictions["path"]).all()
            assert summary["accuracy"][model]["accuracy"] == pytest.approx(
                (predictions["true"] == predictions["predicted"]).mean())


def test_shipped_zoo_meets_the_flip_floors_on_the_clean_set():
    check = json.loads((zoo_dir(SHIPPED_MODELS, "fer2013-PrivateTest") / SUMMARY_FILE).read_text())["flip_check"]
    assert check["clean"]["recall"] >= audit_flips.TARGET_RECALL
    assert check["clean"]["top_k_precision"] >= audit_flips.TARGET_TOP_K_PRECISION and check["targets"]["met"]
    public = json.loads((zoo_dir(SHIPPED_MODELS, "fer2013-PublicTest") / SUMMARY_FILE).read_text())["flip_check"]
    assert public["as_labelled"]["n_flipped"] == 359 and 0 < public["as_labelled"]["precision"] < 1


# --------------------------------------------------------------------------- the command


def test_cli_audit_writes_flagged_rows_worst_first(tiny_model_dir, tmp_path, capsys):
    from core.cli import main
    from tests.zipfaces import labelled_zip

    data = tmp_path / "faces.zip"
    data.write_bytes(labelled_zip(per_class=4, contempt=2))
    out = tmp_path / "flagged.csv"
    assert main(["audit", "--model", str(tiny_model_dir), "--data", str(data), "--csv", str(out)]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("label audit (tiny_cnn") and "of 28 faces flagged" in line and str(out) in line
    table = pd.read_csv(out)
    assert list(table.columns) == ["file", "label", "suggested", "score", "tiny_cnn_predicted"]
    assert table["score"].is_monotonic_increasing and len(table) == int(line.split("label audit")[1].split(": ")[1].split()[0])


def test_cli_audit_refuses_training_and_a_missing_csv(capsys, tmp_path):
    from core.cli import main

    assert main(["audit", "--data", str(tmp_path), "--split", "Training", "--csv", str(tmp_path / "x.csv")]) == 2
    assert "trained on" in capsys.readouterr().err
    assert main(["audit", "--data", str(tmp_path)]) == 2
    assert "--csv" in capsys.readouterr().err


def test_the_bench_figures_come_from_the_stored_predictions_and_meet_the_floors():
    from core.bench.label_audit import label_audit_benchmark

    figures = label_audit_benchmark(log=lambda _: None)
    assert figures["models"][:2] == ["fer2013_cnn", "fer_minixception"]
    assert figures["public_test"]["n_flipped"] == 359 and figures["clean_private_test"]["n_flipped"] > 200
    assert figures["clean_private_test"]["recall"] >= 0.75 and figures["clean_private_test"]["top_k_precision"] >= 0.70
    assert figures["public_test"]["precision"] < figures["clean_private_test"]["precision"]  # FER2013's own noise
    assert figures["target_met"] is True


def test_cli_audit_stored_writes_into_the_named_models_folder_only(models_copy, capsys):
    from core.cli import main

    before = {p: p.stat().st_mtime for p in SHIPPED_MODELS.glob("*/eval/*/label_audit.json")}
    assert main(["audit", "--stored", "--split", "PrivateTest", "--models-dir", str(models_copy)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len([p for p in models_copy.iterdir() if p.name != "_zoo"]) + 1
    assert all("clean set: recall" in line for line in lines) and "_zoo/audit/fer2013-PrivateTest" in lines[-1]
    assert (zoo_dir(models_copy, "fer2013-PrivateTest") / SUMMARY_FILE).is_file()
    assert before == {p: p.stat().st_mtime for p in SHIPPED_MODELS.glob("*/eval/*/label_audit.json")}


def test_readme_shows_the_stored_flip_figures():
    readme = (PROJECT_ROOT / "README.md").read_text()
    public = json.loads((zoo_dir(SHIPPED_MODELS, "fer2013-PublicTest") / SUMMARY_FILE).read_text())["flip_check"]
    clean = json.loads((zoo_dir(SHIPPED_MODELS, "fer2013-PrivateTest") / SUMMARY_FILE).read_text())["flip_check"]

    def cells(check):
        return (f"| {check['n_images']:,} | {check['n_flipped']} | {round(check['n_flagged'])} | {check['precision']:.3f} "
                f"| {check['recall']:.3f} | {check['top_k_precision']:.3f} |")

    assert f"| FER2013 PublicTest, as labelled {cells(public['as_labelled'])}" in readme
    assert cells(clean["clean"]) in readme
