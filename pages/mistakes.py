"""Mistakes: the misclassified test images behind a confusion, with every model's verdict, where the models
disagree, and (on demand) Grad-CAM maps of what each model looked at."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image, UnidentifiedImageError

from core.data import roots as data_roots
from core.evaluation.metrics import metric_labels
from core.models import registry
from core.presentation import artifacts, charts, tables
from core.presentation.artifacts import ArtifactError
from core.presentation.evaluations import (
    disagreement_matrix,
    disagreements,
    find_evaluations,
    pair_outcomes,
    pair_sentence,
    resolve_dataset_file,
    rounded_for_csv,
)
from core.presentation.places import place
from pages import audit_view, cell_links, runtime
from pages.common import (
    dataset_folder_problem,
    load_classifier,
    model_folder,
    read,
    server_data_roots,
    show_artifact_error,
    split_label,
)

COLUMNS = 6
LABEL_VIEW = "Label probably wrong"
DATASET_HELP = ("Get FER2013 from Kaggle (https://www.kaggle.com/datasets/msambare/fer2013) and unzip it so the "
                "folder holds `train/<emotion>/*.jpg` and `test/<emotion>/*.jpg`; then set `FER2013_DIR` to that "
                "folder before starting the app (a folder typed in the sidebar must lie under `EMOTION_DATA_ROOTS` "
                "or FER2013's folder).")

@dataclass(frozen=True)
class View:
    """This run's choices, as the gallery helpers need them."""

    key: str  # the dataset split
    refs: dict  # model -> its EvalRef on that split
    frames: dict[str, pd.DataFrame]  # model -> its predictions
    label: Callable[[str], str]  # model -> the name shown
    dataset_dir: Path | None
    folder_problem: str | None
    show_maps: bool
    focus: cell_links.Focus | None = None  # the confusion-matrix cell Evaluation opened this page on


def stored_predictions(root: Path, cnn_folder: Path) -> dict:
    """The evaluations that have a predictions.csv, by split and model."""
    evaluations = {key: {name: ref for name, ref in refs.items() if ref.predictions_path.is_file()}
                   for key, refs in find_evaluations(root, extra_model_dirs=[cnn_folder]).items()}
    return {key: refs for key, refs in evaluations.items() if refs}


# --------------------------------------------------------------------------- sidebar: dataset folder


def dataset_folder() -> tuple[Path | None, str | None]:
    """The FER2013 folder typed in the sidebar (default FER2013_DIR), or None and what is wrong with it."""
    with st.sidebar:
        st.subheader("Test images")
        server_roots = server_data_roots()
        default_dir = artifacts.dataset_dir_from_env()
        default_name = ""
        if default_dir is not None and default_dir.is_dir():
            default_name = data_roots.display(default_dir.resolve(), server_roots)
        typed = st.text_input("FER2013 folder", value=default_name, key="dataset_dir", placeholder="fer2013",
                              help="The folder holding train/ and test/ (FER2013_DIR), under one of the folders this "
                                   "server allows: " + (", ".join(f"{r.name}/" for r in server_roots) or "none") + ".")
    dataset_dir, folder_problem = dataset_folder_problem(typed, server_roots)
    if default_dir is not None and not default_dir.is_dir() and not typed.strip():
        folder_problem = "FER2013_DIR is set, but names no folder on this server."
    if folder_problem:
        st.sidebar.error(folder_problem)
    return dataset_dir, folder_problem


# --------------------------------------------------------------------------- images and maps

def short_id(path: str) -> str:
    """``test/fear/PrivateTest_1234.jpg`` -> ``#1234`` (the file name without the split prefix and suffix)."""
    stem = Path(path).stem
    prefix, _, rest = stem.rpartition("_")
    return f"#{rest}" if prefix and rest else stem


