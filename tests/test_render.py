"""Rendering: golden files for a small tree, structure of sglang's render, gates, security."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.config import load_config
from generator.config_document import default_config_text
from generator.config_fields import OUTPUT_NAMES
from generator.lint import lint
from generator.names import job_id
from generator.render.jobs import needed_suites, with_ci_paths
from generator.render.pins import CHECKOUT, DOWNLOAD_ARTIFACT, SETUP_PYTHON, UPLOAD_ARTIFACT
from generator.render.shipping import copy_text
from generator.render.templates import yaml_value
from generator.tree import scan_tree
from tests.support.files import without_warnings, write_files
from tests.support.rendering import (
    GOLDEN,
    REPO_ROOT,
    default_labels,
    job_suite,
    load_yaml,
    model_test_placements,
    plan_placements,
    render_tree,
    shard_jobs,
)

EXPECTED = GOLDEN / "expected"
GOOD = 'register_cuda_ci(est_time=60, suite="base-a")\n\nif __name__ == "__main__":\n    main()\n'


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="session")
def corpus_github(synth_tree, tmp_path_factory) -> Path:
    """sglang's synthesized tree rendered with the embedded default config."""
    github = tmp_path_factory.mktemp("corpus-render") / ".github"
    render_tree(synth_tree.root, github)
    return github


@pytest.fixture(scope="session")
def corpus_workflows(corpus_github) -> dict[str, dict]:
    return {name: load_yaml(corpus_github / "workflows" / f"cigen-{name}.yml") for name in ("per-commit", "nightly")}


# ---------------------------------------------------------------------------------------
# Golden files

# copies of generator/shipped modules
SHIPPED = {
    "cigen/run_shard.py": "run_shard",
    "cigen/ci_gate.py": "ci_gate",
    "cigen/health.py": "health",
    "cigen/fleet.py": "fleet",
    "cigen/redispatch.py": "redispatch",
    "cigen/rerun_gate.py": "rerun_gate",
    "cigen/rerun_select.py": "rerun_select",
    "cigen/github_api.py": "github_api",
    "cigen/plan_file.py": "plan_file",
    "cigen/process_group.py": "process_group",
    "cigen/step_files.py": "step_files",
}  # copies of generator/shipped modules: the programs and the modules they import


def test_golden_render_of_the_fixture_tree(tmp_path, update_golden):
    github = tmp_path / ".github"
    render_tree(GOLDEN / "tree", github)
    rendered = {p.relative_to(github).as_posix(): p.read_text() for p in sorted(github.rglob("*")) if p.is_file()}
    assert sorted(rendered) == [
        "actionlint.yaml",
        "cigen/ci_gate.py",
        "cigen/fleet.py",
        "cigen/github_api.py",
        "cigen/health.py",
        "cigen/plan.json",
        "cigen/plan_file.py",
        "cigen/process_group.py",
        "cigen/redispatch.py",
        "cigen/rerun-test.json",
        "cigen/rerun_gate.py",
        "cigen/rerun_select.py",
        "cigen/run_shard.py",
        "cigen/step_files.py",
        "workflows/cigen-cpu-tests.yml",
        "workflows/cigen-nightly.yml",
        "workflows/cigen-per-commit.yml",
        "workflows/cigen-redispatch.yml",
        "workflows/cigen-rerun-test.yml",
        "workflows/cigen-timings.yml",
    ]
    # The shipped programs are the package's own modules behind a header: compared there, not stored twice
    # (tests/test_shipped.py checks the header and the import rewriting).
    for path, module in SHIPPED.items():
        assert rendered.pop(path) == copy_text(module, "cigen render")
    if update_golden:
        for old in EXPECTED.rglob("*"):
            if old.is_file():
                old.unlink()
        write_files(EXPECTED, rendered)
    expected = {p.relative_to(EXPECTED).as_posix(): p.read_text() for p in sorted(EXPECTED.rglob("*")) if p.is_file()}
    assert sorted(expected) == sorted(rendered), "run `pytest tests/test_render.py --update-golden` and review the diff"
    for name, text in rendered.items():
        assert text == expected[name], f"{name} differs from tests/golden/expected; review, then --update-golden"


def test_every_workflow_starts_with_the_generated_header():
    for path in sorted((EXPECTED / "workflows").glob("*.yml")):
        template = path.name.removeprefix("cigen-") + ".j2"
        assert path.read_text().splitlines()[:2] == [
            f"# @generated from templates/{template}. DO NOT EDIT.",
            "# Regenerate: cigen render",
        ]


def gate_spec(workflow: dict) -> dict:
    """The gates the workflow's gate job hands ci_gate.py (its CIGEN_GATES)."""
    return json.loads(workflow["jobs"]["gate"]["steps"][1]["env"]["CIGEN_GATES"])


