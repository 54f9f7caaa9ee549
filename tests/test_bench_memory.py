"""The memory benchmark (issue 21): ``make bench`` records the Your data peak for 128 five-megapixel images
(at most +500 MiB above the app with its models loaded) and Compare's memory before and after "Remove all";
the shipped benchmarks/results.json holds those figures."""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np

from core.bench import memory
from core.bench.run import RESULTS_PATH


def test_the_shipped_results_hold_the_your_data_peak_within_the_bound():
    stored = json.loads(RESULTS_PATH.read_text())["memory"]
    your_data = stored["your_data"]
    for kind in ("crops", "photos"):
        assert your_data[kind]["images"] == memory.COUNT == 128
        assert 0 < your_data[kind]["peak_above_baseline_mib"] <= memory.LIMIT_MIB == 500
    assert your_data["within_limit"] is True
    compare = stored["compare_remove_all"]
    assert compare["photos"] == compare["photos_analysed"] == 10
    assert compare["after_remove_all_mib"] < compare["held_mib"] / 4


def test_the_zips_hold_128_five_megapixel_images():
    import cv2

    for make, suffix in ((memory.flat_png_zip, ".png"), (memory.portrait_jpeg_zip, ".jpg")):
        with zipfile.ZipFile(io.BytesIO(make(4))) as archive:
            names = archive.namelist()
            assert len(names) == 4 and all(n.endswith(suffix) for n in names)
            image = cv2.imdecode(np.frombuffer(archive.read(names[0]), np.uint8), cv2.IMREAD_COLOR)
            assert image.shape[:2] == (memory.FIVE_MP[1], memory.FIVE_MP[0])


def test_the_sampler_sees_a_peak():
    with memory.PeakSampler(0.001) as sampler:
        block = np.ones(64 * 2**20, np.uint8)  # 64 MiB, touched
        del block
    assert sampler.peak >= memory.rss_mib()


def test_make_bench_runs_the_memory_measurement():
    from core.paths import PROJECT_ROOT

    source = (PROJECT_ROOT / "core" / "bench" / "run.py").read_text()
    assert 'results["memory"] = measure_memory(count=16 if quick else 128)' in source
