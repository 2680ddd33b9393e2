# The README's two commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := data/demo
DB     ?= data/workbench.db
KEYS   ?= $(HOME)/.workbench/keys
PORT   ?= 8501

.PHONY: run test install demo keys e2e-deps bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,spark,registry]'
	@touch $(STAMP)

install: $(STAMP)

## make run: install, prepare the demo review (data, models, signing key, users, registered policy), start the app
run: install
	@test -f $(DEMO)/review.yaml || $(BIN)/workbench demo $(DEMO)
	@test -n "$$(ls -A $(KEYS) 2>/dev/null)" || $(BIN)/workbench keys init --keys $(KEYS)
	@WORKBENCH_KEYS=$(KEYS) $(BIN)/workbench users demo --db $(DB)
	@# The demo's policy is registered by its data_governance user, so the demo decision is a real one.
	@WORKBENCH_KEYS=$(KEYS) $(BIN)/workbench policy list --db $(DB) --model gbm | grep -q '^gbm ' || \
		echo demo-carol-pass | WORKBENCH_KEYS=$(KEYS) $(BIN)/workbench policy register $(DEMO)/policy.yaml \
		--model gbm --db $(DB) --as carol --password-stdin
	@echo "Open http://localhost:$(PORT) and sign in with one of the demo users above."
	WORKBENCH_DB=$(DB) WORKBENCH_KEYS=$(KEYS) $(BIN)/streamlit run app.py --server.port $(PORT) --server.headless true

## make test: install, type-check the domain and the app (mypy, settings in pyproject.toml), then run the whole suite
## (unit, AppTest, browser end-to-end)
test: install e2e-deps
	$(BIN)/python -m mypy workbench workbench_ui pages app.py
	$(BIN)/python -m pytest

# The browser test needs Debian's chromium and poppler-utils, the store tests a PostgreSQL server
# (initdb/pg_ctl from Debian's postgresql, or WORKBENCH_TEST_PG); .ci/run installs them.
e2e-deps:
	@command -v chromium >/dev/null 2>&1 || { echo "make test needs Debian's chromium for the browser test: run 'sudo apt-get install -y chromium poppler-utils' (CI's .ci/run does it)"; exit 1; }
	@command -v pdftoppm >/dev/null 2>&1 || { echo "make test needs poppler-utils (pdftoppm, pdfsig): run 'sudo apt-get install -y poppler-utils'"; exit 1; }
	@command -v java >/dev/null 2>&1 || { echo "make test needs Java 17+ for the Spark executor tests: run 'sudo apt-get install -y default-jre-headless'"; exit 1; }
	@test -n "$$WORKBENCH_TEST_PG" || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { echo "make test needs PostgreSQL for the store tests: run 'sudo apt-get install -y postgresql' or set WORKBENCH_TEST_PG=postgresql://user:pw@host/postgres"; exit 1; }

bench: install
	$(BIN)/python benchmarks/bench_evidence.py

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
