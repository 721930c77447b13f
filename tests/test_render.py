"""Rendering: golden files for a small tree, structure of sglang's render, gates, security."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.config import load_config
from generator.lint import lint
from generator.names import job_id
from generator.render.jobs import needed_suites
from generator.render.pins import CHECKOUT, SETUP_PYTHON
from generator.render.templates import yaml_value
from generator.tree import scan_tree
from tests.conftest import without_warnings, write_files
from tests.rendering import GOLDEN, REPO_ROOT, default_labels, load_yaml, model_test_placements, render_tree, shard_placements

EXPECTED = GOLDEN / "expected"
GOOD = 'register_cuda_ci(est_time=60, suite="base-a")\n\nif __name__ == "__main__":\n    main()\n'


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="session")
def corpus_github(synth_tree, tmp_path_factory) -> Path:
    """sglang's synthesized tree rendered with the embedded default config."""
    github = tmp_path_factory.mktemp("corpus-render") / ".github"
    render_tree(synth_tree.root, github)
    return github


@pytest.fixture(scope="session")
def corpus_workflows(corpus_github) -> dict[str, dict]:
    return {name: load_yaml(corpus_github / "workflows" / f"{name}.yml") for name in ("per-commit", "nightly")}


# ---------------------------------------------------------------------------------------
# Golden files


def test_golden_render_of_the_fixture_tree(tmp_path, update_golden):
    github = tmp_path / ".github"
    render_tree(GOLDEN / "tree", github)
    rendered = {p.relative_to(github).as_posix(): p.read_text() for p in sorted(github.rglob("*")) if p.is_file()}
    if update_golden:
        for old in EXPECTED.rglob("*"):
            if old.is_file():
                old.unlink()
        write_files(EXPECTED, rendered)
    expected = {p.relative_to(EXPECTED).as_posix(): p.read_text() for p in sorted(EXPECTED.rglob("*")) if p.is_file()}
    assert sorted(rendered) == ["actionlint.yaml", "workflows/cpu-tests.yml", "workflows/nightly.yml", "workflows/per-commit.yml", "workflows/rerun-test.yml"]
    assert sorted(expected) == sorted(rendered), "run `pytest tests/test_render.py --update-golden` and review the diff"
    for name, text in rendered.items():
        assert text == expected[name], f"{name} differs from tests/golden/expected; review, then --update-golden"


def test_every_output_starts_with_the_generated_header():
    for path in sorted(EXPECTED.rglob("*.y*ml")):
        template = "actionlint.yaml.j2" if path.name == "actionlint.yaml" else path.name + ".j2"
        assert path.read_text().splitlines()[:2] == [
            f"# @generated from templates/{template}. DO NOT EDIT.",
            "# Regenerate: cigen render",
        ]


