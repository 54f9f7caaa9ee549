"""Compare: every face in the user's photos, judged by our CNN and by DeepFace, side by side.

Photos (uploads, webcam snapshots, the example) stay in memory: they are decoded from the bytes
Streamlit holds, analysed, and kept only in this session's state; nothing is written or logged.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from core.analysis.pipeline import AnalysisOptions
from core.media.images import FILE_TYPES, MAX_PIXELS, example_photo
from core.models.registry import cnn_folder
from core.presentation import charts, tables
from core.presentation.photos import LruCache, analyse_photo, payload_digest
from pages.common import cnn_progress_note, load_models

CACHE_KEY = "_compare_results"
CACHE_SIZE = 24  # analysed photos kept per session (memory only)
EXAMPLE_NAME = "example: astronaut (skimage.data.astronaut)"

st.title("Compare the CNN and DeepFace")
st.caption("Upload photos, snap one with your webcam or try the example: every face is boxed and numbered, "
           "and both models' emotion probabilities are shown side by side.")

models = load_models()
for name, reason in models.unavailable.items():
    if name == "cnn":
        only = ", so only DeepFace is shown" if "deepface" in models.described else ""
        st.warning(f"**Our CNN is unavailable{only}.** {reason}", icon=":material/warning:")
        note = cnn_progress_note(cnn_folder())
        if note:
            st.caption(note)
    else:
        only = ", so only the CNN is shown" if "cnn" in models.described else ""
        st.info(f"**DeepFace is unavailable{only}.** {reason}", icon=":material/info:")
if models.analyzer is None:
    st.error("No model could be loaded, so photos cannot be analysed yet (see above for what to do).")
    st.stop()
loaded = list(models.described)

# --------------------------------------------------------------------------- options

with st.sidebar:
    st.subheader("Analysis options")
    deepface_mode = st.radio(
        "DeepFace sees", ["crops", "full"], key="opt_deepface_mode", disabled="deepface" not in loaded,
        format_func={"crops": "our face crops (both judge the same faces)",
                     "full": "the whole photo, with its own detector"}.get,
        help="Crops: DeepFace classifies the faces our detector found, so the comparison is like for like. "
             "Whole photo: DeepFace runs as it ships (OpenCV detector and alignment); its boxes are drawn in "
             "orange and matched to ours by overlap.")
    no_face = st.radio("When no face is found", ["report", "whole_image"], key="opt_no_face",
                       format_func={"report": "say so", "whole_image": "classify the whole image"}.get)
    min_face = st.slider("Minimum face size (pixels)", 20, 400, 40, step=10, key="opt_min_face",
                         help="Faces smaller than this (in the full-resolution photo) are ignored. Lower it for "
                              "group photos; raise it to skip background faces and false detections.")
options = AnalysisOptions(no_face=no_face, deepface_mode=deepface_mode if "deepface" in loaded else "crops",
                          min_face_size=int(min_face))

# --------------------------------------------------------------------------- inputs

uploads = st.file_uploader(
    "Upload photos", type=list(FILE_TYPES), accept_multiple_files=True, key="uploads",
    help=f"JPEG, PNG, WebP, BMP, TIFF or GIF; up to {st.get_option('server.maxUploadSize')} MB and "
         f"{MAX_PIXELS // 1_000_000} megapixels each.")
inputs_row = st.container(horizontal=True, vertical_alignment="center", gap="medium")
with inputs_row:
    use_webcam = st.toggle("Use the webcam", key="use_webcam",
                           help="Your browser asks for permission first. The snapshot stays in memory.")


def _set_example(show: bool) -> None:
    st.session_state["show_example"] = show


with inputs_row:
    if st.session_state.get("show_example"):
        st.button("Remove the example photo", key="remove_example", icon=":material/close:",
                  on_click=_set_example, args=(False,))
    else:
        st.button("Try the example photo", key="example_button", icon=":material/image:",
                  on_click=_set_example, args=(True,),
                  help="skimage.data.astronaut(): a public-domain portrait of Eileen Collins.")
snapshot = st.camera_input("Snap a picture", key="webcam") if use_webcam else None
st.caption(":material/lock: Photos stay in this session's memory: they are never written to disk or logged, "
           "and are gone when you close the tab.")


@st.cache_data(show_spinner=False)
def _example() -> np.ndarray:
    return example_photo()


photos: list[tuple[str, object]] = []  # (name, bytes or BGR array)
if st.session_state.get("show_example"):
    photos.append((EXAMPLE_NAME, _example()))
seen: dict[str, int] = {}
for upload in uploads or []:
    name = upload.name
    seen[name] = seen.get(name, 0) + 1
    photos.append((name if seen[name] == 1 else f"{name} ({seen[name]})", upload.getvalue()))
if snapshot is not None:
    photos.append(("webcam snapshot.jpg", snapshot.getvalue()))

if not photos:
    st.info("Add a photo to start: upload one or more, switch on the webcam, or try the example photo.",
            icon=":material/add_photo_alternate:")
    st.stop()

# --------------------------------------------------------------------------- analysis


cache: LruCache = st.session_state.setdefault(CACHE_KEY, LruCache(CACHE_SIZE))
option_key = (options.no_face, options.deepface_mode, options.min_face_size, id(models.analyzer))
entries = []
pending = []
failures: dict = {}
for name, payload in photos:
    key = (name, payload_digest(payload), option_key)
    entries.append((name, key))
    if key not in cache:
        pending.append((name, payload, key))
if pending:
    progress = st.progress(0.0, text="Analysing…") if len(pending) > 1 else None
    with st.spinner(f"Analysing {len(pending)} photo{'s' if len(pending) > 1 else ''}…"):
        for i, (name, payload, key) in enumerate(pending):
            try:
                cache[key] = analyse_photo(models.analyzer, name, payload, options)
            except Exception as exc:  # one photo's failure must not hide the others' results (not cached)
                reason = f"analysis failed ({type(exc).__name__}: {' '.join(str(exc).split())})"
                failures[key] = {"error": f"{name}: {reason}", "reason": reason}
            if progress:
                progress.progress((i + 1) / len(pending), text=f"Analysed {i + 1} of {len(pending)}")
    if progress:
        progress.empty()
cache.touch(key for _, key in entries)

analysed = [(name, cache[key] if key in cache else failures[key]) for name, key in entries]
good = [(name, entry) for name, entry in analysed if "result" in entry]
for _, entry in analysed:
    if "error" in entry:
        st.error(entry["error"], icon=":material/broken_image:")

# --------------------------------------------------------------------------- summary and downloads

results = [entry["result"] if "result" in entry else {"image": name, "error": entry["reason"]}
           for name, entry in analysed]
if good:
    n_faces = sum(len(entry["result"]["faces"]) for _, entry in good)
    if len(analysed) > 1:
        st.subheader("Summary")
        summary = tables.summary_table(results, loaded)
        if not summary["note"].astype(bool).any():
            summary = summary.drop(columns="note")
        st.dataframe(summary, hide_index=True, key="summary_table")
    results_row = st.container(horizontal=True, vertical_alignment="center", gap="small")
    results_row.markdown(f"**{len(good)} photo{'s' if len(good) != 1 else ''} analysed, "
                         f"{n_faces} face{'s' if n_faces != 1 else ''} in all.**", width="content")
    results_row.space("stretch")
    results_row.caption("Download the results:", width="content")
    results_row.download_button("CSV", tables.results_csv(results, models.labels or None),
                                file_name="emotion_results.csv", mime="text/csv", on_click="ignore",
                                icon=":material/download:", key="download_csv",
                                help="One row per face: box, both models' emotion, confidence, time and "
                                     "probabilities (emotion_results.csv).")
    results_row.download_button("JSON", tables.results_json(results, models.described, models.unavailable),
                                file_name="emotion_results.json", mime="application/json", on_click="ignore",
                                icon=":material/download:", key="download_json",
                                help="The full results in the format of `python -m core predict --json` "
                                     "(emotion_results.json).")

# --------------------------------------------------------------------------- per photo


def _ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def show_face(photo_index: int, face: dict, crop: np.ndarray) -> None:
    """One card per face: the crop, both models' probabilities in one chart, and each model's verdict."""
    source_note = {"whole_image": " — no face was found, so the whole image was classified",
                   "deepface_detector": " — found by DeepFace's detector only"}.get(face["source"], "")
    predictions = face["models"]
    with st.container(border=True):
        header = st.container(horizontal=True, vertical_alignment="center")
        header.markdown(f"**Face {face['face']}**{source_note}", width="content")
        header.space("stretch")
        with header:
            if face["agree"] is True:
                st.markdown(f":green-badge[:material/check: Models agree: "
                            f"{next(iter(predictions.values()))['dominant_emotion']}]", width="content")
            elif face["agree"] is False:
                st.markdown(":orange-badge[:material/compare_arrows: Models disagree]", width="content")
            elif len(loaded) < 2:
                st.caption("One model loaded: no comparison.", width="content")
            else:
                st.caption("Only one model judged this face.", width="content")
        pic, chart, verdicts = st.columns([1.1, 4, 1.9], vertical_alignment="center", gap="medium")
        region = face["region"]
        pic.image(crop, caption=f"{region['w']}×{region['h']} px", width="stretch")
        if predictions:
            chart.plotly_chart(charts.probability_bars({m: p["emotion"] for m, p in predictions.items()},
                                                       list(models.labels) or None, height=250),
                               key=f"bars-{photo_index}-{face['face']}", config={"displayModeBar": False})
        else:
            chart.warning("No model judged this face (see the errors above).")
        with verdicts:
            for model in loaded:
                prediction = predictions.get(model)
                name = charts.display_name(model)
                if prediction is None:
                    why = ("DeepFace's detector found no face here"
                           if model == "deepface" and options.deepface_mode == "full" else "no result")
                    st.metric(name, "—", help=why)
                    st.caption(why)
                    continue
                st.metric(name, prediction["dominant_emotion"],
                          help=f"{name}'s most probable emotion for face {face['face']} "
                               f"(box at x {region['x']}, y {region['y']} in the photo)")
                st.caption(f"confidence {prediction['confidence']:.1%} · {_ms(prediction['time_ms'])}", wrap=False)


PHOTO_MAX_HEIGHT = 520  # px on screen: a landscape photo spans the page, a portrait one stays in view


for index, (name, entry) in enumerate(good):
    result = entry["result"]
    faces = result["faces"]
    found = [f for f in faces if f["source"] != "whole_image"]
    with st.expander(f"{name} — {len(found)} face{'s' if len(found) != 1 else ''}", expanded=len(good) <= 3,
                     icon=":material/photo:"):
        timings = result["timings_ms"]
        parts = [f"{result['width']}×{result['height']} px"]
        parts += [f"decoding {timings['decode']:.0f} ms"] if "decode" in timings else []
        parts += [f"detection {timings.get('detect', 0):.0f} ms"]
        parts += [f"{charts.display_name(m)} {timings[m]:.0f} ms" for m in loaded if m in timings]
        parts.append(f"total {timings.get('total', 0):.0f} ms")
        st.caption(" · ".join(parts))
        for model, message in result["model_errors"].items():
            st.error(f"{charts.display_name(model)} failed on this photo: {message}")
        if result["no_face_found"]:
            advice = (f"No face found (minimum face size {options.min_face_size} px; in a photo this size the "
                      f"smallest face the detector can find is {entry['smallest_findable']} px). The Haar detector "
                      f"finds frontal faces only: profiles, strong tilts and covered faces are missed.")
            if options.no_face == "whole_image":
                st.info(advice + " The whole image was classified instead.", icon=":material/crop_free:")
            else:
                st.warning(advice + " Try a smaller minimum face size, or choose “classify the whole image” in the "
                                    "sidebar.", icon=":material/face_retouching_off:")
        height, width = entry["annotated"].shape[:2]
        shown_width = round(PHOTO_MAX_HEIGHT * width / max(height, 1))
        caption = (f"{name}: faces numbered largest first (green boxes: our detector"
                   + ("; orange: DeepFace's own detector" if options.deepface_mode == "full" else "") + ")"
                   if found else name)
        # A wide photo fills the card; a tall one is capped at PHOTO_MAX_HEIGHT (never upscaled past its pixels).
        st.image(entry["annotated"], caption=caption, width=min(shown_width, width) if shown_width < 800 else "stretch")
        for face, crop in zip(faces, entry["crops"]):
            show_face(index, face, crop)