def test_golden_gates_needs_and_pools():
    per_commit = load_yaml(EXPECTED / "workflows" / "cigen-per-commit.yml")
    nightly = load_yaml(EXPECTED / "workflows" / "cigen-nightly.yml")
    jobs = per_commit["jobs"]
    assert list(jobs) == ["gate", "base-a", "base-b", "base-c", "extra", "kernel", "finish"]
    assert jobs["base-a"]["needs"] == ["gate"]
    assert jobs["base-a"]["if"] == (
        "${{ !cancelled() && needs.gate.result == 'success' && (fromJSON(needs.gate.outputs.run || '{}')['base-a']) }}"
    )
    # base-c waits for base-a through base-b: a base-a failure must skip it directly.
    assert jobs["base-c"]["needs"] == ["gate", "base-a", "base-b"]
    assert jobs["base-c"]["if"] == (
        "${{ !cancelled() && needs.gate.result == 'success' && (fromJSON(needs.gate.outputs.run || '{}')['base-c'])"
        " && !contains(needs.*.result, 'failure') && !contains(needs.*.result, 'cancelled') }}"
    )
    # The matrix comes from the gate (the plan file): no shard or file is written in the workflow.
    assert jobs["base-b"]["strategy"]["matrix"] == {
        "shard": "${{ fromJSON(needs.gate.outputs.shards || '{}')['base-b'] || fromJSON('[0]') }}"
    }
    assert ".py" not in (EXPECTED / "workflows" / "cigen-per-commit.yml").read_text().replace(
        "run_shard.py", ""
    ).replace("ci_gate.py", "")
    # Label and path gates are decided by the gate program, from the gates written here.
    # The files that define the CI are added to every path filter.
    ci_files = ["cigen.yml", *(f".github/workflows/cigen-{name}.yml" for name in OUTPUT_NAMES), ".github/cigen/**"]
    assert gate_spec(per_commit) == {
        "workflow": "per-commit",
        "pull_request": {
            "label": "run-ci",
            "skip_drafts": True,
            "paths": ["src/**", "test/**", "kernel/**", *ci_files],
            "gated_off": "pass",
            "types": ["opened", "synchronize", "reopened", "ready_for_review", "labeled"],
        },
        "suites": {
            "base-a": {"trigger": "per-commit"},
            "base-b": {"trigger": "per-commit"},
            "base-c": {"trigger": "per-commit"},
            "extra": {"trigger": "per-commit", "label": "run-ci-extra"},
            "kernel": {"trigger": "per-commit", "paths": ["kernel/**", "test/kernel/**", *ci_files]},
        },
    }
    assert jobs["gate"]["permissions"] == {"contents": "read", "pull-requests": "read"}
    assert jobs["finish"]["needs"] == ["gate", "base-a", "base-b", "base-c", "extra", "kernel"]
    assert jobs["finish"]["if"] == "${{ always() }}"
    # YAML 1.1 reads the key `on` as True.
    assert per_commit[True] == {
        "pull_request": {"types": ["opened", "synchronize", "reopened", "ready_for_review", "labeled"]},
        "push": {"branches": ["main", "release"]},
        "workflow_dispatch": None,
    }
    assert per_commit["concurrency"] == {
        "group": "${{ github.workflow }}-${{ github.event_name }}-"
        "${{ github.event.pull_request.number || github.ref }}",
        "cancel-in-progress": "${{ github.event_name == 'pull_request' }}",
    }

    assert nightly[True]["schedule"] == [{"cron": "0 2 * * *"}, {"cron": "0 4 * * 0"}]
    inputs = nightly[True]["workflow_dispatch"]["inputs"]
    assert inputs["suite"]["options"] == ["all", "nightly-1-gpu", "nightly-8-gpu", "weekly-8-gpu", "stress"]
    # Only pools a suite can move to with the same env and set-up: 8-gpu-h200's RDMA set-up and
    # GPU_CONFIG would follow weekly-8-gpu to a b200 (only runs-on follows the dispatch).
    assert inputs["pool"]["options"] == ["default", "1-gpu-5090"]
    assert list(nightly["jobs"]) == [
        "gate",
        "nightly-1-gpu",
        "nightly-1-gpu-models-1-gpu-5090",
        "nightly-1-gpu-models-1-gpu-h100",
        "nightly-8-gpu-8-gpu-h200",
        "nightly-8-gpu-8-gpu-b200",
        "weekly-8-gpu",
        "stress",
    ]
    assert gate_spec(nightly) == {
        "workflow": "nightly",
        "crons": ["0 2 * * *", "0 4 * * 0"],
        "suites": {
            "nightly-1-gpu": {"trigger": "nightly"},
            "nightly-8-gpu": {"trigger": "nightly"},
            "weekly-8-gpu": {"trigger": "nightly", "cron": "0 4 * * 0"},
            "stress": {"trigger": "manual"},
        },
    }
    night = nightly["jobs"]
    assert night["gate"]["permissions"] == {"contents": "read"}
    assert (
        night["nightly-1-gpu"]["runs-on"]
        == "${{ inputs.pool == '1-gpu-5090' && fromJSON('[\"1-gpu-5090\"]') || fromJSON('[\"1-gpu-h100\"]') }}"
    )
    # Two pools: a job each, every shard on each; a dispatch override does not apply.
    assert night["nightly-8-gpu-8-gpu-h200"]["runs-on"] == ["8-gpu-h200", "rdma"]
    assert night["nightly-8-gpu-8-gpu-b200"]["runs-on"] == ["8-gpu-b200"]
    assert night["weekly-8-gpu"]["runs-on"] == ["8-gpu-h200", "rdma"] and night["stress"]["runs-on"] == ["8-gpu-b200"]


