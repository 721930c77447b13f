"""The sglang-shaped fixture's nightly workflow in act: schedules, dispatches, a hanging file and the
model test through action.yml against the CPU stand-in server.

The model-test jobs run sglang's weight-checker e2e test (tests/e2e/test_weight_checker_e2e.py,
copied into the fixture) with `uses: ./`: action.yml detects the card with the fake nvidia-smi
(an RTX 5090 for the 5090 pool's job, an H100 for the other), sizes --mem-fraction-static, launches
the stand-in server (CIGEN_E2E_LAUNCH) and uploads its logs. Their steps need torch and requests,
so `python3` is this test environment's interpreter in this module's runs (venv_python_bin).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.act.concurrent import Runs, run_concurrently
from tests.act.fixture import FixtureRepo, dispatch_event, fake_gpu_bin, repository_payload, venv_python_bin
from tests.act.harness import ActRun, run_workflow, running, workflow_labels
from tests.act.sglang_repo import E2E, actual_runs, expected_runs, make_sglang_repo
from tests.support.action_runner import ARTIFACT_FILES

WORKFLOW = "cigen-nightly.yml"
NIGHTLY, KERNEL, WEEKLY, STRESS = "nightly-1-gpu", "nightly-kernel-1-gpu", "weekly-1-gpu", "stress-1-gpu"
MODELS_5090, MODELS_H100 = "nightly-1-gpu-models-1-gpu-5090", "nightly-1-gpu-models-1-gpu-h100"
JOBS = ("gate", MODELS_5090, MODELS_H100, KERNEL, WEEKLY, STRESS)
MODEL_STEP = f"{E2E} (Qwen3-0.6B, tp 1)"
HANG = "test/registered/nightly/test_hang_with_server.py"
E2E_ENV = {"CIGEN_E2E_LAUNCH": f"{sys.executable} tests/e2e/standin_server.py", "CIGEN_E2E_LAUNCH_TIMEOUT": "60"}
RUN_SECONDS_LIMIT = 120  # the model tests start torch twice; far more means something hung


def act(
    repo: FixtureRepo, event: str, payload: dict, work: Path, labels: list[str] | None = None, gpu: str = "idle"
) -> ActRun:
    """The nightly workflow with `labels` served (default: every label it names), the fake GPU in
    state `gpu`, python3 with torch, and the stand-in server as the model server."""
    labels = labels or workflow_labels(repo.path / ".github/workflows" / WORKFLOW)
    bin_dirs = [venv_python_bin(work / "python-bin"), fake_gpu_bin(work / "gpu-bin")]
    env = {**E2E_ENV, "CIGEN_FAKE_GPU": gpu}
    result = run_workflow(
        repo.path,
        WORKFLOW,
        event,
        payload,
        labels=labels,
        work=work / "act",
        bin_dirs=bin_dirs,
        env=env,
        timeout=RUN_SECONDS_LIMIT,
    )
    assert result.seconds < RUN_SECONDS_LIMIT, f"{event} took {result.seconds:.1f} s"
    return result


def schedule_event(cron: str) -> dict:
    """What GitHub sends for one of the workflow's schedules: the cron that fired."""
    return {"schedule": cron, "repository": repository_payload()}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> FixtureRepo:
    return make_sglang_repo(tmp_path_factory.mktemp("nightly") / "repo")


@pytest.fixture(scope="module")
def runs(repo, tmp_path_factory) -> Runs:
    root = tmp_path_factory.mktemp("nightly-runs")
    return run_concurrently(
        {
            "nightly cron": lambda: act(repo, "schedule", schedule_event("0 2 * * *"), root / "nightly"),
            "weekly cron": lambda: act(repo, "schedule", schedule_event("0 4 * * 0"), root / "weekly"),
            # Only the 5090 pool's label has a runner (docs/act.md, difference 7): the weekly suite asked for it.
            "weekly on the 5090": lambda: act(
                repo,
                "workflow_dispatch",
                dispatch_event({"suite": WEEKLY, "pool": "1-gpu-5090"}),
                root / "moved",
                labels=["1-gpu-5090"],
            ),
            "manual suite": lambda: act(
                repo, "workflow_dispatch", dispatch_event({"suite": STRESS, "pool": "default"}), root / "manual"
            ),
            "no fit": lambda: act(
                repo,
                "workflow_dispatch",
                dispatch_event({"suite": NIGHTLY, "pool": "default"}),
                root / "busy",
                labels=["1-gpu-5090"],
                gpu="busy",
            ),
        }
    )


def assert_clean(result: ActRun) -> None:
    assert result.errors == [] and result.leftovers == [], result.text


def summary_rows(summary: str) -> dict[str, str]:
    """file -> class, from a shard's step summary table."""
    return {
        line.split("|")[1].strip(" `"): line.split("|")[2].strip()
        for line in summary.splitlines()
        if line.startswith("| `")
    }


