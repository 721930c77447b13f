"""sglang's whole corpus in act (issue 12, item 6): the per-commit workflow of the embedded default
config over all 1,369 test files of the corpus, each a recording file with the file's registrations
(as tests/synth.py writes them). Every enabled CUDA registration of a per-commit suite must run exactly once, in the
job and shard the plan file gave it. The run's wall time is printed (pytest -s shows it).

The config is the embedded default with every set-up made a no-op and no wait between retries; all
else (pools, suites, stages, label and path gates, timeouts) is sglang's.
"""

from __future__ import annotations

import sys

import pytest

from generator.config import default_config_text, load_config
from tests.act.fixture import FixtureRepo, fake_gpu_bin, make_repo, push_event, recording_test, render_and_commit
from tests.act.harness import ActRun, run_workflow, workflow_labels
from tests.act.sglang_repo import actual_runs, expected_runs
from tests.synth import render_call

WORKFLOW = "cigen-per-commit.yml"
SETUPS = (
    "setup: [bash scripts/ci/cuda/ci_install_dependency.sh]",
    "setup: [bash scripts/ci/cuda/ci_install_deepep.sh]",
)
RUN_SECONDS_LIMIT = 420


def scale_config() -> str:
    """The embedded default, set-up a no-op everywhere and retries without a wait."""
    text = default_config_text()
    for setup in SETUPS:
        assert setup in text, f"the embedded default no longer has {setup!r}"
        text = text.replace(setup, 'setup: ["true"]')
    assert text.count("\ndefaults:\n") == 1
    return text.replace("\ndefaults:\n", "\ndefaults:\n  retry_wait_seconds: 0\n")


@pytest.fixture(scope="module")
def repo(tmp_path_factory, corpus) -> FixtureRepo:
    """Every corpus file as a recording file with its registrations as tests/synth.py writes them
    (the synthesized body around them is never run), rendered with the scale config and committed."""
    files = {"cigen.yml": scale_config()}
    for entry in corpus["files"]:
        files[entry["file"]] = recording_test(entry["file"], "pass", [render_call(call) for call in entry["calls"]])
    return render_and_commit(make_repo(tmp_path_factory.mktemp("scale") / "repo", files))


@pytest.fixture(scope="module")
def result(repo, tmp_path_factory) -> ActRun:
    work = tmp_path_factory.mktemp("scale-run")
    labels = workflow_labels(repo.path / ".github/workflows" / WORKFLOW)
    run = run_workflow(
        repo.path,
        WORKFLOW,
        "push",
        push_event(repo),
        labels=labels,
        work=work / "act",
        bin_dirs=[fake_gpu_bin(work / "gpu-bin")],
        timeout=RUN_SECONDS_LIMIT,
    )
    jobs = len([job for job in run.jobs if job.result != "skipped"])
    print(
        f"act, sglang's per-commit workflow: {run.seconds:.1f} s, {jobs} jobs, {len(run.files)} files", file=sys.stderr
    )
    return run


def test_every_enabled_cuda_registration_runs_once_in_the_job_and_shard_the_plan_gave_it(result, repo):
    config = load_config(repo.path / "cigen.yml", repo.path)
    suites = [name for name, suite in config.suites.items() if suite.trigger == "per-commit" and suite.enabled]
    assert result.errors == [] and result.leftovers == [], result.text
    assert set(result.results().values()) == {"success"}
    expected = expected_runs(repo.path, suites)
    assert actual_runs(result) == expected
    assert max(expected.values()) == 1 and len(expected) > 500