def test_golden_setup_environment_and_secrets_by_level():
    per_commit = load_yaml(EXPECTED / "workflows" / "cigen-per-commit.yml")["jobs"]
    nightly = load_yaml(EXPECTED / "workflows" / "cigen-nightly.yml")["jobs"]
    secret = "${{ github.event_name != 'pull_request' && secrets.WANDB_API_KEY || '' }}"
    # workflows.env, then the suite's (base-a turns the assert off); on pull requests no secret.
    assert per_commit["base-a"]["env"] == {"IS_IN_CI": "true", "ASYNC_ASSERT": "false", "WANDB_KEY": secret}
    assert per_commit["base-b"]["env"] == {"IS_IN_CI": "true", "WANDB_KEY": secret}
    # The secrets' environment on trusted events only: its reviewers must not hold back every pull request.
    assert per_commit["base-b"]["environment"] == "${{ github.event_name != 'pull_request' && 'cigen-secrets' || '' }}"
    assert nightly["nightly-1-gpu"]["environment"] == "cigen-secrets"
    # The pool's set-up replaces the workflows' one; its env joins in; nightly runs are trusted.
    h200, b200 = nightly["nightly-8-gpu-8-gpu-h200"], nightly["nightly-8-gpu-8-gpu-b200"]
    assert h200["steps"][1]["run"] == "bash scripts/install_rdma.sh\n"
    assert b200["steps"][1]["run"] == "pip install -e .\n"
    assert h200["env"] == {
        "IS_IN_CI": "true",
        "GPU_CONFIG": "8-gpu-h200",
        "RDMA_DEVICES": "mlx5_1,mlx5_2",
        "WANDB_KEY": "${{ secrets.WANDB_API_KEY }}",
    }
    assert nightly["nightly-1-gpu"]["env"] == {
        "IS_IN_CI": "true",
        "HF_HUB_DOWNLOAD_TIMEOUT": "300",
        "WANDB_KEY": "${{ secrets.WANDB_API_KEY }}",
        "HF_TOKEN": "${{ secrets.HF_TOKEN }}",
    }
    # The runner gets the suite's settings: retries, working directory, test arguments, GPUs.
    command = shlex.split(per_commit["base-a"]["steps"][2]["run"])
    assert command == [
        "python3", ".github/cigen/run_shard.py", "run", "--plan", ".github/cigen/plan.json", "--suite", "base-a",
        "--shard", "$SHARD", "--per-file-timeout", "600", "--retries", "0", "--retry-wait", "60",
        "--pool", "1-gpu-5090", "--gpus", "1", "--disk-path", "/", "--min-disk-free-gib", "50",
        "--drain-marker", "/var/lib/cigen/drained",
        "--workdir", "test", "--test-arg=-f", "--results", "$RUNNER_TEMP/cigen-results.json",
    ]  # fmt: skip
    # The runner's health (every pool's default): the disk floor and marker as options, the drain command through env.
    drain = 'sudo systemd-run --on-active=30 systemctl stop "actions.runner.octo-fixture.$CIGEN_RUNNER_NAME.service"'
    assert per_commit["base-a"]["steps"][2]["env"]["CIGEN_DRAIN_COMMAND"] == drain
    assert "--keep-going" in shlex.split(h200["steps"][2]["run"]) and "--gpus" in shlex.split(h200["steps"][2]["run"])
    # A pool's preflight keys reach its jobs' runner; a pool without them keeps the runner's defaults.
    h200_options = shlex.split(h200["steps"][2]["run"])
    preflight = h200_options[h200_options.index("--gpus") + 2 : h200_options.index("--disk-path")]
    assert preflight == ["--preflight-timeout", "10", "--min-free-mib", "40000", "--gpu-wait-seconds", "60"]
    b200_options = shlex.split(b200["steps"][2]["run"])
    assert b200_options[b200_options.index("--gpus") + 2] == "--disk-path"
    # The pool's own disk floor over every pool's default of 50.
    assert h200_options[h200_options.index("--min-disk-free-gib") + 1] == "200"
    assert b200_options[b200_options.index("--min-disk-free-gib") + 1] == "50"
    upload = per_commit["base-a"]["steps"][3]
    assert upload["uses"] == UPLOAD_ARTIFACT.split(" #")[0] and upload["if"] == "${{ !cancelled() }}"
    assert upload["with"]["name"] == "cigen-results-${{ github.job }}-${{ matrix.shard }}-${{ github.run_attempt }}"


