"""Rendered workflows of more repositories in act, with no network: cigen's golden tree, a plain
Python project that is no cigen project at all, whose CPU workflow also runs the
drift check, and the same project configured by `cigen init` alone, with
one TODO answered (from `cigen init` to a green run).

The golden tree (tests/golden/tree, every layout the templates know) runs with each test file
replaced by a recording file and its set-up made a no-op; its model tests go through cigen's
action pinned by commit (octo/cigen@<sha>, served from a copy of action.yml and generator/).

The plain project has no action.yml, no generator/ and no cigen_package: its GPU jobs must need
nothing but the files cigen wrote to .github/cigen/. A `cigen`, `pip` and `pip3` first on PATH
record any call and fail, and the run has no network (NO_NETWORK): nothing can install cigen.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests.act.concurrent import Runs, run_concurrently
from tests.act.fixture import (
    FixtureRepo,
    cigen_action,
    cigen_shim,
    dispatch_event,
    fake_gpu_bin,
    make_repo,
    push_event,
    recording_copy,
    recording_test,
    render_and_commit,
)
from tests.act.harness import NO_NETWORK, ActRun, run_workflow, workflow_labels
from tests.act.sglang_repo import actual_runs, expected_runs
from tests.support.rendering import GOLDEN

TREE = GOLDEN / "tree"
GOLDEN_SETUP = {
    'setup: ["pip install -e ."]': 'setup: ["true"]',
    'setup: ["bash scripts/install_rdma.sh"]': 'setup: ["true"]',
    # Runner health as this host can pass it: act runs on the host, so no marker under /var/lib
    # and no service to stop; the disk floors a test machine has; the rdma probe without InfiniBand.
    "  drain_marker: /var/lib/cigen/drained\n": "",
    "drain_command: sudo systemd-run": "drain_command: echo would run sudo systemd-run",
    "min_disk_free_gib: 50": "min_disk_free_gib: 1",
    'min_disk_free_gib: 200, probes: {rdma: "ibv_devinfo -d mlx5_1 | grep -q PORT_ACTIVE"}': (
        'min_disk_free_gib: 2, probes: {rdma: "true"}'
    ),
}
GOLDEN_PER_COMMIT = ("base-a", "base-b", "base-c", "extra", "kernel")
PLAIN_CONFIG = """\
# A plain project's CI: one GPU pool, two stages, the drift check on the hosted runner.
version: 1
tests:
  include: ["tests/**/test_*.py"]
backends: [cuda]
pools:
  gpu: {labels: [gpu-runner], gpus: 1, setup_minutes: 1}
defaults:
  retry_wait_seconds: 0
suites:
  gpu-smoke: {trigger: per-commit, pools: [gpu], step_timeout_minutes: 10, shard_budget_minutes: 5}
  gpu-full:
    {trigger: per-commit, pools: [gpu], needs: [gpu-smoke], step_timeout_minutes: 20, shard_budget_minutes: 2,
     max_parallel: 2}
workflows:
  branches: [main]
  cpu_tests: {commands: [cigen check]}
"""
PLAIN_TESTS = {
    "tests/test_import.py": 'register_cuda_ci(est_time=30, suite="gpu-smoke")',
    "tests/gpu/test_kernels.py": 'register_cuda_ci(est_time=90, suite="gpu-full")',
    "tests/gpu/test_model.py": 'register_cuda_ci(est_time=90, suite="gpu-full")',
}
# What the golden tree's jobs must see: env by level (workflows, pool, suite) and secrets by name.
GOLDEN_SECRETS = {"GITHUB_TOKEN": "act-fake-token", "WANDB_API_KEY": "wandb-secret", "HF_TOKEN": "hf-secret"}
GOLDEN_ENV = {"CIGEN_ACT_RECORD_ENV": "IS_IN_CI,ASYNC_ASSERT,GPU_CONFIG,WANDB_KEY,HF_TOKEN"}
# Fails the step that calls it, and says so in a file the test reads.
TRAP = '#!/bin/sh\necho "$0 $*" >> "${CIGEN_ACT_RECORDS:?}.trapped"\nexit 97\n'


def golden_files() -> dict[str, str]:
    """The golden tree as recording files, its set-up made a no-op."""
    files = {}
    for path in sorted(p for p in TREE.rglob("*") if p.is_file()):
        rel = path.relative_to(TREE).as_posix()
        files[rel] = recording_copy(path.read_text(), rel) if rel.endswith(".py") else path.read_text()
    for old, new in GOLDEN_SETUP.items():
        assert files["cigen.yml"].count(old) == 1, f"tests/golden/tree/cigen.yml no longer has {old!r}"
        files["cigen.yml"] = files["cigen.yml"].replace(old, new)
    return files


def plain_files() -> dict[str, str]:
    """pyproject, a package, recording tests registering register_cuda_ci, and the small cigen.yml."""
    files = {
        "cigen.yml": PLAIN_CONFIG,
        "src/plain/__init__.py": "VERSION = '1.0'\n",
        "pyproject.toml": '[project]\nname = "plain"\nversion = "1.0"\n',
    }
    files.update({rel: recording_test(rel, "pass", [mark]) for rel, mark in PLAIN_TESTS.items()})
    return files


# The one TODO of `cigen init`'s starter config answered for this test: the runner installs nothing
# (offline, and pip is a trap). The labels `init` wrote ([gpu]) are kept: act maps them to this host.
INIT_TODO = ('setup: ["pip install -e ."]  # TODO: how a GPU runner installs this project', 'setup: ["true"]')


def init_repo(path: Path) -> FixtureRepo:
    """The plain project without a cigen.yml, then `cigen init`, one TODO answered, `cigen render`."""
    from click.testing import CliRunner

    from generator.cli import cli

    repo = make_repo(path, {name: text for name, text in plain_files().items() if name != "cigen.yml"})
    done = CliRunner().invoke(cli, ["init", "--root", str(path), "--tests", "tests/**/test_*.py"])
    assert done.exit_code == 0, done.output
    config = (path / "cigen.yml").read_text()
    assert config.count(INIT_TODO[0]) == 1, config
    repo.commit({"cigen.yml": config.replace(*INIT_TODO)}, "cigen init")
    return render_and_commit(repo)


def trap_bin(folder: Path) -> Path:
    """`cigen`, `pip` and `pip3` that fail and leave a note."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("cigen", "pip", "pip3"):
        (folder / name).write_text(TRAP)
        (folder / name).chmod(0o755)
    return folder


