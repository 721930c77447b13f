"""The sglang-shaped fixture's per-commit workflow in act: pushes and pull requests.

Each scenario asserts what ran (every recorded file, in its job and shard), what was skipped, what
failed and what was left behind. The runs are independent (each pull request on its own clone,
with its own fake API) and start together, two at a time (tests/act/concurrent.py).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.act.concurrent import Runs, run_concurrently
from tests.act.fixture import FixtureRepo, fake_gpu_bin, pull_request_event, push_event
from tests.act.github_api import PullState, serve_github
from tests.act.harness import NO_NETWORK, ActRun, run_workflow, running, workflow_labels
from tests.act.sglang_repo import actual_runs, expected_runs, job_labels, make_sglang_repo, pool_labels, recording_file
from tests.support.rerun import FakeGitHub

WORKFLOW = "cigen-per-commit.yml"
BASE_A, BASE_B_SMALL, BASE_B_LARGE, BASE_C = (
    "base-a-test-1-gpu-small",
    "base-b-test-1-gpu-small",
    "base-b-test-1-gpu-large",
    "base-c-test-1-gpu-large",
)
EXTRA, KERNEL = "extra-a-test-1-gpu-large", "base-b-kernel-unit-test-1-gpu-large"
SUITES = (BASE_A, BASE_B_SMALL, BASE_B_LARGE, BASE_C, EXTRA, KERNEL)
UNGATED = (BASE_A, BASE_B_SMALL, BASE_B_LARGE, BASE_C)  # a labelled pull request touching no kernel runs these
JOBS = ("gate", *SUITES, "finish")
SMOKE = "test/registered/core/test_smoke.py"
RUN_SECONDS_LIMIT = 60  # each run takes seconds; far more means something hung


def act(repo: FixtureRepo, event: str, payload: dict, work: Path, **options) -> ActRun:
    """The per-commit workflow with every label it names served and a fake idle GPU on PATH."""
    labels = workflow_labels(repo.path / ".github/workflows" / WORKFLOW)
    bin_dirs = [fake_gpu_bin(work / "gpu-bin")]
    result = run_workflow(
        repo.path, WORKFLOW, event, payload, labels=labels, work=work / "act", bin_dirs=bin_dirs, **options
    )
    assert result.seconds < RUN_SECONDS_LIMIT, f"{event} took {result.seconds:.1f} s"
    return result


def pull_request(
    repo: FixtureRepo, work: Path, changes: dict, pull: dict, event_labels: list[str], draft: bool = False
) -> ActRun:
    """A pull request of `changes` on a clone; the fake API answers `pull` (labels, draft) for it.
    A clone each: act takes a pull request's GITHUB_SHA from the working copy, where the fixture
    checks out the merge commit GitHub would test (docs/act.md, difference 6)."""
    clone = repo.clone(work / "repo")
    pr = clone.pull_request(changes, number=7)
    state = PullState(7, pr.head_sha, pr.base_sha, pr.branch, **pull)
    with FakeGitHub() as api:
        serve_github(api, state)
        return act(clone, "pull_request", pull_request_event(pr, event_labels, draft=draft), work, api=api)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> FixtureRepo:
    return make_sglang_repo(tmp_path_factory.mktemp("per-commit") / "repo")


@pytest.fixture(scope="module")
def runs(repo, tmp_path_factory) -> Runs:
    """Every scenario of this module, run together."""
    root = tmp_path_factory.mktemp("per-commit-runs")

    def push_failing() -> ActRun:
        clone = repo.clone(root / "failing" / "repo")
        clone.commit({SMOKE: recording_file(SMOKE, "fail")}, "break the smoke test")
        return act(clone, "push", push_event(clone), root / "failing")

    kernel_change = {"python/sglang/jit_kernel/rmsnorm.py": "# faster\n"}
    return run_concurrently(
        {
            "push": lambda: act(repo, "push", push_event(repo), root / "push", prefix=NO_NETWORK),
            "live label": lambda: pull_request(
                repo,
                root / "live",
                {"python/sglang/srt/server.py": "# fix\n"},
                {"labels": ("run-ci",)},
                event_labels=[],
            ),
            "extra and kernel": lambda: pull_request(
                repo, root / "extra", kernel_change, {"labels": ("run-ci", "run-ci-extra")}, event_labels=["run-ci"]
            ),
            "label removed": lambda: pull_request(
                repo, root / "removed", kernel_change, {"labels": ()}, event_labels=["run-ci", "run-ci-extra"]
            ),
            "draft": lambda: pull_request(
                repo,
                root / "draft",
                kernel_change,
                {"labels": ("run-ci",), "draft": True},
                event_labels=["run-ci"],
                draft=True,
            ),
            "docs only": lambda: pull_request(
                repo, root / "docs", {"README.md": "# more docs\n"}, {"labels": ("run-ci",)}, event_labels=["run-ci"]
            ),
            "failing": push_failing,
        }
    )


def gate_reasons(result: ActRun) -> dict[str, str]:
    """suite -> why, from the gate's step summary table."""
    rows = [line.split("|") for line in result.job("gate").summary.splitlines() if line.startswith("| `")]
    return {row[1].strip(" `"): row[-2].strip() for row in rows}  # the last cell: why


