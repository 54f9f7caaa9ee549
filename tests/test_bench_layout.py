"""benchmarks/results.json: one layout (each figure once), the headline keys tooling reads, and no
absolute path of the machine that ran it, on the About page or in the file."""
from __future__ import annotations

import json
import re
from pathlib import Path

from core.bench.run import HEADLINE_KEYS, stored_layout
from core.presentation.speed import speed_headline, speed_notes, without_machine_paths

SHIPPED = Path(__file__).resolve().parent.parent / "benchmarks" / "results.json"


def leaves(value, path=""):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from leaves(item, f"{path}[{i}]")
    else:
        yield path, value


def test_stored_layout_keeps_the_headline_and_drops_flat_copies():
    raw = {"date": "d", "cnn_face_ms_p50": 2.0, "cnn_face_ms_p95": 3.0, "cnn_face": {"p50": 2.0, "p95": 3.0},
           "e2e_cnn_1280x720_1face_ms_p50": 40.0, "e2e_cnn_640x480_3faces_ms_p95": 9.0,
           "deepface_analyze_1280x720_1face_ms_p50": 200.0, "ratio_deepface_analyze_vs_cnn_1280x720_1face": 5.0,
           "target_cnn_face_met": True, "app_cold_start_s": 2.0, "app_cold_start": {"cold_start_s": 2.0},
           "photos": {"1280x720_1face": {"e2e_cnn": {"p50": 40.0}}}, "peak_rss_mib": 900.0}
    stored = stored_layout(raw)
    assert list(stored)[:4] == ["date", *HEADLINE_KEYS]
    assert set(stored) == {"date", *HEADLINE_KEYS, "cnn_face", "app_cold_start", "photos", "peak_rss_mib"}
    # the About page reads the same figures from either layout
    assert speed_headline(stored).equals(speed_headline(raw))


def test_the_shipped_results_have_one_layout_and_no_machine_paths():
    stored = json.loads(SHIPPED.read_text())
    for key in HEADLINE_KEYS:
        assert isinstance(stored[key], float), key
    assert stored_layout(stored) == stored, "results.json holds flat copies of nested figures"
    absolute = [f"{where}: {value}" for where, value in leaves(stored)
                if isinstance(value, str) and re.search(r"(^|[\s(])/(home|root|tmp|work|Users|var)/", value)]
    assert absolute == []


def test_notes_lose_absolute_paths():
    notes = speed_notes({"notes": ["weights missing (/root/.deepface/weights/x.h5): stand-in in /tmp/b_1/home",
                                   "shipped model: /srv/clone/models/fer2013_cnn"]})
    assert notes == ["weights missing (.../x.h5): stand-in in .../home", "shipped model: models/fer2013_cnn"]
    assert without_machine_paths("load 1.5, 2 cores; p50 2.75 ms") == "load 1.5, 2 cores; p50 2.75 ms"
