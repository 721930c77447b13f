"""Self-healing GPU CI in act: fault injection on one runner label, the re-dispatch.

The fixture has one per-commit suite on pool `2-gpu-h100` (2 GPUs, its own runner label) and
renders the re-dispatch workflow. Every scenario is a pull request whose GPU job runs on that
label, on a runner named by RUNNER_NAME, with a stand-in `nvidia-smi` and `df` first on PATH
(CIGEN_FAKE_GPU, CIGEN_FAKE_DISK say what they show) and a stand-in test (CIGEN_FAKE_TEST says
how it behaves). The hosted jobs (gate, finish) never touch a GPU, so a fault is injected on
that label's runner only. Per scenario, two act runs:
1. the per-commit workflow (run A): the shard's results artifact, the drain log (the pool's
   drain command appends the runner and the probe to $CIGEN_DRAIN_LOG);
2. the re-dispatch workflow on `workflow_run` (run B), against a fake API that serves run A as
   GitHub would: its jobs (names, conclusions, the runner) and its uploaded artifacts.
Six machine faults (hung nvidia-smi, no GPU, fewer GPUs than the pool declares, memory held by a
stray process, a full disk, a CUDA init error in a test's output) must each be infra, drain the
runner and be re-dispatched once; a test failure, an exhausted flaky-accuracy retry and a timeout
must never be. Each re-dispatched run's attempt 2 (one more act run: the same commit on a healthy
runner of the label, the fault being the runner's) is green. Every pull request also changes
.github/cigen/redispatch.py into a program that would re-run anything: run B checks out the default
branch's copy, so it never runs. Last, `cigen health` over every results file names the sick runner
with its failing probes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.github.client import RunOrigin
from generator.timings.loop import trusted_results
from tests.act.concurrent import Runs, run_concurrently
from tests.act.fixture import FixtureRepo, make_repo, pull_request_event, render_and_commit
from tests.act.github_api import PullState, bodies, serve_github
from tests.act.harness import ActRun, run_workflow
from tests.support.redispatch import ApiJob, FakeRun, workflow_run_event, zipped
from tests.support.rerun import FakeGitHub

LABEL = "2-gpu-h100"
CONFIG = f"""\
version: 1
tests:
  include: ["test/**/*.py"]
backends: [cuda]
pools:
  {LABEL}: {{labels: [{LABEL}], gpus: 2, setup_minutes: 1, preflight: {{timeout_seconds: 2, wait_seconds: 1}}}}
health:
  min_disk_free_gib: 10
  drain_command: printf '%s %s\\n' "$CIGEN_RUNNER_NAME" "$CIGEN_HEALTH_PROBE" >> "$CIGEN_DRAIN_LOG"
defaults:
  job_timeout_minutes: 10
  per_file_timeout_seconds: 3
  retries: 1
  retry_wait_seconds: 0
suites:
  base: {{trigger: per-commit, pools: [{LABEL}], step_timeout_minutes: 5, shard_budget_minutes: 4}}
workflows:
  setup: ["true"]
  branches: [main]
  redispatch: {{daily_cap: 20}}
"""
STAND_IN_TEST = '''"""Stand-in GPU test (tests/test_act_self_healing.py): behaves as CIGEN_FAKE_TEST says."""
import os
import sys
import time


def register_cuda_ci(**_registration):
    """Stands in for sglang's marker."""


register_cuda_ci(est_time=2, suite="base")



def main():
    behavior = os.environ.get("CIGEN_FAKE_TEST", "pass")
    if behavior == "cuda-init":
        print("RuntimeError: CUDA error: initialization error")
        return 1
    if behavior == "fail":
        print("exit 3, nothing else said")
        return 3
    if behavior == "accuracy":
        print("AssertionError: 0.61 not greater than 0.65")
        return 1
    if behavior == "hang":
        time.sleep(600)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''
