"""The sglang template's CI, event by event, in act (that a change to the CI always runs
it is proven by tests/test_ci_gate.py). The fixture is configured by the template's own workflows, builds
and defaults sections (tests/act/sglang_template_repo.py); each scenario runs on its own clone with
its own fake API, two at a time (tests/act/concurrent.py).

What sglang does is in docs/sglang-parity.md, one row per behaviour, naming the test here that proves it.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests.act.concurrent import Runs, run_concurrently
from tests.act.fixture import FixtureRepo, fake_gpu_bin, pull_request_event, push_event, repository_payload
from tests.act.github_api import PullState, serve_github
from tests.act.harness import ActRun, run_workflow, workflow_labels
from tests.act.sglang_template_repo import (
    FAILING,
    FILES,
    PER_COMMIT_FILES,
    fixture_test_file,
    make_sglang_template_repo,
)
from tests.support.rerun import FakeGitHub

PER_COMMIT, NIGHTLY = "cigen-per-commit.yml", "cigen-nightly.yml"
BUILD = "build-sgl-kernel"
BASE_A, BASE_B, B200, H200 = (
    "base-a-test-1-gpu-small",
    "base-b-test-1-gpu-small",
    "base-b-test-4-gpu-b200",
    "base-c-test-8-gpu-h200",
)
EXTRA, KERNEL = "extra-a-test-1-gpu-large", "base-b-kernel-unit-test-1-gpu-large"
SUITES = (BASE_A, BASE_B, B200, H200, EXTRA, KERNEL)
GPU_JOBS = (BUILD, *SUITES)
RECORD_ENV = (
    "CUSTOM_BUILD_SGL_KERNEL,SGLANG_PRECISION_HF_REPO,SGLANG_PRECISION_HF_REVISION,RUNAI_STREAMER_MEMORY_LIMIT,IS_H200"
)
SCHEDULE, NIGHTLY_CRON = "0 11,23 * * *", "0 14 */2 * *"
COMMON = "test/registered/8-gpu-models/test_common.py"  # nightly-8-gpu-common: on 8-gpu-h200 and 8-gpu-b200
NO_RUN_CI = (
    "No GPU test ran: the pull request lacks the label `run-ci`. To run CI, add the `run-ci` label; "
    "then re-run this workflow."
)
DRAFT = (
    "No GPU test ran: the pull request is a draft. To run CI, mark the pull request ready for review; "
    "then re-run this workflow."
)


def act(repo: FixtureRepo, workflow: str, event: str, payload: dict, work: Path, unserved=(), **options) -> ActRun:
    """A workflow of the fixture with a fake idle GPU; every runner label it names is served but `unserved`
    (a job asking only for those gets "no runner": how a scenario proves which labels a job picked)."""
    labels = workflow_labels(repo.path / ".github/workflows" / workflow) - set(unserved)
    env = {"CIGEN_ACT_RECORD_ENV": RECORD_ENV}
    return run_workflow(
        repo.path, workflow, event, payload, labels=labels, env=env, work=work / "act",
        bin_dirs=[fake_gpu_bin(work / "gpu-bin")], timeout=300, **options,
    )  # fmt: skip


def pull_request(
    repo: FixtureRepo,
    work: Path,
    changes: dict,
    labels: tuple[str, ...],
    draft: bool = False,
    action: str = "synchronize",
    unserved=(),
) -> ActRun:
    """A pull request of `changes` on a clone; the fake API answers its live labels and draft state."""
    clone = repo.clone(work / "repo")
    pr = clone.pull_request(changes, number=7)
    with FakeGitHub() as api:
        serve_github(api, PullState(7, pr.head_sha, pr.base_sha, pr.branch, labels=labels, draft=draft))
        event = pull_request_event(pr, list(labels), action=action, draft=draft)
        if action == "labeled":
            event["label"] = {"name": "documentation"}
        return act(clone, PER_COMMIT, "pull_request", event, work, unserved=unserved, api=api)


def schedule_event(cron: str) -> dict:
    return {"schedule": cron, "repository": repository_payload()}


def first_of_a_shared_shard(repo: FixtureRepo, suite: str) -> str:
    """The first file of the suite's first shard that has files after it."""
    return next(files[0] for files in plan_shards(repo, suite) if len(files) > 1)


def failing_schedule(repo: FixtureRepo, work: Path) -> ActRun:
    """sglang's twice-daily schedule over a main branch where the first file of the first stage fails."""
    clone = repo.clone(work / "repo")
    failing = first_of_a_shared_shard(repo, BASE_A)
    clone.commit({failing: fixture_test_file(failing, "coredump")}, "a change that breaks one file")
    return act(clone, PER_COMMIT, "schedule", schedule_event(SCHEDULE), work, ["4-gpu-b200-kernel"])


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> FixtureRepo:
    return make_sglang_template_repo(tmp_path_factory.mktemp("sglang-template") / "repo")


