"""The rendered rerun-test workflow: validators, least privilege, no shell for the selector."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from generator.config import load_config, parse_config
from generator.names import RERUN_TEST_STEP, rerun_job_id, rerun_job_name
from generator.render.outputs import OUTPUTS, render_outputs
from generator.rerun.parse import RerunIndex, Target, parse_comment
from generator.tree import scan_tree
from tests.conftest import write_files
from tests.rendering import build_without_tree

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
GOLDEN = REPO / "tests/golden/rerun-test.yml"
FULL_SHA = re.compile(r"uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


RERUN_OUTPUTS = [output for output in OUTPUTS if output.name == "rerun-test"]
PINNED = "git+https://github.com/octo/cigen@0123456789abcdef0123456789abcdef01234567"


def render_rerun_workflow(config) -> str:
    """The rerun workflow exactly as `cigen render` writes it (it does not depend on the plan
    or the model tests, so an empty tree will do), with cigen pinned by commit."""
    if config.workflows.cigen_package is None and config.workflows.cigen_requirements is None:
        config = replace(config, workflows=replace(config.workflows, cigen_package=PINNED))
    (text,) = render_outputs(build_without_tree(replace(config, model_tests={})), RERUN_OUTPUTS).values()
    return text


@pytest.fixture(scope="module")
def config():
    return load_config(None, Path("/nonexistent-root"))


@pytest.fixture(scope="module")
def text(config) -> str:
    return render_rerun_workflow(config)


@pytest.fixture(scope="module")
def workflow(text) -> dict:
    return yaml.safe_load(text)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory, text, config) -> Path:
    """A repository holding the workflow and an actionlint config declaring the pools' labels."""
    root = tmp_path_factory.mktemp("rerun-workflow")
    (root / ".github/workflows").mkdir(parents=True)
    (root / ".github/workflows/rerun-test.yml").write_text(text)
    labels = sorted({label for pool in config.pools.values() for label in pool.labels})
    (root / "actionlint.yaml").write_text(yaml.safe_dump({"self-hosted-runner": {"labels": labels}}))
    return root


def run_tool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_output_matches_the_golden_file(text, update_golden):
    if update_golden:
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "regenerate: pytest tests/test_rerun_workflow.py --update-golden"


def test_starts_with_the_generated_header_and_is_deterministic(text, config):
    assert text.splitlines()[:2] == [
        "# @generated from templates/rerun-test.yml.j2. DO NOT EDIT.",
        "# Regenerate: cigen render",  # the embedded default's command; this repo's says make regen-workflows
    ]
    assert render_rerun_workflow(config) == text


