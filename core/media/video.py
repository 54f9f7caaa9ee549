"""Video files decoded from bytes in memory with PyAV (FFmpeg), sampled into upright BGR frames.

Uploaded videos are never written to disk: PyAV reads an ``io.BytesIO``.

Security: FFmpeg's probing would also accept text "videos" that make it open other files or
URLs (an ``ffconcat`` list naming ``/etc/passwd``, an HLS playlist). So the container is recognised
here from its first bytes and only the mp4/mov, Matroska/WebM and AVI demuxers are ever used,
named explicitly (``format=``), so FFmpeg never probes; anything else is refused before FFmpeg sees it.

Sampling: ``every=N`` takes frames 0, N, 2N, ... (by decode order in the file); ``every_seconds=S``
takes the first frame at or after 0, S, 2S, ... seconds of presentation time (default 0.2 s, about
5 frames per second). Phone videos carry a rotation in the stream's display matrix; frames are
turned so that they come out upright.

Every failure (not a supported video, corrupt, truncated, over a limit) raises
:class:`VideoDecodeError` with a one-line message; nothing from PyAV leaks out.
"""
from __future__ import annotations

import io
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

MAX_BYTES = 200 * 1024 * 1024  # 200 MiB
MAX_DURATION_S = 10 * 60.0
MAX_FRAMES = 3000  # sampled frames analysed at most (10 min at 5 per second)
DEFAULT_EVERY_SECONDS = 0.2
FILE_TYPES = ("mp4", "mov", "m4v", "mkv", "webm", "avi")
# FFmpeg demuxer per recognised container: the only ones ever opened.
DEMUXERS = {"mp4": "mov", "matroska": "matroska", "avi": "avi"}
_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")
_TIME_EPSILON = 1e-6


class VideoDecodeError(ValueError):
    """The bytes are not a supported, intact video (message: one line, for the user)."""


class VideoLimitError(VideoDecodeError):
    """The video is over a size or duration limit."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about the video stream. ``width``/``height`` are upright (after the
    rotation); ``frame_count`` is the container's count, or duration x fps when it has none."""

    container: str
    codec: str
    width: int
    height: int
    fps: float
    duration_s: float
    frame_count: int
    rotation: int  # degrees clockwise applied to the decoded frames to make them upright


@dataclass(frozen=True)
class VideoFrame:
    """One sampled frame: its 0-based index in the file, presentation time and upright BGR pixels."""

    index: int
    time_s: float
    image: np.ndarray = field(repr=False)


def detect_container(data: bytes) -> str:
    """``"mp4"`` (also mov), ``"matroska"`` (also webm) or ``"avi"`` from the magic bytes."""
    head = bytes(data[:16])
    if len(head) >= 12 and head[4:8] in _MP4_BOXES:
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "avi"
    raise VideoDecodeError("not a supported video (mp4, mov, mkv, webm or avi)")


def _one_line(error: BaseException) -> str:
    text = getattr(error, "strerror", None) or str(error)  # FFmpegError: "Invalid data found ..."
    text = " ".join(str(text).split()) or type(error).__name__
    return text[:200]


def _check_size(data: bytes, max_bytes: int) -> None:
    if not data:
        raise VideoDecodeError("the video file is empty")
    if len(data) > max_bytes:
        raise VideoLimitError(f"the video is {len(data) / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.0f} MiB")


def _open(data: bytes):
    import av

    container_kind = detect_container(data)
    try:
        container = av.open(io.BytesIO(data), mode="r", format=DEMUXERS[container_kind],
                            options={"enable_drefs": "0"} if container_kind == "mp4" else {})
    except Exception as error:  # noqa: BLE001 - PyAV raises FFmpegError and some plain types; none may leak
        raise VideoDecodeError(f"cannot read the video: {_one_line(error)}") from None
    if container.format.name.split(",")[0] not in DEMUXERS.values():  # belt and braces
        container.close()
        raise VideoDecodeError(f"unsupported container {container.format.name!r}")
    if not container.streams.video or container.streams.video[0].codec_context is None:
        container.close()
        raise VideoDecodeError("the file has no readable video stream (corrupt or truncated)")
    return container_kind, container


def _rotation(frame) -> int:
    """Clockwise degrees (0, 90, 180, 270) that make frames upright.

    PyAV gives the display matrix's counter-clockwise angle; like FFmpeg's autorotate we turn by
    its negative (a phone's "rotate=90" tag is a matrix of -90, i.e. turn 90 degrees clockwise).
    """
    angle = float(getattr(frame, "rotation", 0) or 0)
    return round(-angle / 90.0) % 4 * 90


