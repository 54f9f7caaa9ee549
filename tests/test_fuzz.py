"""Fuzzing the decoder and the pipeline with random and mutated image bytes (hypothesis).

Real JPEG, PNG, GIF, WebP, BMP and TIFF encodings are mutated (bit flips, truncation, byte
overwrites, header splices between formats) or replaced by random bytes. The only allowed
outcomes are a decoded image / an analysis result, or :class:`ImageDecodeError`; memory stays
bounded. Deterministic: hypothesis is derandomized (the same inputs every run, no example database)
and has no per-example deadline (no timing in unit tests); the run is bounded by ``max_examples``.
Inputs it has found that once broke the decoder live in ``tests/fuzz_corpus/`` and run on every
``make test`` as fixed regression cases (``tests/test_decode_corpus.py``); add a new find there
(hypothesis prints it as the falsifying example).
"""
from __future__ import annotations

import io
import resource

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from core.media.images import ImageDecodeError, decode_image

MAX_RSS_GROWTH_MIB = 1024  # decoding is capped at 40 MP; anything near this means a leak or a bomb


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _seed_images() -> list[bytes]:
    from core.media.images import example_photo

    rgb = example_photo()[60:156, 160:288, ::-1]  # a 128x96 crop around the face, RGB
    image = Image.fromarray(np.ascontiguousarray(rgb))
    encodings = []
    for fmt, mode, kwargs in [("JPEG", "RGB", {"quality": 85}), ("JPEG", "L", {"progressive": True}),
                              ("PNG", "RGB", {}), ("PNG", "RGBA", {}), ("PNG", "P", {}), ("PNG", "I;16", {}),
                              ("GIF", "P", {}), ("WEBP", "RGB", {"quality": 80}), ("WEBP", "RGB", {"lossless": True}),
                              ("BMP", "RGB", {}), ("TIFF", "RGB", {"compression": "tiff_lzw"}),
                              ("TIFF", "RGB", {}), ("TIFF", "L", {"compression": "tiff_deflate"})]:
        converted = image.convert("L").convert("I;16") if mode == "I;16" else image.convert(mode)
        buffer = io.BytesIO()
        converted.save(buffer, fmt, **kwargs)
        encodings.append(buffer.getvalue())
    return encodings


SEEDS = _seed_images()
seed = st.sampled_from(SEEDS)


@st.composite
def bit_flips(draw):
    data = bytearray(draw(seed))
    # Most damage where it matters most: the header (first 64 bytes), some anywhere.
    for _ in range(draw(st.integers(1, 12))):
        limit = len(data) - 1 if draw(st.booleans()) else min(63, len(data) - 1)
        data[draw(st.integers(0, limit))] ^= 1 << draw(st.integers(0, 7))
    return bytes(data)


@st.composite
def truncations(draw):
    data = draw(seed)
    return data[: draw(st.integers(0, len(data) - 1))]


@st.composite
def overwrites(draw):
    data = bytearray(draw(seed))
    at = draw(st.integers(0, min(200, len(data) - 1)))
    patch = draw(st.binary(min_size=1, max_size=16))
    data[at:at + len(patch)] = patch
    return bytes(data)


@st.composite
def header_splices(draw):
    """The first bytes of one encoding glued to the rest of another (often another format)."""
    a, b = draw(seed), draw(seed)
    cut = draw(st.integers(1, 128))
    return a[:cut] + b[draw(st.integers(0, min(cut + 64, len(b)))):]


@st.composite
def huge_dimensions(draw):
    """A PNG or GIF whose header claims other (often huge) dimensions than its data holds."""
    import struct
    import zlib

    width, height = draw(st.integers(1, 70000)), draw(st.integers(1, 70000))
    if draw(st.booleans()):
        data = bytearray(SEEDS[2])  # PNG: IHDR starts at 8; width, height at 16..24, CRC at 29..33
        data[16:24] = struct.pack(">II", width, height)
        data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    else:
        data = bytearray(SEEDS[6])  # GIF: logical screen width/height at 6..10, little-endian 16-bit
        data[6:10] = struct.pack("<HH", min(width, 65535), min(height, 65535))
    return bytes(data)


fuzz_bytes = st.one_of(bit_flips(), truncations(), overwrites(), header_splices(), huge_dimensions(),
                       st.binary(max_size=4096), seed)
FUZZ_SETTINGS = settings(max_examples=1500, deadline=None, derandomize=True, database=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                HealthCheck.function_scoped_fixture])


def test_seed_encodings_are_valid():
    for data in SEEDS:
        assert decode_image(data).shape[2] == 3


def test_decode_image_returns_an_image_or_raises_image_decode_error():
    baseline = _rss_mib()

    @FUZZ_SETTINGS
    @given(data=fuzz_bytes)
    def check(data):
        try:
            image = decode_image(data)
        except ImageDecodeError as exc:
            assert str(exc).startswith("<image bytes>: ") and "\n" not in str(exc)
            return
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and image.flags.c_contiguous

    check()
    assert _rss_mib() - baseline < MAX_RSS_GROWTH_MIB


@pytest.fixture(scope="module")
def analyzer(tiny_model_dir):
    from core.analysis.pipeline import Analyzer, load_classifiers

    classifiers, unavailable = load_classifiers("cnn", tiny_model_dir)
    assert not unavailable
    analyzer = Analyzer(classifiers)
    analyzer.analyze_source(SEEDS[0])  # warm up (TensorFlow's first call) before measuring memory
    return analyzer


def test_analyze_source_returns_a_result_or_raises_image_decode_error(analyzer):
    from core.analysis.pipeline import AnalysisOptions

    baseline = _rss_mib()
    whole = AnalysisOptions(no_face="whole_image")

    @settings(FUZZ_SETTINGS, max_examples=500)
    @given(data=fuzz_bytes, whole_image=st.booleans())
    def check(data, whole_image):
        try:
            result = analyzer.analyze_source(data, name="fuzz.bin", options=whole if whole_image else AnalysisOptions())
        except ImageDecodeError as exc:
            assert str(exc).startswith("fuzz.bin: ")
            return
        out = result.to_dict()
        assert not out["model_errors"]
        if whole_image:
            assert out["faces"] and all(f["models"]["fer2013_cnn"]["dominant_emotion"] for f in out["faces"])

    check()
    assert _rss_mib() - baseline < MAX_RSS_GROWTH_MIB
