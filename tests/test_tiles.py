"""Small faces in group photos: BlazeFace on tiles (core.faces.tiles) and the group scenes it is scored on."""
from __future__ import annotations

import pytest

from core.bench import detection_set as ds
from core.faces import catalogue
from core.faces.tiles import TiledDetector, tile_origins


def test_tiles_cover_the_photo_with_overlap():
    assert tile_origins(1280, 192, 0.25) == [0, 144, 288, 432, 576, 720, 864, 1008, 1088]
    assert tile_origins(100, 192, 0.25) == [0]  # smaller than a tile: one tile


@pytest.fixture(scope="module")
def group():
    """Two generated 1280x720 group scenes, 4-12 faces of 40-100 px each (the synthetic head: no dataset needed)."""
    return ds.group_scenes(2, seed=3, fer_dir="")


def test_group_scenes_have_4_to_12_faces_of_40_to_100_px(group):
    for scene in group:
        assert scene.image.shape == (720, 1280, 3) and 4 <= len(scene.faces) <= 12
        assert all(40 <= f.w <= 101 for f in scene.faces)


def test_tiles_find_the_small_faces_the_default_misses(group):
    """Non-regression test for issue 22: four 60-80 px faces in a 1280x720 photo, the default found one."""
    tiles = ds.evaluate("blazeface-tiles", catalogue.build("blazeface-tiles"), group)
    default = ds.evaluate(catalogue.DEFAULT_DETECTOR, catalogue.build(catalogue.DEFAULT_DETECTOR), group)
    assert tiles.recall >= 0.8 and tiles.false_positives <= 3 * len(group)  # the cartoon head: see the bench for FER2013
    assert tiles.recall > default.recall + 0.3
    assert isinstance(catalogue.build("blazeface-tiles"), TiledDetector)
    assert catalogue.smallest_faces("blazeface-tiles", 1280, 720) == {"blazeface-tiles": 40}