def test_golden_gates_needs_and_pools():
    per_commit = load_yaml(EXPECTED / "workflows" / "per-commit.yml")
    nightly = load_yaml(EXPECTED / "workflows" / "nightly.yml")
    jobs = per_commit["jobs"]
    assert list(jobs) == ["changes", "base-a", "base-b", "base-c", "extra", "kernel"]
    assert "needs" not in jobs["base-a"] and "if" not in jobs["base-a"]
    # base-c waits for base-a through base-b: a base-a failure must skip it directly.
    assert jobs["base-c"]["needs"] == ["base-a", "base-b"]
    assert jobs["base-c"]["if"] == "${{ !cancelled() && !contains(needs.*.result, 'failure') && !contains(needs.*.result, 'cancelled') }}"
    assert jobs["extra"]["if"] == "${{ github.event_name != 'pull_request' || contains(github.event.pull_request.labels.*.name, 'run-ci-extra') }}"
    assert jobs["kernel"]["needs"] == ["changes", "base-a"]
    assert jobs["kernel"]["if"] == (
        "${{ !cancelled() && !contains(needs.*.result, 'failure') && !contains(needs.*.result, 'cancelled')"
        " && needs.changes.outputs.kernel == 'true' }}"
    )
    assert jobs["changes"]["outputs"] == {"kernel": "${{ steps.diff.outputs.kernel }}"}
    # YAML 1.1 reads the key `on` as True.
    assert per_commit[True] == {"pull_request": None, "push": {"branches": ["main", "release"]}, "workflow_dispatch": None}
    assert per_commit["concurrency"] == {
        "group": "${{ github.workflow }}-${{ github.event.pull_request.number || github.ref }}",
        "cancel-in-progress": "${{ github.event_name == 'pull_request' }}",
    }

    assert nightly[True]["schedule"] == [{"cron": "0 2 * * *"}, {"cron": "0 4 * * 0"}]
    inputs = nightly[True]["workflow_dispatch"]["inputs"]
    assert inputs["suite"]["options"] == ["all", "nightly-1-gpu", "nightly-8-gpu", "weekly-8-gpu", "stress"]
    assert inputs["pool"]["options"] == ["default", "1-gpu-5090", "8-gpu-h200", "8-gpu-b200"]
    assert list(nightly["jobs"]) == [
        "nightly-1-gpu",
        "nightly-1-gpu-models-1-gpu-5090",
        "nightly-1-gpu-models-1-gpu-h100",
        "nightly-8-gpu",
        "weekly-8-gpu",
        "stress",
    ]
    night = nightly["jobs"]
    assert night["weekly-8-gpu"]["if"] == (
        "${{ github.event_name == 'schedule' && github.event.schedule == '0 4 * * 0' || github.event_name == 'workflow_dispatch'"
        " && (inputs.suite == 'all' || inputs.suite == 'weekly-8-gpu') }}"
    )
    assert night["stress"]["if"] == "${{ github.event_name == 'workflow_dispatch' && inputs.suite == 'stress' }}"
    assert night["nightly-1-gpu"]["runs-on"] == "${{ inputs.pool == '1-gpu-5090' && fromJSON('[\"1-gpu-5090\"]') || fromJSON('[\"1-gpu-h100\"]') }}"
    # Two pools: every shard on each; a dispatch override does not apply.
    assert night["nightly-8-gpu"]["runs-on"] == "${{ matrix.labels }}"
    assert night["nightly-8-gpu"]["strategy"]["matrix"]["pool"] == ["8-gpu-h200", "8-gpu-b200"]
    assert default_labels(night["nightly-8-gpu"]) == [["8-gpu-h200", "rdma"], ["8-gpu-b200"]]


def test_model_tests_run_through_the_action_on_each_pool_and_nowhere_else():
    nightly = load_yaml(EXPECTED / "workflows" / "nightly.yml")
    model = "test/nightly/test_model_server.py"
    assert model not in [path for _, path in shard_placements(nightly)]
    assert model_test_placements(nightly) == [("nightly-1-gpu-models-1-gpu-5090", model), ("nightly-1-gpu-models-1-gpu-h100", model)]
    job = nightly["jobs"]["nightly-1-gpu-models-1-gpu-5090"]
    assert job["runs-on"] == ["1-gpu-5090"]
    assert job["steps"][0]["uses"] == CHECKOUT.split(" #")[0]
    assert job["steps"][1] == {"name": "Set up", "timeout-minutes": 20, "run": "pip install -e .\npip install -e tools/cigen\n"}
    assert job["steps"][2] == {
        "name": "test/nightly/test_model_server.py (Qwen3-0.6B, tp 1)",
        "uses": "octo/cigen@0123456789abcdef0123456789abcdef01234567",
        "timeout-minutes": 60,
        "with": {
            "test-file": model,
            "model": "Qwen/Qwen3-0.6B",  # what the server loads (hf_model)
            "model-config": "Qwen3-0.6B",  # what the advisor sizes
            "tp": "1",
            "extra-peak": "weight-checker",
            "server-args": "--chunked-prefill-size 2048",
            "timeout-minutes": "30",
        },
    }
    assert "uses: octo/cigen@0123456789abcdef0123456789abcdef01234567 # v0.1.0\n" in (EXPECTED / "workflows" / "nightly.yml").read_text()


# ---------------------------------------------------------------------------------------
# sglang's corpus


