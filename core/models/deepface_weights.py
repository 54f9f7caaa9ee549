"""DeepFace's emotion weights: where they live, fetching them ahead of time, checking them.

DeepFace (TensorFlow backend) loads ``facial_expression_model_weights.h5`` (about 6 MB) from
``$DEEPFACE_HOME/.deepface/weights/`` and downloads it there on first use. This module fetches it
ahead of time with a progress bar and checks that it fits DeepFace's emotion network.

:func:`write_stand_in_weights` writes an architecture-identical file with fixed *random* weights.
It lets the real ``DeepFace.analyze`` code run offline in tests and benchmarks (speed does not
depend on weight values); its predictions are meaningless.
"""
from __future__ import annotations

import os
from pathlib import Path

WEIGHTS_FILE = "facial_expression_model_weights.h5"
WEIGHTS_URLS = (
    "https://github.com/serengil/deepface_models/releases/download/v1.0/facial_expression_model_weights.h5",
    "https://huggingface.co/serengil/deepface/resolve/main/facial_expression_model_weights.h5",
)
MIN_BYTES = 1_000_000  # the real file is about 6 MB; anything much smaller is an error page


def deepface_home() -> Path:
    """``$DEEPFACE_HOME`` or the home directory, as DeepFace itself resolves it."""
    return Path(os.getenv("DEEPFACE_HOME", default=os.path.expanduser("~")))


def weights_path(home: str | Path | None = None) -> Path:
    return Path(home or deepface_home()) / ".deepface" / "weights" / WEIGHTS_FILE


def missing_weights_message(path: Path | None = None) -> str:
    path = path or weights_path()
    return (f"DeepFace's emotion weights are missing: put {WEIGHTS_FILE} at {path} "
            f"(run `make deepface-weights` on a machine with internet access, or copy the file there; "
            f"set DEEPFACE_HOME to use another folder)")


def _build_emotion_network():
    """DeepFace's emotion CNN (deepface/models/demography/tf/Emotion.py), built with tf-keras."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"  # what DeepFace sets: tf.keras is Keras 2 (tf-keras)
    import tf_keras
    from tf_keras import layers

    return tf_keras.Sequential([
        layers.Conv2D(64, (5, 5), activation="relu", input_shape=(48, 48, 1)),
        layers.MaxPooling2D(pool_size=(5, 5), strides=(2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.AveragePooling2D(pool_size=(3, 3), strides=(2, 2)),
        layers.Conv2D(128, (3, 3), activation="relu"),
        layers.Conv2D(128, (3, 3), activation="relu"),
        layers.AveragePooling2D(pool_size=(3, 3), strides=(2, 2)),
        layers.Flatten(),
        layers.Dense(1024, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(1024, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(7, activation="softmax"),
    ])


def check_weights(path: str | Path) -> None:
    """Raise ``ValueError`` unless ``path`` holds weights that load into DeepFace's emotion network."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(missing_weights_message(path))
    if path.stat().st_size < MIN_BYTES:
        raise ValueError(f"{path}: only {path.stat().st_size} bytes; not DeepFace's emotion weights")
    try:
        _build_emotion_network().load_weights(str(path))
    except Exception as exc:  # h5py/tf-keras raise many types for a wrong file
        raise ValueError(f"{path}: does not fit DeepFace's emotion network ({exc})") from None


def write_stand_in_weights(home: str | Path, seed: int = 2024) -> Path:
    """Write an architecture-identical weights file with fixed random weights under ``home``.

    For tests and benchmarks only: it checks plumbing and speed, never accuracy.
    """
    import numpy as np

    model = _build_emotion_network()
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, 0.05, size=w.shape).astype(np.float32) for w in model.get_weights()])
    path = weights_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(str(path))
    stand_in_marker(path).write_text("architecture-identical STAND-IN weights (random): plumbing and speed only\n")
    return path


def stand_in_marker(path: str | Path) -> Path:
    """The file beside a weights file that says it is a stand-in (written by :func:`write_stand_in_weights`)."""
    return Path(path).with_name(Path(path).name + ".stand-in")


def is_stand_in(home: str | Path | None = None) -> bool:
    """Whether the weights in ``home`` (default ``$DEEPFACE_HOME``) are stand-ins, whose results must never
    reach the shipped artifacts."""
    return stand_in_marker(weights_path(home)).is_file()


def download_weights(home: str | Path | None = None, urls=WEIGHTS_URLS, timeout: float = 30.0) -> Path:
    """Fetch the weights into ``home`` (default ``$DEEPFACE_HOME``) with a progress bar, then check them.

    Tries each URL in turn; writes to a temporary file and renames it only once it is complete
    and loads. Returns the path; raises ``RuntimeError`` with every URL's failure otherwise.
    """
    import requests
    from tqdm import tqdm

    target = weights_path(home)
    if target.is_file():
        check_weights(target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.stem + ".part.h5")  # tf-keras picks the format by suffix
    failures = []
    for url in urls:
        try:
            with requests.get(url, stream=True, timeout=timeout) as response:
                response.raise_for_status()
                total = int(response.headers.get("content-length", 0)) or None
                with open(partial, "wb") as out, tqdm(total=total, unit="B", unit_scale=True, desc=WEIGHTS_FILE) as bar:
                    for chunk in response.iter_content(chunk_size=1 << 16):
                        out.write(chunk)
                        bar.update(len(chunk))
            check_weights(partial)
            os.replace(partial, target)
            return target
        except (requests.RequestException, OSError, ValueError) as exc:
            failures.append(f"{url}: {exc}")
            partial.unlink(missing_ok=True)
    raise RuntimeError("could not fetch DeepFace's emotion weights:\n  " + "\n  ".join(failures)
                       + f"\n{missing_weights_message(target)}")


RUN_TIMEOUT_S = 10.0  # `make run` waits at most this long for a connection (and between data chunks)


def fetch_for_run(home: str | Path | None = None, urls=WEIGHTS_URLS, timeout: float = RUN_TIMEOUT_S) -> str:
    """What ``make run`` does before starting the app: nothing when the weights are there, else one
    short download attempt with a progress bar. Never raises; returns one line to print ("" when the
    weights were already there)."""
    target = weights_path(home)
    if target.is_file():
        return ""
    try:
        return f"DeepFace's emotion weights fetched: {download_weights(home, urls, timeout)}"
    except Exception:  # whatever went wrong, the app starts anyway with the CNN alone
        return (f"DeepFace's emotion weights could not be fetched, so the app runs without DeepFace; "
                f"add it later with `make deepface-weights` (or copy {WEIGHTS_FILE} to {target})")


def main(argv: list[str] | None = None) -> int:
    """``python -m core.models.deepface_weights [--for-run]``: fetch and check the weights
    (``make deepface-weights``); ``--for-run`` (``make run``) tries briefly, prints one line, exits 0."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m core.models.deepface_weights", description=main.__doc__)
    parser.add_argument("--for-run", action="store_true",
                        help="only if missing, a short attempt; on failure one line and exit status 0")
    args = parser.parse_args(argv)
    if args.for_run:
        line = fetch_for_run()
        if line:
            print(line, file=sys.stderr)
        return 0
    try:
        path = download_weights()
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"ok: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
