"""The Compare page's memory before and after "Remove all" (run by ``core.bench.memory``, in ``make bench``):
Streamlit's AppTest in this process (``core`` never imports Streamlit, so this lives outside it), the
session's photo cap reached with 5-megapixel JPEGs and analysed; prints one JSON line."""
from __future__ import annotations

import json
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from core.bench.memory import FIVE_MP  # noqa: E402
from core.console import import_tensorflow_quietly  # noqa: E402


def compare_child() -> dict:
    """In the child: the Compare page in AppTest, the photo cap reached with 5 MP photos, then Remove all."""
    import gc
    import tracemalloc

    import cv2
    import numpy as np
    from streamlit.testing.v1 import AppTest

    from core.media.images import example_photo
    from core.presentation.photos import MAX_PHOTOS

    face = cv2.resize(example_photo(), (FIVE_MP[1], FIVE_MP[1]), interpolation=cv2.INTER_CUBIC)
    base = cv2.copyMakeBorder(face, 0, 0, 0, FIVE_MP[0] - FIVE_MP[1], cv2.BORDER_REPLICATE)
    photos = [(f"photo{i}.jpg", cv2.imencode(".jpg", np.roll(base, 7 * i, axis=1))[1].tobytes(), "image/jpeg")
              for i in range(MAX_PHOTOS)]
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "compare.py"), default_timeout=600)
    at.run()
    at.run()  # models loaded and cached
    gc.collect()
    tracemalloc.start()
    empty = tracemalloc.get_traced_memory()[0]
    at.get("file_uploader")[0].set_value(photos)
    at.run()
    gc.collect()
    held = tracemalloc.get_traced_memory()[0]
    shown = sum("— 1 face" in e.proto.label for e in at.expander)
    at.button(key="remove_all").click()
    at.run()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return {"photos": len(photos), "photos_analysed": shown, "photo_mib_each": round(len(photos[0][1]) / 2**20, 2),
            "photo_size": f"{FIVE_MP[0]}x{FIVE_MP[1]}",
            "held_mib": round((held - empty) / 2**20, 1), "after_remove_all_mib": round((after - empty) / 2**20, 1),
            "what": "Python's traced memory (tracemalloc, numpy included) of the Compare page's session above its "
                    "state before the upload: with the session's photo cap reached and analysed, and after Remove all"}



if __name__ == "__main__":
    import_tensorflow_quietly()
    print(json.dumps(compare_child()))
