"""Evaluation: both models scored on the same held-out split, from the stored metrics.json files."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.models.deepface import published_accuracy_text
from core.presentation import artifacts, charts, tables
from core.presentation.artifacts import ArtifactError
from core.presentation.evaluations import find_evaluations
from pages.common import evaluation_kinds, model_labeler, ordered_models, read, show_artifact_error, split_label

DEEPFACE_MISSING = ("DeepFace's scores appear once `make evaluate-deepface` has been run on a machine with its "
                    "weights (fetch them with `make deepface-weights`).")

st.title("How the models score on held-out test data")
root, cnn_folder = artifacts.models_root(), artifacts.model_dir()
evaluations = find_evaluations(root, extra_model_dirs=[cnn_folder])
if not evaluations:
    st.info(f"No stored evaluations under `{root}` yet (looked for `*/eval/*/metrics.json`).",
            icon=":material/hourglass_top:")
    st.markdown(f"- The CNN's scores appear once `make evaluate` has been run on the trained model "
                f"(`{cnn_folder}`).\n- {DEEPFACE_MISSING}")
    st.stop()

key = st.selectbox("Dataset and split", list(evaluations), format_func=split_label, key="eval_split",
                   help="Every stored evaluation found under the models folder. FER2013 PrivateTest is the report "
                        "split: the CNN never saw it during training or checkpoint selection.")
refs = evaluations[key]
kinds = evaluation_kinds(refs)
order = ordered_models(refs, kinds, cnn_folder)

metrics: dict[str, dict] = {}
for name in order:
    try:
        metrics[name] = read("metrics", refs[name].path)
    except ArtifactError as error:
        show_artifact_error(error, f"{charts.display_name(name)} scores")

if "deepface" not in kinds.values():
    st.info(DEEPFACE_MISSING, icon=":material/info:")
if not any(kinds[n] == "cnn" for n in refs):
    st.info(f"The CNN has no evaluation on {split_label(key)} yet: its scores appear once `make evaluate` has been run.",
            icon=":material/info:")
if not metrics:
    st.stop()


label = model_labeler(kinds, cnn_folder)


# --------------------------------------------------------------------------- headline numbers

st.subheader(f"Headline numbers on {split_label(key)}")
rows = []
for name, m in metrics.items():
    rows.append({"model": label(name), "folder": name, "accuracy": m["accuracy"], "macro F1": m["macro_f1"],
                 "weighted F1": m.get("weighted_f1"), "images": m["n_images"],
                 "flip-TTA accuracy": m.get("flip_tta_accuracy"), "images / s": m.get("images_per_second"),
                 "evaluated": m.get("created_at"), "commit": (m.get("commit") or "")[:10],
                 "limit": m.get("limit")})
headline = pd.DataFrame(rows)
headline["evaluated"] = headline["evaluated"].map(
    lambda v: v[:16].replace("T", " ") + (" UTC" if v.endswith("Z") else "") if isinstance(v, str) else v)
headline = headline.drop(columns=[c for c in ("flip-TTA accuracy", "limit") if headline[c].isna().all()])
for column in ("accuracy", "flip-TTA accuracy"):  # shown as percentages with one decimal
    if column in headline:
        headline[column] = pd.to_numeric(headline[column], errors="coerce") * 100
names = list(metrics)
columns = iter(st.columns(max(4, 2 * len(metrics))))  # each model's accuracy and macro F1 side by side, in one row
for name in names:
    m = metrics[name]
    other = next((n for n in names if n != name), None)
    delta = (f"{(m['accuracy'] - metrics[other]['accuracy']) * 100:+.1f} pts vs {label(other)}"
             if other and len(names) == 2 else None)
    next(columns).metric(f"{label(name)} accuracy", f"{m['accuracy']:.1%}", delta=delta,
                         help=f"Share of the {m['n_images']:,} test images whose emotion {label(name)} got right.")
    next(columns).metric(f"{label(name)} macro F1", f"{m['macro_f1']:.3f}",
                         help="The unweighted mean of the per-class F1: rare classes (disgust) count as much as "
                              "common ones.")
st.dataframe(headline, hide_index=True, key="headline-table",
             column_config={"accuracy": st.column_config.NumberColumn(format="%.1f%%"),
                            "flip-TTA accuracy": st.column_config.NumberColumn(format="%.1f%%"),
                            "macro F1": st.column_config.NumberColumn(format="%.3f"),
                            "weighted F1": st.column_config.NumberColumn(format="%.3f"),
                            "images / s": st.column_config.NumberColumn(format="%.0f")})
sizes = {m["n_images"] for m in metrics.values()}
if len(sizes) > 1:
    st.warning("The models were scored on different numbers of images (see the `images` and `limit` columns), so "
               "their numbers are not strictly comparable.")
if any(m.get("limit") for m in metrics.values()):
    st.caption("A `limit` means only the first images of the split were scored (a quick check, not a full evaluation).")
try:
    protocol = (read("model_json", cnn_folder).get("training") or {}).get("protocol") or {}
except ArtifactError:
    protocol = {}
if (protocol.get("select") and key.rpartition("-")[2] == protocol["select"]
        and any(kinds[n] == "cnn" for n in metrics)):
    st.warning(f"The CNN's checkpoint was chosen on {protocol['select']}, so its score on this split is optimistic; "
               f"the unbiased figure is on the report split ({protocol.get('report', 'the test split')}).",
               icon=":material/warning:")
if any(kinds[n] == "deepface" for n in metrics) and key.lower().startswith("fer2013"):
    st.caption("DeepFace's emotion model was itself trained on FER2013; its author reports "
               f"{published_accuracy_text()} on PublicTest "
               "(published, not measured here).")

# --------------------------------------------------------------------------- confusion matrices

st.subheader("Confusion matrices")
mode = st.segmented_control("Show", ["counts", "row-normalised"], default="counts", key="cm_mode", required=True,
                            help="Row-normalised: each row divided by the number of images of that true emotion, "
                                 "so the diagonal is the per-class recall.")
normalize = mode == "row-normalised"
for column, name in zip(st.columns(len(metrics)), names):
    cm = metrics[name]["confusion_matrix"]
    column.plotly_chart(charts.confusion_heatmap(cm["labels"], cm["counts"], normalize=normalize, title=label(name),
                                                 model=kinds.get(name, "cnn")),
                        key=f"cm-{name}")

# --------------------------------------------------------------------------- per class

st.subheader("Per-class precision, recall and F1")
labels = list(dict.fromkeys(l for m in metrics.values() for l in m["labels"]))
st.plotly_chart(charts.per_class_bars({label(n): metrics[n]["per_class"] for n in names}, labels),
                key="per-class-chart")
per_class = tables.per_class_frame({label(n): metrics[n] for n in names})
wide = per_class.pivot(index="emotion", columns="model", values=["precision", "recall", "f1", "support"])
wide = wide.reindex([l for l in labels if l in wide.index])
METRIC_NAMES = {"precision": "precision", "recall": "recall", "f1": "F1", "support": "support"}
wide.columns = [f"{model} {METRIC_NAMES[metric]}" for metric, model in wide.columns]
ordered = [f"{label(n)} {METRIC_NAMES[metric]}" for metric in ("precision", "recall", "f1", "support") for n in names]
wide = wide[[c for c in ordered if c in wide.columns]].reset_index()
st.dataframe(wide, hide_index=True, key="per-class-table",
             column_config={c: st.column_config.NumberColumn(format="%.3f") for c in wide.columns
                            if not c.endswith("support") and c != "emotion"})

# --------------------------------------------------------------------------- confusions

st.subheader("Most frequent confusions")
st.caption("Off-diagonal cells of the confusion matrix, largest first; the Mistakes page shows the images.")
for column, name in zip(st.columns(len(metrics)), names):
    with column:
        st.markdown(f"**{label(name)}**")
        tops = metrics[name]["top_confusions"]
        if tops:
            frame = tables.confusions_frame(tops)
            frame["share of true class"] = pd.to_numeric(frame["share of true class"], errors="coerce") * 100
            st.dataframe(frame, hide_index=True, key=f"confusions-{name}",
                         column_config={"share of true class": st.column_config.NumberColumn(format="%.1f%%")})
        else:
            st.caption("No confusions: every image was classified correctly.")
