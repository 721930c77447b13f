"""The golden tree's rendered workflows, executed in act: every test file runs where the plan put it.

The fixture is tests/golden/tree with each test file replaced by a recording file (same
registrations), set-up made a no-op and `cigen` served from this environment; it is rendered
by cigen as it is today and committed, then run for push, pull_request and workflow_dispatch.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.act.fixture import (
    FixtureRepo,
    cigen_action,
    cigen_shim,
    dispatch_event,
    make_repo,
    pull_request_event,
    push_event,
    recording_copy,
    recording_test,
)
from tests.act.harness import NO_NETWORK, ActRun, run_workflow, workflow_labels
from tests.action_runner import fake_nvidia_smi
from tests.rendering import GOLDEN, render_tree

TREE = GOLDEN / "tree"
RTX_5090 = (0, "NVIDIA GeForce RTX 5090", 32607, 32095)
# Where the plan puts each per-commit file: the job of its suite.
PER_COMMIT = {
    "test/base/test_import.py": "base-a",
    "test/base/test_smoke.py": "base-a",
    "test/base/test_batch.py": "base-b",
    "test/base/test_generate.py": "base-b",
    "test/base/test_sampling.py": "base-b",
    "test/base/test_stream.py": "base-b",
    "test/large/test_long_context.py": "base-c",
    "test/large/test_lora.py": "extra",
    "test/kernel/test_rmsnorm.py": "kernel",
}
# No-op set-up (the tree's config installs the project) and cigen from PATH.
CONFIG_EDITS = {
    'setup: ["pip install -e .", "pip install -e tools/cigen"]': 'setup: ["true"]',
    "cigen: python3 -m cigen": "cigen: cigen",
}
MAKEFILE = ".PHONY: test\ntest:\n\tpython3 tools/cpu_check.py\n"
RUN_SECONDS_LIMIT = 30  # each run takes a few seconds on 2 cores; far more means something hung


def fixture_files(changed: dict[str, str] | None = None) -> dict[str, str]:
    """The golden tree as recording files, the config edited, plus a Makefile for the CPU workflow."""
    files = {"Makefile": MAKEFILE, "tools/cpu_check.py": recording_test("tools/cpu_check.py")}
    for path in sorted(p for p in TREE.rglob("*") if p.is_file()):
        rel = path.relative_to(TREE).as_posix()
        files[rel] = recording_copy(path.read_text(), rel) if rel.endswith(".py") else path.read_text()
    config = files["cigen.yml"]
    for old, new in CONFIG_EDITS.items():
        assert config.count(old) == 1, f"tests/golden/tree/cigen.yml no longer has {old!r}"
        config = config.replace(old, new)
    files["cigen.yml"] = config
    return {**files, **(changed or {})}


@pytest.fixture(scope="module")
def golden(tmp_path_factory) -> FixtureRepo:
    """The fixture repository with cigen's workflows rendered into it and committed."""
    root = tmp_path_factory.mktemp("golden-act")
    repo = make_repo(root / "repo", fixture_files())
    render_tree(repo.path, repo.path / ".github")
    repo.commit({}, "cigen render")
    return repo


@pytest.fixture(scope="module")
def tools(tmp_path_factory) -> dict:
    """cigen on PATH, a fake nvidia-smi (an RTX 5090) and cigen's action served as octo/cigen."""
    root = tmp_path_factory.mktemp("act-tools")
    return {
        "bin_dirs": [cigen_shim(root / "cigen-bin"), fake_nvidia_smi(root / "gpu-bin", [RTX_5090])],
        "actions": {"octo/cigen": cigen_action(root / "cigen-action")},
    }


def run(repo: FixtureRepo, workflow: str, event: str, payload: dict, tools: dict, tmp_path: Path, **options) -> ActRun:
    """Run it with every label it names served (unless `labels` says otherwise), in bounded time."""
    labels = options.pop("labels", None) or workflow_labels(repo.path / ".github/workflows" / workflow)
    result = run_workflow(repo.path, workflow, event, payload, labels=labels, work=tmp_path / "act", **tools, **options)
    assert result.seconds < RUN_SECONDS_LIMIT, f"{workflow} for {event} took {result.seconds:.1f} s"
    return result


def placements(result: ActRun) -> list[tuple[str, str]]:
    return sorted((run.file, run.job) for run in result.files)


def assert_shards_consistent(result: ActRun) -> None:
    """Each file ran in the matrix entry that lists it, and the step saw that entry's shard."""
    for job in result.jobs:
        for run in job.files:
            if "shard" in job.matrix:
                assert (run.shard, run.file in job.matrix["files"]) == (str(job.matrix["shard"]), True), (job, run)


def test_push_runs_every_per_commit_file_once_in_its_suites_job_with_no_network(golden, tools, tmp_path):
    result = run(golden, "per-commit.yml", "push", push_event(golden), tools, tmp_path, prefix=NO_NETWORK)
    assert result.errors == [] and result.leftovers == [], result.text
    assert result.results() == {job: "success" for job in ("changes", "base-a", "base-b", "base-c", "extra", "kernel")}
    assert placements(result) == sorted(PER_COMMIT.items())
    assert_shards_consistent(result)
    assert [len(result.runs(job)) for job in result.declared] == [1, 1, 2, 1, 1, 1]
    assert {(call.action, call.data["commit"]) for call in result.actions} == {("actions/checkout", golden.head)}
    assert {call.inputs["persist-credentials"] for call in result.actions} == {"false"}
    assert result.job("changes").step("Compare with the base branch").outputs == {"kernel": "true"}
    assert result.job("base-b", shard=1).summary.splitlines()[0] == "### base-b, shard 1: 2 files"


