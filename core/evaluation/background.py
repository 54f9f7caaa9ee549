"""One model evaluated on several dataset splits on a background thread, with progress to poll.

The Evaluation page starts DeepFace's evaluation on FER2013's PublicTest and PrivateTest this way (a few
minutes) and stays responsive: each script run reads :meth:`EvaluationJob.snapshot`. The work is the same
:func:`core.evaluation.evaluate.evaluate` as ``python -m core evaluate``, so the files it writes under
``<models root>/<model>/eval/<dataset>-<split>/`` are the stored artifacts every page reads.

One job per (model, models folder) runs at a time in a process: :func:`start` returns the running one
instead of starting a second (two browser tabs pressing the button start one evaluation).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_JOBS: dict[tuple[str, str], EvaluationJob] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Snapshot:
    """What a page shows of a job: ``state`` is ``running``, ``done`` or ``failed``."""

    state: str
    fraction: float
    text: str
    error: str | None = None


class EvaluationJob:
    """``model`` (a registry id) on ``splits`` of the dataset at ``dataset_dir``, written under ``models_dir``."""

    def __init__(self, model: str, dataset_dir: str | Path, splits: Sequence[str], models_dir: str | Path,
                 batch_size: int = 64):
        self.model, self.dataset_dir, self.splits = model, Path(dataset_dir), list(splits)
        self.models_dir, self.batch_size = Path(models_dir), batch_size
        self.written: list[Path] = []
        self._state, self._done, self._total, self._text, self._error = "running", 0, 0, "Loading the model…", None
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"evaluate-{model}", daemon=True)

    def start(self) -> EvaluationJob:
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the job; True when it has finished."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def snapshot(self) -> Snapshot:
        fraction = self._done / self._total if self._total else 0.0
        return Snapshot(self._state, min(1.0, fraction), self._text, self._error)

    def _run(self) -> None:
        from core.data.datasets import load_dataset
        from core.evaluation.evaluate import eval_dir, evaluate
        from core.models import registry

        try:
            _refuse_stand_in_results(self.model, self.models_dir)
            classifier = registry.get(self.model)
            dataset = load_dataset(self.dataset_dir)
            sizes = {split: len(dataset.split(split)) for split in self.splits}
            self._total = sum(sizes.values())
            before = 0
            for split in self.splits:
                def step(done, total, split=split, before=before):
                    self._done = before + done
                    self._text = f"{split}: {done:,} of {total:,} images"

                out = eval_dir(self.models_dir, self.model, dataset.name, split)
                evaluate(classifier, dataset, split, out_dir=out, batch_size=self.batch_size, progress=False,
                         on_progress=step)
                self.written.append(out)
                _refresh_comparisons(self.models_dir, out.name)
                before += sizes[split]
            self._state, self._text = "done", f"Done in {time.monotonic() - self._started:.0f} s"
        except Exception as exc:  # noqa: BLE001 - whatever failed, the page says it in one line
            self._state, self._error = "failed", f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _refresh_comparisons(models_dir: Path, key: str) -> None:
    """Every stored model on this split against every other, as ``python -m core evaluate`` does after an
    evaluation (the paired tests of :mod:`core.evaluation.paired`)."""
    from core.evaluation.paired import store_comparisons

    store_comparisons(sorted(p for p in Path(models_dir).glob(f"*/eval/{key}") if p.is_dir()))


def _refuse_stand_in_results(model: str, models_dir: Path) -> None:
    """Stand-in DeepFace weights (tests, benchmarks) check plumbing; their results never go into the
    repository's shipped models/ folder."""
    from core.models.deepface_weights import is_stand_in
    from core.paths import PROJECT_ROOT

    if model == "deepface" and is_stand_in() and models_dir.resolve() == (PROJECT_ROOT / "models").resolve():
        raise RuntimeError("DeepFace's weights here are stand-ins (random): their results are not written into "
                           "the shipped models/ folder; fetch the real weights with `make deepface-weights`")


def start(model: str, dataset_dir: str | Path, splits: Sequence[str], models_dir: str | Path) -> EvaluationJob:
    """The job of ``model`` under ``models_dir``: the one running (or finished) in this process, else a
    new one, started. A failed job is replaced by a new one."""
    key = (model, str(Path(models_dir).resolve()))
    with _LOCK:
        job = _JOBS.get(key)
        if job is None or job.snapshot().state == "failed":
            job = _JOBS[key] = EvaluationJob(model, dataset_dir, splits, models_dir).start()
        return job


def current(model: str, models_dir: str | Path) -> EvaluationJob | None:
    """The job of ``model`` under ``models_dir`` started in this process, if any."""
    return _JOBS.get((model, str(Path(models_dir).resolve())))


def forget(model: str, models_dir: str | Path) -> None:
    """Drop a finished job, so that a later offer starts afresh (e.g. after its files were removed)."""
    with _LOCK:
        _JOBS.pop((model, str(Path(models_dir).resolve())), None)