def test_a_suites_settings_on_one_pool_reach_that_pools_job_only(tmp_path):
    """on_pools: env merged over the suite's (a repository variable through env: only) and the
    retry policy, on the one pool's job; the other pool's job keeps the suite's."""
    tree = tmp_path / "tree"
    shutil.copytree(GOLDEN / "tree", tree)
    config = (tree / "cigen.yml").read_text()
    on_pools = (
        "    max_parallel: 2\n"
        "    env: {SUITE_LEVEL: suite, SHARED: suite}\n"
        "    on_pools:\n"
        "      8-gpu-h200:\n"
        '        env: {IS_H200: "1", SHARED: h200, PERF_URL: {var: PERF_RELAY_URL}}\n'
        "        retries: 2\n"
        "        retry_classes: [infra]\n"
        "  weekly-8-gpu:\n"
    )
    one_pool = "    env: {HF_HUB_DOWNLOAD_TIMEOUT: 300}\n"
    config = config.replace("    max_parallel: 2\n  weekly-8-gpu:\n", on_pools, 1)
    config = config.replace(one_pool, one_pool + "    on_pools: {1-gpu-h100: {env: {H100_ONLY: '1'}}}\n", 1)
    (tree / "cigen.yml").write_text(config)
    assert run("render", "--root", str(tree)).exit_code == 0
    nightly = load_yaml(tree / ".github" / "workflows" / "cigen-nightly.yml")["jobs"]
    # A dispatch may move a one-pool job only where it would get the same env: not with its pool's on_pools env.
    assert nightly["nightly-1-gpu"]["runs-on"] == ["1-gpu-h100"] and nightly["nightly-1-gpu"]["env"]["H100_ONLY"] == "1"
    h200, b200 = nightly["nightly-8-gpu-8-gpu-h200"], nightly["nightly-8-gpu-8-gpu-b200"]
    assert {key: h200["env"].get(key) for key in ("SUITE_LEVEL", "SHARED", "IS_H200", "PERF_URL")} == {
        "SUITE_LEVEL": "suite",
        "SHARED": "h200",
        "IS_H200": "1",
        "PERF_URL": "${{ vars.PERF_RELAY_URL }}",
    }
    assert {key: b200["env"].get(key) for key in ("SUITE_LEVEL", "SHARED", "IS_H200", "PERF_URL")} == {
        "SUITE_LEVEL": "suite",
        "SHARED": "suite",
        "IS_H200": None,
        "PERF_URL": None,
    }
    h200_run, b200_run = (shlex.split(job["steps"][2]["run"]) for job in (h200, b200))
    assert h200_run[h200_run.index("--retries") : h200_run.index("--retry-wait")] == [
        "--retries", "2", "--retry-classes", "infra",
    ]  # fmt: skip
    assert b200_run[b200_run.index("--retries") : b200_run.index("--retry-wait")] == [
        "--retries", "1", "--retry-classes", "flaky-accuracy,infra,timeout",
    ]  # fmt: skip
    assert all("vars." not in step.get("run", "") for job in nightly.values() for step in job.get("steps", []))


def test_model_tests_run_through_the_action_on_each_pool_and_nowhere_else():
    nightly = load_yaml(EXPECTED / "workflows" / "cigen-nightly.yml")
    model = "test/nightly/test_model_server.py"
    assert model not in [path for _, _, path in plan_placements(EXPECTED)]
    assert model_test_placements(nightly) == [
        ("nightly-1-gpu-models-1-gpu-5090", model),
        ("nightly-1-gpu-models-1-gpu-h100", model),
    ]
    job = nightly["jobs"]["nightly-1-gpu-models-1-gpu-5090"]
    assert job["runs-on"] == ["1-gpu-5090"]
    assert job["steps"][0]["uses"] == CHECKOUT.split(" #")[0]
    assert job["steps"][1] == {"name": "Set up", "timeout-minutes": 20, "run": "pip install -e .\n"}
    assert job["steps"][2] == {
        "name": "test/nightly/test_model_server.py (Qwen3-0.6B, tp 1)",
        "uses": "octo/cigen@0123456789abcdef0123456789abcdef01234567",
        "timeout-minutes": 60,
        "with": {
            "test-file": model,
            "model": "Qwen/Qwen3-0.6B",  # what the server loads (hf_model)
            "model-config": "Qwen3-0.6B",  # what the advisor sizes
            "tp": "1",
            "extra-peak": "weight-checker",
            "server-args": "--chunked-prefill-size 2048",
            "timeout-minutes": "30",
        },
    }
    assert (
        "uses: octo/cigen@0123456789abcdef0123456789abcdef01234567 # v0.1.0\n"
        in (EXPECTED / "workflows" / "cigen-nightly.yml").read_text()
    )


# ---------------------------------------------------------------------------------------
# sglang's corpus


def planned_pairs(synth_tree) -> Counter:
    """(suite, file) for every enabled CUDA registration of an enabled suite: with no
    workflows.action in the embedded default, the weight checker is a file like any other."""
    config = load_config(None, synth_tree.root)
    scan = scan_tree(synth_tree.root, config.include, config.exclude)
    return Counter(
        (reg.suite, reg.path)
        for reg in scan.registrations
        if reg.backend == "cuda"
        and reg.enabled
        and config.suites[reg.suite].enabled
        and config.suites[reg.suite].runs_file(reg.nightly)
    )


def test_every_enabled_cuda_registration_is_in_exactly_one_shard_of_its_suite(synth_tree, sglang_suites, corpus_github):
    placed = Counter((suite, path) for suite, _, path in plan_placements(corpus_github))
    expected = planned_pairs(synth_tree)
    # sglang's registry counts the files its CI dispatches; like sglang, the default config skips
    # the 4 whose nightly= flag contradicts their suite (mismatched_nightly: skip; `cigen lint` warns).
    config = load_config(None, synth_tree.root)
    mismatched = [
        p
        for p in lint(config, scan_tree(synth_tree.root, config.include, config.exclude))
        if p.code == "nightly-mismatch"
    ]
    dispatched = sum(
        s["registry"]["files_enabled"] for s in sglang_suites["suites"].values() if s["trigger"] != "not-dispatched"
    )
    assert (sum(expected.values()), dispatched, len(mismatched)) == (710, 710, 4)
    assert placed == expected
    assert set(placed.values()) == {1}
    # Every suite of the plan file has its job(s), in the workflow of its trigger.
    workflows = {
        name: load_yaml(corpus_github / "workflows" / f"cigen-{name}.yml") for name in ("per-commit", "nightly")
    }
    jobs_of = Counter(job_suite(job) for workflow in workflows.values() for job in shard_jobs(workflow).values())
    assert {suite for suite, _ in expected} == set(jobs_of)
    assert all(count == len(config.suites[suite].pools) for suite, count in jobs_of.items())


