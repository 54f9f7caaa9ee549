"""Compare: every face in the user's photos, judged by every model chosen, side by side, with a
Grad-CAM heat map per model that shows what drove each answer.

Photos (uploads, webcam snapshots, the example) stay in memory: they are kept in this session's
state (so they survive a switch to another page) until "Remove all" or the end of the session;
nothing is written or logged. The work is done in ``core``; this page only lays it out.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from core.analysis.pipeline import AnalysisOptions
from core.faces import catalogue
from core.media.images import example_photo
from core.models import registry
from core.presentation import charts, tables
from core.presentation.annotate import png_bytes
from core.presentation.photos import (
    LruCache,
    analyse_photo,
    intake_problem,
    no_face_advice,
    payload_digest,
    small_face_note,
    upload_help,
)
from core.presentation.places import without_server_paths
from pages import runtime, whatif
from pages.common import load_model_set, ready_models, session_added, session_gradcam

CACHE_KEY = "_compare_results"
PHOTOS_KEY = "_compare_photos"  # {name: bytes}, this session's photos, in memory only
REFUSED_KEY = "_compare_refused"  # {name: reason}, files refused when they were added
HEATMAPS_KEY = "_compare_heatmaps"
CACHE_SIZE = 24  # analysed photos kept per session (memory only)
EXAMPLE_NAME = "example: astronaut (skimage.data.astronaut)"
PHOTO_MAX_HEIGHT = 520  # px on screen: a landscape photo spans the page, a portrait one stays in view


# --------------------------------------------------------------------------- options


def sidebar() -> tuple[list[str], AnalysisOptions, str | None, bool]:
    """The chosen models, the analysis options, the heat maps' emotion (None: each model's answer)
    and whether heat maps are shown."""
    ready = ready_models()
    with st.sidebar:
        st.subheader("Models")
        chosen = st.multiselect("Models to compare", list(ready), default=list(ready), format_func=ready.get,
                                key="opt_models", help="Every model that is ready on this machine.")
        calibrated = st.toggle("Calibrated probabilities", value=True, key="opt_calibrated",
                               help="Apply each model's fitted temperature (from its model.json), so that "
                                    "“80% happy” is right about 80% of the time. Models without one are shown "
                                    "unchanged. Recorded in the downloads.")
        st.subheader("Faces")
        detector = st.selectbox("Face detector", catalogue.DETECTOR_NAMES,
                                index=catalogue.DETECTOR_NAMES.index(catalogue.DEFAULT_DETECTOR),
                                format_func=catalogue.title, key="opt_detector", help=catalogue.help_text())
        face_crops = st.checkbox("Each image is one face crop", key="opt_face_crops",
                                 help="Classify every image whole, without looking for faces (like FER2013's "
                                      "48×48 crops). Images up to 96 px are always taken as face crops.")
        no_face = st.radio("When no face is found", ["report", "whole_image"], key="opt_no_face",
                           format_func={"report": "say so", "whole_image": "classify the whole image"}.get)
        min_face = st.slider("Minimum face size (pixels)", 20, 400, 40, step=10, key="opt_min_face",
                             help="Faces smaller than this (in the full-resolution photo) are ignored.")
        own = [spec.title for spec in map(registry.describe, chosen) if spec.full_photo]
        deepface_mode = st.radio(
            f"{' and '.join(own) or 'Models with their own detector'} see{'s' if len(own) == 1 else ''}",
            ["crops", "full"], key="opt_deepface_mode", disabled=not own,
            format_func={"crops": "our face crops", "full": "the whole photo, with its own detector"}.get,
            help="Crops: the model classifies the faces our detector found (like for like). Whole photo: it runs "
                 "as it ships, with its own detector and alignment; its boxes are drawn in its colour and matched "
                 "to ours by overlap.")
        st.subheader("Heat maps")
        show_maps = st.toggle("Show Grad-CAM heat maps", value=True, key="opt_heatmaps",
                              help="Under each face, one map per model: bright where the face drove its answer.")
        emotion = st.selectbox("Heat maps for", ["(each model's answer)", *tables_labels()], key="opt_heat_emotion",
                               disabled=not show_maps)
    options = AnalysisOptions(no_face=no_face, deepface_mode=deepface_mode if own else "crops",
                              min_face_size=int(min_face), detector=detector, calibrated=calibrated,
                              face_crops=face_crops)
    return chosen, options, None if emotion.startswith("(") else emotion, show_maps


def tables_labels() -> list[str]:
    from core.labels import FER2013_LABELS

    return list(FER2013_LABELS)


# --------------------------------------------------------------------------- this session's photos


def _add(name: str, data: bytes, refused: dict) -> None:
    photos = st.session_state.setdefault(PHOTOS_KEY, {})
    base, n = name, 1
    while name in photos and photos[name] != data:
        n += 1
        name = f"{base} ({n})"
    if name in photos:
        return
    problem = intake_problem(name, len(data), len(photos))
    if problem:
        refused[name] = problem
    else:
        photos[name] = data


def _take_uploads(key: str) -> None:
    """Move the uploader's files into this session's photos, then empty the uploader. The files refused
    (type, size, the per-session cap) are listed until the next upload, beside those accepted."""
    refused: dict[str, str] = {}
    for upload in st.session_state.get(key) or []:
        _add(upload.name, upload.getvalue(), refused)
    st.session_state[REFUSED_KEY] = refused
    st.session_state["_uploader_round"] = st.session_state.get("_uploader_round", 0) + 1


def _take_snapshot() -> None:
    snapshot = st.session_state.get("webcam")
    if snapshot is not None:
        photos = st.session_state.setdefault(PHOTOS_KEY, {})
        refused: dict[str, str] = {}
        _add(f"webcam snapshot {sum(n.startswith('webcam') for n in photos) + 1}.jpg", snapshot.getvalue(), refused)
        st.session_state[REFUSED_KEY] = refused


def _remove_all() -> None:
    for key in (PHOTOS_KEY, CACHE_KEY, HEATMAPS_KEY, REFUSED_KEY):
        st.session_state.pop(key, None)
    st.session_state["show_example"] = False


@st.cache_data(show_spinner=False)
def _example() -> np.ndarray:
    return example_photo()


def inputs() -> list[tuple[str, object]]:
    """The uploader, webcam and example controls; returns this session's photos (name, bytes or BGR)."""
    key = f"uploads_{st.session_state.get('_uploader_round', 0)}"
    # Any file is taken, so that a refused one is listed with its reason (a type or size the browser
    # refuses itself would vanish when the uploader is emptied); intake_problem applies the limits.
    st.file_uploader("Upload photos", accept_multiple_files=True, key=key, on_change=_take_uploads, args=(key,),
                     help=upload_help())
    for name, reason in st.session_state.get(REFUSED_KEY, {}).items():
        st.error(f"**{name}** was refused: {reason}", icon=":material/block:")
    row = st.container(horizontal=True, vertical_alignment="center", gap="medium")
    use_webcam = row.toggle("Use the webcam", key="use_webcam",
                            help="Your browser asks for permission first. The snapshot stays in memory.")
    if st.session_state.get("show_example"):
        row.button("Remove the example photo", key="remove_example", icon=":material/close:",
                   on_click=lambda: st.session_state.update(show_example=False))
    else:
        row.button("Try the example photo", key="example_button", icon=":material/image:",
                   on_click=lambda: st.session_state.update(show_example=True),
                   help="skimage.data.astronaut(): a public-domain portrait of Eileen Collins.")
    stored = st.session_state.get(PHOTOS_KEY, {})
    if stored or st.session_state.get("show_example"):
        row.button("Remove all", key="remove_all", icon=":material/delete:", on_click=_remove_all,
                   help="Forget every photo and result of this session now.")
    if use_webcam:
        st.camera_input("Snap a picture", key="webcam", on_change=_take_snapshot)
    st.caption(":material/lock: Photos stay in this session's memory, across pages, until you press “Remove all” or "
               "the session ends (closing or reloading the tab): they are never written to disk or logged.")
    photos: list[tuple[str, object]] = [(EXAMPLE_NAME, _example())] if st.session_state.get("show_example") else []
    return photos + list(stored.items())


