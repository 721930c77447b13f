"""sglang's whole corpus in act: the per-commit workflow of the embedded default config over all
1,369 test files of the corpus, each a recording file with the file's registrations (as
tests/support/synth.py writes them), run by its twice-daily schedule (sglang's full per-commit run; a
push to main runs nothing, as in sglang). Every enabled CUDA registration of a per-commit suite must run
exactly once, in the job and shard the plan file gave it. The run's wall time is printed (pytest -s shows it).

The config is the embedded default with every set-up made a no-op and no wait between retries, and the
scripts its hooks call are no-ops; all else (pools, suites, stages, label and path gates, timeouts) is sglang's.
"""

from __future__ import annotations

import sys

import pytest

from generator.config import load_config
from generator.config_document import default_config_text
from generator.names import build_job_id
from tests.act.fixture import (
    FixtureRepo,
    fake_gpu_bin,
    make_repo,
    recording_test,
    render_and_commit,
    repository_payload,
)
from tests.act.harness import ActRun, run_workflow, workflow_labels
from tests.act.sglang_repo import actual_runs, expected_runs
from tests.support.synth import render_call

WORKFLOW = "cigen-per-commit.yml"
SETUPS = (
    "setup: [bash scripts/ci/cuda/ci_install_dependency.sh]",
    "setup: [bash scripts/ci/cuda/ci_install_deepep.sh]",
)
RUN_SECONDS_LIMIT = 420
# The scripts the template's hooks call (warm-ups, the venv clean-up), as no-ops.
HOOK_SCRIPTS = {
    "scripts/ci/cuda/ci_cleanup_venv.sh": "#!/bin/sh\n",
    "scripts/ci/cuda/warmup_deep_gemm.py": "",
    "scripts/ci/cuda/warmup_server.py": "",
}


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
    """Every corpus file as a recording file with its registrations as tests/support/synth.py writes them
    (the synthesized body around them is never run), rendered with the scale config and committed."""
    files = {"cigen.yml": scale_config(), **HOOK_SCRIPTS}
    for entry in corpus["files"]:
        files[entry["file"]] = recording_test(entry["file"], "pass", [render_call(call) for call in entry["calls"]])
    return render_and_commit(make_repo(tmp_path_factory.mktemp("scale") / "repo", files))


@pytest.fixture(scope="module")
def result(repo, tmp_path_factory) -> ActRun:
    work = tmp_path_factory.mktemp("scale-run")
    labels = workflow_labels(repo.path / ".github/workflows" / WORKFLOW)
    config = load_config(repo.path / "cigen.yml", repo.path)
    run = run_workflow(
        repo.path,
        WORKFLOW,
        "schedule",
        {"schedule": config.workflows.triggers.schedule[0], "repository": repository_payload()},
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
    builds = {build_job_id(name) for name in config.builds}  # no pull request: the released kernel, nothing built
    assert {job: outcome for job, outcome in result.results().items() if job not in builds} == dict.fromkeys(
        [job for job in result.declared if job not in builds], "success"
    )
    assert {job: result.result(job) for job in builds} == dict.fromkeys(builds, "skipped")
    expected = expected_runs(repo.path, suites)
    assert actual_runs(result) == expected
    assert max(expected.values()) == 1 and len(expected) > 500
