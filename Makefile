# Two commands on a fresh machine:
#   make demo   - create .venv if missing, install, run a small study on the built-in data
#   make test   - install (with test extras and Chromium for the browser test) and run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install demo test bench lint clean

$(PY):
	@echo "==> creating $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Reinstall only when pyproject.toml changes: a second run reuses .venv.
$(STAMP): pyproject.toml | $(PY)
	@echo "==> installing nas and its dependencies into $(VENV) (first time: a few minutes)"
	$(PY) -m pip install --progress-bar off -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/nas demo $(DEMO_ARGS)

test: install
	@bash scripts/system-deps.sh
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	@for b in benchmarks/*.py; do echo "==> $$b"; PYTHONPATH=. $(PY) $$b || exit 1; done

lint: install
	$(VENV)/bin/ruff check nas tests benchmarks
	$(VENV)/bin/mypy nas

clean:
	rm -rf runs .nas_cache test-artifacts .pytest_cache
