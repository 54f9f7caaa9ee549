"""The Robustness page and Compare's "what if", through AppTest, on artifacts the real code wrote (issue 24)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from test_app import KEY, app_env, assert_ok, copy_env, messages, plotly_specs, run_app, table, texts, tree  # noqa: F401

FAMILIES = ["gaussian_blur", "sunglasses", "jpeg"]


@pytest.fixture
def stored(copy_env):  # noqa: F811
    """The tiny CNN evaluated and run through three corruptions on the test tree's faces, stored as shipped."""
    from core.data.datasets import load_dataset
    from core.evaluation.evaluate import evaluate
    from core.evaluation.robustness import run_robustness, write_robustness
    from core.models.cnn import CnnClassifier

    cnn = CnnClassifier(copy_env["cnn"], name="fer2013_cnn")
    (copy_env["dataset"] / "train").mkdir(exist_ok=True)  # the tree holds test/ only
    dataset = load_dataset(copy_env["dataset"], "fer2013")
    out = copy_env["cnn"] / "eval" / KEY
    evaluate(cnn, dataset, "PrivateTest", out_dir=out, progress=False)
    result = run_robustness({"fer2013_cnn": cnn}, dataset, "PrivateTest", count=35, families=FAMILIES,
                            severities=(1, 3, 5))["fer2013_cnn"]
    write_robustness(result, out / "robustness")
    return copy_env, result


def test_page_draws_stored_curves_ranking_and_the_strip(stored, without_deepface):
    from core.models import registry

    env, result = stored
    at = run_app("robustness")
    content = texts(at)
    assert "Robustness: how the models hold up" in content
    ranking = table(at, "rank", "mean corrupted accuracy")
    assert list(ranking["model"]) == ["CNN"]
    assert ranking["clean accuracy"][0] == pytest.approx(result["clean"]["accuracy"] * 100)
    assert ranking["mean corrupted accuracy"][0] == pytest.approx(result["mean_corruption_accuracy"] * 100)
    assert "the same as its Evaluation (predictions.csv) on the same faces" in content  # the clean point checked
    spec = plotly_specs(at)[0]
    curves = spec["data"]
    assert len(curves) == len(FAMILIES)
    assert spec["layout"]["yaxis"]["title"]["text"] == "accuracy"  # the first panel of the only row
    assert spec["layout"]["xaxis"]["title"]["text"] == "severity"
    assert {trace["line"]["color"] for trace in curves} == {registry.describe("fer2013_cnn").colour}
    blur = result["families"]["gaussian_blur"]["severities"]
    assert curves[0]["x"] == [0, 1, 3, 5]
    assert curves[0]["y"] == pytest.approx([s["accuracy"] * 100 for s in blur])
    strips = at.get("image")  # in FAMILIES order: the fifth is Gaussian blur
    assert len(strips) == 15  # every corruption, severities 0-5
    assert all(len(strip.proto.imgs) == 6 for strip in strips)
    assert [img.caption for img in strips[4].proto.imgs] == ["clean", "1: 0.5", "2: 1", "3: 1.5", "4: 2", "5: 3"]
    assert "FER2013 face `test/" in content  # FER2013_DIR is set: the faces come from the dataset
    assert "Evaluate your own labelled faces on the **Your data** page first" in content
    assert not at.error, messages(at, "error")


def test_rotation_curve_shows_alignment_on_dashed_with_what_was_measured(copy_env, without_deepface):  # noqa: F811
    from core.data.datasets import load_dataset
    from core.evaluation.robustness import run_robustness, write_robustness
    from core.models.cnn import CnnClassifier

    (copy_env["dataset"] / "train").mkdir(exist_ok=True)
    cnn = CnnClassifier(copy_env["cnn"], name="fer2013_cnn")
    result = run_robustness({"fer2013_cnn": cnn}, load_dataset(copy_env["dataset"], "fer2013"), "PrivateTest",
                            count=21, families=["rotation", "jpeg"], severities=(2, 4))["fer2013_cnn"]
    write_robustness(result, copy_env["cnn"] / "eval" / KEY / "robustness")
    at = run_app("robustness")
    assert not at.error, messages(at, "error")
    traces = plotly_specs(at)[0]["data"]
    dashed = [t for t in traces if t["line"].get("dash") == "dash"]
    assert len(traces) == 3 and len(dashed) == 1  # rotation, its aligned twin, JPEG
    aligned = result["alignment"]["severities"]
    assert dashed[0]["name"] == "CNN, aligned by the eyes" and dashed[0]["x"] == [0, 2, 4]
    assert dashed[0]["y"] == pytest.approx([s["accuracy"] * 100 for s in aligned])
    caption = next(c for c in texts(at).split("\n") if c.startswith("In-plane rotation, dashed"))
    entry = result["alignment"]
    assert (f"CNN {entry['unaligned_mean_accuracy'] * 100:.1f}% -> {entry['mean_accuracy'] * 100:.1f}%" in caption)
    assert "Severity 0 is aligned too" in caption and "Not part of the mean corrupted accuracy" in caption


