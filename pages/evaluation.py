"""Evaluation: every model scored on the same held-out split, from the stored metrics.json files."""
from __future__ import annotations

import streamlit as st

from core.models import registry
from core.presentation import artifacts, charts
from core.presentation.artifacts import ArtifactError
from core.presentation.evaluations import cross_dataset_frame, find_evaluations
from core.presentation.places import place
from core.presentation.report import ModelScores, different_sizes
from pages import audit_view, cell_links, deepface_offer, report, report_download, runtime
from pages.common import model_card, read, show_artifact_error, split_label


def read_metrics(refs: dict) -> dict[str, dict]:
    """The readable metrics.json of each model (in the refs' order); each unreadable one said in one line."""
    metrics: dict[str, dict] = {}
    for name, ref in refs.items():
        try:
            metrics[name] = read("metrics", ref.path)
        except ArtifactError as error:
            show_artifact_error(error, f"{charts.display_name(name)} scores")
    return metrics


def missing_models(refs: dict, key: str, answered: frozenset = frozenset()) -> None:
    """Which registered models have no evaluation on this split, and how to make one (their record says);
    ``answered`` are those the page already speaks of (DeepFace's offer)."""
    for spec in registry.specs():
        if spec.name not in refs and spec.name not in answered:
            st.info(f"**{spec.title}** has no evaluation on {split_label(key)} yet: {spec.evaluate_hint}.",
                    icon=":material/info:")


def headline_warnings(scores: list[ModelScores], key: str) -> None:
    """Why some numbers are not comparable or optimistic: sizes, limits, selection split, test-split
    exposure, figures published by others; each read from the model's own card."""
    if different_sizes(scores):
        st.warning("The models were scored on different numbers of images (see the `images` and `limit` columns), "
                   "so their numbers are not strictly comparable.")
    if any(s.metrics.get("limit") for s in scores):
        st.caption("A `limit` means only the first images of the split were scored (a quick check, not a full "
                   "evaluation).")
    split = key.rpartition("-")[2]
    for score in scores:
        protocol = (score.card.get("training") or {}).get("protocol") or {}
        if protocol.get("select") and split == protocol["select"]:
            st.warning(f"**{score.label}**: its checkpoint was chosen on {protocol['select']}, so its score on this "
                       f"split is optimistic; the unbiased figure is on the report split "
                       f"({protocol.get('report', 'the test split')}).", icon=":material/warning:")
        exposure = (score.card.get("provenance") or {}).get("test_split_exposure")
        if exposure and key.lower().startswith("fer2013"):
            st.warning(f"**{score.label}**: test splits seen in training? {exposure}.", icon=":material/help:")
        published = ((score.card.get("published") or {}).get("figures") or {}).get("fer2013-PublicTest")
        if published and key.lower().startswith("fer2013"):
            st.caption(f"{score.label}'s emotion model was itself trained on FER2013; its author reports "
                       f"{published['accuracy'] * 100:.1f}% on PublicTest (published, not measured here).")


def across_datasets(evaluations: dict, label) -> None:
    """Accuracy and macro F1 of every model on every stored split, when there are at least two datasets."""
    cross = cross_dataset_frame(evaluations, lambda ref: read("metrics", ref.path), label)
    if cross is None:
        return
    st.subheader("Across datasets")
    st.caption("Every stored evaluation: accuracy and macro F1 per model (rows) and dataset split (columns). "
               "A model scores best on data like its training data; the gap to other datasets shows how it carries "
               "over.")
    st.dataframe(cross, hide_index=True, key="cross-dataset-table",
                 column_config={c: st.column_config.NumberColumn(format="%.1f%%" if c.endswith("accuracy") else "%.3f")
                                for c in cross.columns if c != "model"})


@runtime.page
def main() -> None:
    st.title("How the models score on held-out test data")
    root, cnn_folder = artifacts.models_root(), artifacts.model_dir()
    evaluations = find_evaluations(root, extra_model_dirs=[cnn_folder])
    answered = frozenset({deepface_offer.MODEL}) if deepface_offer.offer(evaluations) else frozenset()
    if not evaluations:
        st.info(f"No stored evaluations under `{place(root)}` yet (looked for `*/eval/*/metrics.json`).",
                icon=":material/hourglass_top:")
        st.markdown("\n".join(f"- **{spec.title}**: {spec.evaluate_hint}." for spec in registry.specs()))
        return
    key = st.selectbox("Dataset and split", list(evaluations), format_func=split_label, key="eval_split",
                       help="Every stored evaluation found under the models folder. FER2013 PrivateTest is the "
                            "report split: the CNN never saw it during training or checkpoint selection.")
    refs = evaluations[key]
    metrics = read_metrics(refs)
    missing_models(refs, key, answered)
    if not metrics:
        return
    scores = [ModelScores(name=name, metrics=m, card=model_card(refs[name])) for name, m in metrics.items()]
    st.subheader(f"Headline numbers on {split_label(key)}")
    report.show(scores, key="eval", sections=("metrics", "headline", "significance"))
    headline_warnings(scores, key)
    audit_view.estimate_switch(key, charts.display_name)
    report_download.stored({name: refs[name] for name in metrics}, key)
    report.show(scores, key="eval", sections=("confusion",), cell_action="Open in Mistakes",
                on_cell=lambda score, true, predicted: cell_links.open_in_mistakes(key, score.name, true, predicted))
    report.show(scores, key="eval", sections=("calibration", "per_class", "confusions"))
    across_datasets(evaluations, charts.display_name)


main()