def act(repo: FixtureRepo, workflow: str, event: str, payload: dict, work: Path, bins: list[Path], **options) -> ActRun:
    labels = workflow_labels(repo.path / ".github/workflows" / workflow)
    bin_dirs = [*bins, fake_gpu_bin(work / "gpu-bin")]
    return run_workflow(
        repo.path, workflow, event, payload, labels=labels, work=work / "act", bin_dirs=bin_dirs, **options
    )


@pytest.fixture(scope="module")
def repos(tmp_path_factory) -> dict[str, FixtureRepo]:
    root = tmp_path_factory.mktemp("smoke")
    return {
        "golden": render_and_commit(make_repo(root / "golden", golden_files())),
        "plain": render_and_commit(make_repo(root / "plain", plain_files())),
        "init": init_repo(root / "init"),
    }


@pytest.fixture(scope="module")
def runs(repos, tmp_path_factory) -> Runs:
    root = tmp_path_factory.mktemp("smoke-runs")
    golden, plain, init = repos["golden"], repos["plain"], repos["init"]
    shim = cigen_shim(root / "cigen-bin")
    pinned = {"octo/cigen": cigen_action(root / "cigen-action")}

    def stale() -> ActRun:
        clone = plain.clone(root / "stale" / "repo")
        clone.commit(
            {"cigen.yml": PLAIN_CONFIG.replace("step_timeout_minutes: 10", "step_timeout_minutes: 15")},
            "a longer smoke step, not rendered",
        )
        return act(clone, "cigen-cpu-tests.yml", "push", push_event(clone), root / "stale", [shim])

    return run_concurrently(
        {
            "plain push": lambda: act(
                plain,
                "cigen-per-commit.yml",
                "push",
                push_event(plain),
                root / "plain",
                [trap_bin(root / "trap")],
                prefix=NO_NETWORK,
            ),
            "init push": lambda: act(
                init,
                "cigen-per-commit.yml",
                "push",
                push_event(init),
                root / "init",
                [trap_bin(root / "init-trap")],
                prefix=NO_NETWORK,
            ),
            "fresh check": lambda: act(plain, "cigen-cpu-tests.yml", "push", push_event(plain), root / "fresh", [shim]),
            "stale check": stale,
            "golden push": lambda: act(
                golden,
                "cigen-per-commit.yml",
                "push",
                push_event(golden),
                root / "golden-push",
                [],
                prefix=NO_NETWORK,
                env=GOLDEN_ENV,
                secrets=GOLDEN_SECRETS,
            ),
            "golden nightly": lambda: act(
                golden,
                "cigen-nightly.yml",
                "workflow_dispatch",
                dispatch_event({"suite": "all", "pool": "default"}),
                root / "golden-nightly",
                [],
                actions=pinned,
                env=GOLDEN_ENV,
                secrets=GOLDEN_SECRETS,
            ),
        }
    )


def test_a_plain_project_runs_green_offline_without_installing_cigen(runs, repos):
    result = runs["plain push"]
    assert result.errors == [] and result.leftovers == [], result.text
    assert result.results() == dict.fromkeys(("gate", "gpu-smoke", "gpu-full", "finish"), "success")
    assert actual_runs(result) == expected_runs(repos["plain"].path, ["gpu-smoke", "gpu-full"])
    assert len(result.runs("gpu-full")) == 2
    assert not Path(f"{result.artifacts.parent / 'records.jsonl'}.trapped").exists()  # no cigen, pip or pip3 call