def test_strip_says_where_its_face_comes_from_without_the_dataset(stored, without_deepface, monkeypatch):
    monkeypatch.setenv("FER2013_DIR", "")
    at = run_app("robustness")
    assert "the astronaut's face from the example photo" in texts(at)
    assert len(at.get("image")) == 15


def test_page_without_results_says_how(copy_env, without_deepface):  # noqa: F811
    at = run_app("robustness")
    assert "No stored robustness results yet: run `make robustness`" in texts(at)
    assert len(at.get("image")) == 15  # the strip still shows what each severity means


def test_a_broken_artifact_is_one_line(stored, without_deepface):
    env, _ = stored
    path = env["cnn"] / "eval" / KEY / "robustness" / "robustness.json"
    data = json.loads(path.read_text())
    data["families"]["jpeg"]["severities"][1]["accuracy"] = 3.0
    path.write_text(json.dumps(data))
    at = run_app("robustness")
    assert any("family jpeg: every severity needs an accuracy between 0 and 1" in m for m in messages(at, "error"))


def test_your_data_runs_in_memory(stored, without_deepface, write_watch):
    from zipfaces import labelled_zip

    from core.evaluation import labelled
    from core.models import registry

    classifiers = {"fer2013_cnn": registry.get("fer2013_cnn")}
    report = labelled.evaluate_source(labelled_zip(per_class=3, contempt=0, extras=False), classifiers, name="mine")
    at = run_app("robustness")
    at.session_state["data_report"] = report
    at.run()
    button = at.button(key="robustness_run")
    assert "21" in button.label
    with write_watch() as seen:
        button.click().run()
    assert_ok(at)
    assert seen.writes == [], seen.report()
    yours = at.session_state["robustness_yours"]
    assert set(yours) >= {"fer2013_cnn"} and yours["fer2013_cnn"]["subset"]["n_images"] == 21
    assert len(yours["fer2013_cnn"]["families"]) == 15
    assert len(plotly_specs(at)) == 2  # stored and yours
    rankings = [e.value for e in at.dataframe if "rank" in e.value.columns]
    assert rankings[-1]["faces"][0] == 21
    assert np.isfinite(rankings[-1]["relative drop"]).all()


def test_what_if_on_compare(app_env, without_deepface, astronaut):  # noqa: F811
    from test_app import jpeg

    at = run_app()
    at.sidebar.multiselect(key="opt_models").set_value(["fer2013_cnn", "fer_minixception"]).run()
    at.get("file_uploader")[0].set_value([("astronaut.jpg", jpeg(astronaut), "image/jpeg")])
    at.run()
    assert_ok(at)
    toggle = next(t for t in at.toggle if t.key.startswith("whatif-"))
    toggle.set_value(True).run()
    prefix = toggle.key.removesuffix("-on")
    at.selectbox(key=f"{prefix}-family").set_value("sunglasses").run()
    at.slider(key=f"{prefix}-severity").set_value(5).run()
    assert_ok(at)
    captions = [img.caption for element in at.get("image") for img in element.proto.imgs]
    assert "original" in captions
    assert "sunglasses, severity 5 (band height (fraction of the face) 0.3)" in captions
    answers = [m for m in messages(at, "markdown") if "→" in m]
    assert [a.split("**")[1] for a in answers] == ["CNN", "fer mini-Xception"]
    at.slider(key=f"{prefix}-severity").set_value(0).run()  # severity 0 is the face itself: every answer holds
    answers = [m for m in messages(at, "markdown") if "→" in m]
    assert len(answers) == 2 and all("holds" in a for a in answers)
    for answer in answers:
        before, after = answer.split(": ", 1)[1].split(" · ")[0].split(" → ")
        assert before == after
