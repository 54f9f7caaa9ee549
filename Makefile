# Emotion-recognition workbench. `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements-installed
FER2013_DIR ?= ../shared/datasets/fer2013

.PHONY: run test venv e2e bench deepface-weights evaluate evaluate-deepface train train-resume clean

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

run: venv
	$(BIN)/streamlit run streamlit_app.py

test: venv
	$(BIN)/python -m pytest

deepface-weights: venv
	$(BIN)/python -m core.deepface_weights

train: venv
	$(BIN)/python -m core train --data $(FER2013_DIR) --name fer2013_cnn

train-resume: venv
	$(BIN)/python -m core train --resume --data $(FER2013_DIR) --name fer2013_cnn

clean:
	rm -rf $(VENV) .pytest_cache tests/e2e/screenshots
