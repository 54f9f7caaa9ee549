"""DeepFace's offer on the Evaluation page in Chromium (issue 26, item 8): with stand-in weights and no
DeepFace evaluation, the button starts the background run; the page shows its progress while it runs,
stays usable, and then shows DeepFace beside the other models.

Plumbing only: stand-in (random) weights, a small FER2013-shaped folder and a temporary models root (the
CNN is read from its shipped folder, nothing is written there). Screenshot: deepface_offer_*.png."""
from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest
from harness import exceptions, full_screenshot, main_text, metric_values, wait_idle, wait_rendered

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from report_fixtures import write_dataset  # noqa: E402
from test_app_deepface_offer import BUTTON, add_fer2013_splits  # noqa: E402

from core.bench.app import AppServer  # noqa: E402
from core.paths import PROJECT_ROOT  # noqa: E402

pytestmark = pytest.mark.e2e


@pytest.fixture
def offer_app(tmp_path, model_dir, deepface_home):
    models = tmp_path / "models"
    models.mkdir()
    if (PROJECT_ROOT / "models" / "fer_minixception").is_dir():
        shutil.copytree(PROJECT_ROOT / "models" / "fer_minixception", models / "fer_minixception")
    dataset = add_fer2013_splits(write_dataset(tmp_path / "fer2013"))
    env = {"EMOTION_MODEL_DIR": str(model_dir), "EMOTION_MODELS_ROOT": str(models), "DEEPFACE_HOME": str(deepface_home),
           "FER2013_DIR": str(dataset), "EMOTION_DATA_ROOTS": str(tmp_path)}
    server = AppServer(env, log_path=tmp_path / "streamlit.log").start()
    try:
        server.wait_healthy(240)
        yield server, models
    finally:
        server.stop()


def test_the_offer_runs_in_the_background_and_then_deepface_shows(page, offer_app, screenshots):
    server, models = offer_app
    shipped = sorted(p.name for p in (PROJECT_ROOT / "models").iterdir())
    page.goto(server.url)
    page.get_by_role("heading", level=1).first.wait_for()
    wait_idle(page)
    page.get_by_role("link", name="Evaluation", exact=True).click()
    page.get_by_role("heading", level=1, name=re.compile("How the models score")).wait_for()
    wait_idle(page)
    assert "DeepFace's weights are here, but it has no evaluation" in main_text(page)
    assert not [v for v in metric_values(page) if "DeepFace" in v]
    page.get_by_role("button", name=BUTTON).click()
    progress = page.get_by_text(re.compile("Evaluating DeepFace in the background"))
    progress.wait_for(timeout=60_000)
    full_screenshot(page, screenshots / "deepface_offer_01_running.png")
    # the app answers while the evaluation runs: another page opens and comes back
    page.get_by_role("link", name="About", exact=True).click()
    page.get_by_role("heading", level=1).filter(has_text=re.compile("About|model")).first.wait_for(timeout=60_000)
    page.get_by_role("link", name="Evaluation", exact=True).click()
    page.get_by_text("DeepFace accuracy").first.wait_for(timeout=300_000)
    wait_idle(page)
    wait_rendered(page)
    full_screenshot(page, screenshots / "deepface_offer_02_done.png")
    assert not exceptions(page), exceptions(page)
    assert "DeepFace accuracy" in main_text(page)
    for split in ("PublicTest", "PrivateTest"):
        assert (models / "deepface" / "eval" / f"fer2013-{split}" / "metrics.json").is_file()
    assert sorted(p.name for p in (PROJECT_ROOT / "models").iterdir()) == shipped
