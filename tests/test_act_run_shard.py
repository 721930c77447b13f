"""The shipped shard runner inside a rendered nightly job in act.

One shard whose files leave a server behind, hang past the per-file timeout, fail, fail once with
an accuracy line then pass, and pass, run with one retry and --keep-going; a dead GPU (nvidia-smi
hangs, or sees no GPU) ends the shard as `infra` before any file runs; the TIMINGS block of the job
log and the uploaded results file both feed `cigen timings calibrate`, whose timings change the plan; and
adding a test changes the plan file, never a workflow. The same suite on two pools, one of them
retrying flaky-accuracy only (on_pools retry_classes), retries a timeout on the other pool alone.

The pool sets the preflight's nvidia-smi timeout (`preflight: {timeout_seconds: 3}`, the runner's
default is 15 s): the dead-GPU scenario shows the key reaching the rendered run step, and the
timeout bounds the run's wall time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.shipped.run_shard import TIMINGS_BEGIN, TIMINGS_END, build_parser
from tests.act.concurrent import Runs, run_concurrently
from tests.act.fixture import (
    FLAKY_LINE,
    FixtureRepo,
    dispatch_event,
    fake_gpu_bin,
    make_repo,
    recording_test,
    render_and_commit,
)
from tests.act.harness import ActRun, run_workflow, running
from tests.support.rendering import render_tree

CONFIG = """\
version: 1
tests:
  include: ["test/**/*.py"]
backends: [cuda]
schedule:
  nightly_cron: "0 2 * * *"
pools:
  1-gpu-h100: {labels: [1-gpu-h100], gpus: 1, setup_minutes: 1, preflight: {timeout_seconds: 3}}
defaults:
  job_timeout_minutes: 10
  per_file_timeout_seconds: 2
  retries: 1
  retry_wait_seconds: 0
suites:
  nightly-1-gpu: {trigger: nightly, pools: [1-gpu-h100], step_timeout_minutes: 5, shard_budget_minutes: 4}
workflows:
  setup: ["true"]
  branches: [main]
"""
# One shard, run in path order (every est_time fits one shard). The passing file takes 1.5 s: its
# TIMINGS entry (whole seconds) is not 0, so the measured plan cannot equal the estimated one.
FILES = {
    "test/test_a_server.py": "server",
    "test/test_b_hang.py": "hang",
    "test/test_c_fail.py": "fail",
    "test/test_d_flaky.py": "flaky",
    "test/test_e_pass.py": "pass",
}
# The retry policy per suite and pool: the same suite on a second pool retries flaky-accuracy only, so
# its hang (timeout) runs once there while the first pool's job, on the defaults, retries it.
H100_POOL = "  1-gpu-h100: {labels: [1-gpu-h100], gpus: 1, setup_minutes: 1, preflight: {timeout_seconds: 3}}\n"
ONE_POOL_SUITE = (
    "  nightly-1-gpu: {trigger: nightly, pools: [1-gpu-h100], step_timeout_minutes: 5, shard_budget_minutes: 4}\n"
)
POLICY_CONFIG = CONFIG.replace(H100_POOL, H100_POOL + H100_POOL.replace("h100", "b200")).replace(
    ONE_POOL_SUITE,
    "  nightly-1-gpu:\n"
    "    {trigger: nightly, pools: [1-gpu-h100, 1-gpu-b200], step_timeout_minutes: 5, shard_budget_minutes: 4,\n"
    "     on_pools: {1-gpu-b200: {retry_classes: [flaky-accuracy]}}}\n",
)
PASS_SECONDS = 1.5
MARK = 'register_cuda_ci(est_time=2, suite="nightly-1-gpu", nightly=True)'
WORKFLOW = "cigen-nightly.yml"
JOB = "nightly-1-gpu"
ARTIFACT = "cigen-results-nightly-1-gpu-0-1"
PREFLIGHT_SECONDS = 3  # the pool's preflight.timeout_seconds
RUN_ARGS = ["run", "--suite", JOB, "--shard", "0", "--files-json", '["t.py"]']


def fixture_files(extra: dict[str, str] | None = None, config: str = CONFIG) -> dict[str, str]:
    files = {rel: recording_test(rel, behavior, [MARK], seconds=PASS_SECONDS) for rel, behavior in FILES.items()}
    return {"cigen.yml": config, **files, **(extra or {})}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> FixtureRepo:
    return render_and_commit(make_repo(tmp_path_factory.mktemp("run-shard") / "repo", fixture_files()))


@pytest.fixture(scope="module")
def policy_repo(tmp_path_factory) -> FixtureRepo:
    files = fixture_files(config=POLICY_CONFIG)
    return render_and_commit(make_repo(tmp_path_factory.mktemp("run-shard-policy") / "repo", files))


@pytest.fixture(scope="module")
def runs(repo, policy_repo, tmp_path_factory) -> Runs:
    root = tmp_path_factory.mktemp("run-shard-runs")

    def act(name: str, gpu: str, fixture: FixtureRepo = repo, labels: tuple[str, ...] = ("1-gpu-h100",)) -> ActRun:
        work = root / name
        return run_workflow(
            fixture.path,
            WORKFLOW,
            "workflow_dispatch",
            dispatch_event({"suite": "all"}),
            labels=list(labels),
            bin_dirs=[fake_gpu_bin(work / "gpu-bin")],
            work=work / "act",
            env={"CIGEN_FAKE_GPU": gpu},
        )

    return run_concurrently(
        {
            "shard": lambda: act("shard", "idle"),
            "hung GPU": lambda: act("hung", "hang"),
            "no GPU": lambda: act("none", "none"),
            "policy per pool": lambda: act("policy", "idle", policy_repo, ("1-gpu-h100", "1-gpu-b200")),
        }
    )


def summary_rows(summary: str) -> dict[str, tuple[str, str]]:
    """file -> (class, attempts) from the shard's step summary table."""
    rows = [line.split("|") for line in summary.splitlines() if line.startswith("| `")]
    return {row[1].strip(" `"): (row[2].strip(), row[3].strip()) for row in rows}