def test_the_nightly_schedule_runs_its_suites_and_not_the_weekly_or_manual_ones(runs, repo):
    """With two crons, the gate reads the payload's `schedule` and runs only that cron's suites."""
    result = runs["nightly cron"]
    assert_clean(result)
    assert result.results() == {
        "gate": "success",
        MODELS_5090: "success",
        MODELS_H100: "success",
        KERNEL: "failure",
        WEEKLY: "skipped",
        STRESS: "skipped",
    }
    assert actual_runs(result) == expected_runs(repo.path, [KERNEL])


def test_a_hanging_file_is_killed_with_its_server_at_the_per_file_timeout_and_later_files_run(runs):
    """Nightly shards keep going (--keep-going); the hang is a `timeout`, not retried (retries 0).
    The runner's per-file timeout does it, as on GitHub: act ignores a job's timeout-minutes and would
    not end the server either (docs/act.md, differences 2 and 4), so nothing left behind proves the
    group kill."""
    job = runs["nightly cron"].job(KERNEL, shard=0)
    assert [run.file for run in job.files] == [
        "test/registered/nightly/test_accuracy.py",
        HANG,
        "test/registered/nightly/test_perplexity.py",
    ]
    assert summary_rows(job.summary) == {
        "test/registered/nightly/test_accuracy.py": "passed",
        HANG: "timeout",
        "test/registered/nightly/test_perplexity.py": "passed",
    }
    [hang] = [run for run in job.files if run.file == HANG]
    assert hang.pgid == hang.pid and hang.server_pid  # the file leads its own group; the server is in it
    assert not running(hang.pid) and not running(hang.server_pid)
    assert ("error", f"{HANG}: killed at the per-file timeout") in job.annotations
    assert f"(2/3) {HANG}: attempt 1, timeout 3 s" in "\n".join(job.lines)


def test_the_model_test_runs_through_the_action_sized_for_each_card(runs):
    """The chosen --mem-fraction-static is in the step summary; the logs are uploaded."""
    result = runs["nightly cron"]
    for job_id, card, fraction in (
        (MODELS_5090, "NVIDIA GeForce RTX 5090", "0.79"),
        (MODELS_H100, "NVIDIA H100 80GB HBM3", "0.83"),
    ):
        job = result.job(job_id)
        assert job.outcomes() == {"Check out": "success", "Set up": "success", MODEL_STEP: "success"}
        assert job.summary.startswith("### Weight-checker e2e: passed\n")
        assert f"| chosen --mem-fraction-static | {fraction} (auto) |" in job.summary.splitlines()
        assert f"| GPU | {card}: " in job.summary
        [upload] = [call for call in job.actions if call.action == "actions/upload-artifact"]
        assert upload.data["files"] == ARTIFACT_FILES
        logs = result.artifact(upload.inputs["name"])
        assert f"mem_fraction_static={fraction}" in logs["server.log"]
        assert '"result": "passed"' in logs["result.json"]


def test_the_weekly_cron_runs_only_the_suite_with_that_cron(runs, repo):
    result = runs["weekly cron"]
    assert_clean(result)
    assert result.results() == {**dict.fromkeys(JOBS, "skipped"), "gate": "success", WEEKLY: "success"}
    assert actual_runs(result) == expected_runs(repo.path, [WEEKLY])


def test_a_dispatch_moves_the_chosen_suite_to_the_chosen_pool(runs):
    """Only the 5090's label is served, so the weekly job ran because it asked for it."""
    result = runs["weekly on the 5090"]
    assert_clean(result)
    assert result.results() == {**dict.fromkeys(JOBS, "skipped"), "gate": "success", WEEKLY: "success"}
    assert actual_runs(result) == Counter({("test/registered/nightly/test_weekly_eval.py", WEEKLY, "0"): 1})


def test_a_manual_suite_runs_only_when_dispatched_by_name(runs, repo):
    """The dispatch payloads name every input: act passes only given ones in the event (docs/act.md, difference 8),
    and the gate reads the event, as on GitHub, whose payload always has them all."""
    result = runs["manual suite"]
    assert result.results() == {**dict.fromkeys(JOBS, "skipped"), "gate": "success", STRESS: "success"}
    assert actual_runs(result) == expected_runs(repo.path, [STRESS])


def test_the_action_refuses_a_card_that_cannot_fit_the_model_and_runs_nothing(runs):
    """A refusal: the 5090 has 3000 MiB free; the H100 jobs have no runner (label not served)."""
    result = runs["no fit"]
    assert_clean(result)
    assert result.results() == {
        "gate": "success",
        MODELS_5090: "failure",
        MODELS_H100: "no runner",
        KERNEL: "skipped",
        WEEKLY: "skipped",
        STRESS: "skipped",
    }
    job = result.job(MODELS_5090)
    assert job.summary.startswith("### Weight-checker e2e: refused\n")
    refusal = (
        "Qwen3-0.6B cannot fit NVIDIA GeForce RTX 5090 (3000 of 32607 MiB free) at any --mem-fraction-static: "
        "the pool needs 1137 MiB of weights plus KV cache, the test 2119 + 512 MiB margin outside it; "
        "nothing was run"
    )
    assert ("error", refusal) in job.annotations
    [upload] = [call for call in job.actions if call.action == "actions/upload-artifact"]
    assert "test.log" not in upload.data["files"] and "gpu.json" in upload.data["files"]
    assert result.files == []