def read_face(path: str, root: Path | None) -> np.ndarray | None:
    """The dataset image under ``root`` as 8-bit grayscale, or None when it cannot be found or read."""
    target = resolve_dataset_file(root, path) if root else None
    if target is None:
        return None
    try:
        with Image.open(target) as image:
            return np.asarray(image.convert("L"))
    except (OSError, UnidentifiedImageError, ValueError):
        return None


def enlarge(gray: np.ndarray) -> np.ndarray:
    """48x48 FER2013 crops doubled (nearest neighbour) so that they are not blurred by the browser."""
    if max(gray.shape) >= 96:
        return gray
    return np.asarray(Image.fromarray(gray).resize((gray.shape[1] * 2, gray.shape[0] * 2), Image.Resampling.NEAREST))


@st.cache_resource(show_spinner=False, max_entries=4)
def _grad_cam(model: str, folder: str, stamp: tuple):
    """(GradCam, labels) for an evaluated model, or (None, why not). ``stamp`` only keys the cache; the
    model itself comes from the app's one model cache."""
    from core.analysis.gradcam import GradCam

    classifier = load_classifier(model if model in registry.names() else folder)
    if isinstance(classifier, str):
        return None, classifier
    parts = classifier.explainer()
    if parts is None:
        return None, f"{model} is not a Keras network, so it has no Grad-CAM map"
    network, preprocess, letterbox = parts.model, parts.preprocess, parts.letterbox
    return GradCam(network, preprocess=preprocess, letterbox=letterbox), tuple(classifier.labels)


@st.cache_data(show_spinner="Computing Grad-CAM maps for this page…", max_entries=64)
def _overlays(model: str, folder: str, stamp: tuple, root: str, items: tuple) -> tuple[list, str | None]:
    """Overlays (RGB, doubled like the gallery) for ``items`` = ((path, emotion), ...); None where the
    image is missing. Cached per page of faces."""
    from core.presentation.explain_figures import overlay

    cam, labels = _grad_cam(model, folder, stamp)
    if cam is None:
        return [None] * len(items), labels
    faces = [read_face(path, Path(root)) for path, _ in items]
    present = [i for i, face in enumerate(faces) if face is not None and items[i][1] in labels]
    out = [None] * len(items)
    if present:
        explained = cam.explain([faces[i] for i in present], [labels.index(items[i][1]) for i in present])
        for i, explanation in zip(present, explained):
            out[i] = overlay(enlarge(faces[i]), explanation.heatmap)
    return out, None


def maps_for(view: View, model: str, rows: list[dict], column: str) -> list:
    """Grad-CAM overlays of ``model`` for the emotion in ``column`` of each row (e.g. its wrong answer)."""
    folder = model_folder(view.refs[model])
    stamp = tuple(artifacts.mtime(folder / f) for f in ("model.keras", "model.json"))
    overlays, problem = _overlays(model, str(folder), stamp, str(view.dataset_dir),
                                  tuple((r["path"], r[column]) for r in rows))
    if problem:
        st.warning(f"No Grad-CAM maps for {view.label(model)}: {problem}", icon=":material/warning:")
    return overlays


def verdict(row, name: str, label: Callable[[str], str]) -> str:
    value = row.get(f"{name}_predicted")
    if not isinstance(value, str):
        return f"{label(name)}: —"
    mark = ":green[✓]" if value == row["true"] else ":red[✗]"
    return f"{label(name)}: {value} {row[f'{name}_confidence']:.0%} {mark}"