def test_a_project_configured_by_cigen_init_runs_green_offline(runs, repos):
    """Day one: `cigen init` (one TODO answered), `cigen render`, push: every file runs
    once in its suite, nothing installs cigen, nothing reaches a network."""
    result = runs["init push"]
    assert result.errors == [] and result.leftovers == [], result.text
    assert result.results() == dict.fromkeys(("gate", "gpu-full", "gpu-smoke", "finish"), "success")
    assert actual_runs(result) == expected_runs(repos["init"].path, ["gpu-full", "gpu-smoke"])
    assert sorted(run.file for run in result.files) == sorted(PLAIN_TESTS)
    assert not Path(f"{result.artifacts.parent / 'records.jsonl'}.trapped").exists()


def test_a_plain_projects_jobs_call_only_the_files_cigen_wrote(repos):
    """Static side of the same claim: every run: line of the GPU workflow names .github/cigen/*.py."""
    workflow = yaml.safe_load((repos["plain"].path / ".github/workflows/cigen-per-commit.yml").read_text())
    commands = [step["run"].split()[:2] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]
    assert {tuple(command) for command in commands} == {
        ("python3", ".github/cigen/ci_gate.py"),
        ("python3", ".github/cigen/run_shard.py"),
    }
    assert not (repos["plain"].path / "action.yml").exists() and "cigen_package" not in PLAIN_CONFIG


def test_the_drift_check_passes_on_fresh_workflows_and_fails_on_stale_ones(runs):
    """The CPU workflow runs `cigen check`; a config changed without a re-render fails it."""
    fresh, stale = runs["fresh check"], runs["stale check"]
    assert fresh.results() == {"cpu-tests": "success"}
    assert stale.results() == {"cpu-tests": "failure"}
    lines = stale.job("cpu-tests").step("cigen check").lines
    assert lines[:2] == ("--- a/.github/workflows/cigen-per-commit.yml", "+++ b/.github/workflows/cigen-per-commit.yml")
    assert "-        timeout-minutes: 10" in lines and "+        timeout-minutes: 15" in lines
    assert lines[-4:] == (  # the /rerun-test jobs are the CI jobs, so their timeout follows
        "2 generated files out of date:",
        "  .github/workflows/cigen-per-commit.yml (differs)",
        "  .github/workflows/cigen-rerun-test.yml (differs)",
        "  fix: cigen render",
    )


def test_the_golden_tree_runs_every_per_commit_file_once_offline(runs, repos):
    result = runs["golden push"]
    assert result.errors == [] and result.leftovers == [], result.text
    assert result.results() == dict.fromkeys(("gate", *GOLDEN_PER_COMMIT, "finish"), "success")
    assert actual_runs(result) == expected_runs(repos["golden"].path, GOLDEN_PER_COMMIT)
    assert all(run.data["cwd"].endswith("/test") for run in result.files)  # working_directory: test
    assert all(run.data["argv"][1:] == ["-f"] for run in result.files)  # test_args
    env = {(run.job, run.file): run.data["env"] for run in result.files}
    base = {"IS_IN_CI": "true", "GPU_CONFIG": None, "WANDB_KEY": "wandb-secret", "HF_TOKEN": None}
    assert env[("base-a", "test/base/test_smoke.py")] == {**base, "ASYNC_ASSERT": "false"}  # the suite's env
    assert env[("kernel", "test/kernel/test_rmsnorm.py")] == {**base, "ASYNC_ASSERT": None}


def test_the_golden_nightly_runs_multi_pool_suites_on_each_pool_and_model_tests_through_the_pinned_action(runs, repos):
    result = runs["golden nightly"]
    assert result.errors == [] and result.leftovers == [], result.text
    assert result.results() == {**dict.fromkeys(result.declared, "success"), "stress": "skipped"}
    shards = actual_runs(result) - Counter({(run.file, run.job, None): 1 for run in result.files if run.shard is None})
    assert shards == expected_runs(repos["golden"].path, ("nightly-1-gpu", "nightly-8-gpu", "weekly-8-gpu"))
    env = {run.job: run.data["env"] for run in result.files}
    assert env["nightly-8-gpu-8-gpu-h200"]["GPU_CONFIG"] == "8-gpu-h200"  # the pool's env, on its job only
    assert env["nightly-8-gpu-8-gpu-b200"]["GPU_CONFIG"] is None
    # A suite's secret reaches its jobs only.
    assert (env["nightly-1-gpu"]["HF_TOKEN"], env["weekly-8-gpu"]["HF_TOKEN"]) == ("hf-secret", None)
    models = sorted((run.file, run.job) for run in result.files if run.shard is None)
    assert models == [
        ("test/nightly/test_model_server.py", f"nightly-1-gpu-models-{pool}") for pool in ("1-gpu-5090", "1-gpu-h100")
    ]
