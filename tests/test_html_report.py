"""The self-contained HTML report (issue 26, item 6): its content, that it names no external resource,
and ``python -m core report`` from stored artifacts. The browser check is tests/e2e/test_report_browser.py."""
from __future__ import annotations

import hashlib
import re
from importlib import metadata

import pandas as pd
import pytest
from report_fixtures import KEY, SENTENCE, write_dataset, write_models

from core.presentation import evaluations, html_report, significance
from core.presentation.artifacts import read_model_json
from core.presentation.report import ModelScores

# Anything a browser would fetch: a script or stylesheet by URL, a CSS url(), an <img>/<iframe> source.
EXTERNAL = re.compile(r"""<script[^>]+src=|<link[^>]+href=|<(img|iframe|source|embed)[^>]+src=["']?https?:|"""
                      r"""url\(\s*["']?https?:|@import""", re.IGNORECASE)


def stored(models):
    return evaluations.find_evaluations(models)[KEY]


def build(models, dataset_dir=None) -> str:
    return html_report.stored_report(stored(models), read_metrics=lambda r: evaluations.read_metrics(r.path),
                                     read_predictions=lambda r: evaluations.read_predictions(r.path),
                                     read_card=lambda r: read_model_json(r.path.parent.parent), dataset_dir=dataset_dir)


def outside_plotly(document: str) -> str:
    """The document without the inlined plotly.js bundle (whose code holds URL strings it never fetches)."""
    start = document.index("/**\n* plotly.js")
    end = document.index("</script>", start)
    return document[:start] + document[end:]


@pytest.fixture
def models(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOTION_MODELS_ROOT", str(tmp_path / "models"))
    return write_models(tmp_path)


def test_report_holds_every_figure_with_plotly_inlined_once(models):
    document = build(models)
    scores = [ModelScores(name=m, metrics=evaluations.read_metrics(r.path)) for m, r in stored(models).items()]
    figures = html_report.figures(scores)
    # two confusion matrices per model, one per-class chart, one reliability diagram per model
    assert [section for section, _, _ in figures] == ["confusion"] * 4 + ["per_class"] + ["calibration"] * 2
    assert document.count('class="plotly-graph-div"') == len(figures) == 7
    assert document.count("/**\n* plotly.js") == 1  # the bundle once
    assert document.count("Plotly.newPlot(") == 7
    assert not EXTERNAL.search(outside_plotly(document))
    assert not re.search(r"https?://", outside_plotly(document).replace("https://github.com/serengil/deepface", ""))


def test_report_holds_the_intervals_tests_cards_dataset_and_versions(models, tmp_path):
    document = build(models, dataset_dir=write_dataset(tmp_path / "fer2013"))
    text = re.sub(r"<[^>]+>", " ", outside_plotly(document))
    assert "54.0–77.0%" in text and "38.0–62.0%" in text  # accuracy intervals, percent
    assert "0.410–0.620" in text  # macro F1 interval
    assert "95% percentile bootstrap over faces (2,000 resamples, seed 0): CNN, DeepFace" in text
    assert "14.3% (angry)" in text and "always answering angry scores 14.3%" in text  # the majority-class baseline
    assert document.count(SENTENCE.replace("'", "&#x27;")) == 1  # the pair once, though both metrics hold it
    assert " 15.7 " in text and "4.3 to 27.1" in text and "0.0106" in text
    assert "fer2013_cnn" in text and "&quot;temperature&quot;: 0.9" in document  # record facts and model.json
    assert f"plotly {metadata.version('plotly')}" in re.sub(r"\s+", " ", text)
    assert "SHA-256 of each image" in text  # the images were there: their bytes are hashed
    counts = re.search(r"angry\s+10\s+disgust\s+10", re.sub(r"\s+", " ", text))
    assert counts, "counts per class missing"


def test_report_says_when_the_evaluation_predates_intervals(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOTION_MODELS_ROOT", str(tmp_path / "models"))
    document = build(write_models(tmp_path, with_intervals=False))
    assert significance.MISSING in document.replace("&#x27;", "'").replace("&quot;", '"')
    assert "No paired comparison is stored" in document


def test_content_hash_follows_the_bytes_and_labels():
    frame = pd.DataFrame({"path": ["b.jpg", "a.jpg"], "true": ["sad", "happy"]})
    blobs = {"a.jpg": b"one", "b.jpg": b"two"}
    summary = html_report.dataset_summary({"m": frame}, name="mine", split="all", read_bytes=blobs.get)
    expected = hashlib.sha256(b"".join(f"{p}\t{lbl}\t{hashlib.sha256(blobs[p]).hexdigest()}\n".encode()
                                       for p, lbl in (("a.jpg", "happy"), ("b.jpg", "sad")))).hexdigest()
    assert summary["sha256"] == expected and summary["counts"] == {"happy": 1, "sad": 1} and summary["images"] == 2
    changed = html_report.dataset_summary({"m": frame}, name="mine", split="all", read_bytes={**blobs, "a.jpg": b"x"}.get)
    relabelled = html_report.dataset_summary({"m": frame.assign(true=["sad", "sad"])}, name="mine", split="all",
                                             read_bytes=blobs.get)
    assert len({summary["sha256"], changed["sha256"], relabelled["sha256"]}) == 3
    assert "not available" in html_report.dataset_summary({"m": frame}, name="m", split="all")["hash_of"]


def test_cli_report_writes_the_file(models, tmp_path, capsys):
    from core.cli import main

    out = tmp_path / "out" / "report.html"
    assert main(["report", "--models-dir", str(models), "--split", "PrivateTest", "--out", str(out)]) == 0
    assert "CNN, DeepFace on fer2013-PrivateTest" in capsys.readouterr().out
    assert out.read_text().count('class="plotly-graph-div"') == 7
    assert main(["report", "--models-dir", str(models), "--model", "deepface", "--out", str(out)]) == 0
    assert out.read_text().count('class="plotly-graph-div"') == 4  # 2 matrices, per class, reliability
    assert main(["report", "--models-dir", str(models), "--split", "PublicTest", "--out", str(out)]) == 1
    assert "no stored evaluation of split PublicTest" in capsys.readouterr().err


def test_extra_sections_follow_the_intervals(models):
    scores = [ModelScores(name=m, metrics=evaluations.read_metrics(r.path)) for m, r in stored(models).items()]
    table = pd.DataFrame([{"model": "CNN", "column": "lighting", "value": "dim", "faces": 12}])
    document = html_report.build_html(scores, dataset={"counts": {}}, title="t",
                                      extra=[("Slices of your metadata", table, "Method: Holm.")])
    section = document[document.index('<section id="extra-0">'):]
    assert "<h2>Slices of your metadata</h2>" in section and "<td>dim</td>" in section and "Method: Holm." in section
    assert document.index('id="intervals"') < document.index('id="extra-0"') < document.index('id="confusion"')
