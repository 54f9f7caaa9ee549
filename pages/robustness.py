"""Robustness: every model's accuracy under 15 corruptions at five severities, from the stored
``robustness.json`` files, the same analysis on Your data's faces (in memory), and example faces."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.presentation import artifacts, charts
from core.presentation import robustness as view
from core.presentation.artifacts import ArtifactError
from core.presentation.places import without_server_paths
from pages import runtime
from pages.common import load_classifier, read, ready_models, show_artifact_error, split_label

YOURS_KEY = "robustness_yours"  # this session's results on Your data's faces (memory only)
DATA_REPORT_KEY = "data_report"  # what the Your data page keeps in the session
EXAMPLE_CROP = (slice(30, 210), slice(155, 335))  # the astronaut's face, framed as FER2013 frames faces
PERCENT = st.column_config.NumberColumn(format="%.1f%%")


@st.cache_data(show_spinner=False, max_entries=32)
def _read_robustness(folder: str, stamp: float | None) -> dict:
    return view.read_robustness(folder)


def stored_results(folders: dict[str, Path]) -> dict[str, dict]:
    """Each model's readable robustness.json; an unreadable one said in one line."""
    results = {}
    for model, folder in folders.items():
        try:
            results[model] = _read_robustness(str(folder), artifacts.mtime(Path(folder) / "robustness.json"))
        except ArtifactError as error:
            show_artifact_error(error, f"{charts.display_name(model)} robustness")
    return results


def show_results(results: dict[str, dict], key: str) -> None:
    """Ranking table, one curve per corruption with every model overlaid, mean accuracy per corruption."""
    first = next(iter(results.values()))
    faces = first["subset"]["n_images"]
    st.markdown(f"**Ranking** on {faces:,} faces (seed {first['subset']['seed']}): mean accuracy over every "
                f"corruption and severity 1-5; the relative drop is from the model's clean accuracy.")
    st.dataframe(view.ranking_table(results), hide_index=True, key=f"{key}-ranking",
                 column_config={"faces": st.column_config.NumberColumn(format="localized"),
                                **{c: PERCENT for c in ("clean accuracy", "mean corrupted accuracy", "relative drop")}})
    st.plotly_chart(view.curves_figure(results), key=f"{key}-curves", config={"displayModeBar": False})
    st.caption("Severity 0 is the clean face; hover a point for the corruption's parameter at that severity.")
    aligned = view.alignment_caption(results)
    if aligned:
        st.caption(aligned)
    with st.expander("Mean accuracy per corruption (severities 1-5)"):
        table = view.family_table(results)
        st.dataframe(table, hide_index=True, key=f"{key}-families",
                     column_config={c: PERCENT for c in table.columns if c != "corruption"})
    for model, result in results.items():
        broken = ", ".join(f"{label} (-{result['recall_drop_by_class'][label] * 100:.0f} points)"
                           for label in result["breaks_first"][:3])
        st.caption(f"**{charts.display_name(model)}**: the emotions whose recall falls most under corruption: {broken}.")


def clean_check(results: dict[str, dict], folders: dict[str, Path]) -> None:
    """The clean point beside Evaluation's figure on the same faces (from the model's predictions.csv)."""
    for model, result in results.items():
        name, clean = charts.display_name(model), result["clean"]["accuracy"]
        try:
            predictions = read("predictions", Path(folders[model]).parent)
        except ArtifactError:
            st.caption(f"{name}: clean {clean:.1%}; no stored predictions.csv to check it against.")
            continue
        accuracy, n = view.clean_from_predictions(result, predictions)
        if accuracy is not None and abs(accuracy - clean) < 1e-9:
            st.caption(f":material/check: {name}: clean {clean:.1%} on these {n:,} faces, the same as its Evaluation "
                       f"(predictions.csv) on the same faces.")
        else:
            st.warning(f"{name}: clean {clean:.1%}, but its Evaluation gives "
                       f"{'nothing' if accuracy is None else f'{accuracy:.1%}'} on the same faces: the model or the "
                       f"evaluation changed since; rerun `make robustness`.", icon=":material/warning:")


