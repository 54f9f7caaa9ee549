"""Models: every model's card, and bringing your own model for this session.

An uploaded model file is read from the upload's bytes into memory and stays in this session's state:
nothing is written to disk or logged, and no other session sees it. Saving it under ``models/`` is
offered only when the server allows it (``EMOTION_ALLOW_MODEL_SAVE=1``; off by default, so a shared
deployment never writes uploaded files).
"""
from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from core import paths
from core.labels import FER2013_LABELS
from core.models import registry
from core.presentation.artifacts import ArtifactError
from core.presentation.places import without_server_paths
from pages import runtime
from pages.common import add_session_model, read, session_added

SAVE_SETTING = "EMOTION_ALLOW_MODEL_SAVE"
UPLOAD_TYPES = ["keras", "h5", "hdf5", "onnx", "tflite"]


def saving_allowed() -> bool:
    return os.environ.get(SAVE_SETTING, "").strip().lower() in ("1", "true", "yes")


# --------------------------------------------------------------------------- the cards


def card_rows(spec, status) -> list[dict]:
    prov = spec.provenance
    return [{"field": key, "value": value} for key, value in (
        ("id", spec.name), ("kind", spec.kind), ("status", without_server_paths(status.status)),
        ("labels", ", ".join(spec.labels)), ("input", spec.preprocessing.summary()),
        ("source", prov.source), ("training data", prov.training_data),
        ("test splits seen in training?", prov.test_split_exposure))]


def show_cards() -> None:
    st.header("Every model")
    status = registry.available()
    for spec in registry.specs():
        st.subheader(spec.title)
        st.markdown(f"<span style='color:{spec.colour}'>&#9632;</span> `{spec.name}` · {spec.description or spec.kind}",
                    unsafe_allow_html=True)
        st.dataframe(pd.DataFrame(card_rows(spec, status[spec.name])), hide_index=True, width="stretch")
        folder = spec.artifacts_dir(paths.models_root())
        try:
            card = read("model_json", folder)
        except ArtifactError:
            continue
        with st.expander(f"model.json of {spec.title}"):
            st.json({key: value for key, value in card.items() if key != "licence"}, expanded=False)


# --------------------------------------------------------------------------- bring your own


def _network(upload):
    """The uploaded file's network, loaded once per file (kept in this session's state), or the refusal."""
    from core.models.formats import ModelRefused, format_of, load_network
    from core.models.imported import sha256

    data = upload.getvalue()
    digest = sha256(data)
    held = st.session_state.get("models_network")
    if held is None or held[0] != digest:
        try:
            held = (digest, load_network(data, format_of(upload.name)), None)
        except ModelRefused as exc:
            held = (digest, None, str(exc))
        st.session_state["models_network"] = held
        if held[1] is not None:  # a new file: the settings start from its own defaults
            seven = held[1].outputs == len(FER2013_LABELS)
            st.session_state["models_labels"] = ",".join(FER2013_LABELS) if seven else ""
            st.session_state["models_channels"] = "rgb" if held[1].channels == 3 else "gray"
            st.session_state.pop("models_check", None)
    return held[1], held[2]


def _settings(network):
    """The name, labels and convention the user set (defaults from the file)."""
    from core.models.imported import CHANNELS, OUTPUTS, RESIZES, SCALINGS

    name = st.text_input("Name (its id on every page)", key="models_name", placeholder="my_model")
    labels = st.text_input("Labels, in output order", key="models_labels")
    columns = st.columns(4)
    channels = columns[0].selectbox("Channels", CHANNELS if network.channels == 3 else ("gray",), key="models_channels")
    scaling = columns[1].selectbox("Scaling", tuple(SCALINGS), key="models_scaling")
    resize = columns[2].selectbox("Resize", tuple(RESIZES), key="models_resize")
    output = columns[3].selectbox("Outputs", OUTPUTS, key="models_output")
    return name.strip(), labels, channels, scaling, resize, output


def _classifier(network, name, labels, channels, scaling, resize, output):
    from core.labels import parse_classes
    from core.models.imported import Convention, ImportedClassifier

    return ImportedClassifier(network, parse_classes(labels) or (), Convention(channels, scaling, resize),
                              name or "uploaded", output)


