"""Evaluation's offer to evaluate DeepFace once its weights are here (not a page).

Where ``make run`` fetched DeepFace's weights but no DeepFace evaluation is stored, the Evaluation page offers
to score it on FER2013's PublicTest and PrivateTest. The run goes on a background thread
(:mod:`core.evaluation.background`, the same evaluation as ``python -m core evaluate``) while a fragment
polls its progress once a second; when it is done the page reruns and every page that reads the stored
evaluations (Evaluation, Mistakes, About, the report) includes DeepFace.
"""
from __future__ import annotations

import streamlit as st

from core.evaluation import background
from core.models import registry
from core.presentation import artifacts

MODEL = "deepface"
SPLITS = ("PublicTest", "PrivateTest")
POLL_S = 1.0


def missing_splits(evaluations: dict) -> list[str]:
    """The FER2013 test splits with no stored evaluation of the model."""
    return [split for split in SPLITS if MODEL not in evaluations.get(f"fer2013-{split}", {})]


def offer(evaluations: dict) -> bool:
    """The offer, the progress of a run under way, or nothing (weights absent, or evaluations stored).

    True when it said something about DeepFace's missing evaluation, so the page's generic "no
    evaluation yet" line for it (which says to fetch the weights) is not shown beside it."""
    spec = next((s for s in registry.specs() if s.name == MODEL), None)
    root = artifacts.models_root()
    job = background.current(MODEL, root)
    wanted = missing_splits(evaluations)
    if spec is None or (not wanted and job is None) or not spec.availability().ready:
        return False
    if job is not None and job.snapshot().state == "done" and not wanted:
        background.forget(MODEL, root)  # finished, and its files are read: nothing more to show
        return False
    if job is not None and job.snapshot().state == "running":
        _progress(job)
        return True
    dataset = artifacts.dataset_dir_from_env()
    if dataset is None or not (dataset / "test").is_dir():
        st.info(f"{spec.title}'s weights are here but it has no FER2013 evaluation yet: set `FER2013_DIR` to the "
                f"FER2013 folder and reload to evaluate it here, or {spec.evaluate_hint}.", icon=":material/info:")
        return True
    if job is not None and job.snapshot().state == "failed":
        st.error(f"The evaluation of {spec.title} failed: {job.snapshot().error}", icon=":material/error:")
    with st.container(border=True):
        st.markdown(f"**{spec.title}'s weights are here, but it has no evaluation on "
                    f"{' and '.join(wanted)} yet.** Evaluate it now to put it beside the other models on every page "
                    f"and in the paired tests: it runs in the background (a few minutes), and this page stays usable.")
        if st.button(f"Evaluate {spec.title} on {' and '.join(SPLITS)}", key="deepface_offer_run", type="primary",
                     icon=":material/play_arrow:"):
            background.start(MODEL, dataset, SPLITS, root)
            st.rerun()  # redrawn with the progress bar in the offer's place
    return True


@st.fragment(run_every=POLL_S)
def _progress(job: background.EvaluationJob) -> None:
    """The run's progress bar, redrawn once a second; the whole page reruns when it is done."""
    snapshot = job.snapshot()
    if snapshot.state == "running":
        st.progress(snapshot.fraction, text=f"Evaluating DeepFace in the background: {snapshot.text}")
        return
    if snapshot.state == "done":
        st.success(f"DeepFace evaluated ({snapshot.text.lower()}).", icon=":material/check:")
    st.rerun(scope="app")
