"""The GPU proof script: its flow on CPU (a byte-counting cap), and the recorded H100 run against today's advisor."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from generator.memory.advisor import Card, advise
from generator.memory.hfmodel import load_model

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "gpu_weight_checker_sweep.py"
RECORDED = REPO / "benchmarks" / "results" / "gpu_weight_checker_sweep.json"


def test_cpu_flow_finds_the_thresholds_the_advisor_predicts(tmp_path):
    """With no caching allocator, measured peaks equal the advisor's and thresholds match to the bisection step."""
    command = [sys.executable, str(SCRIPT), "--device", "cpu", "--model", str(REPO / "tests/e2e/tiny-qwen3"),
               "--card-mib", "8192", "--grid", "0.40:0.55:0.01", "--out", str(tmp_path)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "gpu_weight_checker_sweep.json").read_text())
    (card,) = data["cards"]
    # 8192 MiB card: P = 8192 - 512 - 620 = 7060, as the server would measure it
    assert (card["server_free_mib"], card["advisor_server_free_mib"]) == (7060.0, 7060.0)
    assert [case["case"] for case in card["cases"]] == ["unchunked compare", "unchunked reset", "chunked compare", "chunked reset"]
    for case in card["cases"]:
        assert case["peak_mib_measured"] == case["peak_mib_advisor"], case
        assert abs(case["difference"]) <= 0.001, case
    assert "| unchunked compare | 14.0 | 14.0 |" in (tmp_path / "gpu_weight_checker_sweep.txt").read_text()


@pytest.mark.parametrize("index", [0, 1])
def test_recorded_gpu_thresholds_within_0_02_of_the_advisor(index):
    """benchmarks/results holds the H100 run; a change to the advisor that moves its predictions away fails here."""
    data = json.loads(RECORDED.read_text())
    card = data["cards"][index]
    smi = data["nvidia_smi"]
    advisor_card = Card("emulated RTX 5090", 32607) if index == 0 else Card(smi["name"], smi["total_mib"], smi["free_mib"])
    model = load_model(data["model"])
    for case in card["cases"]:
        predicted = advise(model, advisor_card, extra_peak=case["peak_mib_advisor"]).max_fit_mem_fraction
        assert abs(case["threshold_measured"] - predicted) <= 0.02, case


def test_recorded_gpu_run_reproduces_the_5090_oom_and_the_h100_fit():
    data = json.loads(RECORDED.read_text())
    emulated, h100 = data["cards"]
    assert data["device"] == "NVIDIA H100 80GB HBM3"
    assert emulated["default_mem_fraction"] == 0.874 and not emulated["at_default"]["unchunked_compare_ok"]
    assert emulated["at_default"]["message"].startswith("CUDA out of memory. Tried to allocate 594.00 MiB.")
    assert h100["default_mem_fraction"] == 0.83 and h100["at_default"]["unchunked_compare_ok"]
