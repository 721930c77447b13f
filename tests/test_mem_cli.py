"""`cigen mem`: the advisor's table and JSON, pools from the config, and its user errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from generator.cli import cli


@pytest.fixture(autouse=True)
def outside_any_repo(tmp_path, monkeypatch):
    """Pools come from the embedded default: no cigen.yml in the working directory."""
    monkeypatch.chdir(tmp_path)


def run(*args: str):
    return CliRunner().invoke(cli, ["mem", *args])


def test_advisor_table_for_the_embedded_pools_and_a_24gb_card():
    result = run("--model", "Qwen3-0.6B", "--pool", "1-gpu-5090", "--pool", "1-gpu-h100", "--pool", "8-gpu-h200", "--gpu-mem-gib", "24")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Qwen3-0.6B (built-in), tp=1, sglang defaults fix-time; peak: weight checker (unchunked): compare of model.embed_tokens.weight [151936, 1024]",
        "gpu                           total_mib  default_m  m      pool_mib  headroom_mib  peak_mib  fits  max_fit_m  recommended_m",
        "----------------------------  ---------  ---------  -----  --------  ------------  --------  ----  ---------  -------------",
        "24 GiB                        24576      0.833      0.833  19529     156           2077      no    0.751      0.72",
        "1-gpu-5090 (NVIDIA RTX 5090)  32604      0.874      0.874  27507     207           2077      no    0.815      0.79",
        "1-gpu-h100 (NVIDIA H100)      81562      0.830      0.830  66757     9190          2077      yes   0.918      0.83",
        "8-gpu-h200 (NVIDIA H200)      143770     0.903      0.903  128802    9353          2077      yes   0.954      0.903",
        "fits: headroom >= peak + 512 MiB margin; recommended: sglang's default when it fits, else the largest safe value",
    ]


def test_json_for_one_card_is_an_object_with_the_issue_keys():
    result = run("--model", "Qwen/Qwen3-0.6B", "--gpu-mem-gib", "31.84", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert {key: data[key] for key in ("default_mem_fraction", "fits_at_default", "recommended_mem_fraction", "headroom_mib")} == {
        "default_mem_fraction": 0.874,
        "fits_at_default": False,
        "recommended_mem_fraction": 0.79,
        "headroom_mib": 206.6,
    }


def test_json_for_several_cards_is_a_list_and_mem_fraction_is_evaluated():
    result = run("--model", "Qwen3-0.6B", "--gpu-mem-gib", "31.84", "--gpu-mem-gib", "79.65", "--mem-fraction", "0.7", "--format", "json")
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
    assert (result.exit_code, result.stderr) == (2, f"{tmp_path}/cigen.yml:4: mem-unknown-gpu: pool 'unknown' declares no gpu_mem_gib\n")


def test_user_errors_exit_2_with_one_line():
    cases = [
        (["--model", "Qwen3-0.6B"], "no-gpu: give --gpu-mem-gib N or --pool NAME (either may repeat)"),
        (["--model", "Qwen3-0.6B", "--pool", "nope"], "--pool: unknown-pool: no pool 'nope' in <embedded default cigen.yml> (known: 1-gpu-5090, 1-gpu-h100, 2-gpu-h100, 4-gpu-b200, 4-gpu-gb300, 4-gpu-h100, 8-gpu-b200, 8-gpu-h20, 8-gpu-h200)"),
        (["--model", "Qwen3-0.6B", "--gpu-mem-gib", "32", "--gpu-mem-gib", "80", "--gpu-free-mib", "100"], "--gpu-free-mib: free-needs-one-gpu: --gpu-free-mib describes one GPU; give one --gpu-mem-gib or --pool"),
        (["--model", "Qwen3-0.6B", "--gpu-mem-gib", "32", "--extra-peak", "lots"], "--extra-peak: bad-extra-peak: --extra-peak must be 'weight-checker' or MiB >= 0, got 'lots'"),
        (["--model", "Qwen3-0.6B", "--gpu-mem-gib", "32", "--mem-fraction", "0"], "--mem-fraction: bad-mem-fraction: --mem-fraction-static must be between 0 and 1, got 0"),
    ]
    for args, message in cases:
        result = run(*args)
        assert (result.exit_code, result.stderr) == (2, message + "\n"), args
        assert result.stdout == ""
