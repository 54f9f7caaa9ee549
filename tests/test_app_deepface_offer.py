"""DeepFace joins the comparison once its weights exist (issue 26, item 8): with DeepFace's weights here and
no DeepFace evaluation stored, Evaluation offers to evaluate it on PublicTest and PrivateTest; the run goes
in the background through the real evaluation and then the pages include it.

Plumbing only: the weights are conftest's architecture-identical STAND-INS (random), so no figure here means
anything, and every file is written under a temporary EMOTION_MODELS_ROOT, never the repository's models/."""
from __future__ import annotations

import importlib.util
import json
import shutil

import cv2
import numpy as np
import pytest
from PIL import Image
from test_app import LABELS, assert_ok, copy_env, messages, run_app, texts, tree  # noqa: F401 - fixtures

from core.evaluation import background
from core.paths import PROJECT_ROOT

BUTTON = "Evaluate DeepFace on PublicTest and PrivateTest"


def add_fer2013_splits(root):
    """The test tree's FER2013 folder (70 PrivateTest faces) plus train/ and 2 PublicTest faces per class."""
    for c, label in enumerate(LABELS):
        for folder, name in (("train", f"Training_{c}.jpg"), ("test", f"PublicTest_{c}0.jpg"),
                             ("test", f"PublicTest_{c}1.jpg")):
            (root / folder / label).mkdir(parents=True, exist_ok=True)
            pixels = np.full((48, 48), 30 * c, np.uint8)
            cv2.circle(pixels, (24, 24), 8, 255, 2)
            Image.fromarray(pixels).save(root / folder / label / name)
    return root


@pytest.fixture
def no_deepface_eval(copy_env, with_deepface):  # noqa: F811
    shutil.rmtree(copy_env["models"] / "deepface")
    add_fer2013_splits(copy_env["dataset"])
    yield copy_env
    for job_model in ("deepface",):
        job = background.current(job_model, copy_env["models"])
        if job is not None:
            job.join(300)
        background.forget(job_model, copy_env["models"])


@pytest.mark.slow
def test_evaluation_offers_deepface_and_then_shows_it(no_deepface_eval):
    models = no_deepface_eval["models"]
    shipped = sorted(p.name for p in (PROJECT_ROOT / "models").iterdir())
    at = run_app("evaluation")
    assert "DeepFace's weights are here, but it has no evaluation on PublicTest and PrivateTest yet" in texts(at)
    # the offer speaks for DeepFace: no second line telling the user to fetch weights that are here
    assert not any(m.startswith("**DeepFace** has no evaluation") for m in messages(at, "info")), messages(at, "info")
    assert "DeepFace accuracy" not in [m.label for m in at.metric]
    next(b for b in at.button if b.label == BUTTON).click().run()
    assert_ok(at)
    shown = [p.proto.text for p in at.get("progress")] + messages(at, "success")
    assert any(t.startswith(("Evaluating DeepFace in the background", "DeepFace evaluated")) for t in shown), shown
    job = background.current("deepface", models)
    assert job is not None
    assert background.start("deepface", no_deepface_eval["dataset"], ["PublicTest"], models) is job  # one run only
    assert job.join(600), "the background evaluation did not finish"
    assert job.snapshot().state == "done", job.snapshot().error
    assert job.snapshot().fraction == 1.0

    for split, n in (("PublicTest", 14), ("PrivateTest", 70)):
        out = models / "deepface" / "eval" / f"fer2013-{split}"
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["model"] == "deepface" and metrics["n_images"] == n and metrics["dataset"]["split"] == split
        assert len((out / "predictions.csv").read_text().splitlines()) == n + 1
    assert (models / "deepface" / "model.json").is_file()
    if importlib.util.find_spec("core.evaluation.paired") is not None:  # the paired tests include DeepFace
        cnn = json.loads((models / "fer2013_cnn" / "eval" / "fer2013-PrivateTest" / "metrics.json").read_text())
        pairs = [c for c in cnn["comparisons"] if {c["a"], c["b"]} == {"fer2013_cnn", "deepface"}]
        assert len(pairs) == 1 and pairs[0]["n"] == 70, cnn["comparisons"]
    assert sorted(p.name for p in (PROJECT_ROOT / "models").iterdir()) == shipped  # the shipped tree is untouched

    at.run()
    assert_ok(at)
    assert "DeepFace accuracy" in [m.label for m in at.metric]
    assert BUTTON not in [b.label for b in at.button]
    at.selectbox(key="eval_split").set_value("fer2013-PublicTest").run()
    assert "DeepFace accuracy" in [m.label for m in at.metric]
    about = run_app("about")  # the measured figures
    measured = [d.value for d in about.dataframe if "model" in d.value.columns and "dataset / split" in d.value.columns]
    assert measured and "DeepFace" in set(measured[0]["model"])
    mistakes = run_app("mistakes")
    assert mistakes.radio(key="mistakes_model_fer2013-PrivateTest").options == ["CNN", "DeepFace"]
    out = models.parent / "report.html"
    from core.cli import main

    assert main(["report", "--models-dir", str(models), "--split", "PublicTest", "--out", str(out)]) == 0
    assert "<h3>DeepFace: counts</h3>" in out.read_text()


def test_no_offer_without_the_weights(copy_env, without_deepface):  # noqa: F811
    shutil.rmtree(copy_env["models"] / "deepface")
    at = run_app("evaluation")
    assert BUTTON not in [b.label for b in at.button]
    assert any("make evaluate-deepface" in i for i in messages(at, "info"))


def test_no_offer_once_deepface_is_evaluated(copy_env, with_deepface):  # noqa: F811
    for split in ("PublicTest",):
        shutil.copytree(copy_env["models"] / "deepface" / "eval" / "fer2013-PrivateTest",
                        copy_env["models"] / "deepface" / "eval" / f"fer2013-{split}")
    at = run_app("evaluation")
    assert BUTTON not in [b.label for b in at.button] and "DeepFace accuracy" in [m.label for m in at.metric]


def test_stand_in_results_never_reach_the_shipped_models(with_deepface):
    from core.models.deepface_weights import is_stand_in

    assert is_stand_in()
    job = background.EvaluationJob("deepface", PROJECT_ROOT / "no-dataset", ["PublicTest"], PROJECT_ROOT / "models")
    assert job.start().join(60)
    assert job.snapshot().state == "failed" and "stand-ins" in job.snapshot().error
    assert not (PROJECT_ROOT / "models" / "deepface").exists()
