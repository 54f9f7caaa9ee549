"""The HTML report's button in the app (issue 26, item 6): Evaluation's for the stored split, Your data's for
an upload (built in memory, holding the page's figures), through AppTest. The button's data is deferred
(built on click), so the test runs the callable Streamlit registered for it."""
from __future__ import annotations

import json
import re

import pytest
from test_app import app_env, assert_ok, plotly_specs, run_app, tree  # noqa: F401 - fixtures
from test_data_page import app_env as data_env  # noqa: F401 - fixture
from test_data_page import upload
from zipfaces import labelled_zip

DEFERRED: dict[str, tuple] = {}


@pytest.fixture(autouse=True)
def deferred(monkeypatch):
    """Remember every deferred download's callable (AppTest's runtime is gone once the run ends)."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    original = MediaFileManager.add_deferred

    def add_deferred(self, callable_, mimetype, coordinates, *args, **kwargs):
        file_id = original(self, callable_, mimetype, coordinates, *args, **kwargs)
        DEFERRED[file_id] = (callable_, mimetype)
        return file_id

    DEFERRED.clear()
    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)


def report_bytes(at, label_start: str = "Download the report") -> str:
    """What pressing the report button downloads: the callable Streamlit runs on the click."""
    button = next(b for b in at.get("download_button") if b.proto.label.startswith(label_start))
    file_id = button.proto.deferred_file_id
    assert file_id in DEFERRED, "the report is built on click (a deferred download)"
    build, mimetype = DEFERRED[file_id]
    assert mimetype == "text/html"
    return build().decode("utf-8")


def plotly_data(document: str) -> list[list[dict]]:
    """Each figure's traces, as Plotly.newPlot receives them in the file."""
    decoder = json.JSONDecoder()
    out = []
    for match in re.finditer(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*", document):
        data, _ = decoder.raw_decode(document, match.end())
        out.append(data)
    return out


def test_evaluation_offers_the_report_of_the_split(app_env):  # noqa: F811
    at = run_app("evaluation")
    document = report_bytes(at)
    assert document.startswith("<!DOCTYPE html>") and "Emotion models on fer2013 / PrivateTest" in document
    figures = plotly_data(document)
    page_heatmaps = [s["data"][0]["z"] for s in plotly_specs(at) if s["data"][0]["type"] == "heatmap"]
    report_heatmaps = [f[0]["z"] for f in figures if f[0]["type"] == "heatmap"]
    assert report_heatmaps[0] == page_heatmaps[0] and report_heatmaps[2] == page_heatmaps[1]  # counts, per model
    assert report_heatmaps[0][2][5] == 6  # fear called surprise
    assert "This evaluation predates intervals" in document  # the shared fixtures have none
    assert "SHA-256 of each image" in document  # FER2013_DIR holds the images


@pytest.mark.slow
def test_your_data_report_is_built_in_memory_with_the_page_figures(data_env, write_watch):  # noqa: F811
    at = upload(run_app("data"), "holiday.zip", labelled_zip(per_class=4, contempt=2))
    assert_ok(at)
    page = [s for s in plotly_specs(at)]
    with write_watch() as seen:
        document = report_bytes(at)
    assert not [w for w in seen.writes if "holiday" in str(w) or str(w).endswith(".html")], seen.writes
    assert "Emotion models on holiday (your data)" in document
    figures = plotly_data(document)
    page_matrices = [s["data"][0]["z"] for s in page if s["data"][0]["type"] == "heatmap"]
    report_matrices = [f[0]["z"] for f in figures if f[0]["type"] == "heatmap"][::2]  # counts; row-normalised after
    assert report_matrices == page_matrices
    page_bars = next(s for s in page if s["data"][0]["type"] == "bar")["data"]
    report_bars = next(f for f in figures if f[0]["type"] == "bar")
    assert [t["y"] for t in report_bars] == [t["y"] for t in page_bars]
    assert "SHA-256 of each image" in document  # the upload's bytes, hashed in memory
    assert re.search(r"<td>happy</td><td>4</td>", document)
