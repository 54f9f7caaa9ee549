"""Keeping TensorFlow's C++ chatter off the console.

TensorFlow prints CUDA and oneDNN notices at import, and TFLite an "XNNPACK delegate" line when an
interpreter is built, straight to file descriptor 2 from C++ (absl logging, set up before Python can
configure it; ``TF_CPP_MIN_LOG_LEVEL`` does not reach them). The only switch is to point descriptor 2
at ``os.devnull`` for that moment; Python exceptions are unaffected (they are raised, not printed).
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading

_LOCK = threading.Lock()


@contextlib.contextmanager
def stderr_silenced():
    """File descriptor 2 goes to ``os.devnull`` inside the block (one block at a time, process-wide)."""
    with _LOCK:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            with open(os.devnull, "wb") as null:
                os.dup2(null.fileno(), 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its C++ start-up lines muted (nothing to do once it is imported)."""
    if "tensorflow" in sys.modules:
        return
    with stderr_silenced():
        import tensorflow  # noqa: F401