def test_each_shard_job_runs_on_its_pool_with_its_gpus(synth_tree, corpus_workflows):
    config = load_config(None, synth_tree.root)
    for workflow in corpus_workflows.values():
        for name, job in shard_jobs(workflow).items():
            suite = config.suites[job_suite(job)]
            pool = (
                config.pools[suite.pools[0]]
                if len(suite.pools) == 1
                else config.pools[next(p for p in suite.pools if name.endswith(p))]
            )
            suite = suite.on_pool(pool.name)  # its settings on this pool (on_pools)
            assert default_labels(job) == [list(pool.labels)], name
            command = shlex.split(next(s["run"] for s in job["steps"] if "run_shard.py run" in s.get("run", "")))
            assert command[command.index("--gpus") + 1] == str(pool.gpus), name
            secrets = {name: f"${{{{ secrets.{secret} }}}}" for name, secret in suite.secrets.items()}
            # A per-commit stage learns whether the sgl-kernel build ran (sglang's CUSTOM_BUILD_SGL_KERNEL).
            built = "${{ fromJSON(needs.gate.outputs.builds || '{}')['sgl-kernel'] && 'true' || 'false' }}"
            switch = {"CUSTOM_BUILD_SGL_KERNEL": built} if suite.trigger == "per-commit" else {}
            assert job["env"] == {**config.env_for(suite, pool), **secrets, **switch}, name
            assert next(s["run"] for s in job["steps"] if s["name"] == "Set up").splitlines() == list(
                config.setup_for(suite, pool)
            )


def test_the_sglang_template_sets_per_pool_settings_and_no_retries_where_sglang_does(corpus_workflows):
    """sglang's nightly-test-general-8-gpu-h200 runs nightly-8-gpu-common with IS_H200=1 (step 300 min,
    --timeout-per-file=18000); its -b200 job runs it without IS_H200 (200 min, 12000 s). No other job (the
    nightly-8-gpu-h200 suite on the same runners included) gets IS_H200, and no CUDA job retries (sglang's
    CUDA CI never passes --enable-retry)."""
    jobs = {name: job for workflow in corpus_workflows.values() for name, job in shard_jobs(workflow).items()}
    assert [name for name, job in jobs.items() if "IS_H200" in job["env"]] == ["nightly-8-gpu-common-8-gpu-h200"]
    assert jobs["nightly-8-gpu-common-8-gpu-h200"]["env"]["IS_H200"] == "1"
    assert "nightly-8-gpu-h200" in jobs

    def run_step(job: dict) -> tuple[int, list[str]]:
        step = next(s for s in job["steps"] if "run_shard.py run" in s.get("run", ""))
        return step["timeout-minutes"], shlex.split(step["run"])

    for name, (minutes, seconds) in {"8-gpu-h200": (300, "18000"), "8-gpu-b200": (200, "12000")}.items():
        timeout, command = run_step(jobs[f"nightly-8-gpu-common-{name}"])
        assert (timeout, command[command.index("--per-file-timeout") + 1]) == (minutes, seconds), name
    for name, job in jobs.items():
        command = run_step(job)[1]
        assert command[command.index("--retries") + 1] == "0" and "--retry-classes" not in command, name


def test_a_scheduled_run_collects_every_failure_where_the_template_says_so(corpus_workflows):
    build = "build-sgl-kernel"  # every per-commit suite of the template uses it
    """sglang's schedule: --continue-on-error, and a stage runs whatever the stages before it did
    (_pr-test-stage.yml); a failed kernel build still stops the suites that use it. Pull requests and
    dispatches are unchanged; the nightly workflow keeps going anyway; a config without
    keep_going_on_schedule (the golden tree) renders neither."""
    per_commit = shard_jobs(corpus_workflows["per-commit"])
    later = {name: job for name, job in per_commit.items() if any(n not in ("gate", build) for n in job["needs"])}
    assert later and len(later) < len(per_commit)
    for name, job in per_commit.items():
        command = next(s["run"] for s in job["steps"] if "run_shard.py run" in s.get("run", ""))
        assert "--keep-going-on schedule" in command and "--keep-going\n" not in command, name
        condition = job["if"]
        if name not in later:
            assert "schedule" not in condition, name
            continue
        assert "github.event_name == 'schedule' || (!contains(needs.*.result, 'failure') && " in condition, name
        assert f"needs.{build}.result != 'failure' && needs.{build}.result != 'cancelled'" in condition, name
    for job in shard_jobs(corpus_workflows["nightly"]).values():
        command = next(s["run"] for s in job["steps"] if "run_shard.py run" in s.get("run", ""))
        assert "--keep-going-on" not in command and "schedule' ||" not in job["if"]
    for path in (EXPECTED / "workflows").glob("*.yml"):
        text = path.read_text()
        assert "keep-going-on" not in text and "event_name == 'schedule' ||" not in text, path.name


