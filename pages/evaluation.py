"""Evaluation: both models scored on the same held-out split, from the stored metrics.json files."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.models.deepface import published_accuracy_text
from core.presentation import artifacts, charts, tables
from core.presentation.artifacts import ArtifactError
from core.presentation.evaluations import cross_dataset_frame, find_evaluations
from core.presentation.explain_figures import calibration_rows, reliability_figure
from core.presentation.places import place
from pages.common import (
    column_rows,
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

st.title("How the models score on held-out test data")
root, cnn_folder = artifacts.models_root(), artifacts.model_dir()
evaluations = find_evaluations(root, extra_model_dirs=[cnn_folder])
if not evaluations:
    st.info(f"No stored evaluations under `{place(root)}` yet (looked for `*/eval/*/metrics.json`).",
            icon=":material/hourglass_top:")
    st.markdown(f"- The CNN's scores appear once `make evaluate` has been run on the trained model "
                f"(`{place(cnn_folder)}`).\n- {DEEPFACE_MISSING}")
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


label = display_labeler(kinds, cnn_folder)
cards = {name: model_card(refs[name]) for name in metrics}


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
for name in metrics:
    exposure = (cards[name].get("provenance") or {}).get("test_split_exposure")
    if exposure and key.lower().startswith("fer2013"):
        st.warning(f"**{label(name)}**: whether its training saw the FER2013 test splits is unknown "
                   f"({exposure.split(':', 1)[-1].strip()}).", icon=":material/help:")
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
for column, name in zip(column_rows(len(metrics)), names):
    cm = metrics[name]["confusion_matrix"]
    column.plotly_chart(charts.confusion_heatmap(cm["labels"], cm["counts"], normalize=normalize, title=label(name),
                                                 model=kinds.get(name, "cnn")),
                        key=f"cm-{name}")

# --------------------------------------------------------------------------- calibration

st.subheader("How far to trust the confidence")
st.caption("A reliability diagram sorts the test images by the model's confidence in its answer (15 bins) and plots "
           "how often it was right: on the dashed diagonal, \"80% sure\" means right 80% of the time; below it the "
           "model is over-confident, above it under-confident. Temperature scaling divides the model's logits by one "
           "number T, fitted on the selection split (never this report split's answers), and leaves every answer — "
           "hence accuracy — unchanged. Lower is better for all three measures.")
for column, name in zip(column_rows(len(metrics)), names):
    calibration = metrics[name].get("calibration")
    fitted = cards[name].get("calibration") or {}
    with column:
        st.markdown(f"**{label(name)}**")
        if not isinstance(calibration, dict) or not isinstance(calibration.get("bins"), list):
            st.caption("No calibration figures in this metrics.json yet: rerun `make evaluate` for this model.")
            continue
        temperature = calibration.get("temperature")
        series = {"as the model gives them": calibration["bins"]}
        if temperature is not None and isinstance(calibration.get("bins_temperature_scaled"), list):
            series[f"temperature-scaled (T={temperature:.2f})"] = calibration["bins_temperature_scaled"]
        st.plotly_chart(reliability_figure(series), key=f"reliability-{name}")
        table = pd.DataFrame(calibration_rows(calibration)).rename(columns={"after temperature scaling": "after T"})
        if temperature is None:
            table = table.drop(columns=["after T"])
        st.dataframe(table, hide_index=True, key=f"calibration-{name}",
                     column_config={c: st.column_config.NumberColumn(format="%.4f") for c in table.columns
                                    if c != "measure"})
        if temperature is not None:
            where = fitted.get("fitted_on") or "the selection split"
            size = f", {fitted['n_images']:,} images" if isinstance(fitted.get("n_images"), int) else ""
            st.caption(f"T = {temperature:.4f}, fitted on {where}{size} by minimising the negative log-likelihood "
                       f"(`python -m core calibrate`). ECE is in fractions: {calibration['ece']:.4f} = "
                       f"{calibration['ece']:.1%}.")
        else:
            st.caption("No temperature fitted yet: `python -m core calibrate --model "
                       f"{name} --data DIR` fits one on the selection split.")

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

# --------------------------------------------------------------------------- across datasets

cross = cross_dataset_frame(evaluations, lambda ref: read("metrics", ref.path), label)
if cross is not None:
    st.subheader("Across datasets")
    st.caption("Every stored evaluation: accuracy and macro F1 per model (rows) and dataset split (columns). "
               "A model scores best on data like its training data; the gap to other datasets shows how it carries over.")
    st.dataframe(cross, hide_index=True, key="cross-dataset-table",
                 column_config={c: st.column_config.NumberColumn(format="%.1f%%" if c.endswith("accuracy") else "%.3f")
                                for c in cross.columns if c != "model"})
