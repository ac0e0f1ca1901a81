# Two commands do all set-up on a fresh machine with Python 3.11 and make:
#   make demo   create .venv, install, run the pipeline on the bundled synthetic data, build the book
#   make test   create .venv if needed, install, run ruff and every test (Spark tests need Java 17+)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO_OUT := output/demo

.PHONY: install demo test lint book clean benchmark chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,book,spark]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/evaltoolkit series synthetic_data --out $(DEMO_OUT)
	$(BIN)/evaltoolkit run protocols/project_air.yaml --out output/project_air
	$(BIN)/evaltoolkit run protocols/change_programme.yaml --out output/change_programme
	$(BIN)/evaltoolkit run protocols/leadership_programme.yaml --out output/leadership_programme
	$(BIN)/evaltoolkit run protocols/crisis_pathway.yaml --out output/crisis_pathway
	$(BIN)/evaltoolkit book --check
	$(BIN)/python tools/build_book.py book -W -n --keep-going
	@echo ""
	@echo "Demo outputs:   $(DEMO_OUT)/ (monthly series CSVs, data-quality table)"
	@echo "Evaluations:    output/<protocol>/report.html (standalone), results.json, tables/, figures/"
	@echo "Book:           book/_build/html/index.html"

lint: install
	$(BIN)/ruff check evaltoolkit tests benchmarks tools book/_ext book/reference/_ext
	$(BIN)/ruff format --check evaltoolkit tests benchmarks tools book/_ext book/reference/_ext

# The browser test needs Debian's Chromium; install it when missing (root, or sudo).
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  echo "installing Debian package chromium for the browser test"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

test: install chromium
	$(BIN)/ruff check evaltoolkit tests benchmarks tools book/_ext book/reference/_ext
	$(BIN)/pytest

book: install
	$(BIN)/python tools/build_book.py book -W -n --keep-going

# make benchmark BENCH_ARGS=--quick   (10^6 rows, no book); see benchmarks/README.md for the options.
BENCH_STAMP := $(VENV)/.bench-stamp
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,book,bench]"
	touch $(BENCH_STAMP)

benchmark: $(BENCH_STAMP)
	$(BIN)/python benchmarks/benchmark.py $(BENCH_ARGS)

clean:
	rm -rf book/_build output build .pytest_cache .hypothesis
