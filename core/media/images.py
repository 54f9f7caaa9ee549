"""Decoding photos into 8-bit BGR arrays, with one error type for every bad input.

Accepts bytes, file-like objects or paths; JPEG (MPO included), PNG, WebP, BMP, TIFF and GIF (first
frame). EXIF orientation is applied; grayscale, palette, RGBA, 16-bit, float and CMYK images become
8-bit BGR. Images over a pixel limit are refused from their header, before a full decode.
``max_side`` decodes an image already shrunk (JPEG's reduced-size decoding, else a shrink right after
decoding, before any colour conversion), so memory follows the size asked for, not the file's.

:data:`FILE_TYPES` / :data:`IMAGE_SUFFIXES` is the one list of image file names for every reader:
the Compare uploader, zips and folders of labelled faces, and the CLI.
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 40_000_000  # 40 megapixels
MAX_BYTES = 50 * 1024 * 1024  # 50 MiB
SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF", "MPO")


def _file_types() -> tuple[str, ...]:
    """Every file extension Pillow reads as one of :data:`SUPPORTED_FORMATS` (``jfif``, ``jpe``,
    ``dib``, ``apng``, ... included): an upload is accepted by name exactly when it can be decoded."""
    Image.init()
    found = {ext.lstrip(".").lower() for ext, fmt in Image.registered_extensions().items() if fmt in SUPPORTED_FORMATS}
    common = ["jpg", "jpeg", "jfif", "jpe", "png", "webp", "bmp", "tif", "tiff", "gif"]
    return tuple(common + sorted(found - set(common)))


FILE_TYPES = _file_types()  # without dots, the most common first
IMAGE_SUFFIXES = frozenset(f".{t}" for t in FILE_TYPES)  # with dots, for matching file names

ImageSource = bytes | bytearray | memoryview | str | os.PathLike | BinaryIO


class ImageDecodeError(ValueError):
    """An input that is not a usable image. ``str(error)`` is one line: ``<name>: <reason>``."""

    def __init__(self, name: str, reason: str):
        reason = " ".join(str(reason).split())  # one line, whatever the underlying library said
        super().__init__(f"{' '.join(str(name).splitlines())}: {reason}")
        self.name = name
        self.reason = reason


def _read_bytes(source: ImageSource, name: str, max_bytes: int) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise ImageDecodeError(name, f"file is too large ({size / 2**20:.1f} MiB; limit {max_bytes / 2**20:.0f} MiB)")
            data = path.read_bytes()
        except IsADirectoryError:
            raise ImageDecodeError(name, "is a directory, not an image file") from None
        except FileNotFoundError:
            raise ImageDecodeError(name, "no such file") from None
        except PermissionError:
            raise ImageDecodeError(name, "permission denied") from None
        except OSError as exc:
            raise ImageDecodeError(name, f"cannot read file ({exc.strerror or exc})") from None
    elif hasattr(source, "read"):
        data = source.read(max_bytes + 1)
    else:
        raise ImageDecodeError(name, f"unsupported input type {type(source).__name__}")
    if len(data) > max_bytes:
        raise ImageDecodeError(name, f"file is too large (over {max_bytes / 2**20:.0f} MiB)")
    if not data:
        raise ImageDecodeError(name, "empty file (0 bytes)")
    return data


def _to_bgr(image: Image.Image) -> np.ndarray:
    """Any PIL mode -> contiguous uint8 (H, W, 3) BGR."""
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        values = np.asarray(image)
        if mode != "I" or values.max(initial=0) > 255:
            values = values.astype(np.float64) / 257.0  # 16-bit range -> 8-bit
        gray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))
    if mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if values.max(initial=0) <= 1.0:
            values = values * 255.0
        gray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info) or mode == "RGBa":
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))  # transparent -> white
        image = Image.alpha_composite(background, rgba)
    rgb = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)  # a new contiguous array; ~20x faster than copying rgb[..., ::-1]


def source_name(source) -> str:
    """The name errors and results use for ``source``: its path, a file object's name, or ``<image bytes>``."""
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    name = getattr(source, "name", None)
    return str(name) if isinstance(name, (str, os.PathLike)) and str(name) else "<image bytes>"


