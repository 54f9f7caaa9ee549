"""``python -m core bench --quick`` runs end to end (including the app's cold start in Chromium)
and writes every headline figure; the numbers themselves are not judged here."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
PROJECT_ROOT = Path(__file__).resolve().parents[2]
HEADLINE = ["cnn_face_ms_p50", "cnn_batch64_faces_per_s", "e2e_cnn_1280x720_1face_ms_p50",
            "deepface_analyze_1280x720_1face_ms_p50", "peak_rss_mib", "cnn_load_s", "deepface_load_s"]


def test_quick_bench_writes_every_headline_figure(tmp_path, model_dir, deepface_home):
    out = tmp_path / "results.json"
    env = {**os.environ, "DEEPFACE_HOME": str(deepface_home), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-m", "core", "bench", "--quick", "--model-dir", str(model_dir),
                           "--out", str(out)], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=580)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "CNN per face (batch 1)" in proc.stdout and "1280x720_1face" in proc.stdout
    results = json.loads(out.read_text())
    for key in HEADLINE:
        assert isinstance(results.get(key), (int, float)) and results[key] > 0, key
    for width, height in ((640, 480), (1280, 720), (1920, 1080)):
        for faces in ("1face", "3faces"):
            photo = results["photos"][f"{width}x{height}_{faces}"]
            for kind in ("e2e_cnn", "deepface_crops", "deepface_analyze"):
                assert photo[kind]["p95"] >= photo[kind]["p50"] > 0, kind
            assert photo["ratio_deepface_analyze_vs_cnn"] > 0
            assert photo["faces_found"]["e2e_cnn"] == int(faces[0]), photo["faces_found"]
    assert results["machine"]["cores"] and results["machine"]["cpu"]
    assert results["date"].endswith("Z")
    targets = results["targets"]
    assert isinstance(targets["cnn_face_target_met"], bool) and isinstance(targets["speedup_target_met"], bool)
    assert "Chromium" in results["app_cold_start"]["method"] and results["app_cold_start"]["cold_start_s"] > 0
    assert results["cnn_face"]["p95"] >= results["cnn_face"]["p50"]
    assert results["app_cold_start"]["first_element_s"] >= results["app_cold_start"]["health_s"]
    assert results["deepface"]["weights"]
