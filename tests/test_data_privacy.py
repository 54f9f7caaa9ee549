"""Privacy of the "Your data" page: evaluating an uploaded zip of faces writes no file anywhere we can watch
(working directory, temporary directory, models root, the CNN's folder) and logs neither the image names nor
their bytes. Same approach as tests/test_privacy.py (the audit-hook write watch and snapshots of
tests/privacy_watch.py, every logger at DEBUG, stdout/stderr)."""
from __future__ import annotations

import pytest
from privacy_watch import all_logging_at_debug, changes, leaks, snapshot, watch_writes
from zipfaces import faces_per_label, zip_of

SECRET = "private-family-9c2e41"


@pytest.mark.slow
def test_data_page_upload_writes_no_file_and_logs_no_image(sandbox, tmp_path, tiny_model_dir,
                                                           without_deepface, monkeypatch, capfd):
    from test_app import assert_ok, run_app

    models_root = tmp_path / "models"
    models_root.mkdir()
    monkeypatch.setenv("EMOTION_MODEL_DIR", str(tiny_model_dir))
    monkeypatch.setenv("EMOTION_MODELS_ROOT", str(models_root))
    faces = faces_per_label(3)
    entries = {f"{label}/{SECRET}-{i}.png": data for label, items in faces.items() for i, (_, data) in enumerate(items)}
    data = zip_of(entries)
    one_face = faces["happy"][0][1]
    at = run_app("data")
    roots = [*sandbox, models_root, tiny_model_dir]
    before = snapshot(*roots)
    capfd.readouterr()
    with all_logging_at_debug() as logs, watch_writes() as seen:
        at.file_uploader(key="data_upload").set_value((f"{SECRET}.zip", data, "application/zip"))
        at.run()
        at.button(key="data_run").click()
        at.run()
    out, err = capfd.readouterr()
    assert_ok(at)
    assert any(m.label.endswith("accuracy") for m in at.metric), "the zip was not evaluated"
    assert len(at.get("image")) > 0, "the mistakes gallery showed none of the images"
    assert seen.writes == [], f"the evaluation wrote to disk: {seen.report()}"
    assert changes(before, snapshot(*roots)) == []
    for where, text in (("logs", logs.text), ("stdout", out), ("stderr", err)):
        assert leaks(text, one_face, name=SECRET) == [], f"an image leaked into {where}"
        assert leaks(text, data, name=SECRET) == [], f"the zip leaked into {where}"