def test_actionlint_finds_nothing(checkout):
    done = run_tool(
        "actionlint", "-config-file", "actionlint.yaml", "-no-color", ".github/workflows/rerun-test.yml", cwd=checkout
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_actionlint_checks_the_runner_labels(checkout):
    """Without the pools' labels declared, actionlint rejects them: the check above is real."""
    done = run_tool("actionlint", "-no-color", ".github/workflows/rerun-test.yml", cwd=checkout)
    assert done.returncode == 1
    assert len(re.findall(r"label \"[\w-]+\" is unknown", done.stdout)) == 8


def test_zizmor_finds_nothing_even_as_an_auditor(checkout):
    done = run_tool(
        "zizmor",
        "--offline",
        "--persona",
        "auditor",
        "--format",
        "json",
        ".github/workflows/rerun-test.yml",
        cwd=checkout,
    )
    assert done.returncode == 0, done.stdout
    assert json.loads(done.stdout) == []


def test_the_one_zizmor_suppression_is_dangerous_triggers_on_issue_comment(checkout, text):
    """Ignoring no suppression, zizmor reports exactly one finding: the trigger it flags always."""
    done = run_tool(
        "zizmor",
        "--offline",
        "--persona",
        "auditor",
        "--no-ignores",
        "--format",
        "json",
        ".github/workflows/rerun-test.yml",
        cwd=checkout,
    )
    findings = json.loads(done.stdout)
    assert [f["ident"] for f in findings] == ["dangerous-triggers"]
    where = findings[0]["locations"][0]
    assert where["symbolic"]["route"]["route"] == [{"Key": "on"}]
    assert where["concrete"]["feature"].splitlines()[-2:] == [
        "  issue_comment:  # zizmor: ignore[dangerous-triggers]",
        "    types: [created]",
    ]
    assert text.count("zizmor: ignore") == 1


def test_check_jsonschema_accepts_it(checkout):
    done = run_tool(
        "check-jsonschema",
        "--builtin-schema",
        "vendor.github-workflows",
        ".github/workflows/rerun-test.yml",
        cwd=checkout,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "ok -- validation done"


def test_triggered_only_by_new_comments_with_no_default_permissions(workflow):
    assert workflow[True] == {"issue_comment": {"types": ["created"]}}  # yaml reads `on` as True
    assert workflow["permissions"] == {}
    # Only commenters with a history in the repository start the gate at all.
    assert workflow["jobs"]["gate"]["if"] == (
        "github.event.issue.pull_request && "
        'contains(fromJSON(\'["OWNER", "MEMBER", "COLLABORATOR", "CONTRIBUTOR"]\'), '
        "github.event.comment.author_association) && startsWith(github.event.comment.body, '/rerun-test ')"
    )
    assert workflow["concurrency"] == {
        "group": "rerun-test-${{ github.event.issue.number }}",
        "cancel-in-progress": False,
    }


def rerun_pools(config) -> list[str]:
    """The pools /rerun-test gets a job for: those of the enabled suites of planned backends."""
    return sorted({p for s in config.suites.values() if s.enabled and s.backend in config.backends for p in s.pools})


def test_each_job_gets_only_the_permissions_it_needs(workflow, config):
    jobs = workflow["jobs"]
    assert jobs["gate"]["permissions"] == {"contents": "read", "pull-requests": "write", "statuses": "write"}
    assert jobs["report"]["permissions"] == {
        "actions": "read",
        "contents": "read",
        "pull-requests": "write",
        "statuses": "write",
    }
    assert set(jobs) == {"gate", "report"} | {rerun_job_id(pool) for pool in rerun_pools(config)}
    for pool in rerun_pools(config):
        assert jobs[rerun_job_id(pool)]["permissions"] == {"contents": "read"}


def test_test_jobs_run_the_pinned_commit_without_secrets_or_credentials(workflow, config, text):
    for name in rerun_pools(config):
        pool = {"name": name, "labels": list(config.pools[name].labels)}
        job = workflow["jobs"][rerun_job_id(name)]
        checkout = job["steps"][0]
        assert checkout["with"] == {"ref": "${{ needs.gate.outputs.head_sha }}", "persist-credentials": False}
        assert "secrets" not in json.dumps(job) and "github.token" not in json.dumps(job)
        assert job["runs-on"] == pool["labels"]
        assert job["needs"] == "gate"
        assert job["name"] == "${{ matrix.target.job_name }}"
        setup = ["Set up"] if config.workflows.setup else []  # the embedded default installs sglang's CI deps
        assert [step["name"] for step in job["steps"]] == ["Check out the pinned head commit", *setup, RERUN_TEST_STEP]
    assert re.search(r"\$\{\{[^}]*secrets", text) is None  # no job reads any secret


def test_job_names_are_what_the_report_looks_for():
    """The template names each run by the target's own job_name, which the report looks up."""
    target = Target("t/test_a.py::A.b", "t/test_a.py", "A.b", "1-gpu-h100", (), (), 1)
    assert target.to_json()["job_name"] == target.job_name == rerun_job_name("1-gpu-h100", "t/test_a.py::A.b")


def test_every_enabled_cuda_pool_has_a_job_and_disabled_ones_do_not(workflow, config):
    enabled = {p for s in config.suites.values() if s.enabled and s.backend == "cuda" for p in s.pools}
    labels = {tuple(job["runs-on"]) for name, job in workflow["jobs"].items() if name.startswith("run-")}
    assert labels == {config.pools[p].labels for p in enabled}
    assert ("4-gpu-gb300",) not in labels  # only disabled suites use it
    assert workflow["jobs"]["report"]["needs"] == ["gate"] + sorted(n for n in workflow["jobs"] if n.startswith("run-"))


def test_untrusted_values_reach_shells_only_through_env(workflow, text):
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), step["name"]
    body_uses = [line.strip() for line in text.splitlines() if "github.event.comment.body" in line]
    assert body_uses == [
        "&& startsWith(github.event.comment.body, '/rerun-test ')",  # the gate job's `if:` pre-filter
        "COMMENT_BODY: ${{ github.event.comment.body }}",
    ]


def test_actions_are_pinned_by_commit_and_never_keep_credentials(workflow, text):
    uses_lines = [line.strip() for line in text.splitlines() if line.strip().startswith("uses:")]
    assert uses_lines and all(FULL_SHA.match(line) for line in uses_lines), uses_lines
    for name, job in workflow["jobs"].items():
        for step in job["steps"]:
            if "uses" in step:
                assert step["with"]["persist-credentials"] is False, name
                if name in ("gate", "report"):
                    assert "ref" not in step["with"]  # trusted jobs check out the default branch only


def test_the_run_step_execs_the_argv_and_no_shell_reads_it(workflow, tmp_path):
    step = workflow["jobs"]["run-1-gpu-h100"]["steps"][-1]
    assert step["env"] == {"RERUN_ARGV": "${{ toJSON(matrix.target.argv) }}"}
    marker = tmp_path / "pwned"
    hostile = [f"$(touch {marker})", f"`touch {marker}`", f"; touch {marker}", f"' && touch {marker} '", "${IFS}"]
    argv = [sys.executable, "-c", "import sys, json; print(json.dumps(sys.argv[1:]))", *hostile]
    done = subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        env={**os.environ, "RERUN_ARGV": json.dumps(argv)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == hostile
    assert not marker.exists()


TINY_TEST = """\
import unittest


def register_cuda_ci(**kwargs):
    pass


register_cuda_ci(est_time=5, suite="nightly-1-gpu", nightly=True)


class TestTiny(unittest.TestCase):
    def test_ok(self):
        pass

    def test_broken(self):
        self.fail("broken on purpose")


if __name__ == "__main__":
    unittest.main()
"""


@pytest.mark.parametrize("selector, exit_code", [("TestTiny.test_ok", 0), ("TestTiny.test_broken", 1), ("TestTiny", 1)])
def test_parsed_argv_through_the_run_step_runs_exactly_the_named_test(workflow, tmp_path, selector, exit_code):
    """End to end on a CPU: comment -> parse -> the matrix argv -> the workflow's run step."""
    root = write_files(tmp_path, {"test/registered/tiny/test_tiny.py": TINY_TEST})
    config = load_config(None, root)
    request = parse_comment(
        f"/rerun-test test/registered/tiny/test_tiny.py::{selector}",
        RerunIndex.from_scan(scan_tree(root, config.include, config.exclude)),
        config,
    )
    argv = request.targets_by_pool()["1-gpu-h100"][0]["argv"]
    assert argv == ["python3", "test/registered/tiny/test_tiny.py", selector]
    step = workflow["jobs"]["run-1-gpu-h100"]["steps"][-1]
    done = subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=root,
        env={**os.environ, "RERUN_ARGV": json.dumps(argv)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == exit_code, done.stderr
    ran = 2 if selector == "TestTiny" else 1
    assert f"Ran {ran} test" in done.stderr


def test_a_custom_config_gets_its_own_pools_and_a_setup_step(tmp_path):
    config = parse_config(
        """
version: 1
pools:
  a100: {labels: [self-hosted, a100], gpus: 1, setup_minutes: 1}
suites:
  gpu-tests: {trigger: per-commit, pools: [a100], step_timeout_minutes: 20, shard_budget_minutes: 10, \
job_timeout_minutes: 45}
""",
        "cigen.yml",
    )
    settings = replace(config.workflows, setup=("pip install -e '.[test]'",), cigen_package=PINNED)
    workflow = yaml.safe_load(render_rerun_workflow(replace(config, workflows=settings)))
    job = workflow["jobs"]["run-a100"]
    assert job["runs-on"] == ["self-hosted", "a100"]
    assert job["timeout-minutes"] == 45
    assert [s["name"] for s in job["steps"]] == ["Check out the pinned head commit", "Set up", RERUN_TEST_STEP]
    assert (job["steps"][1]["run"], job["steps"][1]["timeout-minutes"]) == ("pip install -e '.[test]'\n", 20)
    assert workflow["jobs"]["gate"]["steps"][1]["run"].splitlines()[-1] == (
        f"\"$RUNNER_TEMP/cigen/bin/pip\" install --disable-pip-version-check --quiet 'cigen @ {PINNED}'"
    )
    assert workflow["jobs"]["report"]["needs"] == ["gate", "run-a100"]
