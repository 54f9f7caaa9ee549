"""Thread-safety checks that can see results crossing between threads.

Every thread gets its OWN inputs (different photos, different face counts), all threads start
together (a barrier), each repeats its inputs for many rounds, and every result is compared with
the one a sequential run gave for that same input. A shared buffer or a value kept on a shared
object then shows as one thread's result carrying another thread's data.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def crossed_results(work: Callable[[Any], Any], per_thread: Sequence[Sequence[Any]], rounds: int,
                    same: Callable[[Any, Any], bool]) -> tuple[list[str], int]:
    """Run ``work`` on each thread's inputs ``rounds`` times, all threads at once.

    Returns ``(mismatches, calls)``: a line for every result that differs from the sequential
    result of the same input, and how many threaded calls were made. A worker's exception re-raises.
    """
    expected = [[work(item) for item in items] for items in per_thread]
    barrier = threading.Barrier(len(per_thread))

    def run(t: int) -> list[str]:
        barrier.wait()
        wrong = []
        for r in range(rounds):
            for i, item in enumerate(per_thread[t]):
                if not same(work(item), expected[t][i]):
                    wrong.append(f"thread {t}, round {r}, input {i}")
        return wrong

    with ThreadPoolExecutor(max_workers=len(per_thread)) as pool:
        mismatches = [line for lines in pool.map(run, range(len(per_thread))) for line in lines]
    return mismatches, rounds * sum(len(items) for items in per_thread)
