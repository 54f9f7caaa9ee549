"""Fixed regression cases for the decoder: inputs the fuzzer (``tests/test_fuzz.py``) found, kept in
``tests/fuzz_corpus/``, and every exception type Pillow is known to raise from a damaged file.

Each must end as one :class:`ImageDecodeError` with a one-line message, on every run (the fuzzer
alone catches a regression only when it happens to draw such an input).
"""
from __future__ import annotations

import struct
from pathlib import Path

import pytest
from PIL import ImageFile

from core.media.images import ImageDecodeError, decode_image, example_photo

CORPUS = Path(__file__).parent / "fuzz_corpus"
CASES = sorted(CORPUS.glob("*.bin"))


def test_the_corpus_is_there():
    assert len(CASES) >= 2, f"the fuzz corpus is missing from {CORPUS}"


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_corpus_input_is_refused_with_one_line(path):
    with pytest.raises(ImageDecodeError) as info:
        decode_image(path.read_bytes(), name=path.name)
    message = str(info.value)
    assert message.startswith(f"{path.name}: corrupt image data (") and "\n" not in message


@pytest.fixture(scope="module")
def png_bytes() -> bytes:
    import cv2

    ok, buffer = cv2.imencode(".png", example_photo()[:64, :64])
    assert ok
    return buffer.tobytes()


@pytest.mark.parametrize("error", [ValueError("bad tile"), EOFError(), struct.error("unpack requires 4 bytes"),
                                   OSError("broken data stream"), SyntaxError("bad chunk"), IndexError("index"),
                                   TypeError("not an integer")], ids=lambda e: type(e).__name__)
def test_every_error_pillow_raises_while_decoding_becomes_image_decode_error(monkeypatch, png_bytes, error):
    """Fault injection: Pillow's pixel decoding raising each type it is known to raise on damaged data."""
    def broken_load(self):
        raise error

    monkeypatch.setattr(ImageFile.ImageFile, "load", broken_load)
    with pytest.raises(ImageDecodeError) as info:
        decode_image(png_bytes, name="damaged.png")
    assert str(info.value).startswith("damaged.png: corrupt image data (") and "\n" not in str(info.value)