WEIGHT_CHECKER = "test/registered/rl/test_weight_checker_e2e.py"  # the embedded default's model test


def planned_pairs(synth_tree) -> Counter:
    """(job id, file) for every enabled CUDA registration of an enabled suite; model tests
    get a job of their own per pool instead of a shard."""
    config = load_config(None, synth_tree.root)
    scan = scan_tree(synth_tree.root, config.include, config.exclude)
    pairs = Counter()
    for reg in scan.registrations:
        if reg.backend != "cuda" or not reg.enabled or not config.suites[reg.suite].enabled:
            continue
        test = config.model_tests.get(reg.path)
        if test is None:
            pairs[(job_id(reg.suite), reg.path)] += 1
        else:
            for pool in test.pools or config.suites[reg.suite].pools:
                pairs[(f"{job_id(reg.suite)}-models-{pool}", reg.path)] += 1
    return pairs


def model_job_pool(config, job_name: str) -> str | None:
    """The pool of a model-test job (`<suite>-models-<pool>`), else None."""
    for pool in config.pools:
        if job_name.endswith(f"-models-{pool}"):
            return pool
    return None


def test_every_enabled_cuda_registration_is_in_exactly_one_shard_of_its_suites_job(synth_tree, sglang_suites, corpus_workflows):
    placed = Counter(
        pair for workflow in corpus_workflows.values() for pair in (*shard_placements(workflow), *model_test_placements(workflow))
    )
    expected = planned_pairs(synth_tree)
    # sglang's registry counts the files its CI dispatches; cigen also runs the 4 whose
    # nightly= flag contradicts their suite (sglang never runs them; `cigen lint` warns).
    config = load_config(None, synth_tree.root)
    mismatched = [p for p in lint(config, scan_tree(synth_tree.root, config.include, config.exclude)) if p.code == "nightly-mismatch"]
    dispatched = sum(s["registry"]["files_enabled"] for s in sglang_suites["suites"].values() if s["trigger"] != "not-dispatched")
    # The weight checker runs once per pool (5090 and H100) through the action: one extra placement.
    assert (sum(expected.values()), dispatched, len(mismatched)) == (715, 710, 4)
    assert placed == expected
    assert set(placed.values()) == {1}
    assert [pair for pair in placed if pair[1] == WEIGHT_CHECKER] == [
        ("nightly-1-gpu-models-1-gpu-5090", WEIGHT_CHECKER),
        ("nightly-1-gpu-models-1-gpu-h100", WEIGHT_CHECKER),
    ]


def test_each_job_runs_on_its_suites_pool(synth_tree, corpus_workflows):
    config = load_config(None, synth_tree.root)
    for workflow in corpus_workflows.values():
        for name, job in workflow["jobs"].items():
            if name == "changes":
                assert job["runs-on"] == "ubuntu-latest"
                continue
            pool = model_job_pool(config, name)
            if pool is not None:
                assert default_labels(job) == [list(config.pools[pool].labels)], name
                continue
            suite = next(s for s in config.suites.values() if job_id(s.name) == name)
            assert default_labels(job) == [list(config.pools[p].labels) for p in suite.pools], name


def test_nightly_and_manual_suites_only_in_the_nightly_workflow(synth_tree, corpus_workflows):
    config = load_config(None, synth_tree.root)
    triggers = {job_id(s.name): s.trigger for s in config.suites.values()}
    triggers |= {f"{job_id(s.name)}-models-{p}": s.trigger for s in config.suites.values() for p in config.pools}
    per_commit = set(corpus_workflows["per-commit"]["jobs"]) - {"changes"}
    nightly = set(corpus_workflows["nightly"]["jobs"])
    assert {triggers[j] for j in per_commit} == {"per-commit"}
    assert {triggers[j] for j in nightly} == {"nightly", "manual"}
    assert nightly & per_commit == set()