@pytest.fixture(scope="module")
def runs(repo, tmp_path_factory) -> Runs:
    root = tmp_path_factory.mktemp("sglang-template-runs")
    server = {"python/sglang/srt/server.py": "# a fix\n"}
    kernel = {"sgl-kernel/csrc/gemm.cu": "// faster\n"}
    failing = {**server, FAILING: fixture_test_file(FAILING, "coredump")}
    return run_concurrently(
        {
            "push": lambda: act(repo, PER_COMMIT, "push", push_event(repo), root / "push"),
            "schedule": lambda: act(
                repo, PER_COMMIT, "schedule", schedule_event(SCHEDULE), root / "schedule", ["4-gpu-b200-kernel"]
            ),
            "failing schedule": lambda: failing_schedule(repo, root / "failing-schedule"),
            "no run-ci": lambda: pull_request(repo, root / "no-run-ci", server, ()),
            "draft": lambda: pull_request(repo, root / "draft", server, ("run-ci",), draft=True),
            "unrelated label": lambda: pull_request(repo, root / "label", server, ("run-ci",), action="labeled"),
            "kernel": lambda: pull_request(repo, root / "kernel", kernel, ("run-ci",), unserved=["4-gpu-b200"]),
            "docs only": lambda: pull_request(
                repo, root / "docs", {"README.md": "# more\n", "python/sglang/srt/notes.md": "notes\n"}, ("run-ci",)
            ),
            "high priority failing": lambda: pull_request(
                repo, root / "high", failing, ("run-ci", "high priority"), unserved=["4-gpu-b200-kernel"]
            ),
            "nightly": lambda: act(
                repo,
                NIGHTLY,
                "schedule",
                schedule_event(NIGHTLY_CRON),
                root / "nightly",
                variables={"SGLANG_PRECISION_HF_REPO": "octo/precision-baselines"},
            ),
        }
    )


def gate_table(result: ActRun) -> dict[str, tuple[str, str, str, str]]:
    """suite -> (runs, shards, at once, why), from the gate's step summary."""
    rows = [line.split("|") for line in result.job("gate").summary.splitlines() if line.startswith("| `")]
    return {row[1].strip(" `"): tuple(cell.strip() for cell in row[2:6]) for row in rows}


def runs_of(result: ActRun) -> Counter:
    return Counter((run.file, run.job) for run in result.files)


def suite_files(repo: FixtureRepo, suites) -> Counter:
    """(file, job) for every file the committed plan gives these suites."""
    plan = json.loads((repo.path / ".github/cigen/plan.json").read_text())
    return Counter(
        (entry["file"], suite)
        for suite in suites
        for shard in plan["suites"][suite]["shards"]
        for entry in shard["files"]
    )


def scripts(result: ActRun, job: str, name: str) -> list:
    return [call for call in result.actions if call.job == job and call.action == name]


def assert_clean(result: ActRun) -> None:
    assert result.errors == [] and result.leftovers == [], result.text


def test_a_push_to_main_runs_nothing(runs, repo):
    """sglang's pr-test.yml has no push trigger: the full set runs on the schedule instead. act, like
    GitHub, finds no job of the workflow for a push."""
    result = runs["push"]
    triggers = yaml.safe_load((repo.path / ".github/workflows" / PER_COMMIT).read_text())[True]
    assert set(triggers) == {"pull_request", "schedule", "workflow_dispatch"}
    assert (result.jobs, result.files, result.actions, result.exit_code) == ([], [], [], 1)
    assert result.text.startswith("Error: Could not find any stages to run."), result.text


def test_the_schedule_runs_every_enabled_per_commit_registration_once(runs, repo):
    """sglang's cron '0 11,23 * * *': every stage (extra ones too), every file once, no throttle; no
    pull request, so no sgl-kernel build (the released kernel) and the plain 4-gpu-b200 runners."""
    result = runs["schedule"]
    assert_clean(result)
    assert result.results() == {"gate": "success", BUILD: "skipped", **dict.fromkeys(SUITES, "success"),
                                "finish": "success"}  # fmt: skip
    assert runs_of(result) == suite_files(repo, SUITES)
    assert {file for file, _ in runs_of(result)} == set(PER_COMMIT_FILES)
    assert max(runs_of(result).values()) == 1
    table = gate_table(result)
    assert {suite: row[2] for suite, row in table.items()} == {**dict.fromkeys(SUITES, "1"), BASE_B: "3"}
    assert set(row[3] for row in table.values()) == {"a schedule runs every suite"}
    installs = [call.inputs for call in result.actions if call.action == "ci_install_dependency.sh"]
    assert len(installs) == 8 and all(i == {"custom_build": "false", "wheels": []} for i in installs)


