"""Robustness-lab speed: every corruption x 5 severities x every ready model on the 1,000-face subset, timed
end to end (reading the faces, corrupting them, every batched forward pass, the rotation family's second run
aligned by the eyes), with the machine's load beside it.

FER2013 PrivateTest faces when the dataset is present (``FER2013_DIR`` or the default location), else
synthetic 48x48 faces in memory. Nothing is written.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

TARGET_SECONDS = 180.0  # the target on the 2-core machine


class _Synthetic:
    """``count`` noisy 48x48 grey faces, seven classes, held in memory (when FER2013 is absent)."""

    name, root = "synthetic", Path("synthetic")

    def __init__(self, count: int):
        from core.data.datasets import Record
        from core.labels import FER2013_LABELS

        rng = np.random.default_rng(0)
        self.records = [Record(f"{FER2013_LABELS[i % 7]}/{i}.png", FER2013_LABELS[i % 7], "test") for i in range(count)]
        self._pixels = {r.rel_path: rng.integers(0, 255, (48, 48), dtype=np.uint8) for r in self.records}

    def split(self, _name):
        return self.records

    def read(self, record, grayscale=True):
        return self._pixels[record.rel_path]


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def time_robustness(classifiers: dict, count: int = 1000, fer_dir=None, log=None) -> dict:
    """Seconds for the whole lab on ``count`` faces, the load average before and after, and the target."""
    from core import paths
    from core.analysis import corruptions
    from core.data.datasets import DatasetError, load_dataset
    from core.evaluation.robustness import run_robustness

    root = Path(fer_dir) if fer_dir else paths.dataset_dir_from_env()
    try:
        dataset, split, source = load_dataset(root), "PrivateTest", f"{count} FER2013 PrivateTest faces"
    except (DatasetError, TypeError, OSError):
        dataset, split, source = _Synthetic(count), "test", f"{count} synthetic faces (FER2013 not found)"

    def progress(done, total, what):
        if log is not None:
            log(f"robustness {done}/{total}: {what}")

    load_before = _load_average()
    started = time.perf_counter()
    results = run_robustness(classifiers, dataset, split, count=count, on_progress=progress)
    seconds = time.perf_counter() - started
    first = next(iter(results.values()))
    return {"faces": first["subset"]["n_images"], "source": source, "families": len(corruptions.FAMILIES),
            "severities": len(corruptions.SEVERITIES), "models": list(results),
            "faces_scored_per_model": first["timing"]["faces_scored"], "seconds": round(seconds, 1),
            "corruption_seconds": first["timing"]["corruption_seconds"],
            "alignment_seconds": first["timing"].get("alignment_seconds", 0.0),
            "model_seconds": {m: r["timing"]["model_seconds"] for m, r in results.items()},
            "forward": {m: r["forward"] for m, r in results.items()},
            "load_average_1min_before": load_before, "load_average_1min_after": _load_average(),
            "cores": os.cpu_count(), "target_s": TARGET_SECONDS, "target_met": seconds <= TARGET_SECONDS}


if __name__ == "__main__":  # python -m core.bench.robustness: the measurement alone (not the whole bench)
    import json

    from core.console import import_tensorflow_quietly
    from core.models import registry

    import_tensorflow_quietly()
    classifiers = {name: registry.get(name) for name in registry.ready_names()}
    print(json.dumps(time_robustness(classifiers, log=lambda line: print(line, file=sys.stderr, flush=True)), indent=2))
