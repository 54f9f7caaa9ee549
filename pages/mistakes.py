"""Mistakes: the misclassified test images behind a confusion, with every model's verdict."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image, UnidentifiedImageError

from core.evaluation.metrics import metric_labels
from core.presentation import artifacts, charts, tables
from core.presentation.artifacts import ArtifactError
from core.presentation.evaluations import find_evaluations, resolve_dataset_file
from pages.common import evaluation_kinds, model_labeler, ordered_models, read, show_artifact_error, split_label

COLUMNS = 6
DATASET_HELP = ("Get FER2013 from Kaggle (https://www.kaggle.com/datasets/msambare/fer2013) and unzip it so the "
                "folder holds `train/<emotion>/*.jpg` and `test/<emotion>/*.jpg`; then set `FER2013_DIR` to that "
                "folder before starting the app, or type it in the sidebar.")

st.title("Mistakes")
st.caption("Test images a model got wrong, for one confusion at a time — often the fastest way to see what a "
           "model has not learned, and where the labels themselves are doubtful.")

root, cnn_folder = artifacts.models_root(), artifacts.model_dir()
evaluations = {key: {name: ref for name, ref in refs.items() if ref.predictions_path.is_file()}
               for key, refs in find_evaluations(root, extra_model_dirs=[cnn_folder]).items()}
evaluations = {key: refs for key, refs in evaluations.items() if refs}
if not evaluations:
    st.info(f"No stored predictions under `{root}` yet (looked for `*/eval/*/predictions.csv`). They are written by "
            f"`make evaluate` (the CNN) and `make evaluate-deepface` (DeepFace, on a machine with its weights).",
            icon=":material/hourglass_top:")
    st.stop()

# --------------------------------------------------------------------------- sidebar: dataset folder

with st.sidebar:
    st.subheader("Test images")
    default_dir = artifacts.dataset_dir_from_env()
    typed = st.text_input("FER2013 folder", value=str(default_dir) if default_dir else "", key="dataset_dir",
                          placeholder="/path/to/fer2013", help="The folder holding train/ and test/ (FER2013_DIR).")
dataset_dir = Path(typed).expanduser() if typed.strip() else None
if dataset_dir is not None and not dataset_dir.is_dir():
    st.sidebar.error(f"{dataset_dir}: no such folder.")
    dataset_dir = None

# --------------------------------------------------------------------------- choices

left, middle = st.columns(2)
key = left.selectbox("Dataset and split", list(evaluations), format_func=split_label, key="mistakes_split")
refs = evaluations[key]
kinds = evaluation_kinds(refs)
frames = {}
for name in ordered_models(refs, kinds, cnn_folder):
    try:
        frames[name] = read("predictions", refs[name].path)
    except ArtifactError as error:
        show_artifact_error(error, f"{charts.display_name(kinds[name])} predictions")
if not frames:
    st.stop()


label = model_labeler(kinds, cnn_folder)


model = middle.radio("Mistakes of", list(frames), format_func=label, horizontal=True, key=f"mistakes_model_{key}")
if "deepface" not in kinds.values():
    st.caption("DeepFace's predictions appear here once `make evaluate-deepface` has been run on a machine with its weights.")
predictions = frames[model]
confusions = tables.confusion_counts(predictions)
if confusions.empty:
    st.success(f"{label(model)} classified all {len(predictions)} images of {split_label(key)} correctly.")
    st.stop()

pair_counts = {(r.true, r.predicted): int(r.count) for r in confusions.itertuples()}
true_counts = confusions.groupby("true")["count"].sum().to_dict()
labels = metric_labels(predictions["true"], predictions["predicted"])
top_true, top_predicted = confusions.iloc[0]["true"], confusions.iloc[0]["predicted"]

c1, c2, c3 = st.columns(3)
true = c1.selectbox("True emotion", labels, index=labels.index(top_true), key=f"mistakes_true_{key}_{model}",
                    format_func=lambda l: f"{l} ({true_counts.get(l, 0)} mistakes)")
candidates = [l for l in labels if l != true]
best_for_true = max(candidates, key=lambda l: (pair_counts.get((true, l), 0), -candidates.index(l)))
predicted = c2.selectbox("Predicted as", candidates, index=candidates.index(best_for_true),
                         key=f"mistakes_predicted_{key}_{model}_{true}",
                         format_func=lambda l: f"{l} ({pair_counts.get((true, l), 0)} images)")
order = c3.radio("Order", ["most confident first", "least confident first"], key="mistakes_order",
                 help=f"By {label(model)}'s confidence in its wrong answer.")

joined = tables.join_predictions({model: predictions, **{n: f for n, f in frames.items() if n != model}})
rows = tables.mistakes(joined, model, true, predicted, most_confident_first=order.startswith("most"))
total = len(predictions[predictions["true"] == true])
st.markdown(f"**{len(rows)} of {total} `{true}` images** were called **{predicted}** by {label(model)}"
            + (f" ({len(rows) / total:.1%})." if total else "."))
if rows.empty:
    st.info("No image of this confusion: pick another pair above.")
    st.stop()

p1, p2, _ = st.columns([1, 1, 3])
page_size = p1.selectbox("Per page", [12, 24, 48, 96], index=1, key="mistakes_page_size")
pages = max(1, math.ceil(len(rows) / page_size))
page = p2.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1,
                       key=f"mistakes_page_{key}_{model}_{true}_{predicted}_{page_size}")
shown = rows.iloc[(page - 1) * page_size: page * page_size]

others = [n for n in frames if n != model]


def verdict(row, name: str) -> str:
    value = row.get(f"{name}_predicted")
    if not isinstance(value, str):
        return f"{label(name)}: —"
    mark = ":green[✓]" if value == row["true"] else ":red[✗]"
    return f"{label(name)}: {value} {row[f'{name}_confidence']:.0%} {mark}"


def short_id(path: str) -> str:
    """``test/fear/PrivateTest_1234.jpg`` -> ``#1234`` (the file name without the split prefix and suffix)."""
    stem = Path(path).stem
    prefix, _, rest = stem.rpartition("_")
    return f"#{rest}" if prefix and rest else stem


