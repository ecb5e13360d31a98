# Everything runs in .venv, made with a Python that TensorFlow 2.15 supports (3.11, 3.10 or 3.9).
VENV := .venv
PYTHON := $(VENV)/bin/python
SUPPORTED_PYTHON := $(shell for p in python3.11 python3.10 python3.9; do command -v $$p >/dev/null 2>&1 && { echo $$p; break; }; done)

.PHONY: install lint demo smoke test mutants

$(PYTHON):
	@test -n "$(SUPPORTED_PYTHON)" || { echo "error: TensorFlow 2.15 needs Python 3.9-3.11; install python3.11 (or python3.10, python3.9) and rerun make"; exit 1; }
	$(SUPPORTED_PYTHON) -m venv $(VENV)

install: $(PYTHON)
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q -r requirements.txt -r requirements-dev.txt -e .

lint: install
	$(PYTHON) -m ruff check .

# The main job: the whole chain on built-in procedural faces (generate, align, pretrain, PFE, evaluate).
# A rerun reuses demo_run (same settings: the same numbers) or rebuilds it (other DEMO_FLAGS).
DEMO_DIR ?= demo_run
DEMO_FLAGS ?=
demo: install
	$(PYTHON) -m scripts.demo --work_dir $(DEMO_DIR) $(DEMO_FLAGS)

# The training loop alone on synthetic P x K batches, a few steps.
# A rerun of a finished smoke run resumes at its last step and stops there.
SMOKE_DIR ?= ckpt/smoke
smoke: install
	$(PYTHON) main.py --mode=train --data=synthetic --backbone=sphere20 --batch_size=32 \
		--num_classes_per_batch=8 --max_steps=20 --log_every_n_steps=5 --model_dir=$(SMOKE_DIR)

test: lint
	$(PYTHON) -m pytest -q -n 2 --dist loadfile tests

# Mutation testing of the core modules (pyproject.toml [tool.mutmut]); results: `mutmut results`,
# one mutant: `mutmut show NAME`. Reruns only mutants whose function changed.
mutants: install
	$(PYTHON) -m pip install -q mutmut==3.8.1
	PFE_SHARED_DIR=$(abspath ../shared) $(PYTHON) -m mutmut run --max-children 2
	$(PYTHON) -m mutmut results | grep -v ": killed" || true