def test_disabled_and_empty_suites_have_no_job(synth_tree, sglang_suites, corpus_workflows):
    config = load_config(None, synth_tree.root)
    all_jobs = {j for workflow in corpus_workflows.values() for j in workflow["jobs"]} - {"changes"}
    jobs = {j for j in all_jobs if model_job_pool(config, j) is None}
    assert all_jobs - jobs == {"nightly-1-gpu-models-1-gpu-5090", "nightly-1-gpu-models-1-gpu-h100"}
    with_files = {suite for suite, _ in planned_pairs(synth_tree)}
    disabled = {job_id(s.name) for s in config.suites.values() if not s.enabled}
    empty = {job_id(s.name) for s in config.suites.values() if s.enabled} - with_files
    assert len(config.suites) == len(sglang_suites["suites"]) == 49
    assert len(disabled) == 8 and empty == {"base-b-kernel-unit-test-8-gpu-h200", "nightly-8-gpu-h20"}
    assert jobs == {job_id(s.name) for s in config.suites.values()} - disabled - empty
    assert len(jobs) == 39
    # What sglang's own data says: the suites it does not dispatch, or with no enabled file.
    no_job = {job_id(name) for name, s in sglang_suites["suites"].items() if s["trigger"] == "not-dispatched" or s["registry"]["files_enabled"] == 0}
    assert no_job == disabled | empty


def test_disabled_registrations_appear_nowhere(synth_tree, corpus_github):
    config = load_config(None, synth_tree.root)
    scan = scan_tree(synth_tree.root, config.include, config.exclude)
    enabled = {r.path for r in scan.registrations if r.backend == "cuda" and r.enabled and config.suites[r.suite].enabled}
    never = {r.path for r in scan.registrations if r.backend == "cuda"} - enabled
    assert never
    text = "".join(p.read_text() for p in (corpus_github / "workflows").glob("*.yml"))
    listed = set(re.findall(r"^ {14}- (test/\S+\.py)$", text, flags=re.M))
    listed |= set(re.findall(r"^ {10}test-file: (test/\S+\.py)$", text, flags=re.M))
    assert listed == enabled
    assert listed & never == set()


def test_corpus_needs_are_transitive_and_gates_match_the_config(synth_tree, corpus_workflows):
    config = load_config(None, synth_tree.root)
    jobs = corpus_workflows["per-commit"]["jobs"]
    for suite in config.suites.values():
        job = jobs.get(job_id(suite.name))
        if job is None:
            continue
        needs = [job_id(n) for n in needed_suites(config, suite) if job_id(n) in jobs]
        assert job.get("needs", []) == (["changes"] if suite.paths else []) + needs, suite.name
        condition = job.get("if", "")
        assert ("!cancelled()" in condition) == bool(job.get("needs")), suite.name
        assert ("'run-ci-extra'" in condition) == (suite.pr_label == "run-ci-extra"), suite.name
        assert (f"needs.changes.outputs.{job_id(suite.name)} == 'true'" in condition) == bool(suite.paths), suite.name
    assert jobs["base-c-test-4-gpu-h100"]["needs"] == [
        "base-a-test-1-gpu-small",
        "base-b-test-1-gpu-small",
        "base-b-test-1-gpu-large",
        "base-b-test-2-gpu-large",
        "base-b-test-4-gpu-b200",
    ]


def test_render_is_deterministic(synth_tree, tmp_path):
    first = render_tree(synth_tree.root, tmp_path / "a" / ".github")
    second = render_tree(synth_tree.root, tmp_path / "b" / ".github")
    assert first
    for path, text in first.items():
        other = tmp_path / "b" / path.relative_to(tmp_path / "a")
        assert second[other] == text
        assert other.read_bytes() == path.read_bytes()


SMALL_CONFIG = """\
version: 1
tests: {include: ["test/**/*.py"]}
pools:
  1-gpu-h100: {labels: [1-gpu-h100], gpus: 1, setup_minutes: 2}
suites:
  base-b: {trigger: per-commit, pools: [1-gpu-h100], step_timeout_minutes: 20, shard_budget_minutes: 15, max_parallel: 2}
"""