def test_nightly_and_manual_suites_only_in_the_nightly_workflow(synth_tree, corpus_workflows):
    config = load_config(None, synth_tree.root)
    per_commit = {job_suite(job) for job in shard_jobs(corpus_workflows["per-commit"]).values()}
    nightly = {job_suite(job) for job in shard_jobs(corpus_workflows["nightly"]).values()}
    assert {config.suites[s].trigger for s in per_commit} == {"per-commit"}
    assert {config.suites[s].trigger for s in nightly} == {"nightly", "manual"}


def test_disabled_and_empty_suites_have_no_job(synth_tree, sglang_suites, corpus_workflows):
    config = load_config(None, synth_tree.root)
    suites = {job_suite(job) for workflow in corpus_workflows.values() for job in shard_jobs(workflow).values()}
    with_files = {suite for suite, _ in planned_pairs(synth_tree)}
    disabled = {s.name for s in config.suites.values() if not s.enabled}
    empty = {s.name for s in config.suites.values() if s.enabled} - with_files
    assert len(config.suites) == len(sglang_suites["suites"]) == 49
    assert len(disabled) == 8 and empty == {"base-b-kernel-unit-test-8-gpu-h200", "nightly-8-gpu-h20"}
    assert suites == set(config.suites) - disabled - empty
    assert len(suites) == 39
    # What sglang's own data says: the suites it does not dispatch, or with no enabled file.
    no_job = {
        name
        for name, s in sglang_suites["suites"].items()
        if s["trigger"] == "not-dispatched" or s["registry"]["files_enabled"] == 0
    }
    assert no_job == disabled | empty


def test_disabled_registrations_appear_nowhere(synth_tree, corpus_github):
    config = load_config(None, synth_tree.root)
    scan = scan_tree(synth_tree.root, config.include, config.exclude)
    enabled = {
        r.path
        for r in scan.registrations
        if r.backend == "cuda"
        and r.enabled
        and config.suites[r.suite].enabled
        and config.suites[r.suite].runs_file(r.nightly)
    }
    never = {r.path for r in scan.registrations if r.backend == "cuda"} - enabled
    assert never
    listed = {path for _, _, path in plan_placements(corpus_github)}
    assert listed == enabled
    assert listed & never == set()


def test_corpus_needs_are_transitive_and_gates_match_the_config(synth_tree, corpus_workflows):
    config = load_config(None, synth_tree.root)
    workflow = corpus_workflows["per-commit"]
    jobs = shard_jobs(workflow)
    gates = gate_spec(workflow)["suites"]
    for suite in config.suites.values():
        job = jobs.get(job_id(suite.name))
        if job is None:
            continue
        needs = [f"build-{b}" for b in suite.builds] + [
            job_id(n) for n in needed_suites(config, suite) if job_id(n) in jobs
        ]
        assert job["needs"] == ["gate", *needs], suite.name
        assert ("!contains(needs.*.result, 'failure')" in job["if"]) == bool(needs), suite.name
        assert gates[suite.name].get("label") == suite.pr_label, suite.name
        assert gates[suite.name].get("paths", []) == with_ci_paths(config, suite.paths), suite.name
    assert jobs["base-c-test-4-gpu-h100"]["needs"] == [
        "gate",
        "build-sgl-kernel",
        "base-a-test-1-gpu-small",
        "base-b-test-1-gpu-small",
        "base-b-test-1-gpu-large",
        "base-b-test-2-gpu-large",
        "base-b-test-4-gpu-b200",
    ]
    assert workflow["jobs"]["finish"]["needs"] == ["gate", "build-sgl-kernel", *jobs]


def test_render_is_deterministic(synth_tree, tmp_path):
    first = render_tree(synth_tree.root, tmp_path / "a" / ".github")
    second = render_tree(synth_tree.root, tmp_path / "b" / ".github")
    assert first
    for path, text in first.items():
        other = tmp_path / "b" / path.relative_to(tmp_path / "a")
        assert second[other] == text
        assert other.read_bytes() == path.read_bytes()


SMALL_CONFIG = """\
version: 1
tests: {include: ["test/**/*.py"]}
pools:
  1-gpu-h100: {labels: [1-gpu-h100], gpus: 1, setup_minutes: 2}
suites:
  base-b: {trigger: per-commit, pools: [1-gpu-h100], step_timeout_minutes: 20, shard_budget_minutes: 15, \
max_parallel: 2}
"""


def test_timings_change_the_plan_through_render(tmp_path):
    tree = write_files(tmp_path / "repo", {"cigen.yml": SMALL_CONFIG})
    for name in ("a", "b", "c", "d"):
        write_files(tree, {f"test/base/test_{name}.py": GOOD.replace("base-a", "base-b").replace("60", "300")})
    assert run("render", "--root", str(tree)).exit_code == 0
    workflow = (tree / ".github" / "workflows" / "cigen-per-commit.yml").read_text()

    def shards() -> list[list[str]]:
        found: dict[int, list[str]] = {}
        for _, index, path in plan_placements(tree / ".github"):
            found.setdefault(index, []).append(path)
        return sorted(sorted(files) for files in found.values())

    assert sorted(len(files) for files in shards()) == [2, 2]
    timings = tmp_path / "timings.json"
    timings.write_text(
        json.dumps({"files": [{"suite": "base-b", "path": "test/base/test_a.py", "seconds": 880, "samples": 5}]})
    )
    assert run("render", "--root", str(tree), "--timings", str(timings)).exit_code == 0
    # Measured at 880 s, test_a no longer fits beside another 300 s file in a 900 s budget.
    assert shards() == [["test/base/test_a.py"], ["test/base/test_b.py", "test/base/test_c.py", "test/base/test_d.py"]]
    # The plan file changed; the workflow did not.
    assert (tree / ".github" / "workflows" / "cigen-per-commit.yml").read_text() == workflow


