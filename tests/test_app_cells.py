"""Click-through (issue 26, item 4): a confusion-matrix cell opens the faces behind it, for each model.
Evaluation's opens Mistakes on that model and pair (images from FER2013_DIR); Your data's shows the upload's
in-memory images of the cell. Driven through the picker under the matrices and through a simulated chart
selection (the event Streamlit hands back for a click)."""
from __future__ import annotations

import pytest
from test_app import KEY, app_env, assert_ok, messages, run_app, texts, tree  # noqa: F401 - fixtures
from test_data_page import app_env as data_env  # noqa: F401 - fixture
from test_data_page import upload
from zipfaces import labelled_zip

from core.presentation.cells import cell_from_selection, cell_rows


def open_cell(at, key: str, model: str, true: str, predicted: str, action: str):
    at.selectbox(key=f"{key}_cell_model").set_value(model).run()
    at.selectbox(key=f"{key}_cell_true_{model}").set_value(true).run()
    at.selectbox(key=f"{key}_cell_predicted_{model}_{true}").set_value(predicted).run()
    assert_ok(at)
    next(b for b in at.button if b.label == action).click().run()
    assert_ok(at)
    return at


def gallery_captions(at, true: str) -> list[str]:
    return [c for c in messages(at, "caption") if c.startswith(f"true **{true}**")]


def test_evaluation_cell_opens_mistakes_on_that_pair(app_env):  # noqa: F811
    at = run_app("evaluation")
    assert at.selectbox(key="eval_cell_true_fer2013_cnn").value == "fear"  # the largest confusion first
    at = open_cell(at, "eval", "fer2013_cnn", "fear", "surprise", "Open in Mistakes")
    assert at.title[0].value == "Mistakes"
    assert at.selectbox(key=f"mistakes_true_{KEY}_fer2013_cnn").value == "fear"
    assert at.selectbox(key=f"mistakes_predicted_{KEY}_fer2013_cnn_fear").value == "surprise"
    assert "6 of 10 `fear` images" in texts(at) and len(at.image) == 6


def test_evaluation_cell_of_the_other_model(app_env):  # noqa: F811
    at = open_cell(run_app("evaluation"), "eval", "deepface", "sad", "neutral", "Open in Mistakes")
    assert at.radio(key=f"mistakes_model_{KEY}").value == "deepface"
    assert at.selectbox(key=f"mistakes_true_{KEY}_deepface").value == "sad"
    assert at.selectbox(key=f"mistakes_predicted_{KEY}_deepface_sad").value == "neutral"
    assert "1 of 10 `sad` images" in texts(at) and len(at.image) == 1
    captions = gallery_captions(at, "sad")
    assert len(captions) == 1 and "DeepFace: neutral" in captions[0]


def click(at, chart_key: str, true: str, predicted: str):
    """What Streamlit hands the chart back after a click on a heatmap cell (x predicted, y true)."""
    at.session_state[chart_key] = {"selection": {"points": [{"x": predicted, "y": true, "curve_number": 0}],
                                                 "point_indices": [], "box": [], "lasso": []}}
    at.run()
    assert_ok(at)
    return at


def test_a_click_on_a_matrix_cell_opens_mistakes(app_env):  # noqa: F811
    at = click(run_app("evaluation"), "eval-cm-deepface", "fear", "angry")
    assert at.title[0].value == "Mistakes"
    assert at.radio(key=f"mistakes_model_{KEY}").value == "deepface"
    assert (at.selectbox(key=f"mistakes_true_{KEY}_deepface").value,
            at.selectbox(key=f"mistakes_predicted_{KEY}_deepface_fear").value) == ("fear", "angry")
    assert "1 of 10 `fear` images" in texts(at) and len(at.image) == 1


def test_a_diagonal_cell_says_mistakes_shows_the_others(app_env):  # noqa: F811
    at = open_cell(run_app("evaluation"), "eval", "fer2013_cnn", "happy", "happy", "Open in Mistakes")
    assert at.title[0].value.startswith("How the models score")
    assert any("got right" in i for i in messages(at, "info"))


@pytest.mark.slow
def test_your_data_cell_shows_the_in_memory_faces(data_env):  # noqa: F811
    at = upload(run_app("data"), "holiday.zip", labelled_zip(per_class=4, contempt=2))
    assert_ok(at)
    before = len(at.image)
    at = open_cell(at, "data", "constant", "sad", "happy", "Show the faces")
    assert "**4 `sad` images** Constant called happy." in texts(at)
    assert len(at.image) == before + 4  # the cell's four faces, decoded from the upload in memory
    constant = [c for c in gallery_captions(at, "sad") if c == "true **sad**, predicted **happy** (70%)"]
    assert len(constant) == 4  # Constant always answers happy at 70%
    at = open_cell(at, "data", "constant", "happy", "happy", "Show the faces")
    assert "**4 `happy` images** Constant right." in texts(at)
    at = click(at, "data-cm-constant", "angry", "happy")  # a click on the chart replaces the picked cell
    assert "**4 `angry` images** Constant called happy." in texts(at) and "`happy` images** Constant right" \
        not in texts(at)


def test_a_click_names_its_cell():
    labels = ["angry", "fear", "surprise"]
    assert cell_from_selection({"selection": {"points": [{"x": "surprise", "y": "fear"}]}}, labels) == ("fear", "surprise")
    assert cell_from_selection({"selection": {"points": [{"point_index": [0, 2]}]}}, labels) == ("angry", "surprise")
    assert cell_from_selection({"selection": {"points": [{"x": "cat", "y": "fear"}]}}, labels) is None
    assert cell_from_selection(None, labels) is None


def test_cell_rows_most_confident_first():
    import pandas as pd

    frame = pd.DataFrame({"path": ["a", "b", "c", "d"], "true": ["fear", "fear", "fear", "sad"],
                          "predicted": ["surprise", "surprise", "fear", "surprise"], "confidence": [0.5, 0.9, 0.8, 0.7]})
    assert list(cell_rows(frame, "fear", "surprise")["path"]) == ["b", "a"]
    assert cell_rows(frame, "sad", "fear").empty


def test_every_cell_gets_a_click_target_with_the_heatmap_hover():
    from core.presentation import charts
    from core.presentation.cells import with_click_targets

    labels = ["angry", "fear", "surprise"]
    figure = with_click_targets(charts.confusion_heatmap(labels, [[1, 0, 0], [0, 2, 6], [0, 0, 3]]), labels)
    heatmap, targets = figure.data
    assert heatmap.type == "heatmap" and targets.type == "scatter" and len(targets.x) == 9
    assert (targets.y[5], targets.x[5]) == ("fear", "surprise") and targets.customdata[5][0] == 6
    assert targets.hovertemplate == heatmap.hovertemplate and figure.layout.clickmode == "event+select"
