# Two entry points on a fresh clone: `make train` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV ?= .venv
# The local CPU wheel here; on a CUDA machine use e.g. TORCH_SPEC="torch --index-url ..." .
TORCH_SPEC ?= torch==2.13.0
COMPETITION ?= house-prices
DATA_DIR ?= data/$(COMPETITION)
ARGS ?=
BIN := $(VENV)/bin

.PHONY: setup train test lint bench

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

setup: $(BIN)/.installed

train: setup
	@if [ ! -f "$(DATA_DIR)/train.csv" ]; then \
		echo "No $(DATA_DIR)/train.csv: downloading with your Kaggle token"; \
		$(BIN)/comp data download $(COMPETITION) --data-dir "$(DATA_DIR)" || { \
			echo "Or train on files you already have: make train DATA_DIR=/path/to/folder-with-train.csv" >&2; \
			exit 1; }; \
	fi
	$(BIN)/comp train $(COMPETITION) --data-dir "$(DATA_DIR)" $(ARGS)

test: setup
	$(BIN)/python -m pytest -n 2

lint: setup
	$(BIN)/ruff check competition tests bench

bench: setup
	$(BIN)/python -m bench.train_speed
