PYTHON ?= python3

.PHONY: install demo smoke test mutants

install:
	$(PYTHON) -m pip install -q -r requirements.txt -r requirements-dev.txt

# The main job: the whole chain on built-in procedural faces (generate, align, pretrain, PFE, evaluate).
demo: install
	$(PYTHON) scripts/demo.py --work_dir demo_run

# The training loop alone on synthetic P x K batches, a few steps.
smoke: install
	$(PYTHON) main.py --mode=train --data=synthetic --backbone=sphere20 --batch_size=32 \
		--num_classes_per_batch=8 --max_steps=20 --log_every_n_steps=5 --model_dir=ckpt/smoke

test: install
	$(PYTHON) -m pytest -q tests

# Mutation testing of the core modules (pyproject.toml [tool.mutmut]); results: `mutmut results`,
# one mutant: `mutmut show NAME`. Reruns only mutants whose function changed.
mutants: install
	$(PYTHON) -m pip install -q mutmut==3.8.1
	PFE_SHARED_DIR=$(abspath ../shared) $(PYTHON) -m mutmut run --max-children 2
	$(PYTHON) -m mutmut results | grep -v ": killed" || true