def _too_large(name: str, width: int, height: int, max_pixels: int) -> ImageDecodeError:
    return ImageDecodeError(
        name, f"image is too large ({width}x{height} = {width * height / 1e6:.1f} MP; limit {max_pixels / 1e6:.0f} MP)")


def _header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the header by the format's own plugin, without Pillow's bomb check
    (which refuses huge images without saying how large they are)."""
    Image.init()
    for fmt in Image.ID:
        factory, accept = Image.OPEN[fmt]
        try:
            if accept is not None and accept(data[:16]) is not True:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with factory(io.BytesIO(data), "") as image:
                    return image.size
        except Exception:  # not this format; try the next one
            continue
    return None


def _open(data: bytes, name: str, max_pixels: int = MAX_PIXELS) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bomb warnings (our own limit applies), corrupt-header chatter
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageDecodeError(name, "not an image in a supported format (JPEG, PNG, WebP, BMP, TIFF, GIF)") from None
    except Image.DecompressionBombError as exc:
        size = _header_size(data)
        if size is None:
            raise ImageDecodeError(name, f"image is too large ({exc})") from None
        raise _too_large(name, *size, max_pixels) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageDecodeError(name, f"corrupt image header ({exc})") from None
    return image


def _shrunk_bgr(image: Image.Image, max_side: int) -> np.ndarray:
    """``image`` as BGR with its longer side at most ``max_side`` (area-averaged): shrunk before the
    colour conversion where Pillow can resize the mode, so only the small copy is ever converted."""
    scale = max_side / max(image.size)
    if scale >= 1:
        return _to_bgr(image)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    if image.mode in ("L", "LA", "RGB", "RGBA", "CMYK", "F"):
        return _to_bgr(image.resize(size, Image.Resampling.BOX, reducing_gap=3.0))
    return cv2.resize(_to_bgr(image), size, interpolation=cv2.INTER_AREA)  # palette, 16-bit: convert first


def decode_image(source: ImageSource, name: str | None = None, max_pixels: int = MAX_PIXELS,
                 max_bytes: int = MAX_BYTES, max_side: int | None = None) -> np.ndarray:
    """Decode ``source`` into an 8-bit BGR array (H, W, 3), at most ``max_side`` pixels on its longer
    side when given (decoded reduced where the format allows, so a 40-megapixel JPEG never exists at
    full size in memory).

    Raises :class:`ImageDecodeError` for empty, truncated, corrupt, non-image, unsupported or
    oversized input; its message names ``name`` (default: the path or ``<image bytes>``).
    """
    name = name or source_name(source)
    data = _read_bytes(source, name, max_bytes)
    image = _open(data, name, max_pixels)
    try:
        if image.format not in SUPPORTED_FORMATS:
            raise ImageDecodeError(name, f"unsupported image format {image.format}")
        width, height = image.size
        if width < 1 or height < 1:
            raise ImageDecodeError(name, f"invalid image size {width}x{height}")
        if width * height > max_pixels:
            raise _too_large(name, width, height, max_pixels)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                image.seek(0)  # first frame of animations
                if max_side is not None and image.format in ("JPEG", "MPO"):
                    image.draft(None, (max_side, max_side))  # DCT scaling: 1/2, 1/4 or 1/8 of the size
                image.load()
                ImageOps.exif_transpose(image, in_place=True)  # no copy when nothing to turn
                return _to_bgr(image) if max_side is None else _shrunk_bgr(image, max_side)
        except ImageDecodeError:
            raise
        except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError, struct_error()) as exc:
            reason = str(exc) or type(exc).__name__
            if "truncated" in reason.lower():
                raise ImageDecodeError(name, "truncated image file (the data ends early)") from None
            raise ImageDecodeError(name, f"corrupt image data ({reason})") from None
        except (MemoryError, Image.DecompressionBombError):
            raise ImageDecodeError(name, "image is too large to decode") from None
    finally:
        image.close()


def struct_error():
    import struct

    return struct.error


def example_photo() -> np.ndarray:
    """The built-in example photo: ``skimage.data.astronaut()`` (public domain), as BGR."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[..., ::-1])
