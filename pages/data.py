"""Your data: every ready model evaluated on the user's own labelled faces (a zip upload or a server folder).

Images stay in memory (decoded from the upload's bytes, never extracted or written); the results, the
mistakes gallery and the downloadable zip of ``<model>/metrics.json`` and ``<model>/predictions.csv`` are
built in memory too. The work is :func:`core.evaluation.labelled.evaluate_source`; this page adds the
widgets, the progress bar and the same figures as the Evaluation page.
"""
from __future__ import annotations

import logging

import pandas as pd
import streamlit as st

from core.data.archive import DEFAULT_LIMITS, ArchiveError
from core.data.datasets import DatasetError
from core.evaluation import labelled
from core.media.images import ImageDecodeError
from core.presentation import artifacts, charts, significance
from core.presentation.artifacts import ArtifactError
from core.presentation.evaluations import find_evaluations
from core.presentation.places import without_server_paths
from core.presentation.report import ModelScores
from pages import audit_view, cell_links, report_download, runtime
from pages import report as report_view
from pages.common import load_model_set, read, server_data_roots, split_label

CROPS, PHOTOS = "face crops", "photos: detect faces first"
RESULT_KEY = "data_report"
INPUT_KEY = "data_report_input"  # which input RESULT_KEY's report was made from
CELL_KEY = "data_cell"  # (model, true, predicted): the confusion-matrix cell whose faces are shown
GALLERY_SIZE = 24
UPLOAD_MB = 100  # the zip itself; what it unpacks to is limited by core.data.archive.DEFAULT_LIMITS
LOG = logging.getLogger(__name__)


def ready_models() -> tuple[dict, dict]:
    """Every registered model that is ready here, from the app's one model cache; and why the others are not."""
    from core.models import registry

    status = registry.available()
    models = load_model_set([name for name, s in status.items() if s.ready])
    classifiers = dict(models.analyzer.classifiers) if models.analyzer is not None else {}
    return classifiers, {**{n: s.reason for n, s in status.items() if not s.ready}, **models.unavailable}


def face_detector():
    """The pipeline's face detector with its default settings (as the Compare page uses it)."""
    from core.analysis.pipeline import AnalysisOptions, Analyzer

    class _NoModel:
        labels = ()

    return Analyzer({"none": _NoModel()}).face_detector(AnalysisOptions())


def fer2013_reference(models) -> dict[str, dict[str, dict]]:
    """Each model's stored FER2013 figures: ``{model: {"fer2013 / PrivateTest": metrics}}``."""
    reference: dict[str, dict[str, dict]] = {}
    for key, refs in find_evaluations(artifacts.models_root(), extra_model_dirs=[artifacts.model_dir()]).items():
        if not key.lower().startswith("fer2013-"):
            continue
        for model, ref in refs.items():
            if model in models:
                try:
                    reference.setdefault(model, {})[split_label(key)] = read("metrics", ref.path)
                except ArtifactError:
                    continue
    return reference


# --------------------------------------------------------------------------- input


def choose_source() -> tuple[object, str | None, str]:
    """The images to evaluate (zip bytes or a folder path, None until given), the upload's name, and
    whether they are face crops or photos."""
    st.markdown("Upload a **zip of labelled faces** — one folder per emotion (`happy/`, `sad/`, … under any usual "
                "name), or the FER2013, KDEF or CK+ layout — or name a folder on this server. Every ready model is "
                "evaluated on all the images. **Your images stay in memory**: nothing is extracted or written to "
                "disk.")
    source_kind = st.radio("Where are the images?", ["Upload a zip", "A folder on this server"], horizontal=True,
                           key="data_source_kind")
    upload = folder = None
    if source_kind == "Upload a zip":
        upload = st.file_uploader("Upload a zip of labelled faces", type=["zip"], key="data_upload",
                                  max_upload_size=UPLOAD_MB,
                                  help=f"Up to {UPLOAD_MB} MB, {DEFAULT_LIMITS.max_files:,} images and "
                                       f"{DEFAULT_LIMITS.max_total_bytes // 2**20} MiB unpacked.")
    elif not (server_roots := server_data_roots()):
        st.info("Server folders are off here: the operator allows folders by listing them in `EMOTION_DATA_ROOTS`.",
                icon=":material/folder_off:")
    else:
        names = ", ".join(f"`{root.name}/`" for root in server_roots)
        folder = st.text_input("Folder on the server", key="data_folder", placeholder=f"{server_roots[0].name}/test",
                               help=f"A folder with one sub-folder per emotion, or a FER2013 or KDEF folder, under one "
                                    f"of the folders this server allows: {names}. Hidden folders are skipped.")
        st.caption(f"Allowed here: {names} (and the folders under them).")
    image_kind = st.radio("The images are", [CROPS, PHOTOS], horizontal=True, key="data_image_kind",
                          help="Face crops (like FER2013 and CK+) go to the models as they are. Photos first go "
                               "through the face detector of the Compare page; the largest face in each is "
                               "evaluated, and photos without a face are counted and listed.")
    source = upload if upload is not None else (folder.strip() if folder else None)  # the upload is read in place
    source = st.session_state.get("data_zip_bytes", source)  # tests put the zip's bytes here
    name = upload.name.rsplit(".", 1)[0].lower() if upload is not None else None
    return source, name, image_kind


