PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench soak lint screenshots clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/katya-tui $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

soak: $(STAMP)  # not in CI: 10 minutes (`make soak ARGS="--minutes 3"` for a shorter run)
	$(BIN)/python -m bench.soak $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check katya_tui tests bench scripts
	$(BIN)/ruff format --check katya_tui tests bench scripts
	$(BIN)/lint-imports --no-cache --no-logo
	$(BIN)/mypy katya_tui

clean:
	rm -rf $(VENV)