# --------------------------------------------------------------------------- analysis


def analyse(models, photos, options: AnalysisOptions) -> list[tuple[str, tuple, dict]]:
    """(name, cache key, entry) per photo, analysed once per content and options (kept in the session)."""
    cache: LruCache = st.session_state.setdefault(CACHE_KEY, LruCache(CACHE_SIZE))
    option_key = (options, tuple(models.analyzer.classifiers))
    keys = [(name, payload_digest(payload), option_key) for name, payload in photos]
    pending = [(name, payload, key) for (name, payload), key in zip(photos, keys) if key not in cache]
    failures = {}
    if pending:
        progress = st.progress(0.0, text="Analysing…") if len(pending) > 1 else None
        with st.spinner(f"Analysing {len(pending)} photo{'s' if len(pending) > 1 else ''}…"):
            for i, (name, payload, key) in enumerate(pending):
                try:
                    cache[key] = analyse_photo(models.analyzer, name, payload, options)
                except Exception as exc:  # noqa: BLE001 - one photo's failure must not hide the others
                    reason = f"analysis failed ({type(exc).__name__}: {' '.join(str(exc).split())})"
                    failures[key] = {"error": f"{name}: {reason}", "reason": reason}
                if progress:
                    progress.progress((i + 1) / len(pending), text=f"Analysed {i + 1} of {len(pending)}")
        if progress:
            progress.empty()
    cache.touch(keys)
    return [(name, key, cache[key] if key in cache else failures[key]) for (name, _), key in zip(photos, keys)]