# The stand-ins of the runner's machine: GPUs by CIGEN_FAKE_GPU, free disk by CIGEN_FAKE_DISK.
FAKE_NVIDIA_SMI = """#!/bin/sh
count=2; used=512
case "${CIGEN_FAKE_GPU:-idle}" in
  idle) ;;
  fewer) count=1 ;;
  stray) used=30000 ;;
  hang) exec sleep 600 ;;
  none) echo "No devices were found"; exit 6 ;;
esac
index=0
while [ "$index" -lt "$count" ]; do
  echo "$index, GPU-fake-$index, $used, $((81559 - used)), 81559"
  index=$((index + 1))
done
"""
FAKE_DF = """#!/bin/sh
available=104857600
[ "${CIGEN_FAKE_DISK:-ok}" = full ] && available=524288
echo "Filesystem 1024-blocks Used Available Capacity Mounted on"
echo "/dev/fake 209715200 1 $available 50% /"
"""
# What a pull request puts in place of the shipped program: run B must never execute it.
EVIL_REDISPATCH = """import json, os, urllib.request
print("PULL REQUEST CODE RAN")
url = os.environ["GITHUB_API_URL"] + "/repos/octo/fixture/actions/runs/4242/rerun-failed-jobs"
urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method="POST"))
"""
SICK, CODE, HEALTHY = "gpu-h100-sick", "gpu-h100-1", "gpu-h100-2"
SHARD_JOB = "base (shard 0)"
ARTIFACT = "cigen-results-base-0-1"


@dataclass(frozen=True)
class Scenario:
    gpu: str = "idle"
    disk: str = "ok"
    test: str = "pass"
    runner: str = SICK
    probe: str = ""  # the failing probe; "" for a failure of the code
    file_class: str = "not-run"  # the test file's final class


FAULTS = {
    "hung nvidia-smi": Scenario(gpu="hang", probe="nvidia-smi"),
    "no GPU": Scenario(gpu="none", probe="nvidia-smi"),
    "fewer GPUs": Scenario(gpu="fewer", probe="gpu-count"),
    "stray memory": Scenario(gpu="stray", probe="gpu-memory"),
    "full disk": Scenario(disk="full", probe="disk"),
    "CUDA init error": Scenario(test="cuda-init", probe="cuda-init", file_class="infra"),
}
CODE_FAILURES = {
    "test failure": Scenario(test="fail", runner=CODE, file_class="test"),
    "exhausted flaky retry": Scenario(test="accuracy", runner=CODE, file_class="flaky-accuracy"),
    "timeout": Scenario(test="hang", runner=CODE, file_class="timeout"),
}


@dataclass(frozen=True)
class Outcome:
    """Runs A and B of one scenario, and what the drain command logged."""

    gpu_run: ActRun
    redispatch_run: ActRun
    drained: list[str]
    results: dict
    attempt_2: ActRun | None  # the re-dispatched attempt, on the healthy runner; None when not re-dispatched

    @property
    def seconds(self) -> float:
        again = self.attempt_2.seconds if self.attempt_2 else 0.0
        return self.gpu_run.seconds + self.redispatch_run.seconds + again


def stand_ins(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (("nvidia-smi", FAKE_NVIDIA_SMI), ("df", FAKE_DF)):
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)
    return folder


def gpu_run(repo: FixtureRepo, work: Path, scenario: Scenario, attempt: int = 1) -> tuple[ActRun, FixtureRepo]:
    """Run A: the per-commit workflow of a pull request (on its own clone), the fault injected."""
    clone = repo.clone(work / "repo")
    pr = clone.pull_request({".github/cigen/redispatch.py": EVIL_REDISPATCH}, number=7)
    env = {
        "CIGEN_FAKE_GPU": scenario.gpu,
        "CIGEN_FAKE_DISK": scenario.disk,
        "CIGEN_FAKE_TEST": scenario.test,
        "RUNNER_NAME": scenario.runner,
        "CIGEN_DRAIN_LOG": str(work / "drained.log"),
        "GITHUB_RUN_ATTEMPT": str(attempt),
    }
    with FakeGitHub() as api:
        serve_github(api, PullState(7, pr.head_sha, pr.base_sha, pr.branch))
        result = run_workflow(
            clone.path,
            "cigen-per-commit.yml",
            "pull_request",
            pull_request_event(pr),
            labels=[LABEL],
            env=env,
            api=api,
            bin_dirs=[stand_ins(work / "bin")],
            work=work / "act-a",
        )
    return result, clone