def test_a_failing_schedule_runs_every_file_and_every_stage_and_fails(runs, repo):
    """sglang's schedule collects every failure: `--continue-on-error` runs the files after the failing
    one, and the stages after a failed one run all the same (_pr-test-stage.yml); Result is red. (On a
    pull request the shard stops and the later stages are skipped: the high-priority scenario.)"""
    result = runs["failing schedule"]
    assert_clean(result)
    failing = first_of_a_shared_shard(repo, BASE_A)  # every other stage needs base-a
    assert runs_of(result) == suite_files(repo, SUITES) - Counter({(failing, BASE_A): 1})  # every other file, once
    assert result.results() == {"gate": "success", BUILD: "skipped", BASE_A: "failure",
                                **dict.fromkeys(SUITES[1:], "success"), "finish": "failure"}  # fmt: skip
    assert result.job(BASE_A).outcomes()["Run shard"] == "failure"


@pytest.mark.parametrize(("scenario", "line"), [("no run-ci", NO_RUN_CI), ("draft", DRAFT)])
def test_a_gated_off_pull_request_runs_no_gpu_job_and_fails_the_required_check(runs, scenario, line):
    """sglang's pr-gate exits 1 for a draft or a pull request without run-ci: Result is red, and says
    how to get CI."""
    result = runs[scenario]
    assert_clean(result)
    assert result.results() == {"gate": "success", **dict.fromkeys(GPU_JOBS, "skipped"), "finish": "failure"}
    assert result.files == [] and [call for call in result.actions if call.data.get("kind") == "script"] == []
    finish = result.job("finish")
    assert finish.annotations == [("error", line)]
    assert finish.summary.splitlines()[:3] == ["### Result: failed", "", line]


def test_a_label_nobody_gates_on_starts_no_run(runs):
    """The template's pull_request types leave out `labeled` (sglang's defaults): GitHub starts nothing,
    so no running GPU job is cancelled. act ignores `types` (docs/act.md, difference 12): the harness applies them."""
    result = runs["unrelated label"]
    assert (result.started, result.jobs) == (False, [])


def test_a_kernel_pull_request_builds_the_kernel_and_hands_it_to_every_stage(runs, repo):
    """sglang's _pr-test-sgl-kernel-build.yml: the wheels are built first and installed by every stage
    (CUSTOM_BUILD_SGL_KERNEL=true); the JIT-kernel suite runs; B200 jobs take 4-gpu-b200-kernel (the
    plain label is not served here, so a job on it would say "no runner"). A pull request: throttled."""
    result = runs["kernel"]
    assert_clean(result)
    assert result.results() == {"gate": "success", BUILD: "success", **dict.fromkeys(SUITES, "success"),
                                EXTRA: "skipped", "finish": "success"}  # fmt: skip
    ran = set(SUITES) - {EXTRA}
    assert runs_of(result) == suite_files(repo, ran)
    built = [call.data["args"] for call in result.actions if call.action == "sgl-kernel/build.sh"]
    assert sorted(built) == [["3.10", "12.9"], ["3.10", "13.0"]]
    wheels = [f"sgl_kernel-0.0.0+cu{cuda}-cp310-abi3-linux_x86_64.whl" for cuda in ("12.9", "13.0")]
    installs = {  # one per job run: each has its own workspace
        (call.job, call.workspace): call.inputs for call in result.actions if call.action == "ci_install_dependency.sh"
    }
    assert len(installs) == 7 and set(job for job, _ in installs) == ran
    assert all(i == {"custom_build": "true", "wheels": wheels} for i in installs.values())
    assert {run.data["env"]["CUSTOM_BUILD_SGL_KERNEL"] for run in result.files} == {"true"}
    table = gate_table(result)
    assert table[BASE_B][2] == "1"  # max(3 // 3, 1): sglang's size // 3 on a pull request
    assert table[KERNEL][0] == "yes" and table[EXTRA][3] == "needs the label 'run-ci-extra'"
    assert "- build `sgl-kernel`: yes" in result.job("gate").summary
    assert "- pool `4-gpu-b200` on its changed-paths labels: yes" in result.job("gate").summary


def test_a_docs_only_pull_request_runs_nothing_and_passes(runs):
    """sglang's filters exclude *.md: nothing to test, Result green."""
    result = runs["docs only"]
    assert_clean(result)
    assert result.results() == {"gate": "success", **dict.fromkeys(GPU_JOBS, "skipped"), "finish": "success"}
    assert set(row[3] for row in gate_table(result).values()) == {
        "the pull request changes no file the GPU suites test"
    }