def evaluate(classifiers: dict, source, name: str | None, image_kind: str) -> None:
    """Every model on the images, with a progress bar; the report kept in this session (or the error said)."""
    bar = st.progress(0.0, text="Reading the images…")
    try:
        report = labelled.evaluate_source(source, classifiers, photos=image_kind == PHOTOS,
                                          detector=face_detector() if image_kind == PHOTOS else None, name=name,
                                          on_progress=lambda text, fraction: bar.progress(fraction, text=text),
                                          roots=server_data_roots())
    except Exception as error:  # noqa: BLE001 - whatever the data does, the user gets one line
        st.session_state.pop(RESULT_KEY, None)
        st.session_state.pop(CELL_KEY, None)
        bar.empty()
        if isinstance(error, (ArchiveError, DatasetError, ImageDecodeError)):  # written for the user: no server path
            message = " ".join(str(error).split())
        else:  # anything else: its kind only; the details go to the server's debug log, without image data
            LOG.debug("Your data: evaluation failed", exc_info=True)
            message = f"These images could not be evaluated ({type(error).__name__})."
        st.error(message, icon=":material/error:")
        st.stop()
    bar.empty()
    st.session_state[RESULT_KEY] = report
    st.session_state.pop(CELL_KEY, None)  # a cell of the previous report
    st.session_state[INPUT_KEY] = input_identity(source, image_kind)


def input_identity(source, image_kind: str):
    """What the results were made from: an upload (its id), zip bytes (their digest) or a folder, and the
    kind of images; a new input has another identity, so no old result is shown under it."""
    import hashlib

    if source is None:
        return None
    if isinstance(source, bytes):
        return ("bytes", len(source), hashlib.blake2b(source, digest_size=16).hexdigest(), image_kind)
    if isinstance(source, str):
        return ("folder", source, image_kind)
    return ("upload", getattr(source, "file_id", None), getattr(source, "name", None),
            getattr(source, "size", None), image_kind)


def fresh_report(source, image_kind: str) -> labelled.Report | None:
    """The stored report when it was made from this input; otherwise it is dropped (never shown stale)."""
    if st.session_state.get(INPUT_KEY) != input_identity(source, image_kind):
        for stale in (RESULT_KEY, INPUT_KEY, CELL_KEY):  # nothing of the old input is shown under the new one
            st.session_state.pop(stale, None)
    return st.session_state.get(RESULT_KEY)


def choose_metadata() -> bytes | None:
    """An optional metadata CSV (read in memory): file name, then any columns to slice the scores by."""
    upload = st.file_uploader("Optional: a metadata CSV to slice the scores by", type=["csv"], key="data_metadata",
                              max_upload_size=5,
                              help="First column: the image's file name (or its path inside the zip); then any "
                                   "columns, e.g. subject, group, age band, lighting, posed/spontaneous. Each value "
                                   "of each column is a slice.")
    data = upload.getvalue() if upload is not None else None
    return st.session_state.get("data_metadata_bytes", data)  # tests put the CSV's bytes here


def slice_scores(report: labelled.Report, metadata: bytes | None) -> dict | None:
    """Every model's scores per slice of the metadata (None without one; a bad CSV said in one line)."""
    from core.evaluation.slices import MetadataError, read_metadata, slice_metrics

    if metadata is None:
        return None
    try:
        table = read_metadata(metadata)
    except MetadataError as error:
        st.error(str(error), icon=":material/error:")
        return None
    return slice_metrics({n: r.predictions for n, r in report.results.items()}, table,
                         {n: r.metrics["labels"] for n, r in report.results.items()})


def show_slices(slices: dict | None) -> None:
    table = significance.slices_table(slices)
    if slices is None:
        return
    st.subheader("Slices of your metadata")
    if table is None:
        st.warning("No image matched a row of the metadata CSV (first column: the file name).")
        return
    st.dataframe(table, hide_index=True, key="data-slices",
                 column_config={"accuracy": st.column_config.NumberColumn(format="%.1f%%"),
                                "macro F1": st.column_config.NumberColumn(format="%.3f"),
                                "p (Holm)": st.column_config.NumberColumn(format="%.2g")})
    st.caption(significance.slices_caption(slices))


# --------------------------------------------------------------------------- what was read


def what_was_read(report: labelled.Report) -> None:
    dataset = report.dataset
    st.subheader(f"{len(dataset.records)} images of {dataset.name} ({dataset.layout} layout)")
    counts = pd.DataFrame([{"emotion": label, "images": n} for label, n in dataset.class_counts().items()])
    st.dataframe(counts.set_index("emotion").T, key="data-class-counts")
    if report.notes:
        st.markdown("**Notes**  \n" + "  \n".join(f"• {note}" for note in report.notes))
    if getattr(dataset, "no_face", None):
        with st.expander(f"Photos with no face found ({len(dataset.no_face)})"):
            st.write(dataset.no_face)


