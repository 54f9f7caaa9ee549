"""Video decoding from bytes (core.media.video) on clips encoded in memory by the tests."""
from __future__ import annotations

import io

import av
import numpy as np
import pytest

from core.media import video
from core.media.video import VideoDecodeError, VideoLimitError

FORMATS = [("mp4", "libx264"), ("mp4", "mpeg4"), ("webm", "libvpx"), ("avi", "mjpeg"), ("matroska", "mpeg4")]


def encode_clip(fmt: str = "mp4", codec: str = "mpeg4", frames: int = 30, rate: int = 25, width: int = 64,
                height: int = 48, rotation: int | None = None) -> bytes:
    """A clip whose frame i has a white 16x16 block at the top left and grey level 4*i elsewhere."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i in range(frames):
            image = np.full((height, width, 3), 4 * i, np.uint8)
            image[:16, :16] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def clips() -> dict:
    return {f"{fmt}/{codec}": encode_clip(fmt, codec) for fmt, codec in FORMATS}


@pytest.mark.parametrize("key", [f"{fmt}/{codec}" for fmt, codec in FORMATS])
def test_every_5_takes_exactly_frames_0_5_10(clips, key):
    frames = video.read_frames(clips[key], every=5)
    assert [f.index for f in frames] == [0, 5, 10, 15, 20, 25]
    assert [f.time_s for f in frames] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0], abs=1e-6)
    first = frames[0].image
    assert first.shape == (48, 64, 3) and first.dtype == np.uint8
    assert first[4:12, 4:12].mean() > 200  # the white block, top left: BGR and upright


@pytest.mark.parametrize("key", [f"{fmt}/{codec}" for fmt, codec in FORMATS])
def test_every_seconds_samples_by_presentation_time(clips, key):
    frames = video.read_frames(clips[key], every_seconds=0.5)
    assert [f.index for f in frames] == [0, 13, 25]  # frame 12 is at 0.48 s, 13 at 0.52 s >= 0.5 s
    assert [f.time_s for f in frames] == pytest.approx([0.0, 0.52, 1.0], abs=1e-6)


def test_default_samples_about_five_per_second(clips):
    frames = video.read_frames(clips["mp4/mpeg4"])
    assert [f.index for f in frames] == [0, 5, 10, 15, 20, 25]


def test_grey_level_identifies_the_sampled_frame(clips):
    for frame in video.read_frames(clips["avi/mjpeg"], every=7):
        assert frame.image[40:, 40:].mean() == pytest.approx(4 * frame.index, abs=6)


def test_probe_reports_the_stream(clips):
    info = video.probe(clips["mp4/libx264"])
    assert (info.container, info.codec, info.width, info.height) == ("mp4/mov", "h264", 64, 48)
    assert info.fps == pytest.approx(25.0) and info.duration_s == pytest.approx(1.2, abs=0.05)
    assert info.frame_count == 30 and info.rotation == 0
    assert video.probe(clips["webm/libvpx"]).container == "mkv/webm"


def test_max_frames_stops_sampling(clips):
    frames = video.read_frames(clips["mp4/mpeg4"], every=1, max_frames=4)
    assert [f.index for f in frames] == [0, 1, 2, 3]


@pytest.mark.parametrize("matrix_angle, clockwise, block_rows, block_cols", [
    (-90, 90, slice(0, 16), slice(32, 48)),    # a phone's rotate=90: turn clockwise, block goes top right
    (90, 270, slice(48, 64), slice(0, 16)),    # counter-clockwise: block goes bottom left
    (180, 180, slice(32, 48), slice(48, 64)),  # upside down: block goes bottom right
])
def test_rotation_metadata_is_applied(matrix_angle, clockwise, block_rows, block_cols):
    data = encode_clip("mp4", "mpeg4", frames=3, rotation=matrix_angle)
    info = video.probe(data)
    assert info.rotation == clockwise
    image = video.read_frames(data, every=1)[0].image
    expected_shape = (48, 64, 3) if clockwise == 180 else (64, 48, 3)
    assert image.shape == expected_shape
    assert (info.height, info.width) == expected_shape[:2]
    assert image[block_rows, block_cols].mean() > 200


def test_ffconcat_list_naming_a_server_file_is_refused():
    data = b"ffconcat version 1.0\nfile /etc/passwd\n"
    assert len(data) <= 40
    with pytest.raises(VideoDecodeError, match="not a supported video"):
        video.read_frames(data)
    with pytest.raises(VideoDecodeError, match="not a supported video"):
        video.probe(data)


def test_hls_playlist_is_refused():
    data = b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"
    with pytest.raises(VideoDecodeError, match="not a supported video"):
        video.read_frames(data)


@pytest.mark.parametrize("data", [b"", b"garbage" * 50, bytes(range(256)) * 8,
                                  b"\x00\x00\x00\x18ftypisom" + b"\x00" * 300,  # mp4 magic, nothing else
                                  b"\x1a\x45\xdf\xa3" + b"\xff" * 300, b"RIFF\x00\x00\x00\x00AVI " + b"\x01" * 300])
def test_corrupt_bytes_raise_one_error_type(data):
    with pytest.raises(VideoDecodeError) as caught:
        video.read_frames(data)
    assert "\n" not in str(caught.value) and str(caught.value)


@pytest.mark.parametrize("key", [f"{fmt}/{codec}" for fmt, codec in FORMATS])
@pytest.mark.parametrize("fraction", [0.4, 0.7])
def test_truncated_files_raise(clips, key, fraction):
    data = clips[key]
    with pytest.raises(VideoDecodeError) as caught:
        video.read_frames(data[:int(len(data) * fraction)], every=1)
    assert "\n" not in str(caught.value)


def test_size_limit(clips):
    data = clips["mp4/mpeg4"]
    with pytest.raises(VideoLimitError, match="limit"):
        video.read_frames(data, max_bytes=len(data) - 1)
    with pytest.raises(VideoLimitError):
        video.probe(data, max_bytes=100)


def test_duration_limit(clips):
    with pytest.raises(VideoLimitError, match="1 s; the limit is 1 s|lasts"):
        video.read_frames(clips["webm/libvpx"], max_duration_s=1.0)
    assert isinstance(VideoLimitError("x"), VideoDecodeError)  # one type to catch


def test_bad_arguments():
    with pytest.raises(ValueError):
        video.read_frames(b"x", every=2, every_seconds=1.0)
    with pytest.raises(ValueError):
        video.read_frames(b"x", every=0)
