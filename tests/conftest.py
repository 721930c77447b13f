"""Shared fixtures: the synthesized sglang tree and an isolated scan cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.synth import SynthTree, load_corpus, load_suites, write_tree

# Validators run as subprocesses (zizmor, actionlint, check-jsonschema) colour their output in
# CI (CI=true) even into a pipe; the tests compare plain text.
os.environ["NO_COLOR"] = "1"

# The weight-checker e2e needs sglang and a GPU: it is not part of `make test`. Its module is
# still imported and collected (and must skip cleanly) by tests/test_e2e_module.py, which
# runs pytest on it with CIGEN_COLLECT_E2E=1; GPU runners run it as `python3 FILE`.
collect_ignore_glob = [] if os.environ.get("CIGEN_COLLECT_E2E") == "1" else ["e2e/*"]


@pytest.fixture(scope="session")
def corpus() -> dict:
    return load_corpus()


@pytest.fixture(scope="session")
def sglang_suites() -> dict:
    return load_suites()


@pytest.fixture(scope="session")
def synth_tree(tmp_path_factory, corpus) -> SynthTree:
    """All 1,369 real sglang test files, each with its real calls and a __main__ block."""
    return write_tree(tmp_path_factory.mktemp("sglang"), corpus)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch) -> Path:
    """Every test gets its own scan cache so none sees another's entries."""
    cache = tmp_path / "cigen-cache"
    monkeypatch.setenv("CIGEN_CACHE_DIR", str(cache))
    return cache


# Test tiers (README "Development"): `make test-fast` deselects `act` and `validators`.
# Every module named test_act_*.py runs workflows in act, so it is marked here by its name (a new
# scenario file cannot forget it), and its tests form one xdist group: `make test` spreads the suite
# over every core with `--dist loadgroup`, and a module's act runs (module fixtures that take up to
# minutes) then happen once, on one worker. Validator tests carry `pytest.mark.validators` in their
# module; the GPU e2e module is marked `gpu`.
ACT_MODULE_PREFIX = "test_act_"


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.path.name
        if module.startswith(ACT_MODULE_PREFIX):
            item.add_marker(pytest.mark.act)
            item.add_marker(pytest.mark.xdist_group(module))
        if item.path.parent.name == "e2e":
            item.add_marker(pytest.mark.gpu)


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", help="Rewrite tests/golden/expected/ from a fresh render.")


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")
