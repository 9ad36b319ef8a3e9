# One command per task; each sets up what it needs from the lock file.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.9

.PHONY: demo test check bench install lock clean

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"
	@$(BIN)/uv pip sync -q --python $(BIN)/python requirements.lock
	@$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

# Re-resolve the lock file from pyproject.toml (lock-overrides.txt drops requirements we never install).
lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev -o requirements.lock --python $(BIN)/python --override lock-overrides.txt

demo: $(STAMP)
	$(BIN)/omnidesk demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

check: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo
	$(BIN)/python -m pytest -q -p no:cacheprovider -m schemathesis tests/web/test_schemathesis.py

bench: $(STAMP)
	$(BIN)/python bench/bench_api.py
	$(BIN)/python bench/bench_knowledge.py
	$(BIN)/python bench/bench_tickets.py
	$(BIN)/python bench/bench_realtime.py
	$(BIN)/python bench/bench_visitors.py
	$(BIN)/python bench/bench_jobs.py
	$(BIN)/python bench/bench_assist.py
	@if [ -d ../shared/datasets/intent ]; then $(BIN)/python bench/bench_nlu.py --train ../shared/datasets/intent/smp2020/train.csv --faq ../shared/datasets/pairs/bq/valid.csv --encoder use; else echo "bench_nlu skipped: ../shared/datasets not found"; fi
	@if [ -d ../shared/datasets/intent ]; then $(BIN)/python bench/bench_encoders.py --texts ../shared/datasets/intent/banking77/train.csv; else echo "bench_encoders skipped: ../shared/datasets not found"; fi

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