def served_run(result: ActRun, runner: str) -> FakeRun:
    """Run A as the REST API shows it: its jobs (the shard job under the name its results give it, on
    the runner it ran on) and its uploaded artifacts."""
    artifacts = {
        folder.name: zipped((folder / "cigen-results.json").read_text())
        for folder in sorted(result.artifacts.iterdir())
        if (folder / "cigen-results.json").is_file()
    }
    names = {json.loads(zip_text(data))["runner"]["job_name"] for data in artifacts.values()}
    gate = ApiJob("Which suites run", result.result("gate"), runner="GitHub Actions 1", steps=(("Decide", "success"),))
    jobs = [gate]
    jobs += [ApiJob(name, result.result("base"), runner=runner) for name in sorted(names)]
    jobs.append(ApiJob("Result", result.result("finish"), runner="GitHub Actions 2", steps=()))
    return FakeRun(jobs=jobs, artifacts=artifacts)


def zip_text(data: bytes) -> str:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read("cigen-results.json").decode()


def redispatch_run(clone: FixtureRepo, work: Path, run: FakeRun) -> ActRun:
    """Run B: the re-dispatch workflow as the default branch has it, on workflow_run (completed)."""
    clone.checkout("main")  # workflow_run runs the default branch's workflow and commit
    with FakeGitHub() as api:
        run.serve(api)
        return run_workflow(
            clone.path,
            "cigen-redispatch.yml",
            "workflow_run",
            workflow_run_event(),
            labels=[],
            api=api,
            work=work / "act-b",
        )


def scenario_runs(repo: FixtureRepo, work: Path, scenario: Scenario) -> Outcome:
    first, clone = gpu_run(repo, work, scenario)
    results = json.loads(first.artifact(ARTIFACT)["cigen-results.json"])
    second = redispatch_run(clone, work, served_run(first, scenario.runner))
    log = work / "drained.log"
    again = None
    if rerun_calls(second):  # GitHub starts attempt 2 of the failed jobs; the drained runner takes none
        again = gpu_run(repo, work / "attempt-2", Scenario(runner=HEALTHY), attempt=2)[0]
    return Outcome(first, second, log.read_text().splitlines() if log.exists() else [], results, again)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> FixtureRepo:
    files = {"cigen.yml": CONFIG, "test/test_gpu.py": STAND_IN_TEST}
    return render_and_commit(make_repo(tmp_path_factory.mktemp("self-healing") / "repo", files))


@pytest.fixture(scope="module")
def runs(repo, tmp_path_factory) -> Runs:
    root = tmp_path_factory.mktemp("self-healing-runs")
    scenarios = {**FAULTS, **CODE_FAILURES}
    calls = {
        name: (lambda name=name: scenario_runs(repo, root / name.replace(" ", "-"), scenarios[name]))
        for name in scenarios
    }
    return run_concurrently(calls)


def reason(results: dict) -> str:
    """The failing probe's reason: the preflight's, else the test's output fault."""
    if results["preflight"]["status"] == "failed":
        return results["preflight"]["reason"]
    entry = results["files"][0]
    return f"{entry['path']}: {entry['attempts'][-1]['reason']}"


def rerun_calls(result: ActRun) -> list[object]:
    return bodies(result.api_calls, "POST", "/actions/runs/4242/rerun-failed-jobs")


