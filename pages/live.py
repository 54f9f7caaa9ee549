"""Live: the webcam streamed through the models, every face boxed and labelled on every frame.

Frames travel over WebRTC (streamlit-webrtc) to this server, are processed in memory by
core.analysis.live.LiveProcessor and sent back drawn; nothing but numbers (time, face, model,
probabilities) is kept, and only in this session's memory. No frame is written or logged.
"""
from __future__ import annotations

import av
import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from core.analysis.live import HISTORY_S, LiveProcessor, ice_configuration
from core.faces import catalogue
from core.presentation.charts import display_name
from core.presentation.timelines import readout_table, timelines
from pages import runtime
from pages.common import models_or_stop


def sidebar() -> tuple[str, int, bool]:
    """The face detector, the smallest face and whether probabilities are calibrated, from the sidebar."""
    with st.sidebar:
        st.subheader("Live options")
        detector = st.selectbox("Face detector", catalogue.DETECTOR_NAMES,
                                index=catalogue.DETECTOR_NAMES.index(catalogue.LIVE_DETECTOR), key="live_detector",
                                format_func=catalogue.title, help=catalogue.help_text())
        min_face = st.slider("Minimum face size (pixels)", 20, 200, 40, step=10, key="live_min_face")
        calibrated = st.toggle("Calibrated probabilities", value=True, key="live_calibrated",
                               help="Apply each model's fitted temperature, as Compare does, so a frame reads as the "
                                    "same photo would there. Recorded in the CSV's header note.")
    return detector, int(min_face), calibrated


def session_processor(models, detector: str, min_face: int, calibrated: bool) -> LiveProcessor:
    """This session's processor, made anew (and the old one ended) when the settings change."""
    settings = (detector, min_face, calibrated, tuple(models.analyzer.classifiers))
    processor: LiveProcessor | None = st.session_state.get("live_processor")
    if processor is None or st.session_state.get("live_settings") != settings:
        if processor is not None:
            processor.end()
        # Slow models at most every 0.4 s: on a busy CPU they would otherwise take the time the fast ones need.
        processor = LiveProcessor(models.analyzer.classifiers, detector=detector, min_face_size=min_face,
                                  slow_every_s=0.4, calibrated=calibrated)
        st.session_state["live_processor"] = processor
        st.session_state["live_settings"] = settings
    return processor


def rtc_configuration() -> dict:
    try:
        return ice_configuration()
    except ValueError as error:
        st.error(f"{error}. Using no STUN/TURN server (works on this machine and the local network only).")
        return {"iceServers": []}


def frame_callback(processor: LiveProcessor):
    """streamlit-webrtc's callback for ``processor``."""

    async def on_frames(frames: list[av.VideoFrame]) -> list[av.VideoFrame]:
        """streamlit-webrtc's worker hands over every frame queued since the last call: they go into a
        buffer of one (the older ones are dropped, never processed late) and the newest is processed."""
        for frame in frames:
            processor.submit(frame)
        newest = processor.frames_in.take_newest()
        drawn = processor.process(newest.to_ndarray(format="bgr24"))
        out = av.VideoFrame.from_ndarray(drawn, format="bgr24")
        out.pts, out.time_base = newest.pts, newest.time_base
        return [out]

    return on_frames


def stream(processor: LiveProcessor, rtc: dict) -> bool:
    """The webcam stream through ``processor``; whether it is playing."""
    try:
        ctx = webrtc_streamer(
            key="live", mode=WebRtcMode.SENDRECV, rtc_configuration=rtc, server_rtc_configuration=rtc,
            media_stream_constraints={"video": {"width": {"ideal": 640}, "height": {"ideal": 480}}, "audio": False},
            queued_video_frames_callback=frame_callback(processor), on_video_ended=processor.end,
            async_processing=True)
    except Exception as error:  # e.g. no browser session (streamlit.testing), or WebRTC unavailable
        ctx = None
        st.error(f"The live stream cannot start here: {type(error).__name__}: {error}")
    return bool(ctx is not None and ctx.state.playing)


