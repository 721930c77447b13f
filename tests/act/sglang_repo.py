"""The sglang-shaped fixture repository of the act scenarios, and what its plan says should run where.

Two 1-GPU pools labelled like sglang's (1-gpu-5090, 1-gpu-h100, reached through sglang's
runner_config names), three per-commit stages (base-a, then base-b on both pools, then base-c),
a suite gated by a pull-request label (extra-a), one gated by paths (the JIT kernel suite), two
nightly suites (nightly-kernel-1-gpu stops a file after 3 s), a weekly suite with its own cron, a
manual suite, and sglang's weight-checker e2e (nightly-1-gpu) as a model test run through cigen's
action at the root (`action: ./`: the repository is cigen-shaped,
with action.yml and generator/ beside the tests, so the action and the stand-in server run from the
checkout). Every other test file is a recording file (tests/act/fixture.py): it records which file
ran in which job and shard, then passes, fails, hangs or leaves a server behind as FILES says.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from generator.config import load_config
from generator.names import shard_job_ids
from generator.shipped import plan_file
from tests.act.fixture import REPO_ROOT, FixtureRepo, make_repo, recording_test, render_and_commit
from tests.act.harness import ActRun

E2E = "test/registered/rl/test_weight_checker_e2e.py"
CONFIG = """\
# The sglang-shaped fixture of the act scenarios (tests/act/sglang_repo.py).
version: 1
tests:
  include: ["test/registered/**/*.py"]
backends: [cuda]
schedule:
  nightly_cron: "0 2 * * *"
pools:
  1-gpu-5090: {labels: [1-gpu-5090], gpus: 1, setup_minutes: 1, gpu: NVIDIA RTX 5090, gpu_mem_gib: 31.84}
  1-gpu-h100: {labels: [1-gpu-h100], gpus: 1, setup_minutes: 1, gpu: NVIDIA H100, gpu_mem_gib: 79.65}
runner_configs:
  1-gpu-small: 1-gpu-5090
  1-gpu-large: 1-gpu-h100
defaults:
  job_timeout_minutes: 120
  per_file_timeout_seconds: 3600
  retries: 0
  retry_wait_seconds: 0
  working_directory: test
  test_args: ["-f"]
suites:
  base-a-test-1-gpu-small:
    {trigger: per-commit, runner_config: 1-gpu-small, step_timeout_minutes: 10, shard_budget_minutes: 7.5}
  base-b-test-1-gpu-small:
    {trigger: per-commit, runner_config: 1-gpu-small, needs: [base-a-test-1-gpu-small], step_timeout_minutes: 30,
     shard_budget_minutes: 10, max_parallel: 2}
  base-b-test-1-gpu-large:
    {trigger: per-commit, runner_config: 1-gpu-large, needs: [base-a-test-1-gpu-small], step_timeout_minutes: 30,
     shard_budget_minutes: 22.5}
  base-c-test-1-gpu-large:
    {trigger: per-commit, runner_config: 1-gpu-large, needs: [base-b-test-1-gpu-small, base-b-test-1-gpu-large],
     step_timeout_minutes: 30, shard_budget_minutes: 22.5}
  extra-a-test-1-gpu-large:
    {trigger: per-commit, runner_config: 1-gpu-large, step_timeout_minutes: 60, shard_budget_minutes: 45,
     pr_label: run-ci-extra}
  base-b-kernel-unit-test-1-gpu-large:
    {trigger: per-commit, pools: [1-gpu-h100], needs: [base-a-test-1-gpu-small], step_timeout_minutes: 30,
     shard_budget_minutes: 22.5, paths: ["python/sglang/jit_kernel/**", "test/registered/jit/**"]}
  nightly-1-gpu: {trigger: nightly, pools: [1-gpu-h100], step_timeout_minutes: 60, shard_budget_minutes: 60}
  nightly-kernel-1-gpu: {trigger: nightly, pools: [1-gpu-h100], step_timeout_minutes: 60, shard_budget_minutes: 60,
                         per_file_timeout_seconds: 3}
  weekly-1-gpu: {trigger: nightly, pools: [1-gpu-h100], step_timeout_minutes: 90, shard_budget_minutes: 90,
                 cron: "0 4 * * 0"}
  stress-1-gpu: {trigger: manual, pools: [1-gpu-5090], step_timeout_minutes: 60, shard_budget_minutes: 60}
model_tests:
  test/registered/rl/test_weight_checker_e2e.py:
    {model: Qwen3-0.6B, hf_model: tests/e2e/tiny-qwen3, pools: [1-gpu-5090, 1-gpu-h100]}
workflows:
  setup: ["true"]
  env: {SGLANG_IS_IN_CI: "true"}
  pull_requests: {label: run-ci, skip_drafts: true, paths: ["python/**", "test/**"]}
  action: ./
  branches: [main]