def _take(result) -> None:
    """Button callback: set the widgets to the check's proposal (before they are drawn again)."""
    if result.proposed_convention is not None:
        st.session_state["models_channels"] = result.proposed_convention.channels
        st.session_state["models_scaling"] = result.proposed_convention.scaling
        st.session_state["models_resize"] = result.proposed_convention.resize
    if result.proposed_labels:
        st.session_state["models_labels"] = ",".join(result.proposed_labels)
    if result.output_problem:
        st.session_state["models_output"] = "logits"
    st.session_state.pop("models_check", None)


def _check(classifier) -> None:
    from core.data.datasets import DatasetError, load_dataset
    from core.evaluation.input_check import run_check

    folder = paths.dataset_dir_from_env()
    if folder is None:
        st.info("The input check needs FER2013 on the server (FER2013_DIR); it is not there.")
        return
    if st.button("Run the input check", key="models_run_check",
                 help="scores the model on 700 PublicTest faces under every channel order, scaling and resize"):
        bar = st.progress(0.0, text="Trying each input convention…")
        try:
            result = run_check(classifier, load_dataset(folder),
                               on_progress=lambda done, total: bar.progress(done / total, text=f"{done} of {total}"))
        except (DatasetError, ValueError) as exc:
            st.error(without_server_paths(exc))
            return
        finally:
            bar.empty()
        st.session_state["models_check"] = (str(classifier.convention), result)
    held = st.session_state.get("models_check")
    if held is None:
        return
    result = held[1]
    st.caption(f"Input check: {result.n_images} faces of {result.dataset} {result.split} (seeded, stratified); "
               f"set: {held[0]}.")
    st.dataframe(pd.DataFrame([{"input": r["input"], "accuracy %": round(100 * r["accuracy"], 1),
                                "with the best label order %": round(100 * r["accuracy_best_order"], 1)}
                               for r in result.rows]), hide_index=True, width="stretch", key="models_check_table")
    for message in result.messages:
        st.warning(message)
    if result.has_proposal:
        st.button("Take the proposal", key="models_take", on_click=_take, args=(result,))
    else:
        st.success("The settings given are the best of those tried.")


def bring_your_own() -> None:
    st.header("Bring your own model")
    st.markdown("Upload a `.keras`, `.h5`, `.onnx` or `.tflite` emotion classifier. It is read into memory, "
                "checked, and added to **this session only**: it shows on Compare, Live, Video files and Your data "
                "until you close the tab. Nothing is written to disk. Loading is safe: no Lambda layers, no custom "
                "objects.")
    upload = st.file_uploader("Model file", type=UPLOAD_TYPES, key="models_upload")
    if upload is None:
        return
    network, refusal = _network(upload)
    if network is None:
        st.error(f"{upload.name} is refused: {refusal}")
        return
    st.caption(f"{network.format} model: input {network.height}x{network.width}x{network.channels} "
               f"({network.layout}), {network.outputs} outputs.")
    settings = _settings(network)
    try:
        classifier = _classifier(network, *settings)
    except (ValueError, registry.ModelUnavailable) as exc:
        st.error(str(exc))
        return
    _check(classifier)
    if st.button("Add to this session", key="models_add", type="primary"):
        problem = _name_problem(classifier.name)
        if problem:
            st.error(problem)
        else:
            add_session_model(classifier)
            st.success(f"{classifier.name} is added to this session.")
    if saving_allowed() and classifier.name in session_added() and st.button("Save under models/", key="models_save"):
        _save(upload, classifier)
    elif not saving_allowed():
        st.caption(f"Saving uploaded models under models/ is off on this server ({SAVE_SETTING}).")


def _name_problem(name: str) -> str | None:
    from core.evaluation.imports import NAME_PATTERN

    if not NAME_PATTERN.match(name):
        return "A name is 1-48 lower-case letters, digits, '_' or '-'."
    if (name in registry.names() or (paths.models_root() / name).exists()) and name not in session_added():
        return f"{name} is already a model's id; choose another name."
    return None


def _save(upload, classifier) -> None:
    from core.evaluation.imports import store
    from core.models.imported import card_for

    data = upload.getvalue()
    card = card_for(classifier, data, source=f"uploaded on the Models page ({upload.name})")
    store(classifier, data, card, paths.models_root())
    st.success(f"Saved as models/{classifier.name}/ (evaluate it with `python -m core evaluate --model "
               f"{classifier.name}`).")


@runtime.page
def main() -> None:
    st.title("Models")
    added = session_added()
    if added:
        st.info("Added in this session: " + ", ".join(f"**{entry['spec'].title}**" for entry in added.values()))
    bring_your_own()
    show_cards()


main()
