"""The label audit's widgets, shared by Mistakes (flagged faces), Evaluation (the estimate switch) and
Your data (the upload's ranking, download and estimate). Not a page: the pages call these.

The data comes from :mod:`core.presentation.audit` (stored audits) and :mod:`core.evaluation.audit`
(an upload's, computed in memory and never written).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd
import streamlit as st

from core.evaluation.audit import AuditError, answers_from_results, audit, flagged_csv
from core.presentation import artifacts
from core.presentation import audit as audit_tables
from core.presentation.artifacts import ArtifactError
from pages.common import show_artifact_error, split_label

PERCENT = st.column_config.NumberColumn(format="%.1f%%")
ALL_PAIRS = "every (label, suggested) pair"
THUMBNAILS = 12


@st.cache_data(show_spinner=False, max_entries=8)
def _stored(folder: str, stamp: float | None) -> audit_tables.StoredAudit:
    return audit_tables.read_audit(folder)


def stored_audit(folder, what: str) -> audit_tables.StoredAudit | None:
    """The audit stored in ``folder`` (cached until the file changes), or None with a line saying why."""
    from core.evaluation.audit_store import SUMMARY_FILE

    try:
        return _stored(str(folder), artifacts.mtime(Path(folder) / SUMMARY_FILE))
    except ArtifactError as error:
        show_artifact_error(error, what)
        return None


def stored_zoo_audit(key: str) -> audit_tables.StoredAudit | None:
    """The zoo's stored audit of this split, or None with a line saying why."""
    from core.evaluation.audit_store import zoo_dir

    return stored_audit(zoo_dir(artifacts.models_root(), key), f"Label audit of {split_label(key)}")


def pairs(issues: pd.DataFrame, key: str) -> tuple[str, str] | None:
    """The counts per (label, suggested) pair, and the pair picked to show (None: every pair)."""
    table = audit_tables.pairs_table(issues)
    st.dataframe(table, hide_index=True, key=f"{key}-audit-pairs", height=min(36 * (len(table) + 1) + 2, 300))
    options = [ALL_PAIRS, *[(r.label, r.suggested) for r in table.itertuples()]]
    chosen = st.selectbox("Show", options, key=f"{key}_audit_pair",
                          format_func=lambda o: o if isinstance(o, str) else f"labelled {o[0]}, suggested {o[1]}")
    return None if isinstance(chosen, str) else chosen


def flagged_faces(key: str, refs: Mapping, frames: Mapping[str, pd.DataFrame],
                  label: Callable[[str], str]) -> pd.DataFrame | None:
    """Mistakes' "label probably wrong" header: whose flags (the zoo's or one model's), what a flag means,
    the counts per pair; returns the flagged faces to show (worst first, with every model's answer), or
    None when there is no audit."""
    from core.evaluation.audit import ZOO

    who = st.radio("Flagged by", [ZOO, *frames], horizontal=True, key=f"mistakes_audit_by_{key}",
                   format_func=lambda m: "all models (the zoo)" if m == ZOO else label(m),
                   help="The zoo averages every model's calibrated probabilities; one model's flags are its own.")
    stored = stored_zoo_audit(key) if who == ZOO else stored_audit(refs[who].path, f"{label(who)}'s label audit")
    if stored is None:
        return None
    summary = stored.summary
    st.markdown(f"**{audit_tables.summary_text(summary)}** "
                f"({', '.join(label(m) for m in summary['models'])}), lowest label quality first.")
    st.caption(audit_tables.MEANING + " Score: the averaged probability of the label (0 to 1); the suggested "
               "label is the models' averaged answer.")
    rows = audit_tables.ranked_faces(stored.issues, frames)
    chosen = pairs(stored.issues, "mistakes" if who == ZOO else f"mistakes_{who}")  # each audit its own pick
    if chosen is not None:
        rows = rows[(rows["true"] == chosen[0]) & (rows["suggested"] == chosen[1])].reset_index(drop=True)
    return rows


