"""Training: how the CNN was trained — learning curves from history.csv first, then the facts in
model.json in plain words. A few functions; the reading and charting is in ``core.presentation``."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.presentation import artifacts, charts
from core.presentation.artifacts import ArtifactError
from core.presentation.places import place
from pages import runtime
from pages.common import read, show_artifact_error

MISSING = "—"  # a metric value model.json does not record (its help says so)


def fmt_count(value) -> str:
    if not isinstance(value, (int, float)):
        return MISSING
    for size, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if value >= size:
            return f"{value / size:.2f}{suffix}"
    return f"{value:,.0f}"


def fmt_duration(seconds) -> str:
    if not isinstance(seconds, (int, float)):
        return MISSING
    minutes = seconds / 60
    if minutes < 1:
        return f"{seconds:.0f} s"
    if minutes < 60:
        return f"{minutes:.0f} min"
    return f"{int(minutes // 60)} h {int(minutes % 60):02d} min"


LABELS = {  # model.json's keys in plain words
    "name": "Optimiser", "learning_rate": "Peak learning rate", "weight_decay": "Weight decay",
    "schedule": "Learning-rate schedule", "warmup_epochs": "Warm-up epochs", "batch_size": "Batch size",
    "label_smoothing": "Label smoothing", "stages": "Convolution stages (filters per block)",
    "dense_units": "Dense units", "dropout": "Dropout", "parameters": "Parameters",
    "multiply_adds": "Multiply-adds per face", "flip": "Horizontal flip", "rotation_deg": "Rotation (up to, degrees)",
    "shift": "Shift (up to, fraction of the side)", "zoom": "Zoom (up to, fraction)",
    "brightness": "Brightness change (up to)", "contrast": "Contrast change (up to)",
    "erase_prob": "Random erasing (probability)",
}


def plain(key) -> str:
    key = str(key)
    return LABELS.get(key, key.replace("_", " ").capitalize())


def restart_text(restart: dict) -> str:
    """A warm restart in words: "after epoch 50: 50 more epochs from learning rate 0.001 (1 warm-up epoch)"."""
    warmup = restart.get("warmup_epochs")
    return (f"after epoch {restart.get('after_epoch', '?')}: {restart.get('epochs', '?')} more epochs from "
            f"learning rate {restart.get('learning_rate', '?')}"
            + (f" ({warmup} warm-up epoch{'s' if warmup != 1 else ''})" if warmup is not None else ""))


def optimiser_settings(training: dict) -> dict:
    """Optimiser and loss settings as plain-word rows (warm restarts one row each, their augmentation
    is in the augmentation table)."""
    optimizer = dict(training.get("optimizer") or {})
    restarts = optimizer.pop("warm_restarts", None) or []
    settings = dict(optimizer)
    for i, restart in enumerate(restarts, start=1):
        settings[f"Warm restart {i}" if len(restarts) > 1 else "Warm restart"] = restart_text(restart)
    loss = dict(training.get("loss") or {})
    if "name" in loss:
        settings["Loss"] = loss.pop("name")
    settings.update(loss)
    return settings


def table(mapping: dict) -> pd.DataFrame:
    def text(value) -> str:
        if isinstance(value, list):
            return ", ".join(f"[{text(x)}]" if isinstance(x, (list, dict)) else text(x) for x in value)
        if isinstance(value, dict):
            return ", ".join(f"{plain(k)} {text(v)}" for k, v in value.items())
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:,}"
        return str(value)

    rows = [{"setting": plain(k), "value": text(v)} for k, v in mapping.items()]
    return pd.DataFrame(rows, columns=["setting", "value"])


def show_curves(history: pd.DataFrame, meta: dict | None, key: str) -> None:
    epoch, source = artifacts.best_epoch(meta, history)
    st.plotly_chart(charts.training_curves(history, epoch), key=key)
    if epoch is not None:
        row = history[history["epoch_number"] == epoch].iloc[0]
        st.caption(f"Chosen epoch **{epoch}** (from {source}), marked with a dashed line and a star. "
                   f"Epochs are numbered from 1.")
        st.markdown(f"**At the chosen epoch ({epoch})**")
        c1, c2, c3, c4 = st.columns(4)
        c1.metric("Validation accuracy", f"{row['val_accuracy']:.1%}")
        c2.metric("Training accuracy", f"{row['accuracy']:.1%}",
                  help="Measured with augmentation and dropout on, so it is usually below what the model "
                       "scores on clean training images.")
        c3.metric("Validation loss", f"{row['val_loss']:.3f}")
        c4.metric("Epochs recorded", len(history))
        recorded = ((meta or {}).get("training") or {}).get("best_val_accuracy")
        if isinstance(recorded, (int, float)) and abs(recorded - row["val_accuracy"]) > 1e-4:
            st.warning(f"model.json records a best validation accuracy of {recorded:.4f}, but history.csv has "
                       f"{row['val_accuracy']:.4f} at epoch {epoch}: the two files may come from different runs.")
    with st.expander("Per-epoch numbers"):
        st.dataframe(history, hide_index=True, key=f"{key}-table")


def show_run_in_progress(folder) -> None:
    """No exported model: say so, and show a run in progress from runs/ if there is one."""
    st.info(f"No exported CNN in `{place(folder)}` yet: it appears there when training finishes "
            f"(`make train`, or `python -m core train --data DATASET`).", icon=":material/hourglass_top:")
    progress = artifacts.run_progress(folder.name)
    if not progress:
        return
    st.subheader("Training in progress")
    planned = progress["epochs_planned"]
    history = progress["history"]
    done = 0 if history is None else len(history)
    st.markdown(f"Run folder `{progress['dir']}`: **{done}{f' of {planned}' if planned else ''} epochs** "
                f"so far. These live curves come from the run, not from an exported model; to export the "
                f"best checkpoint so far, run `python -m core export --name {folder.name}`.")
    if history is not None:
        show_curves(history, None, key="run-curves")
    elif progress["error"]:
        st.caption(progress["error"])


def show_status(meta: dict) -> None:
    training = meta.get("training") or {}
    status = artifacts.training_status(meta)
    if status.interim:
        st.warning(f"**Interim checkpoint:** {status.epochs_run} of {status.epochs_planned} planned epochs ran. Training "
                   f"is unfinished, so this model is the best epoch so far, not the final model.",
                   icon=":material/hourglass_top:")
    elif status.state in ("finished", "stopped_early"):
        st.success(f"Training {status.describe()}.", icon=":material/check_circle:")
    else:
        st.caption("model.json does not record how many epochs ran and were planned.")
    note = training.get("note")
    if isinstance(note, str) and note.strip():
        if "untrained" in note.lower() or "stand-in" in note.lower():
            st.warning(f"**Note from model.json:** {note.rstrip('.')}.", icon=":material/science:")
        else:
            st.caption(f"Note from model.json: {note}")


def show_headline(meta: dict) -> None:
    """Size, length and result of the training, as metrics that wrap on a narrow window (never cut)."""
    training, architecture = meta.get("training") or {}, meta.get("architecture") or {}
    facts_row = st.container(horizontal=True, gap="medium")

    def headline_metric(label: str, value: str, help: str | None = None) -> None:
        facts_row.metric(label, value, help=help, width="content")

    not_recorded = "Not recorded in model.json."
    headline_metric("Parameters", fmt_count(architecture.get("parameters")),
                    help=None if isinstance(architecture.get("parameters"), (int, float)) else not_recorded)
    headline_metric("Multiply-adds per face", fmt_count(architecture.get("multiply_adds")),
                    help=None if isinstance(architecture.get("multiply_adds"), (int, float)) else not_recorded)
    run, planned = training.get("epochs_run"), training.get("epochs_planned")
    headline_metric("Epochs run / planned", MISSING if run is None and planned is None
                    else f"{run if run is not None else '?'} / {planned if planned is not None else '?'}",
                    help=not_recorded if run is None and planned is None else None)
    best = training.get("best_val_accuracy")
    headline_metric("Best validation accuracy", f"{best:.1%}" if isinstance(best, (int, float)) else MISSING,
                    help=(f"At epoch {training.get('best_epoch', '?')} on the selection split "
                          f"({(training.get('protocol') or {}).get('select', '?')})."
                          if isinstance(best, (int, float)) else not_recorded))
    sessions = training.get("sessions", 1)
    headline_metric("Training time", fmt_duration(training.get("train_seconds")),
                    help=(("In one go." if sessions == 1 else
                           f"Spread over {sessions} sittings: training was stopped and resumed {sessions - 1} times.")
                          if isinstance(training.get("train_seconds"), (int, float)) else not_recorded))


def show_settings(meta: dict) -> None:
    """Hardware, architecture, data, optimiser, augmentation and provenance from model.json."""
    training = meta.get("training") or {}
    architecture = meta.get("architecture") or {}
    provenance = meta.get("provenance") or {}
    hardware = training.get("hardware")
    if isinstance(hardware, list) and hardware:
        described = "; ".join(
            f"{h.get('cpu', '?')} ({h.get('cores', '?')} cores"
            f"{', GPU ' + ', '.join(h['gpus']) if h.get('gpus') else ', no GPU'}), "
            f"Keras {h.get('keras', '?')} on {h.get('backend', '?')} {h.get('tensorflow', '')}".strip()
            for h in hardware if isinstance(h, dict))
        st.markdown(f"**Hardware:** {described}")

    left, right = st.columns(2)
    with left:
        with st.expander("Architecture", expanded=True):
            if architecture.get("description"):
                st.markdown(architecture["description"])
            st.table(table({k: v for k, v in architecture.items() if k not in ("summary", "description")}),
                     hide_index=True)
        with st.expander("Data protocol", expanded=True):
            protocol = training.get("protocol") or {}
            if protocol or training.get("dataset"):
                st.markdown(f"- **Dataset:** {training.get('dataset', 'not recorded')} "
                            f"(folder `{training.get('data_dir_name', '?')}`)\n"
                            f"- **Fit on:** {protocol.get('fit', '?')} ({training.get('n_train', '?')} images)\n"
                            f"- **Checkpoint chosen on:** {protocol.get('select', '?')} ({training.get('n_val', '?')} images)\n"
                            f"- **Reported on:** {protocol.get('report', '?')} (see the Evaluation page)")
                if protocol.get("note"):
                    st.caption(protocol["note"])
            else:
                st.caption("Not recorded in model.json.")
    with right:
        with st.expander("Optimiser and loss", expanded=True):
            settings = optimiser_settings(training)
            if settings:
                st.table(table(settings), hide_index=True)
            else:
                st.caption("Not recorded in model.json.")
        with st.expander("Augmentation", expanded=True):
            augmentation = training.get("augmentation") or {}
            by_cycle = training.get("augmentation_by_cycle") or {}
            if len({tuple(c.items()) for c in by_cycle.values()}) > 1:  # a warm restart changed it: a column per cycle
                frame = pd.DataFrame(by_cycle).astype(str).rename_axis("setting").reset_index()
                frame["setting"] = frame["setting"].map(plain)
                st.table(frame, hide_index=True)
            elif augmentation:
                st.table(table(augmentation), hide_index=True)
            else:
                st.caption("Not recorded in model.json.")
        with st.expander("Reproducibility", expanded=True):
            def or_missing(value, code: bool = False) -> str:
                if value is None or value == "":
                    return ":gray[not recorded]"
                return f"`{value}`" if code else str(value)

            st.markdown(f"- **Seed:** {or_missing(training.get('seed'))}\n"
                        f"- **Commit:** {or_missing(provenance.get('commit'), code=True)}\n"
                        f"- **Exported at:** {or_missing(provenance.get('exported_at'))}\n"
                        f"- **Run folder:** {or_missing(provenance.get('run_dir'), code=True)}")
    if architecture.get("summary"):
        with st.expander("Layer by layer"):
            st.code(architecture["summary"], language=None, wrap_lines=False)
    with st.expander("model.json as stored"):
        st.json(meta, expanded=False)


@runtime.page
def main() -> None:
    st.title("How the CNN was trained")
    folder = artifacts.model_dir()
    st.caption(f"Model folder: `{place(folder)}` (set `EMOTION_MODEL_DIR` to show another).")
    meta = None
    try:
        meta = read("model_json", folder)
    except ArtifactError as error:
        if error.kind == "missing" and not (folder / "history.csv").exists():
            show_run_in_progress(folder)
            return
        show_artifact_error(error, "Model facts (model.json)")
    if meta is not None:
        show_status(meta)
        show_headline(meta)
    st.subheader("Learning curves")
    try:
        history = read("history", folder)
    except ArtifactError as error:
        show_artifact_error(error, "Learning curves (history.csv)")
    else:
        show_curves(history, meta, key="model-curves")
    if meta is not None:
        st.subheader("How it was set up")
        show_settings(meta)


main()
