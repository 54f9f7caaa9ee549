"""Video clips of faces encoded in memory for the video/live tests (nothing is written to disk)."""
from __future__ import annotations

import io

import av
import numpy as np


def encode_frames(images: list[np.ndarray], fmt: str = "mp4", codec: str = "mpeg4", rate: int = 10) -> bytes:
    height, width = images[0].shape[:2]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if codec == "mpeg4":
            stream.bit_rate = 2_000_000
        for image in images:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def face_frames(count: int = 20, faces: int = 1, width: int = 320, height: int = 240) -> list[np.ndarray]:
    """Frames of ``faces`` astronaut heads drifting slowly left to right."""
    from core.bench.scenes import make_photo

    return [make_photo(width, height, faces, size=0.8, shift=(-0.5 + i / max(count - 1, 1), 0.0))
            for i in range(count)]


def face_clip(count: int = 20, faces: int = 1, rate: int = 10, fmt: str = "mp4", codec: str = "mpeg4") -> bytes:
    return encode_frames(face_frames(count, faces), fmt, codec, rate)