def stored_section() -> dict[str, dict]:
    st.subheader("Stored results")
    found = view.find_robustness(artifacts.models_root(), extra_model_dirs=[artifacts.model_dir()])
    if not found:
        st.info(f"No stored robustness results yet: {view.ROBUSTNESS_HINT}.", icon=":material/hourglass_top:")
        return {}
    key = st.selectbox("Dataset and split", list(found), format_func=split_label, key="robustness_split")
    results = stored_results(found[key])
    if results:
        show_results(results, "stored")
        clean_check(results, found[key])
    return results


def example_face(results: dict[str, dict]):
    """(a face crop, where it comes from, its key): a FER2013 face of the stored subset when FER2013_DIR
    is set, else the astronaut's face from the example photo."""
    from core import paths
    from core.media.images import example_photo
    from core.presentation.evaluations import resolve_dataset_file

    root = paths.dataset_dir_from_env()
    files = next(iter(results.values()))["subset"]["files"] if results else []
    if root is not None and files:
        options = [f for f in files if "/happy/" in f][:3] + [f for f in files if "/surprise/" in f][:2]
        chosen = st.selectbox("Example face", options or files[:5], key="robustness_example")
        path = resolve_dataset_file(root, chosen)
        if path is not None:
            import cv2

            face = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if face is not None:
                return face, f"FER2013 face `{chosen}` (from FER2013_DIR)", chosen
    face = example_photo()[EXAMPLE_CROP]
    return face, ("the astronaut's face from the example photo (scikit-image's public-domain `astronaut`; set "
                  "FER2013_DIR to see FER2013 faces)"), "example"


def example_strip(results: dict[str, dict]) -> None:
    """Every corruption at severities 0-5 on one face, so "severity 3 blur" can be seen."""
    st.subheader("What each severity looks like")
    face, source, key = example_face(results)
    st.caption(f"Face: {source}. Each row is one corruption at severities 0 (clean) to 5, as the models get it "
               f"(grayscale; random draws seeded per face).")
    seed = next(iter(results.values()))["subset"]["seed"] if results else 0
    for family, images, captions in view.example_strip(face, seed=seed, key=key, size=72):
        label, strip = st.columns([1, 5], vertical_alignment="center")
        label.markdown(f"**{family.title}**  \n{family.parameter}")
        strip.image(images, caption=captions, width=72)


def your_data_section() -> None:
    """The same analysis on the faces evaluated on Your data, in this session's memory only."""
    from core.evaluation.robustness import DEFAULT_FACES, run_robustness

    st.subheader("On your data")
    report = st.session_state.get(DATA_REPORT_KEY)
    if report is None or not getattr(report, "results", None):
        st.info("Evaluate your own labelled faces on the **Your data** page first; they can then be run through "
                "every corruption here (in memory: nothing is written to disk).", icon=":material/folder_zip:")
        return
    dataset = report.dataset
    count = min(len(dataset.records), DEFAULT_FACES)
    if st.button(f"Run every corruption on {count:,} of your {len(dataset.records):,} faces", key="robustness_run",
                 type="primary"):
        classifiers = {}
        for name in ready_models():
            loaded = load_classifier(name)
            if isinstance(loaded, str):
                st.warning(f"**{charts.display_name(name)}** is left out: {without_server_paths(loaded)}")
            else:
                classifiers[loaded.name] = loaded
        bar = st.progress(0.0, text="Corrupting your faces…")
        try:
            st.session_state[YOURS_KEY] = run_robustness(
                classifiers, dataset, "all", count=count,
                on_progress=lambda done, total, what: bar.progress(done / total, text=f"{what} ({done} of {total})"))
        except Exception as error:  # noqa: BLE001 - whatever the data does, the user gets one line
            st.error(f"Your faces could not be run through the corruptions ({type(error).__name__}).")
            return
        finally:
            bar.empty()
    results = st.session_state.get(YOURS_KEY)
    if results:
        show_results(results, "yours")


@runtime.page
def main() -> None:
    st.title("Robustness: how the models hold up under dim light, blur, compression, small faces and occlusion")
    st.caption("Every model on the same fixed, seeded, stratified subset of test faces, under 15 corruptions at "
               "five severities each (OpenCV and NumPy; every parameter is stored in robustness.json). "
               "`python -m core robustness` makes the same results for any labelled folder or zip.")
    results = stored_section()
    example_strip(results)
    your_data_section()


main()
