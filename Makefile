# Emotion-recognition workbench. `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements-installed
FER2013_DIR ?= ../shared/datasets/fer2013

.PHONY: run test venv e2e bench deepface-weights evaluate evaluate-deepface train train-resume clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

run: venv
	$(BIN)/streamlit run streamlit_app.py

test: venv
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -m "not e2e"

# Browser tests (Debian's Chromium at /usr/bin/chromium, driven by Playwright) and the browser load test.
e2e: venv
	$(BIN)/python -m pytest -m e2e tests/e2e

# Speed benchmarks: writes benchmarks/results.json (MODEL_DIR=... to time another CNN folder).
bench: venv
	$(BIN)/python -m core bench $(if $(MODEL_DIR),--model-dir $(MODEL_DIR))

deepface-weights: venv
	$(BIN)/python -m core.models.deepface_weights

evaluate: venv
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
