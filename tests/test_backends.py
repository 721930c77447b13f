"""The backends table is the one place a backend is declared: scanner and schema follow it."""

from __future__ import annotations

import pytest

from generator.backends import BACKENDS, DEFAULT_BACKEND, MARKERS
from generator.config import parse_config
from generator.config_document import schema
from generator.errors import ProblemReport
from generator.scan import scan_text

MINIMAL = """\
version: 1
backends: [{backend}]
pools:
  p: {{labels: [gpu], gpus: 1, setup_minutes: 1}}
suites:
  s: {{trigger: per-commit, pools: [p], step_timeout_minutes: 10, shard_budget_minutes: 5}}
"""


def test_schema_and_scanner_agree_with_the_table():
    names = [backend.name for backend in BACKENDS]
    assert schema()["$defs"]["backend"]["enum"] == names
    assert sorted(MARKERS.values()) == sorted(names)
    assert DEFAULT_BACKEND in names


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_every_backend_is_scanned_and_configurable(backend):
    found = scan_text(f"{backend.marker}(est_time=5, suite='s')\nif __name__ == '__main__':\n    main()\n")
    assert [(m.backend, m.suite) for m in found.markers] == [(backend.name, "s")]
    config = parse_config(MINIMAL.format(backend=backend.name), "cigen.yml")
    assert config.backends == (backend.name,)
    assert config.suites["s"].backend == backend.name  # a suite's backend defaults to the config's first


def test_a_backend_the_table_does_not_know_is_a_config_error():
    with pytest.raises(ProblemReport) as report:
        parse_config(MINIMAL.format(backend="tpu"), "cigen.yml")
    assert [p.code for p in report.value.problems] == ["config-schema"]
    assert report.value.problems[0].line == 2