def assert_clean(result: ActRun) -> None:
    """act reported no error outside a job and nothing the run started outlived it."""
    assert result.errors == [] and result.leftovers == [], result.text


def test_a_push_runs_every_per_commit_file_once_in_its_suites_job_and_pool_offline(runs, repo):
    """With no network at all (NO_NETWORK): the jobs install nothing."""
    result = runs["push"]
    assert_clean(result)
    assert result.results() == dict.fromkeys(JOBS, "success")
    assert actual_runs(result) == expected_runs(repo.path, SUITES)
    assert max(actual_runs(result).values()) == 1  # exactly once
    assert not any("/nightly/" in run.file or "/stress/" in run.file for run in result.files)
    labels = job_labels(repo.path, WORKFLOW)
    assert {suite: [labels[suite]] for suite in SUITES} == {suite: pool_labels(repo.path, suite) for suite in SUITES}
    assert [len(result.runs(suite)) for suite in SUITES] == [1, 2, 1, 1, 1, 1]  # base-b small: two shards
    assert gate_reasons(result) == dict.fromkeys(SUITES, "a push runs every suite")
    # The server test_lora.py left behind was ended by the runner's group kill, not by the harness.
    [lora] = [run for run in result.files if run.behavior == "server"]
    assert lora.server_pid and not running(lora.server_pid)


def test_the_pull_requests_labels_are_read_live_not_from_the_event(runs, repo):
    """The event carries no label, the API says run-ci: the ungated stages run."""
    result = runs["live label"]
    assert_clean(result)
    assert result.results() == {**dict.fromkeys(JOBS, "success"), EXTRA: "skipped", KERNEL: "skipped"}
    assert actual_runs(result) == expected_runs(repo.path, UNGATED)
    assert gate_reasons(result) == {
        **dict.fromkeys(UNGATED, "runs"),
        EXTRA: "needs the label 'run-ci-extra'",
        KERNEL: "its paths did not change",
    }
    assert [(call.method, call.path) for call in result.api_calls] == [("GET", "/repos/octo/fixture/pulls/7")]


def test_the_extra_label_and_a_kernel_change_run_their_gated_suites(runs, repo):
    result = runs["extra and kernel"]
    assert_clean(result)
    assert result.results() == dict.fromkeys(JOBS, "success")
    assert actual_runs(result) == expected_runs(repo.path, SUITES)


def test_a_label_on_the_event_but_gone_from_the_pull_request_runs_nothing_and_passes(runs):
    """The other way round: labels removed since the event; finish still passes. The suite
    jobs' matrices fall back to [0] when the gate names no shards, so act can evaluate them for jobs it
    then skips (docs/act.md, difference 1); GitHub never evaluates them."""
    result = runs["label removed"]
    assert_clean(result)
    assert result.results() == {"gate": "success", **dict.fromkeys(SUITES, "skipped"), "finish": "success"}
    assert result.files == []
    assert set(gate_reasons(result).values()) == {"the pull request lacks the label 'run-ci'"}


def test_a_draft_runs_nothing(runs):
    result = runs["draft"]
    assert result.results() == {"gate": "success", **dict.fromkeys(SUITES, "skipped"), "finish": "success"}
    assert result.files == [] and set(gate_reasons(result).values()) == {"the pull request is a draft"}


def test_a_pull_request_outside_the_workflows_paths_runs_nothing(runs):
    result = runs["docs only"]
    assert result.results() == {"gate": "success", **dict.fromkeys(SUITES, "skipped"), "finish": "success"}
    assert result.files == []
    assert set(gate_reasons(result).values()) == {"the pull request changes no file the GPU suites test"}


def test_a_failing_file_fails_its_shard_skips_what_needs_it_and_fails_the_run(runs, repo):
    """Base-a stops at the failure (per-commit shards stop at the first failure); the
    stages after it are skipped; extra-a, which needs nothing, still runs; finish fails."""
    result = runs["failing"]
    assert_clean(result)
    assert result.results() == {
        "gate": "success",
        BASE_A: "failure",
        BASE_B_SMALL: "skipped",
        BASE_B_LARGE: "skipped",
        BASE_C: "skipped",
        EXTRA: "success",
        KERNEL: "skipped",
        "finish": "failure",
    }
    assert actual_runs(result) == Counter(
        {("test/registered/core/test_import.py", BASE_A, "0"): 1, (SMOKE, BASE_A, "0"): 1}
    ) + expected_runs(repo.path, [EXTRA])
    assert result.job(BASE_A).step("Run shard").result == "failure"
    assert result.job(BASE_A).annotations == [("error", f"{SMOKE}: no known failure pattern in the output")]
    assert result.job("finish").annotations == [("error", f"{BASE_A} failure")]
    assert result.exit_code != 0
