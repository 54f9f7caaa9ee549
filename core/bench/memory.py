"""Memory of the app's heaviest user inputs, each measured in a fresh process (part of ``make bench``;
alone: ``python -m core.bench.memory [--write]``).

* ``your_data``: the "Your data" evaluation of a zip of 128 flat 5-megapixel PNGs (the case that took
  the app from 2.0 to 3.9 GB), with every ready model loaded as the page loads them, as face crops and as
  photos (face detection first, on 128 5-megapixel JPEG portraits). The process's resident memory is
  sampled every 5 ms; the peak above the baseline (models loaded and warm) must stay under
  :data:`LIMIT_MIB`.
* ``compare_remove_all``: the Compare page (Streamlit's AppTest, run by benchmarks/compare_session.py in
  a child process: ``core`` never imports Streamlit) with the session's photo cap reached by 5-megapixel
  JPEGs, analysed; Python's traced memory (``tracemalloc``, numpy arrays included) with them, and after
  "Remove all".
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
import zipfile

from core.paths import PROJECT_ROOT

LIMIT_MIB = 500.0
FIVE_MP = (2736, 1824)  # width, height
COUNT = 128
LABELS = ("angry", "happy", "neutral", "sad")
_PAGE = 4096


def rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * _PAGE / 2**20


class PeakSampler:
    """The process's resident memory every ``interval_s`` in a thread; ``peak`` is the largest seen."""

    def __init__(self, interval_s: float = 0.005):
        self.interval_s, self.peak = interval_s, rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak = max(self.peak, rss_mib())

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mib())


def flat_png_zip(count: int = COUNT) -> bytes:
    """``count`` flat (one-colour) 5-megapixel PNGs, one folder per emotion: tiny to upload, 15 MB each decoded."""
    import cv2
    import numpy as np

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(count):
            image = np.full((FIVE_MP[1], FIVE_MP[0], 3), (40 + i % 200, 90, 160), np.uint8)
            archive.writestr(f"faces/{LABELS[i % len(LABELS)]}/{i:03d}.png", cv2.imencode(".png", image)[1].tobytes())
    return buffer.getvalue()


def portrait_jpeg_zip(count: int = COUNT) -> bytes:
    """``count`` 5-megapixel JPEG photos of one portrait (the example photo, enlarged), one folder per emotion."""
    import cv2

    from core.media.images import example_photo

    face = cv2.resize(example_photo(), (FIVE_MP[1], FIVE_MP[1]), interpolation=cv2.INTER_CUBIC)
    photo = cv2.copyMakeBorder(face, 0, 0, 0, FIVE_MP[0] - FIVE_MP[1], cv2.BORDER_REPLICATE)
    data = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for i in range(count):
            archive.writestr(f"photos/{LABELS[i % len(LABELS)]}/{i:03d}.jpg", data)
    return buffer.getvalue()


def _your_data_child(count: int = COUNT) -> dict:
    """In the child: load the page's models, warm them, then evaluate both zips with the peak sampled."""
    import gc

    from core.analysis.pipeline import AnalysisOptions, Analyzer
    from core.evaluation import labelled
    from core.models import registry
    from core.presentation.photos import analyse_photo  # noqa: F401  (the page's imports, in the baseline)

    classifiers = {name: registry.get(name) for name, status in registry.available().items() if status.ready}
    detector = Analyzer({"none": next(iter(classifiers.values()))}).face_detector(AnalysisOptions())
    warm = flat_png_zip(8)
    labelled.evaluate_source(warm, classifiers)
    labelled.evaluate_source(portrait_jpeg_zip(4), classifiers, photos=True, detector=detector)
    out = {"models": sorted(classifiers), "limit_mib": LIMIT_MIB}
    for kind, make, photos in (("crops", flat_png_zip, False), ("photos", portrait_jpeg_zip, True)):
        data = make(count)
        gc.collect()
        baseline = rss_mib()
        started = time.perf_counter()
        with PeakSampler() as sampler:
            report = labelled.evaluate_source(data, classifiers, photos=photos, detector=detector if photos else None)
        out[kind] = {"images": len(report.dataset.records), "zip_mib": round(len(data) / 2**20, 2),
                     "baseline_rss_mib": round(baseline, 1), "peak_rss_mib": round(sampler.peak, 1),
                     "peak_above_baseline_mib": round(sampler.peak - baseline, 1),
                     "seconds": round(time.perf_counter() - started, 1),
                     "scored": {m: r.metrics["n_images"] for m, r in report.results.items()}}
        del report, data
    out["what"] = (f"{count} flat {FIVE_MP[0]}x{FIVE_MP[1]} PNGs (crops) and {COUNT} {FIVE_MP[0]}x{FIVE_MP[1]} JPEG "
                   f"portraits (photos), evaluated by every ready model as the Your data page does; resident memory "
                   f"sampled every 5 ms, above the process with the models loaded and warm")
    out["within_limit"] = all(out[k]["peak_above_baseline_mib"] <= LIMIT_MIB for k in ("crops", "photos"))
    return out


def _child(kind: str, count: int = COUNT) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if "DEEPFACE_HOME" not in env:
        from core.bench.standins import resolve_deepface_home

        env["DEEPFACE_HOME"] = str(resolve_deepface_home()[0])
    command = ([sys.executable, str(PROJECT_ROOT / "benchmarks" / "compare_session.py")] if kind == "compare" else
               [sys.executable, "-m", "core.bench.memory", "--child", kind, "--count", str(count)])
    proc = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=1800)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {"error": f"exit {proc.returncode}: {proc.stderr[-1500:]}"}


def measure_memory(count: int = COUNT) -> dict:
    """Both measurements, each in a fresh process (``count`` images in the Your data zips)."""
    return {"your_data": _child("your_data", count), "compare_remove_all": _child("compare")}


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m core.bench.memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", choices=["your_data"], help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=COUNT, help=f"images in each Your data zip (default {COUNT})")
    parser.add_argument("--write", action="store_true", help="also store the figures in benchmarks/results.json")
    args = parser.parse_args(argv)
    if args.child:
        from core.console import import_tensorflow_quietly

        import_tensorflow_quietly()
        print(json.dumps(_your_data_child(args.count)))
        return 0
    result = measure_memory(args.count)
    print(json.dumps(result, indent=2))
    if args.write:
        from core.bench.run import RESULTS_PATH, _portable
        from core.paths import write_json

        stored = json.loads(RESULTS_PATH.read_text()) if RESULTS_PATH.is_file() else {}
        stored["memory"] = _portable(result)
        write_json(RESULTS_PATH, stored)
        print(f"wrote memory to {RESULTS_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
