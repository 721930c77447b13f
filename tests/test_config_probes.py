"""Health probes in cigen.yml may not take a built-in probe's name, at the top or in a pool."""

from __future__ import annotations

import pytest

from generator.config import parse_config
from generator.errors import ProblemReport
from tests.test_config import MINIMAL


def test_a_probe_named_like_a_built_in_one_is_refused_where_it_is_written():
    text = MINIMAL.replace(
        "pools:\n  1-gpu-h100: {",
        "health:\n  probes: {disk: 'df -h .', mine: 'true'}\n"
        "pools:\n  1-gpu-h100: {health: {probes: {nvidia-smi: 'true'}}, ",
    )
    with pytest.raises(ProblemReport) as caught:
        parse_config(text, "cigen.yml")
    assert [p.format() for p in caught.value.problems] == [
        "cigen.yml:5: probe-name-taken: health.probes: 'disk' is a built-in probe's name\n"
        "  help: built-in probes: drained, nvidia-smi, gpu-count, gpu-memory, disk; pick another name",
        "cigen.yml:7: probe-name-taken: pools.1-gpu-h100.health.probes: 'nvidia-smi' is a built-in probe's name\n"
        "  help: built-in probes: drained, nvidia-smi, gpu-count, gpu-memory, disk; pick another name",
    ]


def test_probes_with_their_own_names_pass():
    text = MINIMAL.replace("pools:\n", "health:\n  probes: {mine: 'true'}\npools:\n")
    assert parse_config(text, "cigen.yml").suites