@pytest.mark.parametrize("name", FAULTS)
def test_a_machine_fault_is_infra_drains_the_runner_and_is_re_dispatched_once(runs, name):
    scenario, outcome = FAULTS[name], runs[name]
    assert outcome.gpu_run.results() == {"gate": "success", "base": "failure", "finish": "failure"}
    assert outcome.results["exit_status"] == 3  # infra
    assert outcome.results["files"][0]["class"] == scenario.file_class
    probe = outcome.results["preflight"]["probe"] or outcome.results["files"][0]["attempts"][-1]["probe"]
    assert probe == scenario.probe
    job = outcome.gpu_run.job("base", shard=0)
    assert ("error", f"runner {SICK}, probe {probe}: {reason(outcome.results)}") in job.annotations
    assert outcome.drained == [f"{SICK} {scenario.probe}"]
    assert outcome.results["drain"]["drained"] is True and outcome.results["runner"]["name"] == SICK
    b = outcome.redispatch_run
    assert b.results() == {"redispatch": "success"}
    assert rerun_calls(b) == [{}]
    [comment] = bodies(b.api_calls, "POST", "/issues/7/comments")
    assert comment == {
        "body": f"cigen: the GPU jobs failed on the machine, not the code (runner `{SICK}` failed probe"
        f" `{scenario.probe}`); the failed jobs were re-dispatched as attempt 2:"
        " https://github.com/octo/fixture/actions/runs/4242"
    }
    redispatch_job = b.job("redispatch")
    assert "PULL REQUEST CODE RAN" not in "\n".join(redispatch_job.lines)
    [checkout] = redispatch_job.actions
    assert (checkout.data["ref"], checkout.inputs["sparse-checkout"]) == ("refs/heads/main", ".github/cigen")


@pytest.mark.parametrize("name", CODE_FAILURES)
def test_a_failure_of_the_code_is_never_re_dispatched_nor_drains(runs, name):
    scenario, outcome = CODE_FAILURES[name], runs[name]
    assert outcome.gpu_run.results() == {"gate": "success", "base": "failure", "finish": "failure"}
    assert (outcome.results["exit_status"], outcome.results["files"][0]["class"]) == (1, scenario.file_class)
    assert outcome.drained == [] and "drain" not in outcome.results
    b = outcome.redispatch_run
    assert b.results() == {"redispatch": "success"}
    assert rerun_calls(b) == [] and bodies(b.api_calls, "POST", "/issues/7/comments") == []
    lines = b.job("redispatch").lines
    assert "not re-dispatched: not every failure is the machine's: nothing re-dispatched" in lines
    assert "PULL REQUEST CODE RAN" not in "\n".join(lines)


@pytest.mark.parametrize("name", FAULTS)
def test_the_re_dispatched_attempt_on_a_healthy_runner_is_green(runs, name):
    result = runs[name].attempt_2
    assert result.results() == {"gate": "success", "base": "success", "finish": "success"}
    [artifact] = [path.name for path in result.artifacts.iterdir()]
    assert artifact == "cigen-results-base-0-2"  # attempt 2's own artifact
    data = json.loads(result.artifact(artifact)["cigen-results.json"])
    assert (data["exit_status"], data["runner"]["name"], data["preflight"]["status"]) == (0, HEALTHY, "passed")
    assert data["files"][0]["class"] == "passed"


def test_a_failure_of_the_code_gets_no_second_attempt(runs):
    assert [runs[name].attempt_2 for name in CODE_FAILURES] == [None] * len(CODE_FAILURES)


def test_zero_masked_failures_across_the_suite(runs):
    redispatched = {name: len(rerun_calls(runs[name].redispatch_run)) for name in {**FAULTS, **CODE_FAILURES}}
    assert redispatched == {**{name: 1 for name in FAULTS}, **{name: 0 for name in CODE_FAILURES}}