def gallery(view: View, shown: pd.DataFrame, models: list[str], map_models: list[str]) -> None:
    """The images of ``shown`` with every model's verdict; with the switch on, each of ``map_models``'
    map of its own answer beside the image."""
    dataset_dir, folder_problem, show_maps, label = view.dataset_dir, view.folder_problem, view.show_maps, view.label
    if dataset_dir is None:
        if folder_problem:
            st.warning(f"Images are not shown: {folder_problem} " + DATASET_HELP, icon=":material/folder_off:")
        else:
            st.info("Images are not shown because no dataset folder is set. " + DATASET_HELP,
                    icon=":material/folder_off:")
        return
    records = shown.to_dict("records")
    overlays = {m: maps_for(view, m, records, f"{m}_predicted") for m in map_models} if show_maps else {}
    if show_maps:
        st.caption("Each map is for the emotion that model answered: " + ", ".join(
            f"{label(m)}'s map follows its ✗ answer" if len(map_models) == 1 else label(m) for m in map_models)
            + ". Bright = pushed the model towards that answer.")
    missing = 0
    per_row = COLUMNS // 2 if show_maps and len(map_models) > 1 else COLUMNS
    for start in range(0, len(records), per_row):
        for column, (offset, row) in zip(st.columns(per_row), enumerate(records[start:start + per_row])):
            with column:
                face = read_face(row["path"], dataset_dir)
                if face is None:
                    missing += 1
                    st.markdown(":gray-background[image not found]")
                else:
                    pictures = [enlarge(face)] + [overlays[m][start + offset] for m in overlays
                                                  if overlays[m][start + offset] is not None]
                    st.image(pictures, width=96 if len(pictures) > 1 else "stretch",
                             caption=None if len(pictures) == 1 else ["image"] + [label(m) for m in overlays
                                                                                  if overlays[m][start + offset] is not None])
                lines = [f"true **{row['true']}**"] + [verdict(row, n, label) for n in models]
                if "suggested" in row:  # the label audit's view: what the models suggest, and how sure
                    lines.insert(1, f"suggested **{row['suggested']}** (label score {row['score']:.2f})")
                st.caption("  \n".join(lines + [f":gray[{short_id(row['path'])}]"]), help=f"`{row['path']}`")
    if missing:
        st.warning(f"{missing} of {len(records)} images were not found under `{place(dataset_dir)}` (expected paths like "
                   f"`{shown.iloc[0]['path']}`). Is this the folder the evaluation used?")


def paged(rows: pd.DataFrame, state_key: str) -> pd.DataFrame:
    p1, p2, _ = st.columns([1, 1, 3])
    page_size = p1.selectbox("Per page", [12, 24, 48, 96], index=1, key="mistakes_page_size")
    pages = max(1, math.ceil(len(rows) / page_size))
    page = p2.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1,
                           key=f"mistakes_page_{state_key}_{page_size}")
    return rows.iloc[(page - 1) * page_size: page * page_size]


def table_and_download(view: View, rows: pd.DataFrame, shown: pd.DataFrame, file_name: str, what: str) -> None:
    frames, label = view.frames, view.label
    with st.expander("As a table", expanded=view.dataset_dir is None):
        table = shown.rename(columns={f"{n}_{c}": f"{label(n)} {c}" for n in frames for c in ("predicted", "confidence")})
        for n in frames:  # confidences as percentages, like the captions above
            if f"{label(n)} confidence" in table:
                table[f"{label(n)} confidence"] = pd.to_numeric(table[f"{label(n)} confidence"], errors="coerce") * 100
        st.dataframe(table, hide_index=True, key="mistakes-table",
                     column_config={f"{label(n)} confidence": st.column_config.NumberColumn(format="%.1f%%")
                                    for n in frames})
        st.download_button(f"Download all {len(rows)} {what} (CSV)",
                           rounded_for_csv(rows).to_csv(index=False).encode("utf-8"),
                           file_name=file_name, mime="text/csv", on_click="ignore", key="mistakes-download",
                           icon=":material/download:", help="Confidences in percent, rounded to 2 decimals.")


# --------------------------------------------------------------------------- where models disagree


