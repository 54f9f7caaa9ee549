"""Evaluation: every model scored on the same held-out split, from the stored metrics.json files."""
from __future__ import annotations

import streamlit as st

from core.models.deepface import published_accuracy_text
from core.presentation import artifacts, charts
from core.presentation.artifacts import ArtifactError
from core.presentation.evaluations import cross_dataset_frame, find_evaluations
from core.presentation.places import place
from core.presentation.report import ModelScores, different_sizes
from pages import report, runtime
from pages.common import (
    display_labeler,
    evaluation_kinds,
    model_card,
    ordered_models,
    read,
    show_artifact_error,
    split_label,
)

DEEPFACE_MISSING = ("DeepFace's scores appear once `make evaluate-deepface` has been run on a machine with its "
                    "weights (fetch them with `make deepface-weights`).")


def read_metrics(refs: dict, order: list[str]) -> dict[str, dict]:
    """The readable metrics.json of each model in ``order``; each unreadable one said in one line."""
    metrics: dict[str, dict] = {}
    for name in order:
        try:
            metrics[name] = read("metrics", refs[name].path)
        except ArtifactError as error:
            show_artifact_error(error, f"{charts.display_name(name)} scores")
    return metrics


def missing_models(kinds: dict[str, str], key: str) -> None:
    """What is missing from this split: DeepFace's scores, the CNN's."""
    if "deepface" not in kinds.values():
        st.info(DEEPFACE_MISSING, icon=":material/info:")
    if not any(kind == "cnn" for kind in kinds.values()):
        st.info(f"The CNN has no evaluation on {split_label(key)} yet: its scores appear once `make evaluate` has "
                f"been run.", icon=":material/info:")


def headline_warnings(scores: list[ModelScores], kinds: dict[str, str], key: str, cnn_folder) -> None:
    """Why some numbers are not comparable or optimistic: sizes, limits, selection split, test-split exposure."""
    if different_sizes(scores):
        st.warning("The models were scored on different numbers of images (see the `images` and `limit` columns), "
                   "so their numbers are not strictly comparable.")
    if any(s.metrics.get("limit") for s in scores):
        st.caption("A `limit` means only the first images of the split were scored (a quick check, not a full "
                   "evaluation).")
    try:
        protocol = (read("model_json", cnn_folder).get("training") or {}).get("protocol") or {}
    except ArtifactError:
        protocol = {}
    if (protocol.get("select") and key.rpartition("-")[2] == protocol["select"]
            and any(kinds[s.name] == "cnn" for s in scores)):
        st.warning(f"The CNN's checkpoint was chosen on {protocol['select']}, so its score on this split is "
                   f"optimistic; the unbiased figure is on the report split "
                   f"({protocol.get('report', 'the test split')}).", icon=":material/warning:")
    for score in scores:
        exposure = (score.card.get("provenance") or {}).get("test_split_exposure")
        if exposure and key.lower().startswith("fer2013"):
            st.warning(f"**{score.label}**: whether its training saw the FER2013 test splits is unknown "
                       f"({exposure.split(':', 1)[-1].strip()}).", icon=":material/help:")
    if any(kinds[s.name] == "deepface" for s in scores) and key.lower().startswith("fer2013"):
        st.caption("DeepFace's emotion model was itself trained on FER2013; its author reports "
                   f"{published_accuracy_text()} on PublicTest "
                   "(published, not measured here).")


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
    if not evaluations:
        st.info(f"No stored evaluations under `{place(root)}` yet (looked for `*/eval/*/metrics.json`).",
                icon=":material/hourglass_top:")
        st.markdown(f"- The CNN's scores appear once `make evaluate` has been run on the trained model "
                    f"(`{place(cnn_folder)}`).\n- {DEEPFACE_MISSING}")
        return
    key = st.selectbox("Dataset and split", list(evaluations), format_func=split_label, key="eval_split",
                       help="Every stored evaluation found under the models folder. FER2013 PrivateTest is the "
                            "report split: the CNN never saw it during training or checkpoint selection.")
    refs = evaluations[key]
    kinds = evaluation_kinds(refs)
    metrics = read_metrics(refs, ordered_models(refs, kinds, cnn_folder))
    missing_models(kinds, key)
    if not metrics:
        return
    label = display_labeler(kinds, cnn_folder)
    scores = [ModelScores(name=name, label=label(name), metrics=m, kind=kinds.get(name, "cnn"),
                          card=model_card(refs[name])) for name, m in metrics.items()]
    st.subheader(f"Headline numbers on {split_label(key)}")
    report.show(scores, key="eval", sections=("metrics", "headline"))
    headline_warnings(scores, kinds, key, cnn_folder)
    report.show(scores, key="eval", sections=("confusion", "calibration", "per_class", "confusions"))
    across_datasets(evaluations, label)


main()
