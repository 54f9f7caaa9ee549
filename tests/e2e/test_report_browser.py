"""The HTML report (issue 26, item 6) opened in headless Chromium with every network request refused:
every figure draws (its SVG is there), no request leaves the file, no script error. Screenshots:
tests/e2e/screenshots/report_*.png."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/report_fixtures.py
from report_fixtures import write_dataset, write_models  # noqa: E402

pytestmark = pytest.mark.e2e


def open_offline(browser, path: Path):
    """A page showing ``path`` where every request but the file itself is aborted (and recorded)."""
    context = browser.new_context(viewport={"width": 1300, "height": 900}, offline=True)
    requests, errors = [], []
    url = path.resolve().as_uri()

    def gate(route):
        requests.append(route.request.url)
        route.continue_() if route.request.url == url else route.abort()

    context.route("**/*", gate)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    return context, page, requests, errors


def test_report_opens_offline_with_every_figure(browser, tmp_path, monkeypatch, screenshots):
    from core.cli import main

    monkeypatch.setenv("EMOTION_MODELS_ROOT", str(tmp_path / "models"))
    monkeypatch.setenv("FER2013_DIR", str(write_dataset(tmp_path / "fer2013")))
    models = write_models(tmp_path)
    out = tmp_path / "report.html"
    assert main(["report", "--models-dir", str(models), "--out", str(out)]) == 0
    expected = out.read_text().count('class="plotly-graph-div"')
    assert expected == 7

    context, page, requests, errors = open_offline(browser, out)
    try:
        page.wait_for_function(f"() => document.querySelectorAll('.plotly-graph-div .main-svg').length >= {expected}",
                               timeout=60_000)
        drawn = page.evaluate("() => [...document.querySelectorAll('.plotly-graph-div')].map(d => "
                              "[d.querySelectorAll('.main-svg').length, d.getBoundingClientRect().height, "
                              "d.querySelectorAll('.heatmaplayer image, .bars path, .scatterlayer path').length])")
        assert len(drawn) == expected
        assert all(svgs >= 1 and height > 200 and marks > 0 for svgs, height, marks in drawn), drawn
        assert requests == [out.resolve().as_uri()], requests  # nothing but the file itself was asked for
        assert not errors, errors
        page.set_viewport_size({"width": 1300, "height": min(int(page.evaluate("document.body.scrollHeight")), 12000)})
        page.wait_for_timeout(500)
        page.screenshot(path=str(screenshots / "report_01_offline.png"))
    finally:
        context.close()