def test_cpu_tests_run_make_test_after_setting_up_python(golden, tools, tmp_path):
    result = run(golden, "cpu-tests.yml", "push", push_event(golden), tools, tmp_path)
    assert result.results() == {"cpu-tests": "success"}
    assert placements(result) == [("tools/cpu_check.py", "cpu-tests")]
    setup = [call for call in result.actions if call.action == "actions/setup-python"]
    assert [call.inputs["python-version"] for call in setup] == ["3.12"]


def test_a_pull_request_with_a_failing_test_stops_its_stage_and_skips_what_needs_it(golden, tools, tmp_path):
    broken = {"test/base/test_smoke.py": recording_copy((TREE / "test/base/test_smoke.py").read_text(),
                                                        "test/base/test_smoke.py", "fail")}
    pr = golden.pull_request(broken, number=7, branch="broken-smoke")
    try:
        payload = pull_request_event(pr, labels=["run-ci-extra"])
        result = run(golden, "per-commit.yml", "pull_request", payload, tools, tmp_path)
    finally:
        golden.checkout()
    assert result.errors == [] and result.leftovers == [], result.text
    assert result.results() == {
        "changes": "success",
        "base-a": "failure",
        "base-b": "skipped",
        "base-c": "skipped",
        "extra": "success",  # its label is on the pull request
        "kernel": "skipped",
    }
    assert placements(result) == [("test/base/test_import.py", "base-a"), ("test/base/test_smoke.py", "base-a"),
                                  ("test/large/test_lora.py", "extra")]
    assert [run.behavior for run in result.job("base-a").files] == ["pass", "fail"]
    assert {call.data["commit"] for call in result.actions} == {pr.merge_sha}
    assert result.job("changes").step("Compare with the base branch").outputs == {"kernel": "false"}


def test_a_pull_request_touching_kernel_code_runs_the_path_gated_suite_not_the_labelled_one(golden, tools, tmp_path):
    pr = golden.pull_request({"kernel/rmsnorm.cu": "// changed\n"}, number=8, branch="kernel-change")
    try:
        result = run(golden, "per-commit.yml", "pull_request", pull_request_event(pr), tools, tmp_path)
    finally:
        golden.checkout()
    assert result.results() == {job: "skipped" if job == "extra" else "success" for job in result.declared}
    assert placements(result) == sorted((file, job) for file, job in PER_COMMIT.items() if job != "extra")
    assert result.job("changes").step("Compare with the base branch").outputs == {"kernel": "true"}


def test_nightly_dispatch_of_all_suites_runs_each_shard_on_each_pool_and_the_model_tests(golden, tools, tmp_path):
    payload = dispatch_event({"suite": "all", "pool": "default"})
    result = run(golden, "nightly.yml", "workflow_dispatch", payload, tools, tmp_path)
    assert result.errors == [] and result.leftovers == [], result.text
    assert result.results() == {job: "skipped" if job == "stress" else "success" for job in result.declared}
    assert_shards_consistent(result)
    assert placements(result) == sorted([
        ("test/nightly/test_accuracy.py", "nightly-1-gpu"),
        ("test/nightly/test_model_server.py", "nightly-1-gpu-models-1-gpu-5090"),
        ("test/nightly/test_model_server.py", "nightly-1-gpu-models-1-gpu-h100"),
        ("test/nightly/test_ep8.py", "nightly-8-gpu"),
        ("test/nightly/test_ep8.py", "nightly-8-gpu"),
        ("test/nightly/test_tp8.py", "nightly-8-gpu"),
        ("test/nightly/test_tp8.py", "nightly-8-gpu"),
        ("test/nightly/test_weekly_eval.py", "weekly-8-gpu"),
    ])
    for pool in ("8-gpu-h200", "8-gpu-b200"):
        shard = result.job("nightly-8-gpu", pool=pool, shard=1)
        assert [run.file for run in shard.files] == ["test/nightly/test_tp8.py"]
    models = result.job("nightly-1-gpu-models-1-gpu-5090")
    uploads = [call for call in models.actions if call.action == "actions/upload-artifact"]
    assert [call.data["uploaded"] for call in uploads] == [True]
    assert "result.json" in result.artifact(uploads[0].inputs["name"])


def test_nightly_dispatch_of_a_manual_suite_on_another_pool_runs_only_it_there(golden, tools, tmp_path):
    payload = dispatch_event({"suite": "stress", "pool": "8-gpu-h200"})
    # Only the chosen pool's labels have a runner: a job asking for 8-gpu-b200 would get none.
    result = run(golden, "nightly.yml", "workflow_dispatch", payload, tools, tmp_path, labels=["8-gpu-h200", "rdma"])
    assert result.results() == {job: "success" if job == "stress" else "skipped" for job in result.declared}
    assert placements(result) == [("test/stress/test_soak.py", "stress")]

