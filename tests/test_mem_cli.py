"""`cigen mem`: the advisor's table and JSON, pools from the config, and its user errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.config import load_config

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def outside_any_repo(tmp_path, monkeypatch):
    """Pools come from the embedded default: no cigen.yml in the working directory."""
    monkeypatch.chdir(tmp_path)


def run(*args: str):
    return CliRunner().invoke(cli, ["mem", *args])


def test_advisor_table_for_the_embedded_pools_and_a_24gb_card():
    result = run(
        "--model",
        "Qwen3-0.6B",
        "--pool",
        "1-gpu-5090",
        "--pool",
        "1-gpu-h100",
        "--pool",
        "8-gpu-h200",
        "--gpu-mem-gib",
        "24",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Qwen3-0.6B (built-in), tp=1, sglang defaults fix-time; "
        "peak: weight checker (unchunked): compare of model.embed_tokens.weight [151936, 1024]",
        "gpu                           total_mib  default_m  m      pool_mib  headroom_mib  peak_mib  fits  "
        "max_fit_m  recommended_m  data",
        "----------------------------  ---------  ---------  -----  --------  ------------  --------  ----  "
        "---------  -------------  ------------",
        "24 GiB                        24576      0.833      0.833  19529     272           2077      no    0.751   "
        "   0.72           extrapolated",
        "1-gpu-5090 (NVIDIA RTX 5090)  32604      0.874      0.874  27507     206           2077      no    0.811   "
        "   0.79           validated",
        "1-gpu-h100 (NVIDIA H100)      81562      0.830      0.830  66757     8956          2077      yes   0.914   "
        "   0.83           extrapolated",
        "8-gpu-h200 (NVIDIA H200)      143770     0.903      0.903  128802    9116          2077      yes   0.952   "
        "   0.903          validated",
        "fits: headroom >= peak + allocator term (42 MiB) + 512 MiB margin; recommended: sglang's default when it "
        "fits, else the largest safe value",
        "24 GiB: extrapolated: no measured card of 24576 MiB for this model and tp (measured: 32607, 143771 MiB)",
        "1-gpu-5090 (NVIDIA RTX 5090): validated: unchunked compare: threshold measured 0.8137 on an H200 capped to "
        "32607 MiB; predicted 0.8110",
        "1-gpu-h100 (NVIDIA H100): extrapolated: no measured card of 81562 MiB for this model and tp (measured: "
        "32607, 143771 MiB)",
        "8-gpu-h200 (NVIDIA H200): validated: unchunked compare: threshold measured 0.9528 on an H200 of 143771 "
        "MiB, uncapped; predicted 0.9518",
    ]
    assert result.stderr == ""


def test_json_for_one_card_is_an_object_with_the_issue_keys():
    result = run("--model", "Qwen/Qwen3-0.6B", "--gpu-mem-gib", "31.84", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert {
        key: data[key]
        for key in ("default_mem_fraction", "fits_at_default", "recommended_mem_fraction", "headroom_mib")
    } == {
        "default_mem_fraction": 0.874,
        "fits_at_default": False,
        "recommended_mem_fraction": 0.79,
        "headroom_mib": 206.2,
    }
    assert data["validation"]["status"] == "validated"  # 31.84 GiB = 32604 MiB: the 5090 measured (32607)


def test_validated_and_extrapolated_say_why():
    def detail(*args: str) -> tuple[str, str]:
        data = json.loads(run(*args, "--format", "json").stdout)
        return data["validation"]["status"], data["validation"]["detail"]

    assert detail("--model", "Qwen3-8B", "--pool", "1-gpu-5090") == (
        "validated",
        "unchunked compare: threshold measured 0.6154 on an H200 capped to 32607 MiB; predicted 0.6114",
    )
    assert detail("--model", "Qwen3-8B", "--pool", "1-gpu-5090", "--checker", "chunked") == (
        "validated",
        "chunked reset: threshold measured 0.8304 on an H200 capped to 32607 MiB; predicted 0.8255",
    )
    assert detail("--model", "Qwen3-8B", "--pool", "8-gpu-h200", "--tp", "2")[0] == "validated"
    assert detail("--model", "Qwen3-30B-A3B", "--pool", "1-gpu-5090") == (
        "validated",
        "unchunked compare: no fraction fits, as measured on an H200 capped to 32607 MiB",
    )
    assert detail("--model", "Qwen3-8B", "--pool", "8-gpu-h200", "--tp", "4") == (
        "extrapolated",
        "tp=4 not measured for this model (measured: tp=1, 2)",
    )
    assert detail("--model", "Qwen3-8B", "--gpu-mem-gib", "80") == (
        "extrapolated",
        "no measured card of 81920 MiB for this model and tp (measured: 32607, 143771 MiB)",
    )
    assert detail("--model", "Qwen3-8B", "--pool", "1-gpu-5090", "--gpu-free-mib", "30000") == (
        "extrapolated",
        "a card with 30000 MiB free; measured idle, on an H200 capped to 32607 MiB",
    )
    assert detail("--model", "tests/e2e/tiny-qwen3", "--root", str(REPO), "--gpu-mem-gib", "32")[1].startswith(
        "no measured run of this model shape (measured: Llama-3.1-8B-Instruct, Qwen3-0.6B, Qwen3-30B-A3B, Qwen3-8B)"
    )
    assert detail("--model", "Qwen3-0.6B", "--pool", "1-gpu-5090", "--extra-peak", "300") == (
        "validated",
        "model, tp and card measured on an H200 capped to 32607 MiB; the configured peak itself is not",
    )


def test_same_shape_under_another_name_is_validated(tmp_path):
    config = json.loads((REPO / "generator/data/models/Qwen3-8B.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(config))
    data = json.loads(run("--model", str(tmp_path), "--pool", "1-gpu-5090", "--format", "json").stdout)
    assert data["validation"]["status"] == "validated"
    (tmp_path / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 35}))
    data = json.loads(run("--model", str(tmp_path), "--pool", "1-gpu-5090", "--format", "json").stdout)
    assert data["validation"]["status"] == "extrapolated"


def test_tp_over_the_pools_gpus_warns():
    result = run("--model", "Qwen3-8B", "--pool", "1-gpu-5090", "--pool", "2-gpu-h100", "--tp", "2")
    assert result.exit_code == 0
    line = load_config(None, Path("/nonexistent-root")).pools["1-gpu-5090"].line
    assert result.stderr.splitlines() == [
        f"<embedded default cigen.yml>:{line}: warning: tp-over-pool-gpus: tp=2 needs 2 GPUs, pool '1-gpu-5090' has 1: "
        "no test with this tp runs there",
    ]
    assert "1-gpu-5090 (NVIDIA RTX 5090)" in result.stdout  # the advice is still given
    assert run("--model", "Qwen3-8B", "--pool", "2-gpu-h100", "--tp", "2").stderr == ""
    assert run("--model", "Qwen3-8B", "--gpu-mem-gib", "32", "--tp", "8").stderr == ""  # no pool, no GPU count


def test_json_for_several_cards_is_a_list_and_mem_fraction_is_evaluated():
    result = run(
        "--model",
        "Qwen3-0.6B",
        "--gpu-mem-gib",
        "31.84",
        "--gpu-mem-gib",
        "79.65",
        "--mem-fraction",
        "0.7",
        "--format",
        "json",
    )
    data = json.loads(result.stdout)
    assert [(d["gpu"], d["mem_fraction"], d["fits"], d["fits_at_default"]) for d in data] == [
        ("31.84 GiB", 0.7, True, False),
        ("79.65 GiB", 0.7, True, True),
    ]


def test_free_memory_extra_peak_and_checker_options():
    result = run(
        "--model", "Qwen3-0.6B", "--gpu-mem-gib", "79.65", "--gpu-free-mib", "20000",
        "--checker", "chunked", "--sglang", "0.5.23", "--format", "json",
    )  # fmt: skip
    data = json.loads(result.stdout)
    assert (data["gpu_free_mib"], data["server_free_mib"], data["extra_peak_mib"]) == (20000.0, 19380.0, 1152.0)
    result = run("--model", "Qwen3-0.6B", "--gpu-mem-gib", "31.84", "--extra-peak", "300", "--format", "json")
    assert json.loads(result.stdout)["extra_peak_source"] == "configured"


def test_pool_from_a_user_config(tmp_path):
    (tmp_path / "cigen.yml").write_text(
        "version: 1\npools:\n  rtx: {labels: [rtx], gpu: RTX 4090, gpu_mem_gib: 23.99, gpus: 1, setup_minutes: 1}\n"
        "  unknown: {labels: [u], gpus: 1, setup_minutes: 1}\n"
        "suites:\n  s: {trigger: nightly, pools: [rtx], step_timeout_minutes: 5, shard_budget_minutes: 5}\n"
    )
    result = run("--model", "Qwen3-0.6B", "--pool", "rtx", "--root", str(tmp_path), "--format", "json")
    assert json.loads(result.stdout)["gpu"] == "rtx (RTX 4090)"
    result = run("--model", "Qwen3-0.6B", "--pool", "unknown", "--root", str(tmp_path))
    assert (result.exit_code, result.stderr) == (
        2,
        f"{tmp_path}/cigen.yml:4: mem-unknown-gpu: pool 'unknown' declares no gpu_mem_gib\n",
    )


def test_user_errors_exit_2_with_one_line():
    cases = [
        (["--model", "Qwen3-0.6B"], "no-gpu: give --gpu-mem-gib N or --pool NAME (either may repeat)"),
        (
            ["--model", "Qwen3-0.6B", "--pool", "nope"],
            "--pool: unknown-pool: no pool 'nope' in <embedded default cigen.yml> (known: 1-gpu-5090, 1-gpu-h100, "
            "2-gpu-h100, 4-gpu-b200, 4-gpu-gb300, 4-gpu-h100, 8-gpu-b200, 8-gpu-h20, 8-gpu-h200)",
        ),
        (
            ["--model", "Qwen3-0.6B", "--gpu-mem-gib", "32", "--gpu-mem-gib", "80", "--gpu-free-mib", "100"],
            "--gpu-free-mib: free-needs-one-gpu: --gpu-free-mib describes one GPU; give one --gpu-mem-gib or --pool",
        ),
        (
            ["--model", "Qwen3-0.6B", "--gpu-mem-gib", "32", "--extra-peak", "lots"],
            "--extra-peak: bad-extra-peak: --extra-peak must be 'weight-checker' or MiB >= 0, got 'lots'",
        ),
        (
            ["--model", "Qwen3-0.6B", "--gpu-mem-gib", "32", "--mem-fraction", "0"],
            "--mem-fraction: bad-mem-fraction: --mem-fraction-static must be between 0 and 1, got 0",
        ),
    ]
    for args, message in cases:
        result = run(*args)
        assert (result.exit_code, result.stderr) == (2, message + "\n"), args
        assert result.stdout == ""
