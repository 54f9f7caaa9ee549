"""No absolute server path in any page's text (issue 21): folders are named relative to the project or by
role ("DeepFace's weights folder"), the dataset by its folder name."""
from __future__ import annotations

import pytest
import test_app
from test_app import PAGES, point_app_at, run_app, texts

from core.paths import PROJECT_ROOT

tree, app_env = test_app.tree, test_app.app_env  # tests/test_app.py's fixtures: the artifacts the app reads


def page_text(at) -> str:
    parts = [texts(at)]
    for kind in ("markdown", "caption", "info", "warning", "error", "text_input"):
        parts += [str(getattr(el, "value", "")) for el in getattr(at.sidebar, kind)]
    parts += [str(getattr(el.proto, "help", "")) for el in at.get("text_input")]
    return "\n".join(parts)


@pytest.mark.parametrize("page", (*PAGES, "data"))
def test_pages_name_no_absolute_server_path(app_env, without_deepface, page):
    at = run_app(page)
    text = page_text(at)
    for forbidden in (str(PROJECT_ROOT), str(without_deepface), str(app_env["dataset"]), "/root/", "/tmp/"):
        assert forbidden not in text, f"{page} shows {forbidden}: " + " / ".join(l for l in text.splitlines() if forbidden in l)
    if page == "compare":
        assert "DeepFace's weights folder" in text  # the missing weights' place, by role


@pytest.mark.parametrize("page", ("training", "evaluation", "mistakes", "about"))
def test_empty_pages_name_no_absolute_server_path(monkeypatch, tmp_path, without_deepface, page):
    empty = tmp_path / "nothing"
    empty.mkdir()
    point_app_at(monkeypatch, empty / "models", empty / "models" / "fer2013_cnn", empty / "runs",
                 empty / "results.json", None)
    text = page_text(run_app(page))
    assert str(tmp_path) not in text and str(PROJECT_ROOT) not in text


def test_without_server_paths_names_folders_by_role(without_deepface, monkeypatch, tmp_path):
    from core.presentation.places import without_server_paths

    monkeypatch.setenv("FER2013_DIR", str(tmp_path / "fer2013"))
    text = without_server_paths(f"put it at {without_deepface}/.deepface/weights/x.h5; see {PROJECT_ROOT}/models/a "
                                f"and {tmp_path}/fer2013/test and /etc/secret/place")
    assert text == ("put it at DeepFace's weights folder/x.h5; see models/a and fer2013/test and .../place")