# --------------------------------------------------------------------------- summary and downloads


def summary(models, analysed) -> None:
    loaded = list(models.analyzer.classifiers)
    results = [entry["result"] if "result" in entry else {"image": name, "error": entry["reason"]}
               for name, _, entry in analysed]
    for result in results:
        if "error" in result:
            st.error(f"**{result['image']}** was refused: {result['error']}", icon=":material/broken_image:")
    if len(results) > 1 or any("error" in r for r in results):
        st.subheader("Summary")
        table = tables.summary_table(results, loaded)
        if not table["note"].astype(bool).any():
            table = table.drop(columns="note")
        st.dataframe(table, hide_index=True, key="summary_table")
    row = st.container(horizontal=True, vertical_alignment="center", gap="small")
    row.markdown(f"**{tables.totals_text(results)}.**", width="content")
    row.space("stretch")
    row.caption("Download the results:", width="content")
    row.download_button("CSV", tables.results_csv(results, models.labels or None), file_name="emotion_results.csv",
                        mime="text/csv", on_click="ignore", icon=":material/download:", key="download_csv",
                        help="One row per face (or refused upload): box, each model's emotion, confidence and "
                             "probabilities in percent, the temperature applied, time.")
    payload = tables.results_json(results, models.described, models.unavailable)
    row.download_button("JSON", payload, file_name="emotion_results.json", mime="application/json",
                        on_click="ignore", icon=":material/download:", key="download_json",
                        help="The full results in the format of `python -m core predict --json`.")
    if len(loaded) < 2:
        st.caption(f"One model selected ({charts.display_name(loaded[0])}): choose more in the sidebar to compare.")


# --------------------------------------------------------------------------- heat maps


@st.cache_resource(show_spinner=False, max_entries=16)
def _gradcam(model: str, model_id: int, _classifier):
    """One GradCam per (model, layer), compiled once per process (tracing costs 0.15-0.6 s)."""
    from core.analysis.gradcam import GradCam

    explainer = _classifier.explainer()
    if explainer is None:
        return None
    return GradCam(explainer.model, preprocess=explainer.preprocess, letterbox=explainer.letterbox)