def test_timings_change_the_plan_through_render(tmp_path):
    tree = write_files(tmp_path / "repo", {"cigen.yml": SMALL_CONFIG})
    for name in ("a", "b", "c", "d"):
        write_files(tree, {f"test/base/test_{name}.py": GOOD.replace("base-a", "base-b").replace("60", "300")})
    assert run("render", "--root", str(tree)).exit_code == 0
    shards = load_yaml(tree / ".github" / "workflows" / "per-commit.yml")["jobs"]["base-b"]["strategy"]["matrix"]["include"]
    assert sorted(len(entry["files"]) for entry in shards) == [2, 2]
    timings = tmp_path / "timings.json"
    timings.write_text(json.dumps({"files": [{"suite": "base-b", "path": "test/base/test_a.py", "seconds": 880, "samples": 5}]}))
    assert run("render", "--root", str(tree), "--timings", str(timings)).exit_code == 0
    shards = load_yaml(tree / ".github" / "workflows" / "per-commit.yml")["jobs"]["base-b"]["strategy"]["matrix"]["include"]
    # Measured at 880 s, test_a no longer fits beside another 300 s file in a 900 s budget.
    assert sorted(sorted(entry["files"]) for entry in shards) == [["test/base/test_a.py"], ["test/base/test_b.py", "test/base/test_c.py", "test/base/test_d.py"]]


# ---------------------------------------------------------------------------------------
# Security and hygiene, by construction, over every rendered workflow


def all_workflows(corpus_github) -> dict[str, dict]:
    paths = [*(corpus_github / "workflows").glob("*.yml"), *(EXPECTED / "workflows").glob("*.yml"), *(REPO_ROOT / ".github" / "workflows").glob("*.yml")]
    return {str(p): load_yaml(p) for p in sorted(paths)}


OUR_TEMPLATES = ("per-commit.yml", "nightly.yml", "cpu-tests.yml")  # rerun-test.yml's gate job may write


def test_least_privilege_pins_and_no_expressions_in_run(corpus_github):
    pinned = re.compile(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}")
    workflows = all_workflows(corpus_github)
    assert len([name for name in workflows if Path(name).name in OUR_TEMPLATES]) == 7  # sglang's 2, the golden 3, this repo's 2
    for name, workflow in workflows.items():
        assert workflow["permissions"] == {}, name
        for job_id_, job in workflow["jobs"].items():
            assert "permissions" in job, (name, job_id_)
            if Path(name).name in OUR_TEMPLATES:
                assert job["permissions"] == {"contents": "read"}, (name, job_id_)
            assert "secrets" not in job
            for step in job["steps"]:
                assert "${{" not in step.get("run", ""), (name, job_id_, step["name"])
                uses = step.get("uses")
                if uses is None:
                    continue
                assert uses == "./" or pinned.fullmatch(uses), (name, uses)
                if uses.startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False
    text = "".join(Path(name).read_text() for name in workflows)
    assert "secrets: inherit" not in text
    # Every third-party pin carries its version comment.
    assert set(re.findall(r"uses: (\S+@[0-9a-f]{40} # \S+)", text)) == {CHECKOUT, SETUP_PYTHON, "octo/cigen@0123456789abcdef0123456789abcdef01234567 # v0.1.0"}


def test_a_need_declared_later_in_the_config_is_still_waited_for(tmp_path):
    config = SMALL_CONFIG + (
        "  base-a: {trigger: per-commit, pools: [1-gpu-h100], step_timeout_minutes: 20, shard_budget_minutes: 15}\n"
    )
    config = config.replace("max_parallel: 2}", "max_parallel: 2, needs: [base-a]}")
    tree = write_files(tmp_path, {"cigen.yml": config, "test/test_a.py": GOOD, "test/test_b.py": GOOD.replace("base-a", "base-b")})
    assert run("render", "--root", str(tree)).exit_code == 0
    jobs = load_yaml(tree / ".github" / "workflows" / "per-commit.yml")["jobs"]
    assert list(jobs) == ["base-b", "base-a"]
    assert jobs["base-b"]["needs"] == ["base-a"]


def line_of(text: str, line: str) -> int:
    return text.splitlines().index(line) + 1


