"""Timing helpers: wall-clock samples of a call, their summary, and the process's peak memory."""
from __future__ import annotations

import resource
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np


def summarize(samples_ms: list[float]) -> dict:
    values = sorted(samples_ms)
    return {"p50": round(statistics.median(values), 3), "p95": round(float(np.percentile(values, 95)), 3),
            "mean": round(statistics.fmean(values), 3), "min": round(values[0], 3), "n": len(values)}


def time_ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000.0


def repeat_ms(fn: Callable[[], object], repeats: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    return [time_ms(fn) for _ in range(repeats)]


def peak_rss_mib() -> float:
    """Peak resident memory of this process (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 1024), 1)
