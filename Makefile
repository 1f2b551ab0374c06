# The two commands: `make run` and `make test`. Both build their own virtualenv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint format bench clean

# `make run` needs the runtime only (about 75 MB); `make test` adds the test and lint tools (about 400 MB).
# The machine's pip installs into a virtualenv made without one (making a pip inside takes ~13 s),
# and skips byte-compiling (~7 s; Python compiles what it imports on first use).
$(BIN)/.runtime: requirements.txt
	@echo "first run: installing the runtime requirements into $(VENV) (about 20 s)..."
	@if $(PYTHON) -m pip --version >/dev/null 2>&1; then \
		test -x $(BIN)/python || $(PYTHON) -m venv --without-pip $(VENV); \
		$(PYTHON) -m pip --python $(BIN)/python install --quiet --no-compile -r requirements.txt; \
	else \
		test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
		$(BIN)/python -m pip install --quiet --no-compile -r requirements.txt; \
	fi
	touch $@

$(BIN)/.installed: $(BIN)/.runtime requirements-dev.txt
	@echo "installing the test and lint tools into $(VENV)..."
	test -x $(BIN)/pip || $(BIN)/python -m ensurepip --default-pip
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

run: $(BIN)/.runtime
	$(BIN)/python app.py --dev

test: $(BIN)/.installed
	scripts/test.sh

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: $(BIN)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(BIN)/.installed
	$(BIN)/pip install --quiet -r bench/requirements.txt
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
