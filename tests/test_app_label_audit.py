"""AppTests for the label audit (issue 25): Mistakes' "label probably wrong" view, Evaluation's estimate switch
and Your data's ranking, download and estimate. The stored artifacts are generated like tests/test_app.py's
(70 synthetic images, two models) and audited with the real code (``audit_stored``)."""
from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from test_app import (
    KEY,
    assert_ok,
    downloads,  # noqa: F401 - the fixture, used through request.getfixturevalue
    messages,
    point_app_at,
    run_app,
    texts,
    write_cnn_folder,
    write_dataset,
    write_deepface_folder,
)
from test_data_page import app_env as data_env  # noqa: F401 - Your data's fixture: the tiny CNN and Constant
from zipfaces import labelled_zip

from core.evaluation.audit_store import audit_stored, zoo_dir


@pytest.fixture
def env(monkeypatch, tmp_path, tiny_model_dir) -> dict:
    models = tmp_path / "models"
    cnn = write_cnn_folder(models / "fer2013_cnn", tiny_model_dir)
    write_deepface_folder(models / "deepface")
    bench = tmp_path / "results.json"
    bench.write_text("{}")
    (tmp_path / "runs").mkdir()
    dataset = write_dataset(tmp_path / "fer2013")
    point_app_at(monkeypatch, models, cnn, tmp_path / "runs", bench, dataset)
    audit_stored(models, "fer2013", "PrivateTest", flips=False)
    zoo = zoo_dir(models, KEY)
    return {"models": models, "zoo": zoo, "summary": json.loads((zoo / "label_audit.json").read_text()),
            "issues": pd.read_csv(zoo / "label_issues.csv")}


def label_view(at):
    at.segmented_control(key="mistakes_view").set_value("Label probably wrong")
    at.run()
    assert_ok(at)
    return at


def test_mistakes_label_view_ranks_the_zoo_s_flags_with_every_answer_and_pair_counts(env):
    issues, summary = env["issues"], env["summary"]
    assert 0 < len(issues) < 70
    at = label_view(run_app("mistakes"))
    text = texts(at)
    assert f"{summary['n_flagged']} of 70 faces" in text and "not a verdict" in text
    pairs = next(d.value for d in at.dataframe if list(d.value.columns) == ["label", "suggested", "faces"])
    assert pairs["faces"].sum() == len(issues)
    top = pairs.iloc[0]
    assert top["faces"] == ((issues["label"] == top["label"]) & (issues["suggested"] == top["suggested"])).sum()
    captions = [c for c in messages(at, "caption") if c.startswith("true **")]
    first = issues.iloc[0]
    assert captions[0].startswith(f"true **{first['label']}**  \nsuggested **{first['suggested']}** "
                                  f"(label score {first['score']:.2f})")
    assert "CNN: " in captions[0] and "DeepFace: " in captions[0]  # each model's answer
    assert len(captions) == min(24, len(issues))
    at.selectbox(key="mistakes_audit_pair").set_value((top["label"], top["suggested"]))
    at.run()
    assert_ok(at)
    assert len([c for c in messages(at, "caption") if c.startswith("true **")]) == top["faces"]
    at.radio(key=f"mistakes_audit_by_{KEY}").set_value("fer2013_cnn")  # one model's own flags
    at.run()
    assert_ok(at)
    own = pd.read_csv(env["models"] / "fer2013_cnn" / "eval" / KEY / "label_issues.csv")
    assert f"{len(own)} of 70 faces" in texts(at) and "averaged probabilities of 1 model" in texts(at)


def test_mistakes_label_view_grad_cam_on_demand(env, without_deepface):
    at = label_view(run_app("mistakes"))
    at.toggle(key="mistakes_maps").set_value(True)
    at.run()
    assert_ok(at)
    assert any("No Grad-CAM maps for DeepFace" in w for w in messages(at, "warning"))
    assert at.image and all(element.captions == ["image", "CNN"] for element in at.image)  # each face beside its map


def test_mistakes_label_view_without_an_audit_says_how(env):
    for f in env["zoo"].iterdir():
        f.unlink()
    at = label_view(run_app("mistakes"))
    assert "make audit" in texts(at)


def test_evaluation_estimate_switch_sits_beside_the_real_figure(env):
    at = run_app("evaluation")
    real = {m.label: m.value for m in at.metric}
    assert not any("estimate" in str(c.columns) for c in [d.value for d in at.dataframe])
    at.toggle(key="eval_audit_estimate").set_value(True)
    at.run()
    assert_ok(at)
    assert {m.label: m.value for m in at.metric} == real  # the real figures stay where they were
    table = next(d.value for d in at.dataframe if "accuracy without flagged (estimate)" in d.value.columns)
    row = table.set_index("model").loc["CNN"]
    figures = env["summary"]["accuracy"]["fer2013_cnn"]
    assert row["accuracy"] == pytest.approx(figures["accuracy"] * 100)
    assert row["accuracy without flagged (estimate)"] == pytest.approx(figures["accuracy_without_flagged"] * 100)
    assert row["flagged left out"] == len(env["issues"])
    assert "Estimate, not a result." in texts(at)


@pytest.mark.slow
def test_your_data_ranks_flagged_files_downloads_them_and_scores_without_them(data_env, request):  # noqa: F811 - the imported fixture
    content = request.getfixturevalue("downloads")
    at = run_app("data")
    at.file_uploader(key="data_upload").set_value(("lab.zip", labelled_zip(per_class=4, contempt=2), "application/zip"))
    at.run()
    at.button(key="data_run").click()
    at.run()
    assert_ok(at)
    assert "Labels probably wrong" in texts(at)
    ranked = next(d.value for d in at.dataframe if "file" in d.value.columns and "score" in d.value.columns)
    first = ranked.iloc[0]
    images = len(at.image)
    at.toggle(key="data_audit_images").set_value(True)
    at.run()
    assert len(at.image) == images + min(12, len(ranked))
    assert f"labelled **{first['label']}**, suggested **{first['suggested']}** (score {first['score']:.2f})" in texts(at)
    assert ranked["score"].is_monotonic_increasing and "Constant answer" in ranked.columns
    button = next(b for b in at.get("download_button") if "flagged files" in b.proto.label)
    csv = pd.read_csv(io.BytesIO(content(button)))
    assert list(csv.columns[:4]) == ["file", "label", "suggested", "score"] and "constant_predicted" in csv.columns
    assert csv["file"].tolist() == ranked["file"].tolist()
    at.toggle(key="data_audit_exclude").set_value(True)
    at.run()
    assert_ok(at)
    estimate = next(d.value for d in at.dataframe if "accuracy without flagged (estimate)" in d.value.columns)
    constant = estimate.set_index("model").loc["Constant"]
    assert constant["flagged left out"] == len(csv) and constant["images"] == 28
    right_kept = 4 - int((csv["label"] == "happy").sum())  # always happy: right on the happy faces not flagged
    assert constant["accuracy without flagged (estimate)"] == pytest.approx(100 * right_kept / (28 - len(csv)))
    assert {m.label: m.value for m in at.metric}["Constant accuracy"] == f"{4 / 28:.1%}"  # the real figure stays
