# Every target sets up what it needs in .venv itself: on a fresh clone,
# `make regen-workflows` and `make test` are the only commands to type.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CIGEN  := $(BIN)/cigen

# The generator alone (click, jinja2, pyyaml, jsonschema).
$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e .
	touch $@

# Tests and benchmarks: pytest, hypothesis, the three workflow validators (and shellcheck,
# which actionlint runs over every run: script), act (runs the rendered workflows), sglang's wheel
# (without its dependencies: only sglang/test/ci/ci_register.py is loaded, by path, as the
# scanner's oracle), a CPU build of torch for the weight-checker stand-in server, and cigen's
# runtime dependencies as wheels in .venv/wheelhouse: the act scenarios of /rerun-test install
# cigen from them with `pip install --require-hashes` and no index (tests/act/wheelhouse.py).
$(VENV)/.test: $(VENV)/.base
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	$(BIN)/pip install -q --disable-pip-version-check torch==2.13.0 numpy
	$(BIN)/pip install -q --disable-pip-version-check --no-deps sglang==0.5.23
	$(BIN)/pip download -q --disable-pip-version-check --only-binary=:all: -d $(VENV)/wheelhouse \
		$$($(BIN)/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"])')
	touch $@

.PHONY: test test-fast findings-table bench regen-workflows check-workflows lint-corpus clean

# pytest exits 5 when it collected nothing: that is a failure, never a pass. Every core
# (pytest-xdist); each act module's tests stay on one worker (tests/conftest.py), so its
# workflows run once.
test: $(VENV)/.test
	@$(BIN)/python -m pytest -q -n auto --dist loadgroup; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$status

# The inner loop: everything but the act scenarios and the workflow validators (pytest markers
# `act` and `validators`, see tests/conftest.py), on every core (pytest-xdist). `make test` stays the
# full suite.
test-fast: $(VENV)/.test
	@$(BIN)/python -m pytest -q -n auto -m "not act and not validators"; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test-fast: pytest collected no tests" >&2; exit 1; fi; \
	exit $$status

# .github/ is generated from cigen.yml and the tests it registers: rewrite it, or fail with
# the diff when the committed files are stale (CI runs the check).
regen-workflows: $(VENV)/.base
	$(CIGEN) render

check-workflows: $(VENV)/.base
	$(CIGEN) check

# README.md's findings table, regenerated from the catalog in generator/findings.py.
findings-table: $(VENV)/.test
	$(BIN)/python -m pytest -q tests/test_findings.py -k readme --update-golden

bench: $(VENV)/.test
	$(BIN)/python benchmarks/run.py --update-readme

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