def disagreement_view(view: View) -> None:
    """Images one model got right and another wrong, for the pair chosen."""
    frames, label, key = view.frames, view.label, view.key
    st.subheader("Where the models disagree")
    st.caption("Test images one model got right and another wrong. Row: the model that was right; column: the model "
               "that was wrong (images all models scored).")
    matrix = disagreement_matrix(frames)
    shown_matrix = matrix.astype(object).where(matrix.notna(), "—").rename(index=label, columns=label)
    shown_matrix.index.name = "right ↓ / wrong →"
    st.dataframe(shown_matrix.reset_index(), hide_index=True, key="disagreement-table")
    names = list(frames)
    c1, c2 = st.columns(2)
    right_model = c1.selectbox("Right", names, format_func=label, key=f"disagree_right_{key}")
    wrong_names = [n for n in names if n != right_model]
    wrong_model = c2.selectbox("Wrong", wrong_names, format_func=label, key=f"disagree_wrong_{key}_{right_model}",
                               index=max(range(len(wrong_names)), key=lambda i: matrix.loc[right_model, wrong_names[i]]))
    outcomes = pair_outcomes(frames, right_model, wrong_model)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("both right", f"{outcomes['both right']:,}")
    m2.metric(f"only {label(right_model)} right", f"{outcomes['only first right']:,}")
    m3.metric(f"only {label(wrong_model)} right", f"{outcomes['only second right']:,}")
    m4.metric("both wrong", f"{outcomes['both wrong']:,}")
    st.caption(pair_sentence(frames, right_model, wrong_model))
    rows = disagreements(tables.join_predictions(frames), right_model, wrong_model)
    if rows.empty:
        st.info(f"No image that {label(right_model)} got right and {label(wrong_model)} wrong.")
        return
    st.markdown(f"**{len(rows)} images** {label(right_model)} got right and {label(wrong_model)} wrong "
                f"({label(wrong_model)}'s most confident mistakes first).")
    shown = paged(rows, f"disagree_{key}_{right_model}_{wrong_model}")
    gallery(view, shown, [right_model, wrong_model] + [n for n in frames if n not in (right_model, wrong_model)],
            [right_model, wrong_model])
    table_and_download(view, rows, shown, f"disagreements_{key}_{right_model}_right_{wrong_model}_wrong.csv",
                       "disagreements")


# --------------------------------------------------------------------------- mistakes of one model


def one_model_view(view: View) -> None:
    """The images of one confusion (true emotion -> predicted) of one model."""
    frames, label, key = view.frames, view.label, view.key
    focus = view.focus if view.focus is not None and view.focus.model in frames else None
    model = st.radio("Mistakes of", list(frames), format_func=label, horizontal=True, key=f"mistakes_model_{key}",
                     index=list(frames).index(focus.model) if focus else 0)
    focus = focus if focus is not None and focus.model == model else None
    predictions = frames[model]
    confusions = tables.confusion_counts(predictions)
    if confusions.empty:
        st.success(f"{label(model)} classified all {len(predictions)} images of {split_label(key)} correctly.")
        return

    pair_counts = {(r.true, r.predicted): int(r.count) for r in confusions.itertuples()}
    true_counts = confusions.groupby("true")["count"].sum().to_dict()
    labels = metric_labels(predictions["true"], predictions["predicted"])
    top_true = focus.true if focus is not None and focus.true in labels else confusions.iloc[0]["true"]

    c1, c2, c3 = st.columns(3)
    true = c1.selectbox("True emotion", labels, index=labels.index(top_true), key=f"mistakes_true_{key}_{model}",
                        format_func=lambda l: f"{l} ({true_counts.get(l, 0)} mistakes)")
    candidates = [l for l in labels if l != true]
    best_for_true = focus.predicted if focus is not None and focus.predicted in candidates and focus.true == true else \
        max(candidates, key=lambda l: (pair_counts.get((true, l), 0), -candidates.index(l)))
    predicted = c2.selectbox("Predicted as", candidates, index=candidates.index(best_for_true),
                             key=f"mistakes_predicted_{key}_{model}_{true}",
                             format_func=lambda l: f"{l} ({pair_counts.get((true, l), 0)} images)")
    order = c3.radio("Order", ["most confident first", "least confident first"], key="mistakes_order",
                     help=f"By {label(model)}'s confidence in its wrong answer.")

    ordered = tables.join_predictions({model: predictions, **{n: f for n, f in frames.items() if n != model}})
    rows = tables.mistakes(ordered, model, true, predicted, most_confident_first=order.startswith("most"))
    total = len(predictions[predictions["true"] == true])
    st.markdown(f"**{len(rows)} of {total} `{true}` images** were called **{predicted}** by {label(model)}"
                + (f" ({len(rows) / total:.1%})." if total else "."))
    if rows.empty:
        st.info("No image of this confusion: pick another pair above.")
        return

    shown = paged(rows, f"{key}_{model}_{true}_{predicted}")
    gallery(view, shown, [model] + [n for n in frames if n != model], [model])
    table_and_download(view, rows, shown, f"mistakes_{key}_{true}_as_{predicted}.csv", "mistakes")