def load_image(path: str) -> np.ndarray | None:
    target = resolve_dataset_file(dataset_dir, path) if dataset_dir else None
    if target is None:
        return None
    try:
        with Image.open(target) as image:
            gray = image.convert("L")
            return np.asarray(gray.resize((gray.width * 2, gray.height * 2), Image.Resampling.NEAREST)
                              if max(gray.size) < 96 else gray)
    except (OSError, UnidentifiedImageError, ValueError):
        return None


if dataset_dir is None:
    st.info("Images are not shown because no dataset folder is set. " + DATASET_HELP, icon=":material/folder_off:")
else:
    missing = 0
    records = shown.to_dict("records")
    for start in range(0, len(records), COLUMNS):
        for column, row in zip(st.columns(COLUMNS), records[start:start + COLUMNS]):
            with column:
                image = load_image(row["path"])
                if image is None:
                    missing += 1
                    st.markdown(":gray-background[image not found]")
                else:
                    st.image(image, width="stretch")
                lines = [f"true **{row['true']}**", verdict(row, model)] + [verdict(row, n) for n in others]
                st.caption("  \n".join(lines + [f":gray[{short_id(row['path'])}]"]), help=f"`{row['path']}`")
    if missing:
        st.warning(f"{missing} of {len(records)} images were not found under `{dataset_dir}` (expected paths like "
                   f"`{shown.iloc[0]['path']}`). Is this the folder the evaluation used?")

with st.expander("As a table", expanded=dataset_dir is None):
    table = shown.rename(columns={f"{n}_{c}": f"{label(n)} {c}" for n in frames for c in ("predicted", "confidence")})
    for n in frames:  # confidences as percentages with one decimal, like the captions above
        table[f"{label(n)} confidence"] = pd.to_numeric(table[f"{label(n)} confidence"], errors="coerce") * 100
    st.dataframe(table, hide_index=True, key="mistakes-table",
                 column_config={f"{label(n)} confidence": st.column_config.NumberColumn(format="%.1f%%")
                                for n in frames})
    st.download_button(f"Download all {len(rows)} mistakes (CSV)", rows.to_csv(index=False).encode("utf-8"),
                       file_name=f"mistakes_{key}_{true}_as_{predicted}.csv", mime="text/csv", on_click="ignore",
                       key="mistakes-download", icon=":material/download:")