def heat_maps(models, photo_key: tuple, face: dict, crop: np.ndarray, emotion: str | None) -> None:
    """One Grad-CAM map per model, side by side, on one colour scale (each map's 0 to its maximum)."""
    from core.presentation.explain_figures import colorbar, overlay

    store = st.session_state.setdefault(HEATMAPS_KEY, LruCache(256))
    models_here = [m for m in face["models"] if m in models.analyzer.classifiers]
    columns = st.columns(max(len(models_here), 1) + 1, gap="small")
    for column, model in zip(columns, models_here):
        classifier = models.analyzer.classifiers[model]
        cam = session_gradcam(classifier) if model in session_added() else _gradcam(model, id(classifier), classifier)
        if cam is None:
            column.caption(f"{charts.display_name(model)}: no heat map for this model")
            continue
        target = emotion if emotion in classifier.labels else face["models"][model]["dominant_emotion"]
        key = (photo_key, face["face"], model, target)
        if key not in store:
            (explanation,) = cam.explain([crop], classifier.labels.index(target))
            store[key] = overlay(crop, explanation.heatmap)
        store.touch([key])
        column.image(store[key], width="stretch",
                     caption=f"{charts.display_name(model)} · {target} {face['models'][model]['emotion'][target]:.0f}%")
    with columns[-1]:
        st.image(colorbar(height=10, width=160), width="stretch")
        st.caption("low → high: where the face drove the answer (one scale for every model)")


# --------------------------------------------------------------------------- per photo


def _ms(value: float) -> str:
    return f"{value:.1f}\u00a0ms" if value < 100 else f"{value:.0f}\u00a0ms"  # never "156 / ms"


def show_face(models, photo_key: tuple, face: dict, crop: np.ndarray, explain_crop: np.ndarray,
              options: AnalysisOptions, heat_emotion: str | None, show_maps: bool) -> None:
    """One card per face: the crop, every model's probabilities in one chart, each model's verdict."""
    loaded = list(models.analyzer.classifiers)
    predictions = face["models"]
    with st.container(border=True):
        header = st.container(horizontal=True, vertical_alignment="center")
        note = tables.SOURCE_NOTES.get(face["source"])
        header.markdown(f"**Face {face['face']}**" + (f" — {note}" if note else ""), width="content")
        header.space("stretch")
        agreement = face.get("agreement")
        if agreement and agreement["emotion"] and agreement["votes"] == agreement["models"]:
            header.markdown(f":green-badge[:material/check: {tables.agreement_text(True, agreement)}]", width="content")
        elif agreement:
            header.markdown(f":orange-badge[:material/compare_arrows: {tables.agreement_text(False, agreement)}]",
                            width="content")
        pic, chart, verdicts = st.columns([1.1, 4, 1.9], vertical_alignment="center", gap="medium")
        region = face["region"]
        pic.image(crop, caption=f"{region['w']}×{region['h']} px", width="stretch")
        if predictions:
            chart.plotly_chart(charts.probability_bars({m: p["emotion"] for m, p in predictions.items()},
                                                       list(models.labels) or None, height=250),
                               key=f"bars-{hash(photo_key)}-{face['face']}", config={"displayModeBar": False})
        else:
            chart.warning("No model judged this face (see the errors above).")
        with verdicts:
            for model in loaded:
                prediction = predictions.get(model)
                name = charts.display_name(model)
                if prediction is None:
                    why = (f"{name}'s own detector found no face here"
                           if registry.describe(model).full_photo and options.deepface_mode == "full" else "no result")
                    st.metric(name, "—", help=why)
                    continue
                calibrated = " (calibrated)" if prediction.get("temperature") else ""
                st.metric(name, prediction["dominant_emotion"],
                          help=f"{name}'s most probable emotion for face {face['face']}{calibrated}")
                st.caption(f"confidence {prediction['confidence']:.0%}{calibrated} · {_ms(prediction['time_ms'])}")
        if show_maps and predictions:
            heat_maps(models, photo_key, face, explain_crop, heat_emotion)
        whatif.show(models, photo_key, face, explain_crop, options.calibrated)