def _upright(image: np.ndarray, rotation: int) -> np.ndarray:
    if rotation == 0:
        return image
    # np.rot90 turns counter-clockwise for positive k; a clockwise turn of r degrees is k = -r / 90.
    return np.ascontiguousarray(np.rot90(image, k=-(rotation // 90)))


def _info(kind: str, container, stream, rotation: int) -> VideoInfo:
    codec = stream.codec_context
    fps = float(stream.average_rate or stream.guessed_rate or stream.base_rate or 0.0)
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000
    else:
        duration = 0.0
    frames = int(stream.frames or 0) or round(duration * fps)
    width, height = int(codec.width), int(codec.height)
    if rotation in (90, 270):
        width, height = height, width
    return VideoInfo({"mp4": "mp4/mov", "matroska": "mkv/webm", "avi": "avi"}[kind], codec.name, width, height,
                     round(fps, 3), round(duration, 3), frames, rotation)


def probe(data: bytes, max_bytes: int = MAX_BYTES) -> VideoInfo:
    """The video's :class:`VideoInfo` (reads the header and the first frame only)."""
    _check_size(data, max_bytes)
    kind, container = _open(data)
    with container:
        stream = container.streams.video[0]
        first = _first_frame(container, stream)
        return _info(kind, container, stream, _rotation(first))


def _first_frame(container, stream):
    try:
        for frame in container.decode(stream):
            return frame
    except Exception as error:  # noqa: BLE001 - nothing from PyAV may leak
        raise VideoDecodeError(f"the video is corrupt: {_one_line(error)}") from None
    raise VideoDecodeError("the video has no frames")


def iter_frames(data: bytes, every: int | None = None, every_seconds: float | None = None,
                max_bytes: int = MAX_BYTES, max_duration_s: float = MAX_DURATION_S,
                max_frames: int = MAX_FRAMES) -> Iterator[VideoFrame]:
    """Sampled frames, in order; stops after ``max_frames`` samples.

    Raises :class:`VideoDecodeError` (also mid-way, for a file that turns out corrupt or truncated)
    and :class:`VideoLimitError` when the container declares, or decoding reaches, a duration over
    ``max_duration_s``.
    """
    if every is not None and every_seconds is not None:
        raise ValueError("give every or every_seconds, not both")
    if every is not None and int(every) < 1:
        raise ValueError("every must be at least 1")
    if every_seconds is not None and not every_seconds > 0:
        raise ValueError("every_seconds must be positive")
    if every is None and every_seconds is None:
        every_seconds = DEFAULT_EVERY_SECONDS
    _check_size(data, max_bytes)
    kind, container = _open(data)
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        declared = _info(kind, container, stream, 0)
        if declared.duration_s > max_duration_s:
            raise VideoLimitError(f"the video lasts {declared.duration_s:.0f} s; the limit is {max_duration_s:.0f} s")
        yield from _sample(container, stream, every, every_seconds, max_duration_s, max_frames, declared)


def _sample(container, stream, every, every_seconds, max_duration_s, max_frames, declared) -> Iterator[VideoFrame]:
    start_time = None
    time_s = 0.0
    next_due = 0.0
    sampled = 0
    index = -1
    rotation = None
    decoded = container.decode(stream)
    while sampled < max_frames:
        try:
            frame = next(decoded)
        except StopIteration:
            break
        except Exception as error:  # noqa: BLE001 - nothing from PyAV may leak
            raise VideoDecodeError(f"the video is corrupt or truncated: {_one_line(error)}") from None
        index += 1
        if rotation is None:
            rotation = _rotation(frame)
        seconds = frame.time if frame.time is not None else index / (declared.fps or 1.0)
        start_time = seconds if start_time is None else start_time
        time_s = max(0.0, seconds - start_time)
        if time_s > max_duration_s:
            raise VideoLimitError(f"the video lasts over {max_duration_s:.0f} s, the limit")
        if every is not None:
            take = index % int(every) == 0
        else:
            take = time_s + _TIME_EPSILON >= next_due
            if take:
                next_due = (math.floor(time_s / every_seconds + _TIME_EPSILON) + 1) * every_seconds
        if take:
            sampled += 1
            image = _upright(frame.to_ndarray(format="bgr24"), rotation)
            yield VideoFrame(index, round(time_s, 6), image)
    if index < 0:
        raise VideoDecodeError("the video has no frames (corrupt or truncated)")
    if sampled < max_frames:
        _check_complete(index + 1, time_s, stream, declared)


def _check_complete(frames_read: int, last_time_s: float, stream, declared: VideoInfo) -> None:
    """FFmpeg stops quietly at a cut-off end; compare what was read with what the container declares
    (its frame count, allowing two frames' slack for edit lists; else its duration, half a frame's)."""
    if stream.frames:
        if frames_read < stream.frames - max(2, 0.02 * stream.frames):
            raise VideoDecodeError(f"the video is truncated: {frames_read} of {stream.frames} frames could be read")
        return
    frame_s = 1.0 / declared.fps if declared.fps else 0.04
    if declared.duration_s and last_time_s + frame_s < declared.duration_s - max(0.5 * frame_s, 0.01 * declared.duration_s):
        raise VideoDecodeError(f"the video is truncated: frames up to {last_time_s:.2f} s of "
                               f"{declared.duration_s:.2f} s could be read")


def read_frames(data: bytes, every: int | None = None, every_seconds: float | None = None,
                max_bytes: int = MAX_BYTES, max_duration_s: float = MAX_DURATION_S,
                max_frames: int = MAX_FRAMES) -> list[VideoFrame]:
    """:func:`iter_frames` as a list."""
    return list(iter_frames(data, every, every_seconds, max_bytes, max_duration_s, max_frames))