def label_issue_view(view: View) -> None:
    """The faces whose label the zoo's probabilities contradict (``make audit``), worst first."""
    rows = audit_view.flagged_faces(view.key, view.refs, view.frames, view.label)
    if rows is None or rows.empty:
        return
    shown = paged(rows, f"audit_{view.key}_{len(rows)}")
    gallery(view, shown, list(view.frames), list(view.frames))
    table_and_download(view, rows, shown, f"label_issues_{view.key}.csv", "flagged faces")


def read_frames(refs: dict) -> dict[str, pd.DataFrame]:
    """Each model's readable predictions, in the order every page shows the models."""
    frames = {}
    for name, ref in refs.items():
        try:
            frames[name] = read("predictions", ref.path)
        except ArtifactError as error:
            show_artifact_error(error, f"{charts.display_name(name)} predictions")
    return frames


@runtime.page
def main() -> None:
    st.title("Mistakes")
    st.caption("Test images a model got wrong, for one confusion at a time — often the fastest way to see what a "
               "model has not learned, and where the labels themselves are doubtful.")
    root, cnn_folder = artifacts.models_root(), artifacts.model_dir()
    evaluations = stored_predictions(root, cnn_folder)
    if not evaluations:
        st.info(f"No stored predictions under `{place(root)}` yet (looked for `*/eval/*/predictions.csv`). "
                + " ".join(f"{spec.title}: {spec.evaluate_hint}." for spec in registry.specs()),
                icon=":material/hourglass_top:")
        return
    dataset_dir, folder_problem = dataset_folder()

    focus = cell_links.take_focus()
    left, middle = st.columns([2, 3])  # room for the three views' names
    keys = list(evaluations)
    key = left.selectbox("Dataset and split", keys, format_func=split_label, key="mistakes_split",
                         index=keys.index(focus.key) if focus is not None and focus.key in keys else 0)
    refs = evaluations[key]
    frames = read_frames(refs)
    if not frames:
        return
    label = charts.display_name
    views = ["Mistakes of one model", "Where models disagree"] if len(frames) > 1 else ["Mistakes of one model"]
    views.append(LABEL_VIEW)
    chosen = middle.segmented_control("View", views, default=views[0], required=True, key="mistakes_view",
                                      help="Where models disagree: test images one model got right and another wrong. "
                                           "Label probably wrong: faces the label audit (cleanlab) flags.")
    show_maps = st.toggle("Show Grad-CAM maps (where the model looked)", key="mistakes_maps",
                          help="Computed for the faces on this page, then cached. Bright: the parts of the face that "
                               "pushed the model towards its answer most; dark: no influence. One colour scale for "
                               "every model.")
    for spec in registry.specs():
        if spec.name not in refs:
            st.caption(f"{spec.title}'s predictions appear here once its evaluation exists: {spec.evaluate_hint}.")
    view = View(key, refs, frames, label, dataset_dir, folder_problem, show_maps,
                focus if focus is not None and focus.key == key else None)
    if chosen == "Where models disagree":
        disagreement_view(view)
    elif chosen == LABEL_VIEW:
        label_issue_view(view)
    else:
        one_model_view(view)


main()
