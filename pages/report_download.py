"""The HTML report's download button (not a page): Evaluation offers the stored split's, Your data the
upload's. The file is built only when the button is pressed (Streamlit runs ``data`` then, on its own
thread), in memory; an upload's report is never written anywhere.
"""
from __future__ import annotations

import streamlit as st

from core.presentation import evaluations, html_report
from core.presentation.artifacts import ArtifactError, dataset_dir_from_env, read_model_json

LABEL = "Download the report (HTML, opens offline)"
HELP = ("One self-contained file: every figure, the intervals and paired tests, the model cards, the dataset "
        "(counts per class and a content hash) and the software versions.")


def _card(folder) -> dict:
    try:
        return read_model_json(folder)
    except ArtifactError:
        return {}


def stored(refs: dict, key: str) -> None:
    """The report of the stored evaluations ``refs`` (one split), with the FER2013 images' bytes hashed
    when the folder is here."""
    def build() -> bytes:
        dataset_dir = dataset_dir_from_env() if key.lower().startswith("fer2013-") else None
        return html_report.stored_report(refs, read_metrics=lambda ref: evaluations.read_metrics(ref.path),
                                         read_predictions=lambda ref: evaluations.read_predictions(ref.path),
                                         read_card=lambda ref: _card(ref.path.parent.parent),
                                         dataset_dir=dataset_dir).encode("utf-8")

    st.download_button(LABEL, data=build, file_name=f"report-{key}.html", mime="text/html", key="eval-report",
                       on_click="ignore", icon=":material/description:", help=HELP)


def uploaded(report, extra=()) -> None:
    """The report of an evaluation of the user's own images (a :class:`core.evaluation.labelled.Report`);
    ``extra``: more ``(title, table, caption)`` sections the page shows (e.g. its slices)."""
    from core.models import registry
    from core.presentation.artifacts import models_root

    def build() -> bytes:
        return html_report.labelled_report(
            report.results, report.dataset,
            read_card=lambda name: _card(registry.describe(name).artifacts_dir(models_root())),
            extra=extra).encode("utf-8")

    st.download_button(LABEL, data=build, file_name=f"{report.dataset.name}-report.html", mime="text/html",
                       key="data-report", on_click="ignore", icon=":material/description:", help=HELP)
