"""Video files: emotions over time for every face, from an uploaded clip decoded in memory.

The upload is read by PyAV from the bytes Streamlit holds (core.media.video); no frame or file is
written to disk or logged. Results stay in this session's memory.
"""
from __future__ import annotations

import hashlib
import logging

import streamlit as st

from core.analysis.pipeline import AnalysisOptions
from core.analysis.video import STRONG_MOMENT_PERCENT, analyse_video
from core.faces import catalogue
from core.media import video as media
from core.presentation.charts import display_name
from core.presentation.timelines import moments_table, timelines
from pages import runtime
from pages.common import models_or_stop

RESULT_KEY = "_video_result"
MAX_MB = media.MAX_BYTES // 2**20
MAX_MIN = media.MAX_DURATION_S / 60

def sidebar() -> tuple[int, str, int, int]:
    """Frames sampled per second, the face detector, the smallest face and the most frames, from the sidebar."""
    with st.sidebar:
        st.subheader("Video options")
        rate = st.select_slider("Frames sampled per second", [1, 2, 5, 10, 15, 30], value=5, key="video_rate",
                                help="5 a second follows expressions well; more costs proportionally more time.")
        detector = st.selectbox("Face detector", catalogue.DETECTOR_NAMES,
                                index=catalogue.DETECTOR_NAMES.index(catalogue.DEFAULT_DETECTOR), key="video_detector",
                                format_func=catalogue.title, help=catalogue.help_text())
        min_face = st.slider("Minimum face size (pixels)", 20, 400, 40, step=10, key="video_min_face")
        max_frames = st.number_input("At most this many sampled frames", 10, media.MAX_FRAMES, media.MAX_FRAMES,
                                     step=100, key="video_max_frames")
    return rate, detector, int(min_face), int(max_frames)


def analysed(models, data: bytes, rate: int, detector: str, min_face: int, max_frames: int):
    """The video's analysis, kept in this session for the same video and settings (None when it cannot be
    decoded, after saying why)."""
    options = AnalysisOptions(detector=detector, min_face_size=min_face)
    key = (hashlib.sha256(data).hexdigest(), rate, detector, min_face, max_frames, tuple(models.described))
    cached = st.session_state.get(RESULT_KEY)
    if cached is not None and cached[0] == key:
        return cached[1]
    bar = st.progress(0.0, text="Reading the video…")

    def report(done: int, expected: int) -> None:
        bar.progress(min(done / expected, 1.0), text=f"Analysed {done} of about {expected} sampled frames")

    try:
        result = analyse_video(data, models.analyzer, options, every_seconds=1.0 / rate, max_frames=max_frames,
                               progress=report)
    except media.VideoDecodeError as error:
        bar.empty()
        st.error(f"This video cannot be analysed: {error}.")
        return None
    except Exception as error:  # noqa: BLE001 - whatever the file does, the user gets one line
        logging.getLogger(__name__).debug("Video files: analysis failed", exc_info=True)
        bar.empty()
        st.error(f"This video cannot be analysed ({type(error).__name__}).")
        return None
    bar.empty()
    st.session_state[RESULT_KEY] = (key, result)
    return result


def what_was_analysed(result, rate: int) -> None:
    """The video's facts, and what was left out or failed."""
    info = result.info
    st.caption(f"{info.container}, {info.codec}, {info.width}x{info.height}, {info.fps:g} fps, "
               f"{info.duration_s:.1f} s · {result.frames_sampled} frames sampled ({rate} a second), "
               f"{len(result.faces)} face(s) tracked ({result.shot_cuts} shot cut(s); a track never continues across one), "
               f"detector {catalogue.title(result.detector)}.")
    if result.stopped_at_max_frames:
        st.warning(f"Sampling stopped at {result.max_frames} frames (the limit): the end of the video was not "
                   "analysed. Lower the sampling rate or raise the limit in the sidebar.", icon=":material/warning:")
    for model, count in result.frame_failures.items():
        st.error(f"{model} failed on {count} of {result.frames_sampled} frames (first error: "
                 f"{result.failure_examples.get(model, '?')}).")
    if result.frames_without_face:
        st.caption(f"No face found in {result.frames_without_face} of {result.frames_sampled} sampled frames.")


def timelines_and_moments(result) -> None:
    st.subheader("Emotions over time")
    figures = timelines(result.rows, result.labels, x_title="seconds into the video")
    columns = st.columns(min(2, len(figures)))
    for i, (_caption, figure) in enumerate(figures):
        columns[i % len(columns)].plotly_chart(figure, width="stretch", key=f"video_chart_{i}")
    st.subheader("Faces tracked")
    st.dataframe(result.tracks(), hide_index=True)
    st.caption("One row per track and model: when it was seen, for how long, its mean probabilities (percent) and "
               "the emotion of the highest mean.")
    st.subheader("Strongest moment of each emotion")
    st.caption(f"Only moments where a model's probability reached {STRONG_MOMENT_PERCENT:.0f}%.")
    for model in result.models:
        moments = {k: m for k, m in result.moments.items() if k[0] == model}
        st.markdown(f"**{display_name(model)}**")
        if not moments:
            st.caption("No strong moment.")
            continue
        weak = [label for label in result.labels if (model, label) not in moments]
        if weak:
            st.caption(f"No strong moment for {', '.join(weak)}.")
        tiles = st.columns(len(moments))
        for tile, moment in zip(tiles, moments.values()):
            tile.image(moment.thumbnail, caption=f"{moment.emotion} {moment.percent:.0f}% · {moment.time_s:.1f} s · "
                                                 f"face {moment.face}", width="stretch")
    with st.expander("As a table"):
        st.dataframe(moments_table(result.moments), hide_index=True)


def downloads(result) -> None:
    row = st.container(horizontal=True)
    row.download_button("Download CSV", result.csv_text(), file_name="video-emotions.csv", mime="text/csv",
                        icon=":material/download:")
    row.download_button("Download JSON", result.to_json(), file_name="video-emotions.json",
                        mime="application/json", icon=":material/download:")
    row.download_button("Download tracks CSV", result.tracks_csv_text(), file_name="video-tracks.csv",
                        mime="text/csv", icon=":material/download:")
    st.caption("One row per sampled frame, face and model; probabilities in percent (p_<emotion> columns). The JSON "
               "and the tracks CSV also hold one summary per track and model.")


@runtime.page
def main() -> None:
    st.title("Video files")
    st.caption(f"Upload a clip (mp4, mov, webm, avi or mkv; up to {MAX_MB} MB and {MAX_MIN:.0f} minutes): frames "
               "are sampled at the rate you choose, every face is classified by every model, and you get a timeline "
               "of each emotion per model and face, the strongest moment of each emotion and CSV/JSON downloads. "
               "The video is decoded in memory and never saved.")
    models = models_or_stop("videos")
    rate, detector, min_face, max_frames = sidebar()
    upload = st.file_uploader("Upload a video", type=list(media.FILE_TYPES), key="video_upload",
                              max_upload_size=MAX_MB, help=f"Up to {MAX_MB} MB and {MAX_MIN:.0f} minutes.")
    if upload is None:
        st.session_state.pop(RESULT_KEY, None)
        return
    result = analysed(models, upload.getvalue(), rate, detector, min_face, max_frames)
    if result is None:
        return
    what_was_analysed(result, rate)
    if not result.rows:
        st.info("No face was found in the sampled frames. Try another detector or a lower minimum face size.")
        return
    timelines_and_moments(result)
    downloads(result)


main()