# ---------------------------------------------------------------------------------------
# Security and hygiene, by construction, over every rendered workflow


def all_workflows(corpus_github) -> dict[str, dict]:
    paths = [
        *(corpus_github / "workflows").glob("*.yml"),
        *(EXPECTED / "workflows").glob("*.yml"),
        *(REPO_ROOT / ".github" / "workflows").glob("*.yml"),
    ]
    return {str(p): load_yaml(p) for p in sorted(paths)}


# Workflows whose every job may only read contents; the rerun gate and report may write to a
# pull request, and a per-commit gate reads its labels.
READ_ONLY = ("cigen-per-commit.yml", "cigen-nightly.yml", "cigen-cpu-tests.yml")
GATE_PERMISSIONS = [{"contents": "read"}, {"contents": "read", "pull-requests": "read"}]


def test_least_privilege_pins_and_no_expressions_in_run(corpus_github):
    pinned = re.compile(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}")
    workflows = all_workflows(corpus_github)
    assert (
        len([name for name in workflows if Path(name).name in READ_ONLY]) == 7
    )  # sglang's 2, the golden 3, this repo's 2
    for name, workflow in workflows.items():
        assert workflow["permissions"] == {}, name
        for job_id_, job in workflow["jobs"].items():
            assert "permissions" in job, (name, job_id_)
            if Path(name).name in READ_ONLY:
                expected = GATE_PERMISSIONS if job_id_ == "gate" else [{"contents": "read"}]
                assert job["permissions"] in expected, (name, job_id_)
            assert "secrets" not in job
            for step in job["steps"]:
                assert "${{" not in step.get("run", ""), (name, job_id_, step["name"])
                uses = step.get("uses")
                if uses is None:
                    continue
                assert uses == "./" or pinned.fullmatch(uses), (name, uses)
                if uses.startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False
    text = "".join(Path(name).read_text() for name in workflows)
    assert "secrets: inherit" not in text
    # Every third-party pin carries its version comment.
    assert set(re.findall(r"uses: (\S+@[0-9a-f]{40} # \S+)", text)) == {
        CHECKOUT,
        SETUP_PYTHON,
        UPLOAD_ARTIFACT,
        DOWNLOAD_ARTIFACT,
        "octo/cigen@0123456789abcdef0123456789abcdef01234567 # v0.1.0",
    }


def test_a_need_declared_later_in_the_config_is_still_waited_for(tmp_path):
    config = SMALL_CONFIG + (
        "  base-a: {trigger: per-commit, pools: [1-gpu-h100], step_timeout_minutes: 20, shard_budget_minutes: 15}\n"
    )
    config = config.replace("max_parallel: 2}", "max_parallel: 2, needs: [base-a]}")
    tree = write_files(
        tmp_path, {"cigen.yml": config, "test/test_a.py": GOOD, "test/test_b.py": GOOD.replace("base-a", "base-b")}
    )
    assert run("render", "--root", str(tree)).exit_code == 0
    jobs = load_yaml(tree / ".github" / "workflows" / "cigen-per-commit.yml")["jobs"]
    assert list(jobs) == ["gate", "base-b", "base-a", "finish"]
    assert jobs["base-b"]["needs"] == ["gate", "base-a"]


def line_of(text: str, line: str) -> int:
    return text.splitlines().index(line) + 1


def test_config_text_with_an_expression_is_refused_and_nothing_is_written(tmp_path):
    config = (
        (GOLDEN / "tree" / "cigen.yml")
        .read_text()
        .replace('paths: ["kernel/**"', 'paths: ["${{ github.head_ref }}/**"')
    )
    tree = write_files(tmp_path, {"cigen.yml": config, "test/kernel/test_k.py": GOOD.replace("base-a", "kernel")})
    write_files(
        tree,
        {
            "test/nightly/test_model_server.py": GOOD.replace("base-a", "nightly-1-gpu").replace(
                "60)", "60, nightly=True)"
            )
        },
    )
    result = CliRunner().invoke(cli, ["render", "--root", str(tree)])
    assert result.exit_code == 2
    line = line_of(config, '    paths: ["${{ github.head_ref }}/**", "test/kernel/**"]')
    assert result.stderr == (
        f"{tree / 'cigen.yml'}:{line}: expression-in-config: suites.kernel.paths.0: '${{{{ github.head_ref }}}}/**' "
        "contains '${{'; GitHub would evaluate it where cigen places it\n"
        "  help: write the value out, or pass it to the job through the environment\n"
        f"1 error in {tree / 'cigen.yml'}\n"
    )
    assert not (tree / ".github").exists()