"""
SMALL, LARGE = 'runner_config="1-gpu-small"', 'runner_config="1-gpu-large"'
# Test file -> (its registration, how it behaves).
FILES: dict[str, tuple[str, str]] = {
    "test/registered/core/test_import.py": (f'register_cuda_ci(est_time=30, stage="base-a", {SMALL})', "pass"),
    "test/registered/core/test_smoke.py": (f'register_cuda_ci(est_time=60, stage="base-a", {SMALL})', "pass"),
    "test/registered/core/test_batch.py": (f'register_cuda_ci(est_time=400, stage="base-b", {SMALL})', "pass"),
    "test/registered/core/test_generate.py": (f'register_cuda_ci(est_time=500, stage="base-b", {SMALL})', "pass"),
    "test/registered/core/test_sampling.py": (f'register_cuda_ci(est_time=200, stage="base-b", {SMALL})', "pass"),
    "test/registered/models/test_lora.py": (f'register_cuda_ci(est_time=300, stage="base-b", {LARGE})', "server"),
    "test/registered/models/test_long_context.py": (f'register_cuda_ci(est_time=600, stage="base-c", {LARGE})', "pass"),
    "test/registered/extra/test_mixed_chunk.py": (f'register_cuda_ci(est_time=300, stage="extra-a", {LARGE})', "pass"),
    "test/registered/jit/test_rmsnorm.py": (
        'register_cuda_ci(est_time=120, suite="base-b-kernel-unit-test-1-gpu-large")',
        "pass",
    ),
    "test/registered/nightly/test_accuracy.py": (
        'register_cuda_ci(est_time=600, suite="nightly-kernel-1-gpu", nightly=True)',
        "pass",
    ),
    "test/registered/nightly/test_hang_with_server.py": (
        'register_cuda_ci(est_time=300, suite="nightly-kernel-1-gpu", nightly=True)',
        "server-hang",
    ),
    "test/registered/nightly/test_perplexity.py": (
        'register_cuda_ci(est_time=600, suite="nightly-kernel-1-gpu", nightly=True)',
        "pass",
    ),
    "test/registered/nightly/test_weekly_eval.py": (
        'register_cuda_ci(est_time=3600, suite="weekly-1-gpu", nightly=True)',
        "pass",
    ),
    "test/registered/stress/test_soak.py": ('register_cuda_ci(est_time=1800, suite="stress-1-gpu")', "pass"),
}
# The cigen-shaped part: the action, the package it runs, the stand-in server and its model config.
CIGEN_PARTS = ("action.yml", "generator", "tests/e2e/standin_server.py", "tests/e2e/tiny-qwen3/config.json")


def recording_file(path: str, behavior: str | None = None) -> str:
    """FILES[path] as a recording test file, behaving as FILES says unless `behavior` is given."""
    mark, default = FILES[path]
    return recording_test(path, behavior or default, [mark])


def fixture_files() -> dict[str, str]:
    """Every file of the fixture but cigen's parts: config, sources, recording test files and the e2e test."""
    files = {
        "cigen.yml": CONFIG,
        "python/sglang/srt/server.py": "# the server\n",
        "python/sglang/jit_kernel/rmsnorm.py": "# a JIT kernel\n",
        "README.md": "# fixture\n",
    }
    files.update({path: recording_file(path) for path in FILES})
    files[E2E] = (REPO_ROOT / "tests/e2e/test_weight_checker_e2e.py").read_text()
    return files


def copy_cigen_parts(root: Path) -> None:
    """action.yml, generator/ and the stand-in server with its tiny model config, as in cigen's own repository."""
    for part in CIGEN_PARTS:
        origin, target = REPO_ROOT / part, root / part
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target)


def make_sglang_repo(path: Path, files: Mapping[str, str] | None = None) -> FixtureRepo:
    """The fixture at `path`, `files` added or replaced, rendered by cigen and committed on main."""
    repo = make_repo(path, {**fixture_files(), **(files or {})})
    copy_cigen_parts(repo.path)
    repo.commit({}, "cigen's action and package")
    return render_and_commit(repo)


def plan(repo: Path) -> dict[str, list[list[str]]]:
    """suite -> its shards' files, from the committed plan file."""
    return plan_file.read(repo / plan_file.PLAN_PATH).shard_paths()


def expected_runs(repo: Path, suites: Iterable[str]) -> Counter:
    """(file, job id, shard) once per pool of each suite, for every file the plan gives these suites."""
    config = load_config(repo / "cigen.yml", repo)
    planned = plan(repo)
    expected: Counter = Counter()
    for suite in suites:
        jobs = shard_job_ids(suite, config.suites[suite].pools)
        for index, files in enumerate(planned.get(suite, [])):
            expected.update((file, job, str(index)) for job in jobs for file in files)
    return expected


def actual_runs(result: ActRun) -> Counter:
    """(file, job id, shard) of every recorded test file run."""
    return Counter((run.file, run.job, run.shard) for run in result.files)


def job_labels(repo: Path, workflow: str) -> dict[str, object]:
    """job id -> its runs-on (a list of labels, or the expression that picks them)."""
    jobs = yaml.safe_load((repo / ".github/workflows" / workflow).read_text())["jobs"]
    return {job_id: job["runs-on"] for job_id, job in jobs.items()}


def pool_labels(repo: Path, suite: str) -> list[list[str]]:
    """The labels of each pool the config gives `suite`."""
    config = load_config(repo / "cigen.yml", repo)
    return [list(config.pools[pool].labels) for pool in config.suites[suite].pools]