def results_file(result: ActRun) -> dict:
    """The shard's results JSON as the upload-artifact double received it."""
    return json.loads(result.artifact(ARTIFACT)["cigen-results.json"])


def test_a_shard_retries_what_sglang_retries_kills_hangs_and_servers_and_keeps_going(runs):
    result = runs["shard"]
    assert result.results() == {"gate": "success", JOB: "failure"}
    job = result.job(JOB, shard=0)
    # The hang (timeout) and the flaky file (flaky-accuracy) get their one retry; the failure (test) none.
    assert sorted((run.file, run.behavior) for run in job.files) == sorted(
        [*FILES.items(), ("test/test_b_hang.py", "hang"), ("test/test_d_flaky.py", "flaky")]
    )
    assert summary_rows(job.summary) == {
        "test/test_a_server.py": ("passed", "passed"),
        "test/test_b_hang.py": ("timeout", "timeout, timeout"),
        "test/test_c_fail.py": ("test", "test"),
        "test/test_d_flaky.py": ("flaky", "flaky-accuracy, passed"),
        "test/test_e_pass.py": ("passed", "passed"),
    }
    server = next(run for run in job.files if run.behavior == "server")
    assert server.pgid == server.pid and not running(server.server_pid)  # the runner's group kill ended it
    assert result.leftovers == [] and not any(running(run.pid) for run in job.files)
    assert ("warning", "test/test_d_flaky.py passed on attempt 2") in job.annotations
    assert FLAKY_LINE in job.lines


def test_the_retry_classes_a_suite_has_on_a_pool_decide_what_its_job_there_retries(runs):
    """on_pools: {1-gpu-b200: {retry_classes: [flaky-accuracy]}}: the B200 job runs its hang (timeout) once,
    the H100 job (every retriable class, the default) twice; a test failure runs once on both."""
    result = runs["policy per pool"]
    h100, b200 = "nightly-1-gpu-1-gpu-h100", "nightly-1-gpu-1-gpu-b200"
    assert result.results() == {"gate": "success", h100: "failure", b200: "failure"}
    rows = {job: summary_rows(result.job(job, shard=0).summary) for job in (h100, b200)}
    assert {job: (row["test/test_b_hang.py"], row["test/test_c_fail.py"]) for job, row in rows.items()} == {
        h100: (("timeout", "timeout, timeout"), ("test", "test")),
        b200: (("timeout", "timeout"), ("test", "test")),
    }
    # flaky-accuracy is retried on both pools (the flaky file's marker is the run's, shared by its two
    # jobs: a job that runs it after the other passes at once).
    flaky = {row["test/test_d_flaky.py"] for row in rows.values()}
    assert ("flaky", "flaky-accuracy, passed") in flaky and flaky <= {
        ("flaky", "flaky-accuracy, passed"),
        ("passed", "passed"),
    }


def test_the_results_artifact_records_the_flaky_file_and_the_unretried_failure(runs):
    data = results_file(runs["shard"])
    files = {entry["path"]: entry for entry in data["files"]}
    assert {path: entry["class"] for path, entry in files.items()} == {
        "test/test_a_server.py": "passed",
        "test/test_b_hang.py": "timeout",
        "test/test_c_fail.py": "test",
        "test/test_d_flaky.py": "flaky",
        "test/test_e_pass.py": "passed",
    }
    flaky = files["test/test_d_flaky.py"]
    assert [attempt["class"] for attempt in flaky["attempts"]] == ["flaky-accuracy", "passed"]
    assert flaky["retried"] is True and FLAKY_LINE in flaky["attempts"][0]["reason"]
    assert [attempt["class"] for attempt in files["test/test_c_fail.py"]["attempts"]] == ["test"]
    assert (data["exit_status"], data["preflight"]["status"]) == (1, "passed")