# --------------------------------------------------------------------------- figures

HEADLINE_COLUMNS = ("model", "accuracy", "accuracy 95% CI", "always the commonest", "chance", "macro F1", "macro F1 95% CI",
                    "classes absent", "weighted F1", "images", "left out", "images / s")


def figures(report: labelled.Report, slices: dict | None = None) -> None:
    """The evaluation report of every model on these images, as the Evaluation page draws it; the
    download holds the same figures (slices included)."""
    scores = [ModelScores(name=name, metrics=r.metrics) for name, r in report.results.items()]
    st.subheader("Headline numbers")
    report_view.show(scores, key="data", sections=("metrics", "headline"), columns=HEADLINE_COLUMNS,
                     images="images with an emotion it knows")
    st.download_button("Download the results (zip: <model>/metrics.json, <model>/predictions.csv)",
                       data=labelled.results_zip(report.results, slices), file_name=f"{report.dataset.name}-evaluation.zip",
                       mime="application/zip", key="data-download", icon=":material/download:")
    slice_table = significance.slices_table(slices)
    report_download.uploaded(report, extra=[("Slices of your metadata", slice_table, significance.slices_caption(slices))]
                             if slice_table is not None else [])
    report_view.show(scores, key="data", sections=("significance",))
    show_slices(slices)
    report_view.show(scores, key="data", sections=("confusion",),
                     on_cell=lambda score, true, predicted: st.session_state.update({CELL_KEY: (score.name, true,
                                                                                                  predicted)}))
    cell = st.session_state.get(CELL_KEY)
    if cell is not None and cell[0] in report.results:
        cell_links.faces(report, *cell)
    report_view.show(scores, key="data", sections=("per_class", "calibration"))


# --------------------------------------------------------------------------- mistakes


def mistakes_gallery(report: labelled.Report) -> None:
    results = report.results
    label = {name: r.display_name for name, r in results.items()}
    st.subheader("Mistakes on your images")
    model = st.selectbox("Model", list(results), format_func=lambda n: label[n], key="data_mistakes_model")
    wrong = labelled.mistakes(results[model], GALLERY_SIZE)
    if wrong.empty:
        st.success("No mistakes: every image was classified correctly.")
        return
    st.caption(f"The {len(wrong)} most confident mistakes of {label[model]} "
               f"({int((results[model].predictions['true'] != results[model].predictions['predicted']).sum())} "
               f"in all).")
    dataset = report.faces_for(model)  # detected faces as this model saw them
    records = {r.rel_path: r for r in dataset.records}
    grid = st.columns(6)
    for i, row in enumerate(wrong.itertuples(index=False)):
        with grid[i % 6]:
            st.image(dataset.read(records[row.path], grayscale=False), channels="BGR", width="stretch")
            st.caption(f"true **{row.true}**, predicted **{row.predicted}** ({row.confidence:.0%})")


# --------------------------------------------------------------------------- cross-dataset


def compared_with_fer2013(results: dict) -> None:
    st.subheader("Compared with FER2013")
    if not st.toggle("Compare with the models' FER2013 test figures", key="data_compare"):
        return
    reference = fer2013_reference(set(results))
    rows = labelled.comparison_rows(results, reference)
    frame = pd.DataFrame(rows)
    frame["accuracy"] = pd.to_numeric(frame["accuracy"], errors="coerce") * 100
    st.dataframe(frame, hide_index=True, key="data-cross-dataset",
                 column_config={"accuracy": st.column_config.NumberColumn(format="%.1f%%"),
                                "macro F1": st.column_config.NumberColumn(format="%.3f")})
    if not reference:
        st.caption("No stored FER2013 evaluations for these models yet (`make evaluate-all`).")
    if "fer_minixception" in results:
        st.caption("fer mini-Xception was trained on FER2013; whether its training saw the test splits is unknown, "
                   "so its FER2013 figures may be optimistic.")


@runtime.page
def main() -> None:
    st.title("Your data: how the models score on your own labelled faces")
    source, name, image_kind = choose_source()
    metadata = choose_metadata()
    classifiers, unavailable = ready_models()
    if unavailable:
        st.caption("Not evaluated (not ready here): " + "; ".join(f"**{charts.display_name(n)}** — {without_server_paths(why)}"
                                                                   for n, why in unavailable.items()))
    if not classifiers:
        st.error("No model is ready here: run `python -m core models` to see why.")
        return
    if st.button(f"Evaluate {len(classifiers)} model{'s' if len(classifiers) != 1 else ''}", type="primary",
                 key="data_run", disabled=not source):
        evaluate(classifiers, source, name, image_kind)
    report = fresh_report(source, image_kind)
    if report is None:
        return
    what_was_read(report)
    if not report.results:
        st.error("No model could be scored on these images (see the notes).")
        return
    figures(report, slice_scores(report, metadata))
    mistakes_gallery(report)
    audit_view.upload_audit(report.results, report.dataset)
    compared_with_fer2013(report.results)


main()
