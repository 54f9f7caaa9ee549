"""The two queues of the live path, both of which drop work rather than fall behind.

* :class:`FrameBuffer`: a bounded buffer of incoming frames; when full, the oldest frame is dropped
  (and counted), so the processor always works on the newest frame and never builds up a lag.
* :class:`LatestJobWorker`: a slow model (DeepFace) on its own thread, fed through a queue of one:
  a new job *replaces* the pending one instead of waiting behind it, so the answer is always about
  a recent frame. Only the answer is kept, not the job (no face crop outlives its job). Its latest answer is kept (and re-read) until the next one arrives. The thread
  ends by itself when no job has come for ``idle_timeout_s`` (the stream stopped) or on
  :meth:`~LatestJobWorker.stop`, and starts again with the next job.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class FrameBuffer:
    """Holds at most ``maxsize`` frames; putting into a full buffer drops the oldest. Thread-safe."""

    def __init__(self, maxsize: int = 1):
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._items: deque = deque(maxlen=maxsize)
        self._lock = threading.Lock()
        self.received = 0
        self.dropped = 0

    def put(self, item: Any) -> None:
        with self._lock:
            if len(self._items) == self._items.maxlen:
                self.dropped += 1
            self._items.append(item)
            self.received += 1

    def take_newest(self) -> Any | None:
        """The newest frame (the others are dropped and counted), or None when empty."""
        with self._lock:
            if not self._items:
                return None
            newest = self._items.pop()
            self.dropped += len(self._items)
            self._items.clear()
            return newest

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


@dataclass(frozen=True)
class JobResult:
    version: int  # 1, 2, ...: how many jobs have finished
    value: Any = None
    error: str | None = None


class LatestJobWorker:
    """Runs ``function(job)`` on its own thread for the most recent job submitted."""

    def __init__(self, function: Callable[[Any], Any], idle_timeout_s: float = 3.0, name: str = "latest-job-worker"):
        self.function = function
        self.idle_timeout_s = idle_timeout_s
        self.name = name
        self._cond = threading.Condition()
        self._pending: Any = None
        self._has_pending = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._latest: JobResult | None = None
        self.submitted = 0
        self.replaced = 0  # jobs dropped because a newer one came before they started
        self.finished = 0

    def submit(self, job: Any) -> None:
        with self._cond:
            if self._has_pending:
                self.replaced += 1
            self._pending, self._has_pending = job, True
            self.submitted += 1
            self._stopping = False
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            self._cond.notify()

    @property
    def latest(self) -> JobResult | None:
        with self._cond:
            return self._latest

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._has_pending

    def is_alive(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Drop the pending job and end the thread (after the job it is running, if any)."""
        with self._cond:
            self._stopping = True
            self._pending, self._has_pending = None, False
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._has_pending and not self._stopping:
                    self._cond.wait(self.idle_timeout_s)
                if self._stopping or not self._has_pending:
                    return  # stopped, or idle for idle_timeout_s: the stream has ended
                job, self._pending, self._has_pending = self._pending, None, False
            try:
                value, error = self.function(job), None
            except Exception as exc:  # a failing model must not end the stream
                value, error = None, " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            with self._cond:
                self.finished += 1
                self._latest = JobResult(self.finished, value, error)
            del job  # the job's data (face crops) is not kept