def test_a_model_test_must_be_registered(tmp_path):
    config = (GOLDEN / "tree" / "cigen.yml").read_text()
    tree = write_files(tmp_path, {"cigen.yml": config, "test/base/test_a.py": GOOD})
    result = CliRunner().invoke(cli, ["render", "--root", str(tree)])
    assert result.exit_code == 2
    where = f"{tree / 'cigen.yml'}:{line_of(config, '  test/nightly/test_model_server.py:')}"
    assert without_warnings(result.stderr) == (
        f"{where}: model-test-unregistered: "
        "model test 'test/nightly/test_model_server.py' is not a registered test file\n"
        '  help: register it, e.g. register_cuda_ci(est_time=150, suite="nightly-1-gpu", nightly=True)\n'
        "1 error in 1 file; nothing written.\n"
    )
    assert not (tree / ".github").exists()


def test_registrations_no_job_would_run_stop_the_render(tmp_path):
    tree = write_files(tmp_path, {"test/registered/test_a.py": GOOD.replace("base-a", "base-z")})
    result = CliRunner().invoke(cli, ["render", "--root", str(tree)])
    assert result.exit_code == 2
    line = default_config_text().splitlines().index("  test/registered/rl/test_weight_checker_e2e.py:") + 1
    assert without_warnings(result.stderr).splitlines() == [
        f"<embedded default cigen.yml>:{line}: model-test-unregistered: "
        "model test 'test/registered/rl/test_weight_checker_e2e.py' is not a registered test file",
        '  help: register it, e.g. register_cuda_ci(est_time=150, suite="nightly-1-gpu", nightly=True)',
        "test/registered/test_a.py:1: unknown-suite: cuda suite 'base-z' is not in <embedded default cigen.yml>",
        "  help: add it under suites: in cigen.yml",
        "2 errors in 1 file; nothing written.",
    ]
    assert not (tree / ".github").exists()


# ---------------------------------------------------------------------------------------
# Pieces


def test_job_ids_and_yaml_values():
    assert job_id("base-a-test-1-gpu-small") == "base-a-test-1-gpu-small"
    assert job_id("1.5-suite") == "_1_5-suite"
    assert yaml_value("test/registered/a.py") == "test/registered/a.py"
    assert yaml_value("${{ matrix.labels }}") == "${{ matrix.labels }}"
    assert yaml_value("a #b") == '"a #b"'
    assert yaml_value("on") == '"on"'
    assert yaml_value("3.11") == '"3.11"'
    assert yaml_value("x: y") == '"x: y"'
    assert yaml_value("") == '""'
    assert yaml_value(["1-gpu-h100", "rdma"]) == '["1-gpu-h100", "rdma"]'
    assert yaml_value(30) == "30"


def test_templates_load_from_a_built_wheel(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--disable-pip-version-check",
            "--no-deps",
            "-w",
            str(tmp_path),
            str(REPO_ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("cigen-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    templates = {n for n in names if n.startswith("generator/templates/")}
    assert {f"generator/templates/{p.name}" for p in (REPO_ROOT / "templates").glob("*.j2")} <= templates
    # every module and data file of the package, subpackages included, is in the wheel
    source = REPO_ROOT / "generator"
    shipped = {
        p.relative_to(REPO_ROOT).as_posix()
        for p in source.rglob("*")
        if p.is_file()
        and p.name != "ruff.toml"  # generator/shipped's formatter settings: a development file
        and not any(part == "__pycache__" or part.startswith(".") for part in p.relative_to(source).parts)
    }
    assert shipped <= names, sorted(shipped - names)
    assert not [n for n in names if n.startswith(("generator/backtest", "benchmarks"))]  # research stays out
    assert not [n for n in names if n.endswith(("noise.py", "risk.py"))]
    script = (
        "import generator.render.templates as r; print(r.__file__); "
        "print(r.environment().get_template('per-commit.yml.j2').filename)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "site")},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    assert out[0] == str(tmp_path / "site" / "generator" / "render" / "templates.py")
    assert out[1] == str(tmp_path / "site" / "generator" / "templates" / "per-commit.yml.j2")


def test_every_rendered_workflow_has_a_configurable_file_name(tmp_path):
    """A workflow output is one OUTPUTS entry plus its name in OUTPUT_NAMES (which the schema's
    `workflows.files` is filled from): the two lists agree."""
    from generator.config_fields import OUTPUT_NAMES
    from generator.render.outputs import OUTPUTS

    config = load_config(None, tmp_path)  # the embedded default: default file names
    workflows = [o.name for o in OUTPUTS if o.path(config).startswith("workflows/")]
    assert sorted(workflows) == sorted(OUTPUT_NAMES)


def test_every_shard_job_records_the_name_the_jobs_api_gives_it(corpus_workflows):
    """The re-dispatch matches a failed job (the jobs API's name) to its results by CIGEN_JOB_NAME:
    it must be the job's own `name:`, on every shard job of sglang's render and the golden files."""
    workflows = [*corpus_workflows.values()]
    workflows += [load_yaml(EXPECTED / "workflows" / f"cigen-{name}.yml") for name in ("per-commit", "nightly")]
    recorded, shard_steps = 0, 0
    for workflow in workflows:
        for job in workflow["jobs"].values():
            for step in job.get("steps", []):
                shard_steps += ".github/cigen/run_shard.py" in step.get("run", "")
                if "CIGEN_JOB_NAME" in (step.get("env") or {}):
                    assert step["env"]["CIGEN_JOB_NAME"] == job["name"]
                    recorded += 1
    assert recorded == shard_steps == 50
