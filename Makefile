# Two commands on a fresh machine:
#   make demo   - create .venv if missing, install the runtime lock, run a small study on the built-in data
#   make test   - install the test lock (and Chromium for the browser test), lint, then run the test suite
# Installs come from hashed locks (requirements/*.lock): exact versions, every file checked. `make lock`
# regenerates them from pyproject.toml's ranges and requirements/constraints.txt.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
PYTEST_ARGS ?=
UV_VERSION  := 0.13.9
LOCK_FLAGS  := -c requirements/constraints.txt --generate-hashes --python-version 3.11 \
               --python-platform x86_64-manylinux_2_28 --quiet

.PHONY: install install-test demo test lint lock bench clean

$(PY):
	@echo "==> creating $(VENV)"
	$(PYTHON) -m venv $(VENV)

# The lock, then the project itself with --no-deps (everything it needs is in the lock). Each stamp is
# redone only when its lock or pyproject.toml changes, so a second run reuses .venv.
$(VENV)/.installed-runtime: requirements/runtime.lock pyproject.toml | $(PY)
	@echo "==> installing the runtime lock into $(VENV) (first time: a few minutes)"
	$(PIP) install --progress-bar off --require-hashes --no-deps -r requirements/runtime.lock
	$(PIP) install --progress-bar off --no-deps --no-build-isolation -e .
	$(PIP) check
	@touch $@

$(VENV)/.installed-test: requirements/test.lock $(VENV)/.installed-runtime
	@echo "==> installing the test lock into $(VENV)"
	$(PIP) install --progress-bar off --require-hashes --no-deps -r requirements/test.lock
	$(PIP) check
	@touch $@

install: $(VENV)/.installed-runtime
install-test: $(VENV)/.installed-test

demo: install
	$(VENV)/bin/nas demo $(DEMO_ARGS)

lint: install-test
	$(VENV)/bin/ruff check nas tests benchmarks
	$(VENV)/bin/mypy nas

test: install-test
	@bash scripts/system-deps.sh
	$(PY) -m pytest $(PYTEST_ARGS)

# uv resolves; it lives in its own small venv so that it is never part of the project's environment.
lock:
	@test -x .lock-venv/bin/uv || ($(PYTHON) -m venv .lock-venv && .lock-venv/bin/pip install -q uv==$(UV_VERSION))
	.lock-venv/bin/uv pip compile pyproject.toml requirements/build.in --extra test $(LOCK_FLAGS) \
	    -o requirements/test.lock
	.lock-venv/bin/uv pip compile pyproject.toml requirements/build.in -c requirements/test.lock $(LOCK_FLAGS) \
	    -o requirements/runtime.lock

bench: install
	@for b in benchmarks/*.py; do echo "==> $$b"; PYTHONPATH=. $(PY) $$b || exit 1; done

clean:
	rm -rf runs .nas_cache test-artifacts .pytest_cache