def test_config_text_with_an_expression_is_refused_and_nothing_is_written(tmp_path):
    config = (GOLDEN / "tree" / "cigen.yml").read_text().replace('paths: ["kernel/**"', 'paths: ["${{ github.head_ref }}/**"')
    tree = write_files(tmp_path, {"cigen.yml": config, "test/kernel/test_k.py": GOOD.replace("base-a", "kernel")})
    write_files(tree, {"test/nightly/test_model_server.py": GOOD.replace("base-a", "nightly-1-gpu").replace("60)", "60, nightly=True)")})
    result = CliRunner().invoke(cli, ["render", "--root", str(tree)])
    assert result.exit_code == 2
    line = line_of(config, '    paths: ["${{ github.head_ref }}/**", "test/kernel/**"]')
    assert result.stderr == (
        f"{tree / 'cigen.yml'}:{line}: expression-in-config: suites.kernel.paths.0: '${{{{ github.head_ref }}}}/**' "
        "contains '${{'; GitHub would evaluate it where cigen places it\n"
        "  help: write the value out, or pass it to the job through the environment\n"
        f"1 error in {tree / 'cigen.yml'}\n"
    )
    assert not (tree / ".github").exists()


def test_a_model_test_must_be_registered(tmp_path):
    config = (GOLDEN / "tree" / "cigen.yml").read_text()
    tree = write_files(tmp_path, {"cigen.yml": config, "test/base/test_a.py": GOOD})
    result = CliRunner().invoke(cli, ["render", "--root", str(tree)])
    assert result.exit_code == 2
    assert without_warnings(result.stderr) == (
        f"{tree / 'cigen.yml'}:{line_of(config, '  test/nightly/test_model_server.py:')}: model-test-unregistered: model test 'test/nightly/test_model_server.py' is not a registered test file\n"
        '  help: register it, e.g. register_cuda_ci(est_time=150, suite="nightly-1-gpu", nightly=True)\n'
        "1 error in 1 file; nothing written.\n"
    )
    assert not (tree / ".github").exists()


def test_a_matrix_github_cannot_run_is_refused(tmp_path):
    config = SMALL_CONFIG.replace("  1-gpu-h100:", "  1-gpu-5090: {labels: [1-gpu-5090], gpus: 1, setup_minutes: 2}\n  1-gpu-h100:")
    config = config.replace("pools: [1-gpu-h100], step_timeout_minutes: 20, shard_budget_minutes: 15, max_parallel: 2", "pools: [1-gpu-h100, 1-gpu-5090], step_timeout_minutes: 20, shard_budget_minutes: 1, max_parallel: 200")
    tree = write_files(tmp_path, {"cigen.yml": config})
    write_files(tree, {f"test/test_{i}.py": GOOD.replace("base-a", "base-b").replace("60", "50") for i in range(129)})
    result = CliRunner().invoke(cli, ["render", "--root", str(tree)])
    assert result.exit_code == 2
    assert result.stderr == (  # refused when the config is read: max_parallel alone could exceed the limit
        f"{tree / 'cigen.yml'}:7: matrix-too-large: suite 'base-b' may need 200 shards x 2 pools = 400 jobs; "
        "GitHub runs at most 256 from one matrix\n  help: lower max_parallel or split the suite\n"
        f"1 error in {tree / 'cigen.yml'}\n"
    )


def test_registrations_no_job_would_run_stop_the_render(tmp_path):
    tree = write_files(tmp_path, {"test/registered/test_a.py": GOOD.replace("base-a", "base-z")})
    result = CliRunner().invoke(cli, ["render", "--root", str(tree)])
    assert result.exit_code == 2
    assert without_warnings(result.stderr).splitlines() == [
        "<embedded default cigen.yml>:81: model-test-unregistered: model test 'test/registered/rl/test_weight_checker_e2e.py' "
        "is not a registered test file",
        '  help: register it, e.g. register_cuda_ci(est_time=150, suite="nightly-1-gpu", nightly=True)',
        "test/registered/test_a.py:1: unknown-suite: cuda suite 'base-z' is not in <embedded default cigen.yml>",
        "  help: add it under suites: in cigen.yml",
        "2 errors in 1 file; nothing written.",
    ]
    assert not (tree / ".github").exists()


