"""sglang adopting cigen on day one: the embedded default rendered into a git copy of sglang's
tree that already holds sglang's hand-written workflows. Nothing of theirs is touched, nothing
installs a mutable reference, every GPU job gets its pool's set-up and environment, and pull
requests are gated with one check to require."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.config import load_config
from tests.support.rendering import job_suite, load_yaml, pinned_default_config, shard_jobs
from tests.support.synth import corpus_dir

SGLANG_WORKFLOWS = json.loads((corpus_dir() / "sglang-ci-env.json").read_text())["workflow_files"]


@pytest.fixture(scope="module")
def sglang(synth_tree, tmp_path_factory) -> Path:
    """sglang's tree in git, its 94 workflow files in place (hand-written: no @generated header)."""
    root = tmp_path_factory.mktemp("sglang-adopt") / "sglang"
    shutil.copytree(synth_tree.root, root)
    workflows = root / ".github" / "workflows"
    workflows.mkdir(parents=True)
    for name in SGLANG_WORKFLOWS:
        (workflows / name).write_text(f"# sglang's own {name}\nname: {name}\non: push\njobs: {{}}\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    return {p.name: (p.read_text(), p.stat().st_mtime_ns) for p in sorted(folder.glob("*.yml"))}


def test_render_touches_none_of_sglangs_workflows(sglang):
    assert len(SGLANG_WORKFLOWS) == 94 and "rerun-test.yml" in SGLANG_WORKFLOWS  # the name cigen used to take
    workflows = sglang / ".github" / "workflows"
    before = snapshot(workflows)
    result = CliRunner().invoke(cli, ["render", "--root", str(sglang)])
    assert result.exit_code == 0, result.output
    after = snapshot(workflows)
    assert {name: after[name] for name in before} == before
    # /rerun-test out of the box: it installs nothing, so it needs no pinned cigen.
    assert sorted(set(after) - set(before)) == ["cigen-nightly.yml", "cigen-per-commit.yml", "cigen-rerun-test.yml"]
    assert not set(after) - set(before) & set(SGLANG_WORKFLOWS)
    assert "not rendered" not in result.stdout


def test_no_job_installs_a_mutable_reference(sglang, tmp_path):
    config = pinned_default_config(tmp_path)
    result = CliRunner().invoke(
        cli, ["render", "--root", str(sglang), "--config", str(config), "--out", str(tmp_path / "gh")]
    )
    assert result.exit_code == 0, result.output
    text = "".join(p.read_text() for p in (tmp_path / "gh" / "workflows").glob("*.yml"))
    # Nothing installs cigen, pinned or not: /rerun-test runs the shipped copies (only the timings
    # loop, not configured here, installs the pinned package).
    assert re.findall(r"pip\S* install [^\n]*", text) == []
    assert "cigen==" not in text and "cigen @" not in text
    # GPU jobs install nothing of cigen's: they call the files cigen wrote beside the workflows.
    for workflow in ("cigen-per-commit.yml", "cigen-nightly.yml"):
        for job in shard_jobs(load_yaml(tmp_path / "gh" / "workflows" / workflow)).values():
            runs = {step["name"]: step["run"] for step in job["steps"] if "run" in step}
            assert [name for name, run in runs.items() if "cigen" in run] == ["Run shard"], runs  # only it names cigen
            assert runs["Run shard"].startswith("python3 .github/cigen/run_shard.py run")


def test_every_gpu_job_has_its_pools_setup_and_environment(sglang, tmp_path):
    assert CliRunner().invoke(cli, ["render", "--root", str(sglang), "--out", str(tmp_path / "gh")]).exit_code == 0
    config = load_config(None, sglang)
    seen = set()
    for workflow in ("cigen-per-commit.yml", "cigen-nightly.yml"):
        for job_id, job in shard_jobs(load_yaml(tmp_path / "gh" / "workflows" / workflow)).items():
            suite = config.suites[job_suite(job)]
            pool = (
                config.pools[suite.pools[0]]
                if len(suite.pools) == 1
                else config.pools[job_id.removeprefix(f"{suite.name}-")]
            )
            suite = suite.on_pool(pool.name)  # its settings on this pool (on_pools: sglang's IS_H200)
            setup = next(step["run"] for step in job["steps"] if step["name"] == "Set up").splitlines()
            assert setup == list(config.setup_for(suite, pool)), job_id
            secrets = {name: f"${{{{ secrets.{secret} }}}}" for name, secret in suite.secrets.items()}
            built = "${{ fromJSON(needs.gate.outputs.builds || '{}')['sgl-kernel'] && 'true' || 'false' }}"
            switch = {"CUSTOM_BUILD_SGL_KERNEL": built} if "sgl-kernel" in suite.builds else {}
            assert job["env"] == {**config.env_for(suite, pool), **secrets, **switch}, job_id
            seen.add((tuple(setup), job["env"].get("GPU_CONFIG")))
    # sglang's runner configurations: DeepEP runners install with their own script; the env says which GPUs.
    assert ("bash scripts/ci/cuda/ci_install_deepep.sh",) in {setup for setup, _ in seen}
    assert {gpu for _, gpu in seen} >= {"8-gpu-h200", "8-gpu-b200", "2-gpu-h100", "4-gpu-b200", None}


def test_pull_requests_are_gated_and_one_check_decides(sglang, tmp_path):
    assert CliRunner().invoke(cli, ["render", "--root", str(sglang), "--out", str(tmp_path / "gh")]).exit_code == 0
    workflow = load_yaml(tmp_path / "gh" / "workflows" / "cigen-per-commit.yml")
    gates = json.loads(workflow["jobs"]["gate"]["steps"][1]["env"]["CIGEN_GATES"])
    assert {key: gates["pull_request"][key] for key in ("label", "skip_drafts", "gated_off", "types")} == {
        "label": "run-ci",
        "skip_drafts": True,
        "gated_off": "fail",
        "types": ["opened", "synchronize", "reopened"],
    }
    # A change to the CI itself always runs it; docs never count.
    assert {"cigen.yml", ".github/workflows/cigen-*.yml", ".github/cigen/**", "!**/*.md"} <= set(
        gates["pull_request"]["paths"]
    )
    assert {name for name, gate in gates["suites"].items() if gate.get("label") == "run-ci-extra"} == {
        name for name in gates["suites"] if name.startswith("extra-")
    }
    finish = workflow["jobs"]["finish"]
    assert finish["if"] == "${{ always() }}" and set(finish["needs"]) == set(workflow["jobs"]) - {"finish"}


def shard_step(job: dict) -> dict:
    return next(step for step in job["steps"] if step["name"] == "Run shard")


def option(command: str, name: str) -> str:
    """The value of `--name VALUE` in the shard step's command."""
    return re.search(rf"--{name} (\S+)", command).group(1)


def test_every_gpu_job_runs_with_sglangs_runner_policy(sglang, tmp_path):
    """sglang's CUDA CI never passes --enable-retry, and each stage has its own timeouts; the B200
    nightly job (nightly-test-general-8-gpu-b200) has tighter ones than the H200 one."""
    assert CliRunner().invoke(cli, ["render", "--root", str(sglang), "--out", str(tmp_path / "gh")]).exit_code == 0
    config = load_config(None, sglang)
    policies = {}
    for workflow in ("cigen-per-commit.yml", "cigen-nightly.yml"):
        for job_id, job in shard_jobs(load_yaml(tmp_path / "gh" / "workflows" / workflow)).items():
            base = config.suites[job_suite(job)]
            pool = base.pools[0] if len(base.pools) == 1 else job_id.removeprefix(f"{base.name}-")
            suite = base.on_pool(pool)
            command = shard_step(job)["run"]
            assert option(command, "retries") == "0", job_id
            assert int(option(command, "per-file-timeout")) == suite.per_file_timeout_seconds, job_id
            assert shard_step(job)["timeout-minutes"] == suite.step_timeout_minutes, job_id
            assert job["timeout-minutes"] == suite.job_timeout_minutes, job_id
            policies[job_id] = (shard_step(job)["timeout-minutes"], int(option(command, "per-file-timeout")))
    assert policies["nightly-8-gpu-common-8-gpu-b200"] == (200, 12000)
    assert policies["nightly-8-gpu-common-8-gpu-h200"] == (300, 18000)
