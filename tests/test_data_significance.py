"""Your data, issue 26: intervals, paired comparisons, honest macro F1 and slices on the page and in the
download (the same figures), and no stale result under a new input."""
from __future__ import annotations

import io
import json
import zipfile

import pytest
from test_app import assert_ok, downloads, run_app  # noqa: F401 - downloads is a fixture
from test_data_page import app_env, page_text, table_with, upload  # noqa: F401 - app_env is a fixture
from zipfaces import faces_per_label, labelled_zip, zip_of

from core.presentation.significance import NO_SUPPORT, interval_text


def no_neutral_zip(per_class: int = 3) -> tuple[bytes, bytes]:
    """A zip with every emotion but neutral, and a metadata CSV (file name, lighting) for it."""
    faces = {label: items for label, items in faces_per_label(per_class).items() if label != "neutral"}
    entries = {f"mine/{label}/{name}": data for label, items in faces.items() for name, data in items}
    rows = ["file,lighting"] + [f"{name},{'dark' if i % 2 else 'bright'}"
                                for items in faces.values() for i, (name, _) in enumerate(items)]
    return zip_of(entries), ("\n".join(rows) + "\n").encode()


@pytest.mark.slow
def test_the_download_holds_the_figures_of_the_page(app_env, downloads):  # noqa: F811
    data, metadata = no_neutral_zip()
    at = run_app("data")
    at.session_state["data_metadata_bytes"] = metadata
    upload(at, "mine.zip", data)
    assert_ok(at)
    assert not at.error, [e.value for e in at.error]
    archive = zipfile.ZipFile(io.BytesIO(downloads(at.get("download_button")[0])))
    stored = {name.split("/")[0]: json.loads(archive.read(name)) for name in archive.namelist()
              if name.endswith("metrics.json")}
    assert "constant" in stored and "fer2013_cnn" in stored

    headline = table_with(at, "accuracy 95% CI").set_index("model")
    per_class = table_with(at, "note").set_index("emotion")
    for model, metrics in stored.items():
        row = headline.loc[metrics_label(model)]
        assert row["accuracy"] == pytest.approx(metrics["accuracy"] * 100)
        assert row["accuracy 95% CI"] == interval_text(metrics["intervals"]["accuracy"], percent=True)
        assert row["macro F1 95% CI"] == interval_text(metrics["intervals"]["macro_f1"])
        assert metrics["classes_absent"] == ["neutral"]
        assert metrics["per_class"]["neutral"]["support"] == 0 and metrics["per_class"]["neutral"]["f1"] is None
        present = [v["f1"] for label, v in metrics["per_class"].items() if label != "neutral"]
        assert metrics["macro_f1"] == pytest.approx(sum(present) / len(present))  # six classes, not seven
    assert per_class.loc["neutral", "note"] == NO_SUPPORT
    assert per_class.loc["neutral", "Constant F1 95% CI"] == NO_SUPPORT
    # always happy: right on 3 of 18 faces, exactly its majority-class baseline
    constant = stored["constant"]
    assert constant["baselines"]["majority_class"]["accuracy"] == pytest.approx(constant["accuracy"])

    sentences = {m.value[2:] for m in at.markdown if m.value.startswith("- On these ")}
    stored_sentences = {c["sentence"] for m in stored.values() for c in m["comparisons"]}
    assert sentences and sentences <= stored_sentences
    pair = next(c for c in stored["constant"]["comparisons"] if c["b"] == "fer2013_cnn")
    assert pair["n"] == 18 and pair["both_right"] + pair["only_a"] + pair["only_b"] + pair["both_wrong"] == 18

    slices = table_with(at, "worse than overall")
    stored_slices = [r for m in stored.values() for r in m["slices"]["slices"]]
    assert len(slices) == len(stored_slices) == 2 * len(stored)  # dark and bright, per model
    assert sorted(slices["accuracy"].round(6)) == sorted(round(r["accuracy"] * 100, 6) for r in stored_slices)
    assert sorted(slices["faces"]) == sorted(r["n"] for r in stored_slices)
    assert {r["n"] for r in stored_slices} == {6, 12}  # every second face of each emotion is dark
    assert "18 images matched a metadata row, 0 did not" in page_text(at)


def metrics_label(model: str) -> str:
    from core.presentation.charts import display_name

    return display_name(model)


@pytest.mark.slow
def test_a_new_upload_clears_the_old_results(app_env):  # noqa: F811
    at = upload(run_app("data"), "first.zip", labelled_zip(per_class=2, contempt=0, extras=False))
    assert_ok(at)
    assert at.metric and at.get("download_button")
    at.file_uploader(key="data_upload").set_value(("second.zip", no_neutral_zip(2)[0], "application/zip"))
    at.run()  # a new zip, Evaluate not pressed yet: nothing of the first one may stay on screen
    assert_ok(at)
    assert not at.metric and not at.get("download_button") and not at.dataframe
    assert "images of first" not in page_text(at)
    at.button(key="data_run").click()
    at.run()
    assert "images of second" in page_text(at)
    at.radio(key="data_image_kind").set_value("photos: detect faces first")
    at.run()  # the same zip read another way is another input too
    assert not at.metric and not at.get("download_button")
