"""Decoding photos: a corpus of bad inputs generated here, and exact pixels for the good ones."""
from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from core.media.images import MAX_PIXELS, ImageDecodeError, decode_image, source_name

# ---------------------------------------------------------------- helpers

def pil_bytes(image: Image.Image, fmt: str, **save_args) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save_args)
    return buffer.getvalue()


def rgb_noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_claiming_size(width: int, height: int) -> bytes:
    """A well-formed PNG header (valid CRCs) for an 8-bit RGB image of the claimed size, followed
    by a tiny IDAT: decoding it in full would need width*height*3 bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + png_chunk(b"IEND", b""))


def assert_one_line_error(excinfo, name: str, *reason_words: str) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and "\r" not in message, message
    assert message.startswith(f"{name}: "), message
    assert excinfo.value.name == name
    assert excinfo.value.reason and excinfo.value.reason in message
    for word in reason_words:
        assert word.lower() in message.lower(), f"{word!r} not in {message!r}"
    return message


@pytest.fixture(scope="module")
def jpeg_bytes() -> bytes:
    return pil_bytes(Image.fromarray(rgb_noise(64, 80)), "JPEG", quality=90)


# ---------------------------------------------------------------- bad inputs

def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageDecodeError) as excinfo:
        decode_image(path)
    assert_one_line_error(excinfo, str(path), "empty")


def test_empty_bytes():
    with pytest.raises(ImageDecodeError) as excinfo:
        decode_image(b"", name="upload.png")
    assert_one_line_error(excinfo, "upload.png", "empty")


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_jpeg(tmp_path, jpeg_bytes, keep):
    path = tmp_path / "truncated.jpg"
    path.write_bytes(jpeg_bytes[: int(len(jpeg_bytes) * keep)])
    with pytest.raises(ImageDecodeError) as excinfo:
        decode_image(path)
    assert_one_line_error(excinfo, str(path), "truncated")


def test_jpeg_cut_inside_its_header(tmp_path, jpeg_bytes):
    path = tmp_path / "stub.jpg"
    path.write_bytes(jpeg_bytes[:10])
    with pytest.raises(ImageDecodeError) as excinfo:
        decode_image(path)
    assert_one_line_error(excinfo, str(path))


def test_truncated_png(tmp_path):
    data = pil_bytes(Image.fromarray(rgb_noise(64, 64)), "PNG")
    path = tmp_path / "truncated.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageDecodeError) as excinfo:
        decode_image(path)
    assert_one_line_error(excinfo, str(path), "truncated")


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("these are my holiday notes, not a photo\n" * 20)
    with pytest.raises(ImageDecodeError) as excinfo:
        decode_image(path)
    assert_one_line_error(excinfo, str(path), "not an image")


def test_unsupported_format_is_refused():
    data = pil_bytes(Image.new("RGB", (4, 4), (1, 2, 3)), "PPM")
    with pytest.raises(ImageDecodeError) as excinfo:
        decode_image(data, name="frame.ppm")
    assert_one_line_error(excinfo, "frame.ppm", "unsupported", "PPM")


@pytest.fixture
def pixel_loads(monkeypatch) -> list[str]:
    """Records every pixel decode Pillow starts (``ImageFile.load``), so a test can assert that an
    image was refused from its header alone."""
    from PIL import ImageFile

    loads: list[str] = []
    original = ImageFile.ImageFile.load

    def recording_load(self):
        loads.append(f"{self.format} {self.size}")
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", recording_load)
    return loads


def test_png_claiming_30000_by_30000_is_refused_from_its_header(pixel_loads):
    data = png_claiming_size(30000, 30000)
    assert len(data) < 200
    with pytest.raises(ImageDecodeError) as excinfo:
        decode_image(data, name="bomb.png")
    message = assert_one_line_error(excinfo, "bomb.png", "too large", "30000x30000")
    assert f"{MAX_PIXELS / 1e6:.0f} MP" in message  # our limit, not Pillow's
    assert pixel_loads == []  # refused from the header: a full decode would need 2.7 GB


def test_png_over_our_limit_but_under_pillows_is_refused_with_its_size(pixel_loads):
    data = png_claiming_size(8000, 6000)  # 48 MP: Pillow only warns, our 40 MP limit refuses
    with pytest.raises(ImageDecodeError) as excinfo:
        decode_image(data, name="huge.png")
    assert_one_line_error(excinfo, "huge.png", "too large", "8000x6000", "48.0 MP")
    assert pixel_loads == []


def test_the_pixel_load_recorder_sees_a_decode(pixel_loads):
    decode_image(pil_bytes(Image.new("RGB", (8, 6)), "PNG"))
    assert pixel_loads and set(pixel_loads) == {"PNG (8, 6)"}


def test_custom_pixel_limit():
    data = pil_bytes(Image.new("RGB", (100, 100)), "PNG")
    with pytest.raises(ImageDecodeError) as excinfo:
        decode_image(data, name="a.png", max_pixels=5000)
    assert_one_line_error(excinfo, "a.png", "100x100")
    assert decode_image(data, max_pixels=10_000).shape == (100, 100, 3)


def test_byte_limit(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(pil_bytes(Image.fromarray(rgb_noise(64, 64)), "PNG"))
    with pytest.raises(ImageDecodeError) as excinfo:
        decode_image(path, max_bytes=1000)
    assert_one_line_error(excinfo, str(path), "too large")
    with pytest.raises(ImageDecodeError) as excinfo:
        decode_image(io.BytesIO(path.read_bytes()), name="stream.png", max_bytes=1000)
    assert_one_line_error(excinfo, "stream.png", "too large")


def test_nonexistent_path(tmp_path):
    path = tmp_path / "nowhere" / "missing.jpg"
    with pytest.raises(ImageDecodeError) as excinfo:
        decode_image(path)
    assert_one_line_error(excinfo, str(path), "no such file")
    with pytest.raises(ImageDecodeError):
        decode_image(str(path))


def test_directory(tmp_path):
    with pytest.raises(ImageDecodeError) as excinfo:
        decode_image(tmp_path)
    assert_one_line_error(excinfo, str(tmp_path), "directory")


def test_unsupported_input_type():
    with pytest.raises(ImageDecodeError) as excinfo:
        decode_image(12345)
    assert_one_line_error(excinfo, "<image bytes>", "unsupported input type", "int")


def test_corrupt_tiff_header_is_refused_without_library_warnings():
    data = bytearray(pil_bytes(Image.fromarray(rgb_noise(40, 50)), "TIFF"))
    data[5] ^= 1 << 5  # first IFD offset now points past the end: Pillow warns, then gives up
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImageDecodeError) as excinfo:
            decode_image(bytes(data), name="scan.tif")
    assert_one_line_error(excinfo, "scan.tif")
    assert [str(w.message) for w in caught] == []


def test_error_is_a_value_error_and_reason_is_collapsed_to_one_line():
    error = ImageDecodeError("a\nb.jpg", "first line\nsecond line\r\n third")
    assert isinstance(error, ValueError)
    assert str(error) == "a b.jpg: first line second line third"


# ---------------------------------------------------------------- good inputs: exact pixels

def test_one_by_one_pixel():
    data = pil_bytes(Image.new("RGB", (1, 1), (10, 20, 30)), "PNG")
    image = decode_image(data)
    assert image.shape == (1, 1, 3) and image.dtype == np.uint8
    assert image[0, 0].tolist() == [30, 20, 10]  # BGR


def test_png_rgb_is_exact_bgr():
    rgb = rgb_noise(9, 13, seed=3)
    image = decode_image(pil_bytes(Image.fromarray(rgb), "PNG"))
    assert image.shape == (9, 13, 3) and image.dtype == np.uint8
    assert image.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(image, rgb[..., ::-1])


def test_animated_gif_gives_first_frame():
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    frames = [Image.new("RGB", (12, 8), c) for c in colours]
    data = pil_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 3
    image = decode_image(data, name="anim.gif")
    assert image.shape == (8, 12, 3)
    assert (image.reshape(-1, 3) == [0, 0, 255]).all()  # red, in BGR


def test_animated_gif_first_frame_with_pattern():
    first = np.zeros((10, 10, 3), np.uint8)
    first[:, :5] = (255, 255, 255)
    second = 255 - first
    frames = [Image.fromarray(first), Image.fromarray(second)]
    data = pil_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:])
    np.testing.assert_array_equal(decode_image(data), first)


def test_16bit_grayscale_png_values():
    values = (np.arange(64, dtype=np.uint32).reshape(8, 8) * 1031).astype(np.uint16)
    data = pil_bytes(Image.fromarray(values), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    image = decode_image(data)
    expected = np.rint(values / 257.0).astype(np.uint8)  # 65535 -> 255
    assert image.shape == (8, 8, 3) and image.dtype == np.uint8
    for channel in range(3):
        np.testing.assert_array_equal(image[..., channel], expected)


def test_16bit_grayscale_full_range():
    values = np.array([[0, 257, 32896, 65535]], np.uint16)
    image = decode_image(pil_bytes(Image.fromarray(values), "PNG"))
    assert image[0, :, 0].tolist() == [0, 1, 128, 255]


def test_16bit_rgb_png_values():
    rng = np.random.default_rng(5)
    eight = rng.integers(0, 256, (6, 7, 3)).astype(np.uint16)
    exact = eight * 257  # 16-bit values that have an exact 8-bit equivalent
    ok, encoded = cv2.imencode(".png", exact)  # OpenCV writes 16-bit colour PNGs (BGR in, RGB in file)
    assert ok
    image = decode_image(encoded.tobytes())
    assert image.dtype == np.uint8 and image.shape == (6, 7, 3)
    np.testing.assert_array_equal(image, eight.astype(np.uint8))

    arbitrary = rng.integers(0, 65536, (6, 7, 3)).astype(np.uint16)
    ok, encoded = cv2.imencode(".png", arbitrary)
    image = decode_image(encoded.tobytes()).astype(int)
    assert np.abs(image - arbitrary / 257.0).max() <= 1.0  # within one 8-bit step


def test_rgba_png_transparent_is_white_and_opaque_exact():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = rgb_noise(4, 4, seed=9)
    rgba[:2, :, 3] = 255  # opaque top half
    rgba[2:, :, 3] = 0  # transparent bottom half
    image = decode_image(pil_bytes(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert image.shape == (4, 4, 3)
    np.testing.assert_array_equal(image[:2], rgba[:2, :, 2::-1])
    assert (image[2:] == 255).all()


def test_half_transparent_pixel_blends_with_white():
    rgba = np.array([[[0, 0, 0, 128]]], np.uint8)
    image = decode_image(pil_bytes(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert np.abs(image.astype(int) - 127).max() <= 1


def test_palette_png_with_transparency_is_white():
    image = Image.new("P", (4, 2), 0)
    image.putpalette([255, 0, 0] + [0, 0, 255] * 255)
    image.putpixel((0, 0), 1)
    data = pil_bytes(image, "PNG", transparency=0)
    decoded = decode_image(data)
    assert decoded[0, 0].tolist() == [255, 0, 0]  # blue (opaque index 1), BGR
    assert (decoded.reshape(-1, 3)[1:] == 255).all()  # transparent index 0 -> white


def test_cmyk_jpeg_colours():
    patches = {  # CMYK ink -> expected RGB
        (0, 255, 255, 0): (255, 0, 0),
        (255, 0, 255, 0): (0, 255, 0),
        (255, 255, 0, 0): (0, 0, 255),
        (0, 0, 0, 0): (255, 255, 255),
        (0, 0, 0, 255): (0, 0, 0),
    }
    cmyk = Image.new("CMYK", (16 * len(patches), 16))
    for i, ink in enumerate(patches):
        cmyk.paste(ink, (16 * i, 0, 16 * (i + 1), 16))
    data = pil_bytes(cmyk, "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    image = decode_image(data).astype(int)
    assert image.shape == (16, 16 * len(patches), 3)
    for i, rgb in enumerate(patches.values()):
        centre = image[8, 16 * i + 8]
        assert np.abs(centre - np.array(rgb[::-1])).max() <= 12, (rgb, centre)


def exif_jpeg(orientation: int) -> tuple[bytes, np.ndarray]:
    """A 20x40 (HxW) JPEG with a red block at its stored top-left and an EXIF orientation tag."""
    stored = np.full((20, 40, 3), 40, np.uint8)
    stored[:6, :6] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return pil_bytes(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes()), stored


def red_centre(image_bgr: np.ndarray) -> tuple[float, float]:
    rows, cols = np.nonzero((image_bgr[..., 2] > 180) & (image_bgr[..., 0] < 100))
    return float(rows.mean()), float(cols.mean())


def test_exif_orientation_6_rotates_clockwise():
    data, _ = exif_jpeg(6)
    image = decode_image(data)
    assert image.shape == (40, 20, 3)
    row, col = red_centre(image)
    assert row < 6 and col > 14  # stored top-left is shown top-right


def test_exif_orientation_8_rotates_counter_clockwise():
    data, _ = exif_jpeg(8)
    image = decode_image(data)
    assert image.shape == (40, 20, 3)
    row, col = red_centre(image)
    assert row > 34 and col < 6  # stored top-left is shown bottom-left


def test_exif_orientation_1_is_untouched():
    data, _ = exif_jpeg(1)
    image = decode_image(data)
    assert image.shape == (20, 40, 3)
    row, col = red_centre(image)
    assert row < 6 and col < 6


def test_grayscale_png_gives_three_equal_channels():
    gray = np.arange(60, dtype=np.uint8).reshape(6, 10) * 4
    image = decode_image(pil_bytes(Image.fromarray(gray, "L"), "PNG"))
    assert image.shape == (6, 10, 3) and image.dtype == np.uint8
    for channel in range(3):
        np.testing.assert_array_equal(image[..., channel], gray)


@pytest.mark.parametrize("fmt,save_args", [("WEBP", {"lossless": True}), ("BMP", {}), ("TIFF", {}),
                                           ("PNG", {}), ("TIFF", {"compression": "tiff_lzw"})])
def test_lossless_round_trips(fmt, save_args):
    rgb = rgb_noise(11, 17, seed=1)
    image = decode_image(pil_bytes(Image.fromarray(rgb), fmt, **save_args), name=f"x.{fmt.lower()}")
    np.testing.assert_array_equal(image, rgb[..., ::-1])


def test_jpeg_round_trip_is_close():
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[:16] = (200, 30, 60)
    rgb[16:] = (20, 180, 90)
    image = decode_image(pil_bytes(Image.fromarray(rgb), "JPEG", quality=95)).astype(int)
    assert np.abs(image[4:12, 4:28] - rgb[4:12, 4:28, ::-1]).max() <= 8
    assert np.abs(image[20:28, 4:28] - rgb[20:28, 4:28, ::-1]).max() <= 8


def test_bytes_path_and_file_like_agree(tmp_path):
    rgb = rgb_noise(10, 12, seed=2)
    data = pil_bytes(Image.fromarray(rgb), "PNG")
    path = tmp_path / "photo.png"
    path.write_bytes(data)
    expected = rgb[..., ::-1]
    with open(path, "rb") as handle:
        from_handle = decode_image(handle)
    for decoded in (decode_image(data), decode_image(bytearray(data)), decode_image(memoryview(data)),
                    decode_image(path), decode_image(str(path)), decode_image(io.BytesIO(data)), from_handle):
        np.testing.assert_array_equal(decoded, expected)


def test_default_names_in_errors(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG garbage")
    with pytest.raises(ImageDecodeError) as excinfo:
        decode_image(path)
    assert str(excinfo.value).startswith(f"{path}: ")
    with open(path, "rb") as handle, pytest.raises(ImageDecodeError) as excinfo:
        decode_image(handle)
    assert str(excinfo.value).startswith(f"{path}: ")  # an open file's own name
    with pytest.raises(ImageDecodeError) as excinfo:
        decode_image(path.read_bytes())
    assert str(excinfo.value).startswith("<image bytes>: ")
    with pytest.raises(ImageDecodeError) as excinfo:
        decode_image(path, name="shown.png")
    assert str(excinfo.value).startswith("shown.png: ")


def test_file_object_without_a_usable_name(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"garbage")
    fd = os.open(path, os.O_RDONLY)
    with open(fd, "rb") as handle:  # its .name is the descriptor, an int
        assert isinstance(handle.name, int)
        with pytest.raises(ImageDecodeError) as excinfo:
            decode_image(handle)
    assert str(excinfo.value).startswith("<image bytes>: ")
    assert source_name(io.BytesIO(b"")) == "<image bytes>"
    assert source_name(path) == str(path)


def test_example_photo_is_the_astronaut(astronaut):
    assert astronaut.shape == (512, 512, 3) and astronaut.dtype == np.uint8
    assert astronaut.flags["C_CONTIGUOUS"]
    from skimage import data

    np.testing.assert_array_equal(astronaut[..., ::-1], data.astronaut())


def test_written_file_round_trip(tmp_path, astronaut):
    path = Path(tmp_path) / "astronaut.png"
    assert cv2.imwrite(str(path), astronaut)
    np.testing.assert_array_equal(decode_image(path), astronaut)