def test_high_priority_lifts_the_throttle_and_a_failure_runs_the_hooks(runs, repo):
    """`high priority`: every shard at once (sglang's full_parallel). A failing file that leaves a core
    dump: its job uploads the dump on failure and cleans up always (sglang's upload-cuda-coredumps and
    ci_cleanup_venv.sh); the jobs after it are skipped and Result is red."""
    result = runs["high priority failing"]
    assert_clean(result)
    table = gate_table(result)
    assert table[BASE_B][2] == "3"
    shard = next(index for index, files in enumerate(plan_shards(repo, BASE_B)) if FAILING in files)
    failed = result.job(BASE_B, shard=shard)
    assert failed.result == "failure"
    assert failed.outcomes() == {
        "Check out": "success",
        "Set up": "success",
        "Download the sgl-kernel build": "skipped",  # no kernel change: the released kernel
        "Run shard": "failure",
        "Upload the shard's results": "success",
        "On failure": "success",
        "Upload on failure": "success",
        "After tests": "success",
    }
    dumps = [name for name in list_artifacts(result) if name.startswith(f"cigen-on-failure-{BASE_B}-{shard}-")]
    assert len(dumps) == 1 and result.artifact(dumps[0]) == {"core.4242": "fake core dump\n"}
    assert [c.job for c in result.actions if c.action == "ci_cleanup_venv.sh"].count(BASE_B) == 3  # every shard
    # The other shards' tests passed: no failure hooks, the cleanup all the same. (By their steps, not their
    # job results: act runs this matrix one shard at a time and reports every shard after a failed one as
    # failed too.)
    passed = [job.outcomes() for job in result.runs(BASE_B) if job is not failed]
    assert len(passed) == 2 and all(steps["Run shard"] == "success" for steps in passed)
    assert all(
        (steps["On failure"], steps["Upload on failure"], steps["After tests"]) == ("skipped", "skipped", "success")
        for steps in passed
    )
    assert result.result(H200) == "skipped" and result.result("finish") == "failure"
    # The warm-up hook of the 8-GPU H200 stage is in its job, before the tests (it never ran here: skipped).
    jobs = yaml.safe_load((repo.path / ".github/workflows" / PER_COMMIT).read_text())["jobs"]
    names = [step["name"] for step in jobs[H200]["steps"]]
    assert names.index("Before tests") < names.index("Run shard")
    assert jobs[H200]["steps"][names.index("Before tests")]["timeout-minutes"] == 60


def test_the_nightly_schedule_runs_only_nightly_files_with_the_repository_variables(runs):
    """sglang's run_suite.py --nightly skips nightly=False files; the precision suite reads vars.*; every
    nightly file runs with sglang's RUNAI_STREAMER_MEMORY_LIMIT=0 (and no per-commit file does). The
    suite on two pools runs on both, with IS_H200=1 on the H200 job only (its on_pools env), as sglang's
    nightly-test-general-8-gpu-h200 job; no other job of the run, on the same runners or not, gets it."""
    result = runs["nightly"]
    assert_clean(result)
    ran = {run.file for run in result.files}
    assert ran == {path for path, mark in FILES.items() if "nightly=True" in mark}
    assert "test/registered/nightly/test_not_nightly.py" not in ran
    [precision] = [run for run in result.files if "/precision/" in run.file]
    assert precision.data["env"]["SGLANG_PRECISION_HF_REPO"] == "octo/precision-baselines"
    assert precision.data["env"]["SGLANG_PRECISION_HF_REVISION"] == "main"  # the variable is unset: its default
    assert {run.data["env"]["RUNAI_STREAMER_MEMORY_LIMIT"] for run in result.files} == {"0"}
    assert {run.data["env"].get("RUNAI_STREAMER_MEMORY_LIMIT") for run in runs["schedule"].files} == {None}
    is_h200 = sorted((run.job, run.file, run.data["env"]["IS_H200"]) for run in result.files)
    assert is_h200 == [
        ("nightly-1-gpu", "test/registered/nightly/test_accuracy.py", None),
        ("nightly-1-gpu", "test/registered/nightly/test_perplexity.py", None),
        ("nightly-8-gpu-common-8-gpu-b200", COMMON, None),
        ("nightly-8-gpu-common-8-gpu-h200", COMMON, "1"),
        ("nightly-precision-8-gpu-h200", "test/registered/precision/test_baseline.py", None),
    ]


def plan_shards(repo: FixtureRepo, suite: str) -> list[list[str]]:
    plan = json.loads((repo.path / ".github/cigen/plan.json").read_text())
    return [[entry["file"] for entry in shard["files"]] for shard in plan["suites"][suite]["shards"]]


def list_artifacts(result: ActRun) -> list[str]:
    return sorted(path.name for path in result.artifacts.iterdir())