def show_photo(models, index: int, name: str, photo_key: tuple, entry: dict, options: AnalysisOptions,
               heat_emotion: str | None, show_maps: bool) -> None:
    result = entry["result"]
    with st.expander(f"{name} — {tables.faces_text(result)}", expanded=index < 3, icon=":material/photo:"):
        timings = result["timings_ms"]
        parts = [f"{result['width']}×{result['height']} px"]
        parts += [f"decoding {timings['decode']:.0f} ms"] if "decode" in timings else []
        parts += [f"detection {timings['detect']:.0f} ms"] if "detect" in timings else []
        parts += [f"{charts.display_name(m)} {timings[m]:.0f} ms" for m in models.analyzer.classifiers if m in timings]
        parts.append(f"total {timings.get('total', 0):.0f} ms")
        st.caption(" · ".join(parts))
        for model, message in result["model_errors"].items():
            st.error(f"{charts.display_name(model)} failed on this photo: {message}")
        if result["no_face_found"]:
            advice = no_face_advice(result, entry["limits"], options)
            if options.no_face == "whole_image":
                st.info(advice + " The whole image was classified instead.", icon=":material/crop_free:")
            else:
                st.warning(advice, icon=":material/face_retouching_off:")
        elif note := small_face_note(result, entry["limits"], options):
            st.caption(f":material/info: {note}")
        height, width = entry["annotated"].shape[:2]
        shown_width = round(PHOTO_MAX_HEIGHT * width / max(height, 1))
        st.image(entry["annotated"], caption=f"{name}: faces numbered largest first, each model's answer on its tag",
                 width=min(shown_width, width) if shown_width < 800 else "stretch")
        stem = name.rsplit(".", 1)[0].replace("/", "_")[:80]
        st.download_button("Annotated photo (PNG)", png_bytes(entry["annotated"]), file_name=f"{stem}-annotated.png",
                           mime="image/png", on_click="ignore", icon=":material/download:", key=f"png-{hash(photo_key)}")
        for face, crop, explain_crop in zip(result["faces"], entry["crops"], entry["explain_crops"]):
            show_face(models, photo_key, face, crop, explain_crop, options, heat_emotion, show_maps)


# --------------------------------------------------------------------------- page


@runtime.page
def main() -> None:
    st.title("Compare emotion models")
    st.caption("Upload photos, snap one with your webcam or try the example: every face is boxed and numbered, "
               "and every model's emotion probabilities are shown side by side.")
    if not ready_models():
        for name, status in registry.available().items():
            st.warning(f"**{charts.display_name(name)} is unavailable.** {without_server_paths(status.reason)}",
                       icon=":material/warning:")
        st.error("No model could be loaded, so photos cannot be analysed yet (see above for what to do).")
        st.stop()
    chosen, options, heat_emotion, show_maps = sidebar()
    if not chosen:
        st.info("Choose at least one model in the sidebar.", icon=":material/tune:")
        st.stop()
    models = load_model_set(chosen)
    failed = dict(models.unavailable)  # chosen, ready, but would not load
    for name, status in registry.available().items():
        if not status.ready:
            models.unavailable.setdefault(name, without_server_paths(status.reason))  # in the JSON download too
            st.info(f"**{charts.display_name(name)} is unavailable here**, so it is not offered. {without_server_paths(status.reason)}",
                    icon=":material/info:")
    for name, reason in failed.items():
        st.warning(f"**{charts.display_name(name)} is unavailable.** {reason}", icon=":material/warning:")
    if models.analyzer is None:
        st.error("No model could be loaded, so photos cannot be analysed yet (see above for what to do).")
        st.stop()
    photos = inputs()
    if not photos:
        st.info("Add a photo to start: upload one or more, switch on the webcam, or try the example photo.",
                icon=":material/add_photo_alternate:")
        st.stop()
    analysed = analyse(models, photos, options)
    summary(models, analysed)
    good = [(name, key, entry) for name, key, entry in analysed if "result" in entry]
    for index, (name, key, entry) in enumerate(good):
        show_photo(models, index, name, key, entry, options, heat_emotion, show_maps)


main()