def readout(processor: LiveProcessor) -> None:
    snap = processor.snapshot()
    st.subheader("Readout")
    cols = st.columns(3)
    cols[0].metric("Processed", f"{snap.fps:.0f} fps" if snap.frames else "– fps")
    cols[1].metric("Seconds", f"{snap.elapsed_s:.0f}")
    cols[2].metric("Faces", len({r.face for r in snap.readings}))
    if snap.readings:
        st.table(readout_table(snap.readings, snap.model_ms).set_index("Face"))
    elif snap.frames:
        st.caption("No face in view.")
    else:
        st.caption("Press START and allow the camera; the readout updates every second.")
    if snap.frames:
        st.caption(f"{snap.frames} frames processed, {snap.dropped} dropped to stay current; "
                   f"face detection ({catalogue.title(processor.detector_name) if processor.detector_name in catalogue.DETECTOR_NAMES else processor.detector_name}) {snap.detect_ms:.1f} ms a frame.")
    for name, message in snap.errors.items():
        st.error(f"{display_name(name)} failed: {message}")


def chart(processor: LiveProcessor, labels) -> None:
    history = processor.history()
    if not history:
        return
    st.subheader(f"Last {HISTORY_S:.0f} seconds")
    figures = timelines(history, labels, window_s=HISTORY_S, height=320)
    columns = st.columns(min(2, len(figures)))
    for i, (caption, figure) in enumerate(figures):
        columns[i % len(columns)].plotly_chart(figure, width="stretch", key=f"live_chart_{caption}",
                                               config={"displayModeBar": False})


def session_download(processor: LiveProcessor) -> None:
    rows = len(processor.session_rows())
    st.download_button("Download what was seen (CSV)", processor.csv_bytes(), file_name="live-emotions.csv",
                       mime="text/csv", icon=":material/download:", key="live_csv")
    kind = "calibrated by each model's fitted temperature" if processor.calibrated else "raw (no temperature)"
    st.caption(f"{rows} rows: time (s from START), face number, model id, each emotion's probability in percent as "
               f"the model gave it (unsmoothed, {kind}). Numbers only, from memory; no image is kept."
               + (" The session hit its row limit; the last part is missing." if processor.session_truncated else ""))


@runtime.page
def main() -> None:
    st.title("Live")
    st.caption("Press START: your webcam is streamed to this app, every face is boxed and labelled by every model "
               "on every processed frame (slow ones as fast as they keep up, their latest answer held), smoothed over "
               "about half a second. Frames stay in memory and are never saved; STOP offers a CSV of what was seen.")
    models = models_or_stop("the stream")
    detector, min_face, calibrated = sidebar()
    processor = session_processor(models, detector, min_face, calibrated)
    every = [display_name(n) for n in processor.fast]
    worker = [display_name(n) for n in processor.slow]
    st.caption(f"Models: {', '.join(every) or 'none'} on every processed frame"
               + (f"; {', '.join(worker)} on a worker thread, as fast as it keeps up" if worker else "")
               + (" · probabilities calibrated" if calibrated else " · raw probabilities") + ".")
    rtc = rtc_configuration()
    video_column, readout_column = st.columns([3, 2], gap="medium")
    with video_column:
        playing = stream(processor, rtc)
    if st.session_state.get("live_was_playing") and not playing:
        processor.end()  # STOP: the slow models' thread ends now, the seconds stop counting
    st.session_state["live_was_playing"] = playing
    refresh_s = 1.0 if playing else None  # the readout and chart update every second while streaming
    with readout_column:
        st.fragment(readout, run_every=refresh_s)(processor)
    st.fragment(chart, run_every=refresh_s)(processor, models.labels)
    if not playing and processor.frames:
        session_download(processor)


main()