def estimate_switch(key: str, label: Callable[[str], str]) -> None:
    """Evaluation's switch: each model's accuracy beside an estimate with the zoo's flagged faces left out."""
    if not st.toggle("Also estimate accuracy with the faces whose label is probably wrong left out",
                     key="eval_audit_estimate",
                     help="Uses the zoo's label audit of this split (cleanlab, `make audit`). The real figure stays "
                          "the one above; this is an estimate."):
        return
    stored = stored_zoo_audit(key)
    if stored is None:
        return
    table = audit_tables.estimate_table(stored.summary["accuracy"], label)
    st.dataframe(table, hide_index=True, key="eval-audit-estimate",
                 column_config={"accuracy": PERCENT, audit_tables.ESTIMATE: PERCENT})
    st.caption(f"**Estimate, not a result.** {audit_tables.summary_text(stored.summary)}; the estimate scores each "
               f"model on the other faces. The flags come from the models' own probabilities, so leaving them out "
               f"favours the models: read it as a rough upper bound on what cleaner labels might show. "
               + audit_tables.MEANING)


def flagged_thumbnails(dataset, issues: pd.DataFrame) -> None:
    """The worst-scored flagged images of the upload, from memory, with label, suggestion and score."""
    records = {r.rel_path: r for r in dataset.records}
    grid = st.columns(6)
    for i, row in enumerate(issues.head(THUMBNAILS).itertuples(index=False)):
        if row.path in records:
            with grid[i % 6]:
                st.image(dataset.read(records[row.path], grayscale=False), channels="BGR", width="stretch")
                st.caption(f"labelled **{row.label}**, suggested **{row.suggested}** (score {row.score:.2f})")


def upload_audit(results: Mapping, dataset=None) -> None:
    """Your data: the upload's flagged files ranked (with the worst ones' images when ``dataset`` is given),
    their CSV, and the models scored without them; all in memory."""
    st.subheader("Labels probably wrong")
    try:
        result = audit(answers_from_results(results), dataset={"name": "your data", "split": "all"})
    except AuditError as error:
        st.info(f"No label audit for these images: {error}.", icon=":material/info:")
        return
    st.markdown(f"**{audit_tables.summary_text(result.summary)}**, lowest label quality first.")
    st.caption(audit_tables.MEANING + " The probabilities are out-of-sample only if the models never trained on "
               "these images.")
    if result.issues.empty:
        st.success("No file flagged: the models' probabilities agree with every label closely enough.")
        return
    if dataset is not None and st.toggle(f"Show the {min(THUMBNAILS, len(result.issues))} lowest-scored images",
                                         key="data_audit_images"):
        flagged_thumbnails(dataset, result.issues)
    label = {name: r.display_name for name, r in results.items()}
    shown = result.issues.rename(columns={"path": "file", **{f"{m}_predicted": f"{label[m]} answer" for m in label}})
    st.dataframe(shown, hide_index=True, key="data-audit-table",
                 column_config={"score": st.column_config.NumberColumn(format="%.3f")})
    st.dataframe(audit_tables.pairs_table(result.issues), hide_index=True, key="data-audit-pairs")
    st.download_button(f"Download the {len(result.issues)} flagged files (CSV)", flagged_csv(result),
                       file_name="label_issues.csv", mime="text/csv", on_click="ignore", key="data-audit-download",
                       icon=":material/download:", help="file, label, suggested, score (0-1), each model's answer: "
                                                        "the files to re-check, worst first.")
    if st.toggle("Score the models with the flagged files left out", key="data_audit_exclude"):
        st.dataframe(audit_tables.estimate_table(result.summary["accuracy"], label.get), hide_index=True,
                     key="data-audit-estimate", column_config={"accuracy": PERCENT, audit_tables.ESTIMATE: PERCENT})
        st.caption("**Estimate, beside the full result** (the headline numbers above stay the real figures): "
                   "each model scored on the files not flagged.")