def test_the_health_report_names_the_sick_runner_with_its_failing_probes(runs, tmp_path):
    """Every run's results artifact as `cigen timings fetch` keeps it (validated, the run's `github` block
    from the API), then `cigen health` over them, as the timings job runs it."""
    folder = tmp_path / "results"
    results = [(name, runs[name].gpu_run) for name in [*FAULTS, *CODE_FAILURES]]
    results += [(f"{name} attempt 2", runs[name].attempt_2) for name in FAULTS]
    for number, (name, result) in enumerate(results):
        for artifact in result.artifacts.iterdir():
            (folder / name.replace(" ", "-")).mkdir(parents=True, exist_ok=True)
            text = (artifact / "cigen-results.json").read_text()
            kept = trusted_results(text, artifact.name, fetched_run(5000 + number), 7000 + number)
            (folder / name.replace(" ", "-") / f"{artifact.name}.json").write_text(kept)
    report = CliRunner().invoke(cli, ["health", str(folder), "--max-infra-rate", "0.2"])
    print(report.output)
    assert report.exit_code == 1  # a runner is above the rate
    flagged = [line for line in report.output.splitlines() if line.startswith("- ")]
    assert flagged == [
        f"- {SICK} ({LABEL}): 6 of 6 jobs infra (100% > 20%), drained; failing probes: nvidia-smi x2, cuda-init x1,"
        " disk x1, gpu-count x1, gpu-memory x1"
    ]
    assert f"| `{CODE}` | {LABEL} | 3 | 0 | 3 |" in report.output
    assert f"| `{HEALTHY}` | {LABEL} | 6 | 0 | 0 | - | no |" in report.output  # the six attempts 2
    assert f"| `{LABEL}` | 3 | 1 | 15 | 6 | 9 |" in report.output  # runners, drained, jobs, infra, failures
    assert f"{SICK} |####################| 6/6 infra, drained" in report.output


def fetched_run(run_id: int) -> RunOrigin:
    """A trusted run as the API describes it to the timings loop's fetch."""
    started = datetime(2026, 12, 7, 6, tzinfo=timezone.utc) + timedelta(minutes=run_id % 100)
    return RunOrigin(
        run_id, "push", ".github/workflows/cigen-per-commit.yml", "main", "octo/fixture", "octo/fixture", 1, started
    )


def fault_table(runs: Runs) -> str:
    """The closing note's table, from the runs: the shard's class, the drain log, the re-run calls,
    and how the pull request's GPU job ends (attempt 2 on the healthy runner, or attempt 1 stands)."""
    lines = ["| fault | class | drained | re-dispatched | final result |", "|---|---|---|---|---|"]
    for name in [*FAULTS, *CODE_FAILURES]:
        outcome = runs[name]
        results = outcome.results
        probe = results["preflight"]["probe"] or results["files"][0]["attempts"][-1].get("probe") or ""
        file_class = f"infra ({probe})" if results["exit_status"] == 3 else results["files"][0]["class"]
        drained = f"yes: `{outcome.drained[0]}`" if outcome.drained else "no"
        calls = len(rerun_calls(outcome.redispatch_run))
        redispatched = f"yes ({calls} re-run call)" if calls else "no"
        first = outcome.gpu_run.results()["base"]
        again = outcome.attempt_2
        final = f"attempt 2 on {HEALTHY}: {again.results()['base']}" if again else f"attempt 1 stands: {first}"
        lines.append(f"| {name} | {file_class} | {drained} | {redispatched} | {final} |")
    return "\n".join(lines) + "\n"


def test_the_fault_table_of_the_closing_note(runs):
    table = fault_table(runs)
    print(table)
    rows = [line.split(" | ") for line in table.splitlines()[2:]]
    assert [(row[1], row[2] != "no", row[3] != "no", row[4]) for row in rows] == [
        *[(f"infra ({FAULTS[name].probe})", True, True, f"attempt 2 on {HEALTHY}: success |") for name in FAULTS],
        ("test", False, False, "attempt 1 stands: failure |"),
        ("flaky-accuracy", False, False, "attempt 1 stands: failure |"),
        ("timeout", False, False, "attempt 1 stands: failure |"),
    ]