@pytest.mark.parametrize(
    "name, reason",
    [
        ("hung GPU", f"nvidia-smi did not answer within {PREFLIGHT_SECONDS} s"),
        ("no GPU", "nvidia-smi exited 6: No devices were found"),
    ],
)
def test_a_dead_gpu_ends_the_shard_as_infra_within_the_preflight_timeout(runs, name, reason):
    assert build_parser().parse_args(RUN_ARGS).preflight_timeout > PREFLIGHT_SECONDS  # the pool's key, not the default
    result = runs[name]
    assert result.results() == {"gate": "success", JOB: "failure"}
    assert result.files == []  # no file ran on a dead GPU
    data = results_file(result)
    assert (data["exit_status"], data["preflight"]["status"], data["preflight"]["reason"]) == (3, "failed", reason)
    assert {entry["class"] for entry in data["files"]} == {"not-run"}
    job = result.job(JOB, shard=0)
    runner = data["runner"]["name"]  # RUNNER_NAME, else the host's name: act sets none
    assert job.annotations[0] == ("error", f"runner {runner}, probe nvidia-smi: {reason}")
    assert data["preflight"]["seconds"] < PREFLIGHT_SECONDS + 2
    assert result.seconds < PREFLIGHT_SECONDS + 30  # the whole act run, set-up included


def timings_block(lines: list[str]) -> list[str]:
    """The TIMINGS block the runner printed in the job log, markers included."""
    start, end = lines.index(TIMINGS_BEGIN), lines.index(TIMINGS_END)
    return lines[start : end + 1]


def planned_seconds(repo: Path, timings: Path | None) -> list[float]:
    """The suite's shards' estimated seconds in `cigen plan --format json` (with --timings when given)."""
    args = ["plan", "--root", str(repo), "--format", "json", "--no-cache"]
    result = CliRunner().invoke(cli, [*args, "--timings", str(timings)] if timings else args)
    assert result.exit_code == 0, result.output
    return [shard["est_seconds"] for shard in json.loads(result.stdout)["suites"][JOB]["shards"]]


@pytest.mark.parametrize("source", ["--log", "--results"])
def test_the_jobs_timings_round_trip_through_calibrate_into_the_plan(runs, repo, tmp_path, source):
    """The TIMINGS block of the job log, or the uploaded results file, -> cigen timings calibrate -> cigen plan."""
    result = runs["shard"]
    block = timings_block(result.job(JOB, shard=0).lines)
    measured = {entry["file"]: entry["elapsed"] for entry in map(json.loads, block[1:-1])}
    assert sorted(measured) == sorted(FILES)
    given = tmp_path / "given"
    given.write_text("\n".join(block) + "\n" if source == "--log" else json.dumps(results_file(result)))
    timings = tmp_path / "timings.json"
    calibrate = CliRunner().invoke(
        cli, ["timings", "calibrate", "--root", str(repo.path), "--no-cache", source, str(given), "-o", str(timings)]
    )
    assert calibrate.exit_code == 0, calibrate.output
    files = {entry["path"]: entry["seconds"] for entry in json.loads(timings.read_text())["files"]}
    assert files["test/test_e_pass.py"] >= 1.0 and "test/test_c_fail.py" not in files  # a failure is no timing
    assert planned_seconds(repo.path, None) == [10.0]  # 5 x est_time
    assert planned_seconds(repo.path, timings) != [10.0]


def test_adding_a_test_changes_the_plan_file_and_no_workflow(repo, tmp_path):
    before = render_tree(repo.path, tmp_path / "before")
    copy = repo.clone(tmp_path / "copy")
    copy.commit({"test/test_f_new.py": recording_test("test/test_f_new.py", "pass", [MARK])}, "a new test")
    after = render_tree(copy.path, tmp_path / "after")
    changed = sorted(
        path.relative_to(tmp_path / "after").as_posix()
        for path, text in after.items()
        if before.get(tmp_path / "before" / path.relative_to(tmp_path / "after")) != text
    )
    assert changed == ["cigen/plan.json", "cigen/rerun-test.json"]  # data only: the plan and what may be rerun
    assert "test/test_f_new.py" in after[tmp_path / "after/cigen/plan.json"]
    assert "test/test_f_new.py" in after[tmp_path / "after/cigen/rerun-test.json"]
