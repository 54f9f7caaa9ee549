"""The detector catalogue (core.faces.catalogue): one entry per detector, read by every consumer."""
from __future__ import annotations

import doctest
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.analysis.pipeline import AnalysisOptions, Analyzer, detection_limits
from core.faces import catalogue
from core.faces.blazeface import BlazeFaceDetector
from core.faces.nms import FallbackDetector, MergingDetector, UnionDetector

ROOT = Path(__file__).resolve().parents[1]


def test_every_entry_has_a_name_title_help_and_a_way_to_find_its_limit():
    assert catalogue.DEFAULT_DETECTOR in catalogue.DETECTOR_NAMES
    assert catalogue.LIVE_DETECTOR in catalogue.DETECTOR_NAMES
    titles = [catalogue.title(n) for n in catalogue.DETECTOR_NAMES]
    assert len(set(titles)) == len(titles) and all(titles)
    for name, entry in catalogue.AVAILABLE.items():
        assert entry.name == name and len(entry.help) > 20
        for part in entry.components:  # every part is itself a single detector with a limit
            assert catalogue.info(part).smallest_face is not None and not catalogue.info(part).parts
    assert catalogue.title(catalogue.DEFAULT_DETECTOR) in catalogue.help_text()


@pytest.mark.parametrize("call", [
    lambda: catalogue.info("yunet"), lambda: catalogue.build("yunet"),
    lambda: catalogue.smallest_faces("yunet", 640, 480), lambda: detection_limits(640, 480, "yunet"),
    lambda: AnalysisOptions(detector="yunet"), lambda: catalogue.info(None)])
def test_an_unknown_name_raises_a_clear_error(call):
    with pytest.raises(catalogue.UnknownDetector, match=r"unknown face detector .*choose one of haar, blazeface"):
        call()


def test_built_detectors_are_cached_per_setting():
    assert catalogue.build("haar") is catalogue.build("haar", 40, 400)
    assert catalogue.build("haar", 60) is not catalogue.build("haar", 40)
    assert isinstance(catalogue.build("haar"), MergingDetector)
    assert isinstance(catalogue.build("blazeface"), BlazeFaceDetector)
    assert catalogue.build("blazeface-full").model == "full"
    assert isinstance(catalogue.build("blazeface-or-haar"), FallbackDetector)
    assert isinstance(catalogue.build("blazeface+haar"), UnionDetector)
    with pytest.raises(ValueError, match="at least 1 pixel"):
        catalogue.build("haar", 0)


def test_the_analyzer_takes_its_detector_from_the_catalogue():
    analyzer = Analyzer({"x": object()}, max_detect_side=320)
    assert analyzer.face_detector(AnalysisOptions(detector="haar")) is catalogue.build("haar", 40, 320)
    assert Analyzer({"x": object()}).face_detector(AnalysisOptions()) is catalogue.build(catalogue.DEFAULT_DETECTOR)


def test_a_combination_reports_each_of_its_parts_including_the_full_range_model():
    limits = catalogue.smallest_faces("blazeface-or-haar", 1280, 720)
    assert list(limits) == ["blazeface", "blazeface-full", "haar"]
    for part, px in limits.items():
        assert px == catalogue.smallest_faces(part, 1280, 720)[part]
    assert limits["blazeface-full"] < limits["blazeface"]  # the full-range model reaches lower
    assert catalogue.smallest_face("blazeface-or-haar", 1280, 720) == min(limits.values())
    assert catalogue.smallest_faces("blazeface+haar", 1280, 720) == {"blazeface": 128, "haar": 96}
    assert catalogue.smallest_faces("haar", 1280, 720, min_face_size=200) == {"haar": 200}  # the setting wins


def test_the_cli_offers_the_catalogue():
    import argparse

    from core.cli import predict, video

    for module in (predict, video):
        parser = argparse.ArgumentParser()
        module.add_parser(parser.add_subparsers())
        action = next(a for sub in parser._subparsers._group_actions for p in sub.choices.values()
                      for a in p._actions if a.dest == "detector")
        assert tuple(action.choices) == catalogue.DETECTOR_NAMES and action.default == catalogue.DEFAULT_DETECTOR
        assert catalogue.title(catalogue.DEFAULT_DETECTOR) in action.help


def test_no_other_module_names_a_combined_detector():
    """The catalogue is the one place that spells out detector names (tests and docs aside)."""
    pattern = re.compile(r"""["'](blazeface-or-haar|blazeface\+haar|blazeface-full)["']""")
    offenders = [str(path.relative_to(ROOT)) for folder in ("core", "pages") for path in (ROOT / folder).rglob("*.py")
                 if path.name != "catalogue.py" and pattern.search(path.read_text())]
    assert offenders == []


def test_the_faces_modules_do_not_import_each_other_in_a_cycle():
    code = ("import sys, core.faces.nms; assert 'core.faces.blazeface' not in sys.modules, 'nms imports blazeface'; "
            "import core.faces.blazeface")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_catalogues_examples_hold():
    assert doctest.testmod(catalogue).failed == 0


def test_readme_names_every_detector_of_the_catalogue():
    """README's Face detectors section lists exactly the catalogue's detectors (and its table has a row
    for each), with the default named by its catalogue title."""
    import re
    from pathlib import Path

    from core.faces import catalogue

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = text.split("## Face detectors", 1)[1].split("\n## ", 1)[0]
    intro = section.split("|", 1)[0]
    named = re.findall(r"`([a-z][a-z+-]*)`\s*\(", intro)
    assert named == list(catalogue.DETECTOR_NAMES)
    rows = [re.sub(r"[*`]", "", line.split("|")[1]).split()[0] for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| detector")]
    assert sorted(rows) == sorted(catalogue.DETECTOR_NAMES)
    assert f'("{catalogue.title(catalogue.DEFAULT_DETECTOR)}")' in intro


def test_cli_default_detector_is_the_pipelines():
    """The CLI names its default without importing the pipeline (scipy): it must still be the pipeline's."""
    from core.analysis.pipeline import AnalysisOptions

    assert AnalysisOptions().detector == catalogue.DEFAULT_DETECTOR