# ---------------------------------------------------------------------------------------
# The changes job, run for real against git


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def changes_outputs(repo: Path, event: str) -> dict[str, str]:
    script = load_yaml(EXPECTED / "workflows" / "per-commit.yml")["jobs"]["changes"]["steps"][1]["run"]
    output = repo.parent / f"output-{event}"
    output.write_text("")
    env = {**os.environ, "EVENT_NAME": event, "GITHUB_OUTPUT": str(output)}
    subprocess.run(["bash", "-e", "-c", script], cwd=repo, env=env, check=True)
    return dict(line.split("=", 1) for line in output.read_text().splitlines())


@pytest.mark.parametrize(
    ("changed_file", "expected"),
    [("kernel/rmsnorm.cu", "true"), ("test/kernel/deep/test_x.py", "true"), ("docs/kernel/README.md", "false")],
)
def test_changes_job_compares_a_pr_merge_commit_with_its_base(tmp_path, changed_file, expected):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write_files(repo, {"README.md": "base\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "pr")
    write_files(repo, {changed_file: "change\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "pr")
    git(repo, "checkout", "-q", "main")
    write_files(repo, {"kernel/other-on-main.cu": "main moved on\n"})  # not the PR's change
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "main")
    git(repo, "merge", "-q", "--no-ff", "pr", "-m", "merge")  # what a PR's checkout is
    assert changes_outputs(repo, "pull_request") == {"kernel": expected}
    assert changes_outputs(repo, "push") == {"kernel": "true"}


def test_changes_job_runs_gated_suites_when_the_diff_fails(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write_files(repo, {"README.md": "only commit\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "root")  # HEAD^1 does not exist
    assert changes_outputs(repo, "pull_request") == {"kernel": "true"}


# ---------------------------------------------------------------------------------------
# Pieces


def test_job_ids_and_yaml_values():
    assert job_id("base-a-test-1-gpu-small") == "base-a-test-1-gpu-small"
    assert job_id("1.5-suite") == "_1_5-suite"
    assert yaml_value("test/registered/a.py") == "test/registered/a.py"
    assert yaml_value("${{ matrix.labels }}") == "${{ matrix.labels }}"
    assert yaml_value("a #b") == '"a #b"'
    assert yaml_value("on") == '"on"'
    assert yaml_value("3.11") == '"3.11"'
    assert yaml_value("x: y") == '"x: y"'
    assert yaml_value("") == '""'
    assert yaml_value(["1-gpu-h100", "rdma"]) == '["1-gpu-h100", "rdma"]'
    assert yaml_value(30) == "30"


def test_templates_load_from_a_built_wheel(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--no-deps", "-w", str(tmp_path), str(REPO_ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("cigen-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    templates = {n for n in names if n.startswith("generator/templates/")}
    assert {f"generator/templates/{p.name}" for p in (REPO_ROOT / "templates").glob("*.j2")} <= templates
    # every module and data file of the package, subpackages included, is in the wheel
    source = REPO_ROOT / "generator"
    shipped = {
        p.relative_to(REPO_ROOT).as_posix()
        for p in source.rglob("*")
        if p.is_file() and not any(part == "__pycache__" or part.startswith(".") for part in p.relative_to(source).parts)
    }
    assert shipped <= names, sorted(shipped - names)
    assert not [n for n in names if n.startswith(("generator/backtest", "benchmarks"))]  # research stays out
    assert not [n for n in names if n.endswith(("noise.py", "risk.py"))]
    script = (
        "import generator.render.templates as r; print(r.__file__); "
        "print(r.environment().get_template('per-commit.yml.j2').filename)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path / "site")}, check=True, capture_output=True, text=True
    ).stdout.splitlines()
    assert out[0] == str(tmp_path / "site" / "generator" / "render" / "templates.py")
    assert out[1] == str(tmp_path / "site" / "generator" / "templates" / "per-commit.yml.j2")
